package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// isTerminal reports whether w is a terminal (a variable so tests can
// override it).
var isTerminal = func(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// spinnerInterval is the redraw period of the spinner.
var spinnerInterval = 100 * time.Millisecond

// spinner shows "<frame> LABEL… Ns" on a terminal while weave waits. It
// draws nothing when the writer is not a terminal.
type spinner struct {
	w      io.Writer
	label  string
	mu     sync.Mutex
	status func(now time.Time) string // replaces "LABEL... Ns" once set (progress)
	kick   chan struct{}              // redraw now
	plain  bool                       // no ANSI escapes (TERM=dumb or NO_COLOR set)
	width  int                        // length of the last line drawn in plain mode
	stopCh chan struct{}
	doneCh chan struct{}
	once   sync.Once
}

func startSpinner(w io.Writer, label string, e *environ) *spinner {
	s := &spinner{w: w, label: label, plain: noEscapes(e)}
	if !isTerminal(w) {
		return s
	}
	s.stopCh = make(chan struct{})
	s.doneCh = make(chan struct{})
	s.kick = make(chan struct{}, 1)
	go s.loop()
	return s
}

var spinnerFrames = []string{"|", "/", "-", "\\"}

func (s *spinner) loop() {
	defer close(s.doneCh)
	start := time.Now()
	t := time.NewTicker(spinnerInterval)
	defer t.Stop()
	drawn := false
	// The first frame appears after one interval, so quick answers
	// (and quick failures) never flash a spinner.
	for i := 0; ; i++ {
		select {
		case <-s.stopCh:
			if drawn {
				s.clear()
			}
			return
		case <-t.C:
		case <-s.kick:
			if !drawn && time.Since(start) < spinnerInterval {
				// Quick jobs draw nothing, progress or not.
				continue
			}
		}
		s.mu.Lock()
		status := s.status
		s.mu.Unlock()
		var line string
		if status != nil {
			line = spinnerFrames[i%len(spinnerFrames)] + " " + status(time.Now())
		} else {
			line = fmt.Sprintf("%s %s... %ds", spinnerFrames[i%len(spinnerFrames)], s.label, int(time.Since(start).Seconds()))
		}
		if s.plain {
			// Carriage return and spaces only: a dumb terminal has no
			// "erase line".
			pad := ""
			if n := s.width - len(line); n > 0 {
				pad = strings.Repeat(" ", n)
			}
			fmt.Fprintf(s.w, "\r%s%s", line, pad)
			s.width = len(line)
		} else {
			fmt.Fprintf(s.w, "\r\x1b[K%s", line)
		}
		drawn = true
	}
}

func (s *spinner) clear() {
	if s.plain {
		fmt.Fprintf(s.w, "\r%s\r", strings.Repeat(" ", s.width))
		return
	}
	fmt.Fprint(s.w, "\r\x1b[K")
}

// noEscapes reports whether output must not contain ANSI escape sequences:
// TERM=dumb (or unset) or NO_COLOR set and not empty (https://no-color.org).
func noEscapes(e *environ) bool {
	if e == nil {
		return false
	}
	if e.Get("NO_COLOR") != "" {
		return true
	}
	t := e.Get("TERM")
	return t == "" || t == "dumb"
}

// setStatus replaces the spinner's text with status(now) from the next
// frame on, and asks for that frame at once (a no-op when nothing is
// drawn: not a terminal).
func (s *spinner) setStatus(status func(now time.Time) string) {
	if s == nil || s.stopCh == nil {
		return
	}
	s.mu.Lock()
	s.status = status
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Stop removes the spinner line. It is safe to call more than once.
func (s *spinner) Stop() {
	if s.stopCh == nil {
		return
	}
	s.once.Do(func() {
		close(s.stopCh)
		<-s.doneCh
	})
}
