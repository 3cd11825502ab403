package client

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/weave-app/weave/go/client/internal/shm"
	"github.com/weave-app/weave/go/protocol"
)

// EventKind says what a progress Event reports.
type EventKind uint8

// The progress events, in the order a job produces them: EventQueued while
// it waits (again whenever its position changes), EventStarted once when
// it starts, then EventStep after every completed step; EventHeartbeat
// whenever the daemon had nothing else to say for 500 ms (queued or
// running).
const (
	EventQueued EventKind = iota + 1
	EventStarted
	EventStep
	EventHeartbeat
)

func (k EventKind) String() string {
	switch k {
	case EventQueued:
		return "queued"
	case EventStarted:
		return "started"
	case EventStep:
		return "step"
	case EventHeartbeat:
		return "heartbeat"
	}
	return "event(" + strconv.Itoa(int(k)) + ")"
}

// Event is one progress report of a generate request made with
// WithProgress (SPEC 11.3). Only the fields of its Kind are set.
type Event struct {
	Kind EventKind
	// Position (1 = next to run) and Depth (jobs waiting in all): EventQueued.
	Position, Depth uint32
	// Step (1..Steps) and Steps: EventStep.
	Step, Steps uint32
	// Elapsed: for EventStep the time since the job started (the daemon's
	// clock); for EventStarted and EventHeartbeat the time since the daemon
	// read the request. Millisecond resolution.
	Elapsed time.Duration
	// Running: EventHeartbeat of a running job (false: still queued).
	Running bool
}

func (e Event) String() string {
	switch e.Kind {
	case EventQueued:
		return fmt.Sprintf("queued %d/%d", e.Position, e.Depth)
	case EventStep:
		return fmt.Sprintf("step %d/%d", e.Step, e.Steps)
	}
	return e.Kind.String()
}

// GenerateOption configures one generate call.
type GenerateOption func(*genConfig)

type genConfig struct {
	progress func(Event)
}

// WithProgress asks the daemon for progress (SPEC 11.3) and calls fn with
// every event, in order, on the goroutine that called Generate, before the
// call returns; fn is never called after it returned. Events are read
// between fn's calls, so fn should return quickly (the daemon closes the
// connection of a client that does not read for its write deadline, 5 s).
//
// With progress the read timeout (WithReadTimeout, default 65 s) is an
// inactivity timeout: it restarts with every message, so a job of any
// length completes as long as the daemon keeps reporting (it sends at
// least one message a second). Without progress, and when the daemon does
// not speak version 2 (the call falls back to version 1, where no events
// come), it is a deadline for the whole reply.
func WithProgress(fn func(Event)) GenerateOption {
	return func(g *genConfig) { g.progress = fn }
}

// V1OnlyError is a request that needs protocol version 2 sent to a daemon
// that speaks version 1 only: an image whose reply does not fit in a
// version-1 message (10 MiB; the largest square is 1856x1856). It matches
// ErrV1Only and protocol.ErrInvalidDimensions with errors.Is.
type V1OnlyError struct {
	Width, Height uint32
}

func (e *V1OnlyError) Error() string {
	return fmt.Sprintf("%s: a %dx%d image does not fit in its 10 MiB replies (largest square %dx%d; a current weave-compute sends up to %dx%d through shared memory)",
		ErrV1Only.Error(), e.Width, e.Height, protocol.MaxSquareDimension, protocol.MaxSquareDimension, protocol.MaxDimension, protocol.MaxDimension)
}

// Is matches ErrV1Only and protocol.ErrInvalidDimensions.
func (e *V1OnlyError) Is(target error) bool {
	return target == ErrV1Only || target == protocol.ErrInvalidDimensions
}

// SharedMemoryError is a shared-memory reply whose descriptor was refused
// (not exactly one, not a memfd, not sealed with all four seals, smaller than
// the image) or could not be mapped. Every descriptor has been closed. It
// matches ErrSharedMemory; Err is the detailed cause.
type SharedMemoryError struct {
	Err error
}

func (e *SharedMemoryError) Error() string { return ErrSharedMemory.Error() + ": " + e.Err.Error() }

// Is matches ErrSharedMemory.
func (e *SharedMemoryError) Is(target error) bool { return target == ErrSharedMemory }

// Unwrap returns the cause.
func (e *SharedMemoryError) Unwrap() error { return e.Err }

// Image is a generated image that may live in shared memory (GenerateImage).
// Pixels are valid until Close; Close releases the mapping (a no-op for
// pixels that came inline). Close may be called more than once.
type Image struct {
	RequestID        uint64
	GenerationTimeMS uint32
	Width, Height    uint32
	Channels         uint32 // 3 (RGB) or 4 (RGBA)
	Seed             uint64
	HasSeed          bool // false only for an inline reply without the seed extension

	inline []byte
	mapped *shm.Image
}

