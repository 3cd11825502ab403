package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/weave-app/weave/go/client"
)

// progressBarWidth is the number of cells of the step bar.
const progressBarWidth = 20

// progressView is what the terminal line shows of a job's progress: the
// state after the last event and when it arrived. Its line method is
// called on a copy by the spinner's goroutine, so a view is never shared.
type progressView struct {
	kind     client.EventKind // the last event that changed the line
	pos      uint32
	depth    uint32
	step     uint32
	steps    uint32
	elapsed  time.Duration // the daemon's time since the job started, at the last step
	at       time.Time     // when the last step (or the start) was reported
	queuedAt time.Time     // when the first queued event came
}

// update takes in e; it reports whether the line changes (heartbeats only
// keep the connection alive).
func (p *progressView) update(e client.Event, now time.Time) bool {
	switch e.Kind {
	case client.EventQueued:
		if p.queuedAt.IsZero() {
			p.queuedAt = now
		}
		p.kind, p.pos, p.depth = e.Kind, e.Position, e.Depth
	case client.EventStarted:
		p.kind, p.at, p.elapsed = e.Kind, now, 0
	case client.EventStep:
		p.kind, p.step, p.steps, p.elapsed, p.at = e.Kind, e.Step, e.Steps, e.Elapsed, now
	default:
		return false
	}
	return true
}

// line is the status text at now, e.g.
// "step 12/28 [========>           ]  43%  3.1s, about 4.0s left".
func (p progressView) line(now time.Time) string {
	switch p.kind {
	case client.EventQueued:
		return fmt.Sprintf("waiting in queue: position %d of %d... %ds", p.pos, p.depth, int(now.Sub(p.queuedAt).Seconds()))
	case client.EventStarted:
		return fmt.Sprintf("started... %s", seconds(now.Sub(p.at)))
	case client.EventStep:
		since := now.Sub(p.at)
		elapsed := p.elapsed + since
		s := fmt.Sprintf("step %d/%d %s %3d%%  %s", p.step, p.steps, bar(p.step, p.steps), 100*p.step/p.steps, seconds(elapsed))
		if p.step < p.steps {
			left := time.Duration(int64(p.elapsed)/int64(p.step)*int64(p.steps-p.step)) - since
			if left < 0 {
				left = 0
			}
			s += ", about " + seconds(left) + " left"
		}
		return s
	}
	return ""
}

// bar is "[=====>      ]" for step of steps, progressBarWidth cells.
func bar(step, steps uint32) string {
	full := int(uint64(step) * progressBarWidth / uint64(steps))
	if full == 0 && step > 0 {
		full = 1 // the first step shows
	}
	var b strings.Builder
	b.WriteByte('[')
	for i := 0; i < progressBarWidth; i++ {
		switch {
		case i < full-1 || (i == full-1 && step == steps):
			b.WriteByte('=')
		case i == full-1:
			b.WriteByte('>')
		default:
			b.WriteByte(' ')
		}
	}
	b.WriteByte(']')
	return b.String()
}

// seconds spells d as "3.1s" (tenths), or "2m05s" from a minute on.
func seconds(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	d = d.Round(time.Second)
	return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
}
