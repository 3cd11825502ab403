// Package fakedaemon is an in-process stand-in for weave-compute, for the
// tests of go/client and go/cmd/weave: it serves the protocol on a Unix
// socket with go/protocol's codec and counts connections, requests and
// hang-ups. It is not a reference implementation of the daemon (c/ is).
//
// By default it speaks version 1 only and refuses a version-2 header with
// error 2, as weave-compute did before version 2; Config.Protocol selects
// the other v1-only behaviours (400/12, the public reference daemon's
// 500/99) or version 2 (SPEC section 11), where Config.Job scripts queue
// positions, steps, heartbeats and shared-memory replies, and a Stream
// handler can send anything at all (hostile descriptors included).
package fakedaemon

import (
	"errors"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/weave-app/weave/go/protocol"
)

// Handler answers one decoded request (*protocol.GenerateRequest,
// *protocol.StatusRequest or, in version 2, *protocol.GenerateOptionsRequest)
// with one reply message; nil closes the connection without a reply.
type Handler func(req protocol.Message) protocol.Message

// StreamHandler answers one decoded request through x: any number of
// messages, descriptors, waits. The connection is closed when it returns.
type StreamHandler func(x *Exchange)

// Protocol is what the fake daemon does with version 2.
type Protocol int

const (
	// V1Only refuses any version-2 header with 400 / 2 in a version-1
	// header, request_id 0 (weave-compute before version 2). The default.
	V1Only Protocol = iota
	// V1UnknownType answers any version-2 message with 400 / 12, echoing
	// the request_id (a daemon that takes the header but knows no
	// version-2 type).
	V1UnknownType
	// V1Reference answers any version-2 message with 500 / 99, request_id
	// 0, as the public reference daemon does.
	V1Reference
	// V2 speaks versions 1 and 2.
	V2
)

// Config configures a Server.
type Config struct {
	// Handler answers requests that Job does not (nil: Default). In
	// version 2 it also answers generate requests with options whose reply
	// it returns; Job then adds the progress messages and shared memory.
	Handler Handler
	// Stream, when set, answers every decoded request instead of Handler
	// and Job.
	Stream StreamHandler
	// Protocol: V1Only (default), V1UnknownType, V1Reference or V2.
	Protocol Protocol
	// Job scripts version-2 generate requests (with Protocol V2).
	Job Job
}

// Job scripts the answer to a version-2 generate request with options.
type Job struct {
	// Ahead is how many jobs wait before this one: with PROGRESS the
	// daemon sends queued messages Ahead, Ahead-1, .. 1, one every
	// QueueStep.
	Ahead     int
	QueueStep time.Duration
	// StepDelay is the time each step takes (0: none).
	StepDelay time.Duration
	// Heartbeat is the idle time after which a heartbeat is sent (0:
	// 500 ms, as SPEC 11.3).
	Heartbeat time.Duration
	// StallAfter, when > 0, stops sending anything after that many steps
	// (the job hangs until the client hangs up).
	StallAfter int
	// NoSHM answers inline even when SHM was asked for.
	NoSHM bool
}

// Server serves the protocol on a Unix socket, one request per connection.
type Server struct {
	cfg Config

	l    *net.UnixListener
	wg   sync.WaitGroup
	path string

	accepted     int64 // connections accepted
	clientClosed int64 // connections the client closed after the final reply
	hungUp       int64 // connections the client closed before the final reply
	requests     int64 // requests decoded
	refused      int64 // version-2 requests refused (V1* protocols)
	events       chan string
}

// Listen creates the socket at path (its directory must exist) and starts
// serving h (nil: Default), version 1 only, in the background.
func Listen(path string, h Handler) (*Server, error) {
	return ListenConfig(path, Config{Handler: h})
}

// ListenConfig is Listen with a Config.
func ListenConfig(path string, cfg Config) (*Server, error) {
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, l: l, path: path, events: make(chan string, 1024)}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

// Path returns the socket path.
func (s *Server) Path() string { return s.path }

// Accepted returns the number of connections accepted so far.
func (s *Server) Accepted() int64 { return atomic.LoadInt64(&s.accepted) }

// ClientClosed returns the number of connections whose client closed its
// end after the final reply (seen as EOF by the server).
func (s *Server) ClientClosed() int64 { return atomic.LoadInt64(&s.clientClosed) }

// HungUp returns the number of connections whose client closed its end
// before the final reply was sent: cancellations (SPEC 11.5).
func (s *Server) HungUp() int64 { return atomic.LoadInt64(&s.hungUp) }

// Requests returns the number of requests decoded.
func (s *Server) Requests() int64 { return atomic.LoadInt64(&s.requests) }

// Refused returns the number of version-2 requests refused because the
// server speaks version 1 only.
func (s *Server) Refused() int64 { return atomic.LoadInt64(&s.refused) }