// Pixels returns width*height*channels bytes, rows top to bottom. For a
// shared-memory image they are the daemon's sealed memfd mapped read-only:
// writing to them crashes the process, and so does touching them after
// Close. Nil after Close.
func (im *Image) Pixels() []byte {
	if im.mapped != nil {
		return im.mapped.Pixels()
	}
	return im.inline
}

// Shared reports whether the pixels are a shared-memory mapping.
func (im *Image) Shared() bool { return im.mapped != nil }

// Close releases the pixels (unmaps a shared-memory image). Only the first
// call does anything.
func (im *Image) Close() error {
	im.inline = nil
	if im.mapped != nil {
		return im.mapped.Close()
	}
	return nil
}

// Generate validates req, sends it and returns the daemon's image, with the
// pixels in memory the caller owns.
//
// A request that fails validation returns the *protocol.Error of
// req.Validate (errors.Is(err, protocol.ErrInvalidDimensions) etc.) without
// contacting the daemon. A daemon error reply returns the
// *protocol.ErrorResponse (same errors.Is behaviour). A zero req.RequestID is
// replaced by a fresh one in the request sent (req itself is not modified).
//
// The protocol version follows from what the call needs (SPEC 11): a plain
// request whose reply fits in 10 MiB is sent in version 1; WithProgress, or
// an image too large for a version-1 reply (up to 2048x2048, which then
// comes through shared memory and is copied out of it), sends version 2,
// falling back to version 1 against a daemon that does not speak it (see
// Client). req.Version is ignored.
func (c *Client) Generate(ctx context.Context, req *protocol.GenerateRequest, opts ...GenerateOption) (*protocol.GenerateResponse, error) {
	return c.generateCopy(ctx, req, nil, opts)
}

// GenerateInto is Generate reading an inline reply into buf when cap(buf)
// is large enough (protocol.ReplySize(width, height, 3), or
// protocol.MaxMessageSize for any v1 reply): the returned response's Pixels
// then alias buf, which the caller may reuse for the next request once it
// is done with them. Reusing one buffer, a loop of requests allocates no
// image-sized memory at all. An image that comes through shared memory is
// copied into buf (at its start) the same way. A buf that is too small is
// not an error: the reply then goes into new memory, as with Generate.
func (c *Client) GenerateInto(ctx context.Context, req *protocol.GenerateRequest, buf []byte, opts ...GenerateOption) (*protocol.GenerateResponse, error) {
	return c.generateCopy(ctx, req, buf, opts)
}

// GenerateImage is the zero-copy Generate: it always asks a version-2
// daemon for the pixels in shared memory, and returns them mapped read-only
// from the daemon's sealed memfd (only a memfd with all four seals and room
// for the image is accepted: SPEC 11.4). The caller must Close the image.
// Against a version-1 daemon (or one that chose to answer inline) the
// pixels come inline, in memory the image owns.
func (c *Client) GenerateImage(ctx context.Context, req *protocol.GenerateRequest, opts ...GenerateOption) (*Image, error) {
	out, err := c.generate(ctx, req, nil, true, opts)
	if err != nil {
		return nil, err
	}
	if out.mapped != nil {
		s := out.shmResp
		return &Image{RequestID: s.RequestID, GenerationTimeMS: s.GenerationTimeMS, Width: s.Width, Height: s.Height,
			Channels: s.Channels, Seed: s.Seed, HasSeed: true, mapped: out.mapped}, nil
	}
	r := out.resp
	return &Image{RequestID: r.RequestID, GenerationTimeMS: r.GenerationTimeMS, Width: r.Width, Height: r.Height,
		Channels: r.Channels, Seed: r.Seed, HasSeed: r.HasSeed, inline: r.Pixels}, nil
}

func (c *Client) generateCopy(ctx context.Context, req *protocol.GenerateRequest, buf []byte, opts []GenerateOption) (*protocol.GenerateResponse, error) {
	out, err := c.generate(ctx, req, buf, false, opts)
	if err != nil {
		return nil, err
	}
	if out.mapped == nil {
		return out.resp, nil
	}
	defer out.mapped.Close()
	s := out.shmResp
	src := out.mapped.Pixels()
	var dst []byte
	if uint64(cap(buf)) >= uint64(len(src)) {
		dst = buf[:len(src)]
	} else {
		dst = make([]byte, len(src))
	}
	copy(dst, src)
	return &protocol.GenerateResponse{Version: protocol.Version2, RequestID: s.RequestID, Status: s.Status,
		GenerationTimeMS: s.GenerationTimeMS, Width: s.Width, Height: s.Height, Channels: s.Channels,
		Pixels: dst, Seed: s.Seed, HasSeed: true}, nil
}

