package main

import (
	"fmt"
	"io"
	"os"
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
	stopCh chan struct{}
	doneCh chan struct{}
	once   sync.Once
}

func startSpinner(w io.Writer, label string) *spinner {
	s := &spinner{w: w, label: label}
	if !isTerminal(w) {
		return s
	}
	s.stopCh = make(chan struct{})
	s.doneCh = make(chan struct{})
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
				fmt.Fprint(s.w, "\r\x1b[K")
			}
			return
		case <-t.C:
		}
		fmt.Fprintf(s.w, "\r\x1b[K%s %s... %ds", spinnerFrames[i%len(spinnerFrames)], s.label, int(time.Since(start).Seconds()))
		drawn = true
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