// Events delivers "hangup" each time a client hangs up before its final
// reply (buffered; events beyond the buffer are dropped).
func (s *Server) Events() <-chan string { return s.events }

// Close stops accepting, removes the socket and waits for open
// connections to finish.
func (s *Server) Close() error {
	err := s.l.Close()
	s.wg.Wait()
	return err
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		conn, err := s.l.AcceptUnix()
		if err != nil {
			return
		}
		atomic.AddInt64(&s.accepted, 1)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handle(conn)
		}()
	}
}

// Exchange is one connection of a StreamHandler: the decoded request and
// the means to answer it.
type Exchange struct {
	// Req is the decoded request.
	Req protocol.Message

	conn *net.UnixConn
	hup  chan struct{}
	mu   sync.Mutex
	done bool // final reply sent
}

// Send encodes m and writes it.
func (x *Exchange) Send(m protocol.Message) error {
	b, err := protocol.Encode(m)
	if err != nil {
		return err
	}
	return x.SendRaw(b)
}

// SendFDs encodes m and writes it with fds attached to its first byte
// (SCM_RIGHTS), as SPEC 11.4 places a memfd.
func (x *Exchange) SendFDs(m protocol.Message, fds ...int) error {
	b, err := protocol.Encode(m)
	if err != nil {
		return err
	}
	return x.SendRaw(b, fds...)
}

// SendRaw writes b, with fds (if any) attached to its first byte. The
// descriptors stay open in this process (the caller closes them).
func (x *Exchange) SendRaw(b []byte, fds ...int) error {
	_ = x.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if len(fds) > 0 && len(b) > 0 {
		if _, _, err := x.conn.WriteMsgUnix(b[:1], syscall.UnixRights(fds...), nil); err != nil {
			return err
		}
		b = b[1:]
	}
	_, err := x.conn.Write(b)
	return err
}

// HungUp is closed when the client closes its end of the connection.
func (x *Exchange) HungUp() <-chan struct{} { return x.hup }

// Wait waits for d; it returns false at once if the client hangs up first.
func (x *Exchange) Wait(d time.Duration) bool {
	if d <= 0 {
		select {
		case <-x.hup:
			return false
		default:
			return true
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-x.hup:
		return false
	case <-t.C:
		return true
	}
}

// Final marks the final reply as sent: a hang-up after it is a normal
// close, not a cancellation. Send of a final reply type does it itself
// when the StreamHandler returns; call it only for a raw final reply.
func (x *Exchange) Final() {
	x.mu.Lock()
	x.done = true
	x.mu.Unlock()
}

func (s *Server) handle(conn *net.UnixConn) {
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	msg, err := protocol.Versions12.ReadMessage(conn, 0)
	if err != nil {
		var pe *protocol.Error
		if errors.As(err, &pe) {
			if b, err := protocol.EncodeError(pe.Response()); err == nil {
				_, _ = conn.Write(b)
			}
		}
		return
	}
	_ = conn.SetReadDeadline(time.Time{})
	x := &Exchange{conn: conn, hup: make(chan struct{})}
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		var one [1]byte
		_, err := conn.Read(one[:])
		if err == nil {
			return // a client that sends more: not a hang-up
		}
		x.mu.Lock()
		final := x.done
		x.mu.Unlock()
		if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
			if final {
				atomic.AddInt64(&s.clientClosed, 1)
			} else {
				atomic.AddInt64(&s.hungUp, 1)
				select {
				case s.events <- "hangup":
				default:
				}
			}
		}
		close(x.hup)
	}()
	defer func() {
		// Wait (bounded) for the client to close its end, then close ours.
		select {
		case <-watched:
		case <-time.After(10 * time.Second):
		}
	}()
	s.answer(x, msg)
}

// answer decodes msg and replies as the Config says.
func (s *Server) answer(x *Exchange, msg []byte) {
	h, _ := protocol.Versions12.DecodeHeader(msg)
	if h.Version == protocol.Version2 && s.cfg.Protocol != V2 {
		atomic.AddInt64(&s.refused, 1)
		var reply *protocol.ErrorResponse
		var id uint64
		if len(msg) >= protocol.HeaderSize+8 {
			id = beU64(msg[protocol.HeaderSize:])
		}
		switch s.cfg.Protocol {
		case V1UnknownType:
			reply = protocol.NewErrorResponse(id, protocol.CodeUnknownType, "unknown message type")
		case V1Reference:
			reply = protocol.NewErrorResponse(0, protocol.CodeInternal, "internal error")
		default:
			reply = protocol.NewErrorResponse(0, protocol.CodeUnsupportedVersion, "unsupported protocol version 2")
		}
		x.Final()
		_ = x.Send(reply)
		return
	}
	req, err := protocol.Versions12.DecodeRequest(msg)
	if err != nil {
		var pe *protocol.Error
		if !errors.As(err, &pe) {
			return
		}
		r := pe.Response()
		r.Version = h.Version
		if h.Version == protocol.Version {
			r.Version = 0
		}
		x.Final()
		_ = x.Send(r)
		return
	}
	atomic.AddInt64(&s.requests, 1)
	x.Req = req
	if s.cfg.Stream != nil {
		s.cfg.Stream(x)
		x.Final()
		return
	}
	if o, ok := req.(*protocol.GenerateOptionsRequest); ok {
		s.cfg.Job.run(x, o, s.handler())
		return
	}
	reply := s.handler()(req)
	if reply == nil {
		return // close without a reply
	}
	x.Final()
	_ = x.Send(reply)
}