// genOutcome is a successful generate: an inline response, or a
// shared-memory one with its mapping.
type genOutcome struct {
	resp    *protocol.GenerateResponse
	shmResp *protocol.SHMGenerateResponse
	mapped  *shm.Image
}

// generate runs one generate request: version 2 when progress, shared
// memory (preferSHM) or the image size needs it and the daemon is not known
// to be version-1 only; on a version-2 refusal (SPEC 11.8) it marks the
// daemon version-1 only and sends the request once more in version 1.
func (c *Client) generate(ctx context.Context, req *protocol.GenerateRequest, buf []byte, preferSHM bool, opts []GenerateOption) (genOutcome, error) {
	if req == nil {
		return genOutcome{}, errors.New("client: nil generate request")
	}
	var cfg genConfig
	for _, o := range opts {
		o(&cfg)
	}
	r := *req
	r.Version = 0
	opt := protocol.GenerateOptionsRequest{GenerateRequest: r, Flags: protocol.FlagSHM}
	if err := opt.Validate(); err != nil {
		return genOutcome{}, err
	}
	fitsV1 := protocol.ReplySize(r.Width, r.Height, protocol.ReplyChannels) <= protocol.MaxMessageSize
	if r.RequestID == 0 {
		r.RequestID = c.newRequestID()
	}
	needSHM := !fitsV1 || preferSHM
	if (needSHM || cfg.progress != nil) && !c.v1Only.Load() {
		var flags uint32
		if needSHM {
			flags |= protocol.FlagSHM
		}
		if cfg.progress != nil {
			flags |= protocol.FlagProgress
		}
		out, fallback, err := c.generateV2(ctx, &r, flags, buf, cfg.progress)
		if !fallback {
			return out, err
		}
		c.v1Only.Store(true)
	}
	if !fitsV1 {
		return genOutcome{}, &V1OnlyError{Width: r.Width, Height: r.Height}
	}
	resp, err := c.generateV1(ctx, &r, buf)
	return genOutcome{resp: resp}, err
}

// isV2Refusal reports whether an error reply to a version-2 request says
// the daemon does not speak version 2 (SPEC 11.8): 2 (unsupported
// version), 12 (unknown message type), or 500 / 99 with request_id 0 (the
// public reference daemon's answer to anything it does not know: it never
// echoes the id, SPEC section 9). A 500 / 99 that echoes the request's id
// comes from a daemon that read the request: a real failure, returned as
// it is, not a reason to fall back.
func isV2Refusal(e *protocol.ErrorResponse) bool {
	return e.Code == protocol.CodeUnsupportedVersion || e.Code == protocol.CodeUnknownType ||
		(e.Status == protocol.StatusServerError && e.Code == protocol.CodeInternal && e.RequestID == 0)
}

// smallBufSize holds any progress message (and error replies of usual
// length) without a per-message allocation.
const smallBufSize = 512

