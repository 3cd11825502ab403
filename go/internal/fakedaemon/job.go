package fakedaemon

import (
	"time"

	"github.com/weave-app/weave/go/protocol"
)

// run answers a version-2 generate request with options as j scripts it:
// with PROGRESS, queued messages while "waiting", a phase-2 heartbeat at
// the start, one progress message per step and heartbeats while a wait
// lasts longer than the heartbeat interval; then the reply h gives (when it
// is an inline generate response and SHM was asked for, its pixels go into
// a sealed memfd instead, unless NoSHM). A client hang-up ends it at once.
func (j Job) run(x *Exchange, r *protocol.GenerateOptionsRequest, h Handler) {
	progress := r.Flags&protocol.FlagProgress != 0
	start := time.Now()
	every := j.Heartbeat
	if every <= 0 {
		every = 500 * time.Millisecond
	}
	id := r.RequestID
	ms := func(since time.Time) uint32 { return uint32(time.Since(since) / time.Millisecond) }
	// wait waits d, sending heartbeats of phase while it lasts.
	wait := func(d time.Duration, phase uint32) bool {
		for d > 0 {
			step := d
			if progress && step > every {
				step = every
			}
			if !x.Wait(step) {
				return false
			}
			d -= step
			if progress && d > 0 {
				if x.Send(&protocol.Heartbeat{RequestID: id, Phase: phase, ElapsedMS: ms(start)}) != nil {
					return false
				}
			}
		}
		return x.Wait(0)
	}
	if progress {
		for pos := j.Ahead; pos >= 1; pos-- {
			if x.Send(&protocol.Queued{RequestID: id, Position: uint32(pos), QueueDepth: uint32(j.Ahead)}) != nil {
				return
			}
			if !wait(j.QueueStep, protocol.PhaseQueued) {
				return
			}
		}
		if x.Send(&protocol.Heartbeat{RequestID: id, Phase: protocol.PhaseRunning, ElapsedMS: ms(start)}) != nil {
			return
		}
	} else if !wait(time.Duration(j.Ahead)*j.QueueStep, protocol.PhaseQueued) {
		return
	}
	jobStart := time.Now()
	for i := uint32(1); i <= r.Steps; i++ {
		if !wait(j.StepDelay, protocol.PhaseRunning) {
			return
		}
		if j.StallAfter > 0 && int(i) > j.StallAfter {
			<-x.HungUp()
			return
		}
		if progress {
			if x.Send(&protocol.Progress{RequestID: id, Step: i, Steps: r.Steps, ElapsedMS: ms(jobStart)}) != nil {
				return
			}
		}
	}
	reply := h(r)
	if reply == nil {
		return
	}
	x.Final()
	if g, ok := reply.(*protocol.GenerateResponse); ok && r.Flags&protocol.FlagSHM != 0 && !j.NoSHM {
		fd, err := SealedMemfd(g.Pixels)
		if err != nil {
			_ = x.Send(&protocol.ErrorResponse{Version: protocol.Version2, RequestID: id, Status: 500,
				Code: protocol.CodeOutOfMemory, Message: "memfd: " + err.Error()})
			return
		}
		defer closeFD(fd)
		_ = x.SendFDs(SHMReply(g), fd)
		return
	}
	_ = x.Send(reply)
}

// SHMReply is the shared-memory reply (0x0006) that carries g's image.
func SHMReply(g *protocol.GenerateResponse) *protocol.SHMGenerateResponse {
	return &protocol.SHMGenerateResponse{RequestID: g.RequestID, Status: protocol.StatusOK,
		GenerationTimeMS: g.GenerationTimeMS, Width: g.Width, Height: g.Height, Channels: g.Channels,
		ImageSize: uint64(len(g.Pixels)), Seed: g.Seed}
}