func (s *Server) handler() Handler {
	if s.cfg.Handler != nil {
		return s.cfg.Handler
	}
	return Default
}

func beU64(b []byte) uint64 {
	var v uint64
	for _, c := range b[:8] {
		v = v<<8 | uint64(c)
	}
	return v
}

// DefaultSeed is the seed Default picks for a request with seed 0.
const DefaultSeed = 424242

// Default answers a status request with a fixed status (with the 11.6
// fields in version 2) and a generate request with Pixels(width, height,
// seed), reporting the seed; in version 2 its replies have version-2
// headers.
func Default(req protocol.Message) protocol.Message {
	switch r := req.(type) {
	case *protocol.StatusRequest:
		st := &protocol.StatusResponse{
			RequestID: r.RequestID, Status: protocol.StatusOK,
			VersionMin: 1, VersionMax: 1, UptimeMS: 1234, RequestsServed: 7,
			ConnectionsOpen: 1, MaxConnections: 64, QueueDepth: 0,
			Backend: "fake", DaemonVersion: "fake-1",
		}
		if r.Version == protocol.Version2 {
			st.Version, st.VersionMax = protocol.Version2, 2
			st.V2 = &protocol.StatusV2{DaemonPID: uint32(os.Getpid()), Features: protocol.FlagProgress | protocol.FlagSHM,
				BackendState: protocol.BackendLoaded}
		}
		return st
	case *protocol.GenerateRequest:
		resp := generated(r)
		resp.Version = r.Version
		return resp
	case *protocol.GenerateOptionsRequest:
		resp := generated(&r.GenerateRequest)
		resp.Version = protocol.Version2
		return resp
	}
	return protocol.NewErrorResponse(0, protocol.CodeUnknownType, "unexpected request")
}

func generated(r *protocol.GenerateRequest) *protocol.GenerateResponse {
	seed := r.Seed
	if seed == 0 {
		seed = DefaultSeed
	}
	return &protocol.GenerateResponse{
		RequestID: r.RequestID, Status: protocol.StatusOK, GenerationTimeMS: 42,
		Width: r.Width, Height: r.Height, Channels: 3,
		Pixels: Pixels(r.Width, r.Height, seed), Seed: seed, HasSeed: true,
	}
}

// Pixels returns a deterministic RGB image of w*h pixels for seed.
func Pixels(w, h uint32, seed uint64) []byte {
	p := make([]byte, 0, int(w)*int(h)*3)
	for y := uint32(0); y < h; y++ {
		for x := uint32(0); x < w; x++ {
			p = append(p, byte(x+uint32(seed)), byte(y+uint32(seed>>8)), byte(x^y))
		}
	}
	return p
}

// Main runs a fake daemon process: it serves Default on
// $XDG_RUNTIME_DIR/weave/weave.sock until SIGTERM/SIGINT or until idle
// for idle (0: forever). Exit codes follow weave-compute: 1 when
// XDG_RUNTIME_DIR is unset or the socket cannot be created, 0 on shutdown.
func Main(idle time.Duration) int {
	return MainConfig(idle, Config{})
}

// MainConfig is Main serving cfg.
func MainConfig(idle time.Duration, cfg Config) int {
	xdg := os.Getenv("XDG_RUNTIME_DIR")
	if xdg == "" {
		os.Stderr.WriteString("weave-compute: XDG_RUNTIME_DIR not set\n")
		return 1
	}
	dir := filepath.Join(xdg, "weave")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		os.Stderr.WriteString("weave-compute: " + err.Error() + "\n")
		return 1
	}
	path := filepath.Join(dir, "weave.sock")
	_ = os.Remove(path) // stale socket
	s, err := ListenConfig(path, cfg)
	if err != nil {
		os.Stderr.WriteString("weave-compute: " + err.Error() + "\n")
		return 1
	}
	os.Stderr.WriteString("fake weave-compute listening on " + path + "\n")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	var idleC <-chan time.Time
	if idle > 0 {
		t := time.NewTimer(idle)
		defer t.Stop()
		idleC = t.C
	}
	select {
	case <-sig:
	case <-idleC:
	}
	_ = s.Close()
	return 0
}