// generateV1 sends r as a version-1 request (0x0001) and reads the one
// reply, into buf when it fits.
func (c *Client) generateV1(ctx context.Context, r *protocol.GenerateRequest, buf []byte) (*protocol.GenerateResponse, error) {
	cv, err := c.open(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer cv.close()
	var reqBuf [256]byte
	msg, err := protocol.AppendGenerateRequest(reqBuf[:0], r)
	if err != nil {
		return nil, err
	}
	if err := cv.write(msg); err != nil {
		return nil, err
	}
	cv.startReading(false)
	reply, fds, err := cv.next(buf, c.maxMessageSize)
	shm.CloseFDs(fds) // version 1 carries none (SPEC 11.4)
	if err != nil && reply == nil {
		return nil, err
	}
	m, err := protocol.Versions1.DecodeResponse(reply)
	if err != nil {
		return nil, &ReplyError{Err: err}
	}
	return checkGenerateReply(m, r.RequestID)
}

// checkGenerateReply turns a decoded final reply to an inline generate
// request into the response or the error.
func checkGenerateReply(m protocol.Message, id uint64) (*protocol.GenerateResponse, error) {
	switch resp := m.(type) {
	case *protocol.GenerateResponse:
		if resp.RequestID != id {
			return nil, &ReplyError{Err: fmt.Errorf("request_id %d, want %d", resp.RequestID, id)}
		}
		return resp, nil
	case *protocol.ErrorResponse:
		if resp.RequestID != 0 && resp.RequestID != id {
			return nil, &ReplyError{Err: fmt.Errorf("error reply for request_id %d, want %d: %v", resp.RequestID, id, resp)}
		}
		return nil, resp
	default:
		return nil, &ReplyError{Err: fmt.Errorf("unexpected %T to a generate request", m)}
	}
}

// progressState turns the daemon's progress messages into Events.
type progressState struct {
	fn      func(Event)
	started bool
}

func (p *progressState) emit(e Event) {
	if p.fn != nil {
		p.fn(e)
	}
}

// generateV2 sends r as 0x0005 with flags and reads progress messages until
// the final reply. fallback is true (and the error nil) when the daemon's
// first message refuses version 2 (isV2Refusal): nothing was generated.
func (c *Client) generateV2(ctx context.Context, r *protocol.GenerateRequest, flags uint32, buf []byte, progress func(Event)) (out genOutcome, fallback bool, err error) {
	cv, err := c.open(ctx, nil)
	if err != nil {
		return genOutcome{}, false, err
	}
	defer cv.close()
	var reqBuf [256]byte
	msg, err := protocol.AppendGenerateOptions(reqBuf[:0], &protocol.GenerateOptionsRequest{GenerateRequest: *r, Flags: flags})
	if err != nil {
		return genOutcome{}, false, err
	}
	if err := cv.write(msg); err != nil {
		return genOutcome{}, false, err
	}
	withProgress := flags&protocol.FlagProgress != 0
	cv.startReading(withProgress)
	if cap(buf) < smallBufSize {
		buf = make([]byte, 0, smallBufSize)
	}
	ps := progressState{fn: progress}
	id := r.RequestID
	for {
		reply, fds, rerr := cv.next(buf, c.maxMessageSize)
		if rerr != nil && reply == nil {
			return genOutcome{}, false, rerr
		}
		// rerr here is ErrLateDescriptor: fds are closed, reply is whole.
		m, err := protocol.Versions12.DecodeResponse(reply)
		if err != nil {
			shm.CloseFDs(fds)
			return genOutcome{}, false, &ReplyError{Err: err}
		}
		switch v := m.(type) {
		case *protocol.SHMGenerateResponse:
			if flags&protocol.FlagSHM == 0 {
				shm.CloseFDs(fds)
				return genOutcome{}, false, &ReplyError{Err: errors.New("shared-memory reply to a request without SHM")}
			}
			if v.RequestID != id {
				shm.CloseFDs(fds)
				return genOutcome{}, false, &ReplyError{Err: fmt.Errorf("request_id %d, want %d", v.RequestID, id)}
			}
			if rerr != nil {
				return genOutcome{}, false, &SharedMemoryError{Err: rerr}
			}
			img, err := shm.Accept(fds, v.ImageSize)
			if err != nil {
				return genOutcome{}, false, &SharedMemoryError{Err: err}
			}
			return genOutcome{shmResp: v, mapped: img}, false, nil
		case *protocol.Queued, *protocol.Progress, *protocol.Heartbeat:
			shm.CloseFDs(fds) // never carry one (SPEC 11.4)
			if !withProgress {
				return genOutcome{}, false, &ReplyError{Err: fmt.Errorf("unexpected %T to a request without PROGRESS", m)}
			}
			if err := cv.progress(&ps, m, id); err != nil {
				return genOutcome{}, false, err
			}
			continue
		case *protocol.ErrorResponse:
			shm.CloseFDs(fds)
			if cv.messages == 1 && isV2Refusal(v) && (v.RequestID == 0 || v.RequestID == id) {
				return genOutcome{}, true, nil
			}
		default:
			shm.CloseFDs(fds)
		}
		resp, err := checkGenerateReply(m, id)
		return genOutcome{resp: resp}, false, err
	}
}

// progress checks one progress message and reports it.
func (cv *conversation) progress(ps *progressState, m protocol.Message, id uint64) error {
	var rid uint64
	var e Event
	switch v := m.(type) {
	case *protocol.Queued:
		rid = v.RequestID
		e = Event{Kind: EventQueued, Position: v.Position, Depth: v.QueueDepth}
		cv.last = fmt.Sprintf("queued, position %d of %d", v.Position, v.QueueDepth)
	case *protocol.Progress:
		rid = v.RequestID
		e = Event{Kind: EventStep, Step: v.Step, Steps: v.Steps, Elapsed: time.Duration(v.ElapsedMS) * time.Millisecond}
		cv.last = fmt.Sprintf("step %d/%d", v.Step, v.Steps)
	case *protocol.Heartbeat:
		rid = v.RequestID
		running := v.Phase == protocol.PhaseRunning
		e = Event{Kind: EventHeartbeat, Running: running, Elapsed: time.Duration(v.ElapsedMS) * time.Millisecond}
		if running && !ps.started {
			e.Kind = EventStarted
		}
		if cv.last == "" {
			cv.last = "heartbeat"
		}
	}
	if rid != id {
		return &ReplyError{Err: fmt.Errorf("%T for request_id %d, want %d", m, rid, id)}
	}
	if e.Kind == EventStep && !ps.started {
		ps.started = true
		ps.emit(Event{Kind: EventStarted}) // no heartbeat said when: Elapsed unknown (0)
	}
	if e.Kind == EventStarted {
		ps.started = true
	}
	ps.emit(e)
	return nil
}
