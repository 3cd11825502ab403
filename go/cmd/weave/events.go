package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/weave-app/weave/go/client"
	"github.com/weave-app/weave/go/protocol"
)

// Event kinds of a generation. Protocol v1 has only the end of a request;
// "queued" and "progress" come from a daemon that speaks protocol v2 and
// go through the same renderers.
const (
	eventQueued   = "queued"
	eventProgress = "progress"
	eventDone     = "done"
	eventError    = "error"
)

// generateEvent is one thing that happened to a generation. It is what a
// renderer draws: the terminal display and --json see the same events.
// Fields are tagged for --json; each kind uses its own subset.
type generateEvent struct {
	Event string `json:"event"`

	// done
	Path         string  `json:"path,omitempty"`
	Width        uint32  `json:"width,omitempty"`
	Height       uint32  `json:"height,omitempty"`
	Seed         *uint64 `json:"seed,omitempty"`
	GenerationMS *uint64 `json:"generation_ms,omitempty"`

	// error (status 0 for a failure in weave itself)
	Status  *uint32 `json:"status,omitempty"`
	Code    *uint32 `json:"code,omitempty"`
	Message string  `json:"message,omitempty"`

	// queued
	Position   *uint32 `json:"position,omitempty"`
	QueueDepth *uint32 `json:"queue_depth,omitempty"`

	// progress
	Step      *uint32 `json:"step,omitempty"`
	Steps     *uint32 `json:"steps,omitempty"`
	ElapsedMS *uint64 `json:"elapsed_ms,omitempty"`
}

// progressEvent is the --json event of a progress report: queued and
// progress (one per step); nil for the reports --json does not show
// (started, heartbeats).
func progressEvent(e client.Event) *generateEvent {
	switch e.Kind {
	case client.EventQueued:
		pos, depth := e.Position, e.Depth
		return &generateEvent{Event: eventQueued, Position: &pos, QueueDepth: &depth}
	case client.EventStep:
		step, steps, ms := e.Step, e.Steps, uint64(e.Elapsed/time.Millisecond)
		return &generateEvent{Event: eventProgress, Step: &step, Steps: &steps, ElapsedMS: &ms}
	}
	return nil
}

func doneEvent(resp *protocol.GenerateResponse, requestedSeed uint64, path string) *generateEvent {
	ev := &generateEvent{Event: eventDone, Path: path, Width: resp.Width, Height: resp.Height}
	switch {
	case resp.HasSeed:
		s := resp.Seed
		ev.Seed = &s
	case requestedSeed != 0:
		s := requestedSeed
		ev.Seed = &s
	}
	ms := uint64(resp.GenerationTimeMS)
	ev.GenerationMS = &ms
	return ev
}

func errorEvent(err error) *generateEvent {
	var status, code uint32
	var er *protocol.ErrorResponse
	if errors.As(err, &er) {
		status, code = er.Status, uint32(er.Code)
	}
	return &generateEvent{Event: eventError, Status: &status, Code: &code, Message: errorMessage(err)}
}

// eventRenderer shows a generation: waiting brackets the time spent on the
// daemon (the terminal shows a spinner, then the progress line), progress
// takes one report of the daemon (on the goroutine of the request), event
// draws one final event.
type eventRenderer interface {
	waiting(label string)
	stopWaiting()
	progress(e client.Event)
	event(ev *generateEvent)
}

// showProgress moves the spinner's line to the progress view.
func showProgress(sp *spinner, view *progressView, e client.Event) {
	if view.update(e, time.Now()) {
		v := *view
		sp.setStatus(v.line)
	}
}

// textRenderer is the terminal display: a spinner on stderr while waiting,
// a summary line for done. Errors are printed by the caller (with hints).
type textRenderer struct {
	w          io.Writer // the summary line
	spinnerOut io.Writer
	env        *environ
	sp         *spinner
	view       progressView
}

func (t *textRenderer) waiting(label string) { t.sp = startSpinner(t.spinnerOut, label, t.env) }

func (t *textRenderer) progress(e client.Event) { showProgress(t.sp, &t.view, e) }

func (t *textRenderer) stopWaiting() {
	if t.sp != nil {
		t.sp.Stop()
		t.sp = nil
	}
}

func (t *textRenderer) event(ev *generateEvent) {
	t.stopWaiting()
	if ev.Event != eventDone {
		return
	}
	seed := "seed unknown"
	if ev.Seed != nil {
		seed = fmt.Sprintf("seed %d", *ev.Seed)
	}
	what := ev.Path
	if what == "-" {
		what = "PNG to stdout"
	}
	var ms uint64
	if ev.GenerationMS != nil {
		ms = *ev.GenerationMS
	}
	fmt.Fprintf(t.w, "wrote %s (%dx%d, %s, generated in %d ms)\n", what, ev.Width, ev.Height, seed, ms)
}

// jsonRenderer prints each event as one JSON object per line.
type jsonRenderer struct {
	w          io.Writer
	spinnerOut io.Writer
	env        *environ
	sp         *spinner
	view       progressView
}

func (j *jsonRenderer) waiting(label string) { j.sp = startSpinner(j.spinnerOut, label, j.env) }

func (j *jsonRenderer) progress(e client.Event) {
	showProgress(j.sp, &j.view, e)
	if ev := progressEvent(e); ev != nil {
		j.write(ev)
	}
}

func (j *jsonRenderer) stopWaiting() {
	if j.sp != nil {
		j.sp.Stop()
		j.sp = nil
	}
}

func (j *jsonRenderer) event(ev *generateEvent) {
	j.stopWaiting()
	j.write(ev)
}

// write prints ev as one JSON line.
func (j *jsonRenderer) write(ev *generateEvent) {
	b, err := json.Marshal(ev)
	if err != nil {
		return
	}
	b = append(b, '\n')
	_, _ = j.w.Write(b)
}
