// Package fakedaemon is an in-process stand-in for weave-compute, for the
// tests of go/client and go/cmd/weave: it serves the protocol on a Unix
// socket with go/protocol's codec and counts connections. It is not a
// reference implementation of the daemon (c/ is).
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

// Handler answers one decoded request (*protocol.GenerateRequest or
// *protocol.StatusRequest) with a reply message.
type Handler func(req protocol.Message) protocol.Message

// Server serves the protocol on a Unix socket, one request per connection.
type Server struct {
	Handler Handler // nil: Default

	l    *net.UnixListener
	wg   sync.WaitGroup
	path string

	accepted     int64 // connections accepted
	clientClosed int64 // connections the client closed after the reply
	requests     int64 // requests decoded
}

// Listen creates the socket at path (its directory must exist) and starts
// serving in the background.
func Listen(path string, h Handler) (*Server, error) {
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	s := &Server{Handler: h, l: l, path: path}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

// Path returns the socket path.
func (s *Server) Path() string { return s.path }

// Accepted returns the number of connections accepted so far.
func (s *Server) Accepted() int64 { return atomic.LoadInt64(&s.accepted) }

// ClientClosed returns the number of connections whose client closed its
// end after the reply (seen as EOF by the server).
func (s *Server) ClientClosed() int64 { return atomic.LoadInt64(&s.clientClosed) }

// Requests returns the number of requests decoded.
func (s *Server) Requests() int64 { return atomic.LoadInt64(&s.requests) }

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
		conn, err := s.l.Accept()
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

func (s *Server) handle(conn net.Conn) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	msg, err := protocol.ReadMessage(conn, 0)
	if err != nil {
		var pe *protocol.Error
		if errors.As(err, &pe) {
			if b, err := protocol.EncodeError(pe.Response()); err == nil {
				_, _ = conn.Write(b)
			}
		}
		return
	}
	var reply protocol.Message
	req, err := protocol.DecodeRequest(msg)
	if err != nil {
		var pe *protocol.Error
		if !errors.As(err, &pe) {
			return
		}
		reply = pe.Response()
	} else {
		atomic.AddInt64(&s.requests, 1)
		h := s.Handler
		if h == nil {
			h = Default
		}
		reply = h(req)
	}
	if reply == nil {
		return // close without a reply
	}
	b, err := protocol.Encode(reply)
	if err != nil {
		return
	}
	if _, err := conn.Write(b); err != nil {
		return
	}
	// Wait for the client to close its end.
	var one [1]byte
	if _, err := conn.Read(one[:]); errors.Is(err, io.EOF) {
		atomic.AddInt64(&s.clientClosed, 1)
	}
}

// DefaultSeed is the seed Default picks for a request with seed 0.
const DefaultSeed = 424242

// Default answers a status request with a fixed status and a generate
// request with Pixels(width, height, seed), reporting the seed.
func Default(req protocol.Message) protocol.Message {
	switch r := req.(type) {
	case *protocol.StatusRequest:
		return &protocol.StatusResponse{
			RequestID: r.RequestID, Status: protocol.StatusOK,
			VersionMin: 1, VersionMax: 1, UptimeMS: 1234, RequestsServed: 7,
			ConnectionsOpen: 1, MaxConnections: 64, QueueDepth: 0,
			Backend: "fake", DaemonVersion: "fake-1",
		}
	case *protocol.GenerateRequest:
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
	return protocol.NewErrorResponse(0, protocol.CodeUnknownType, "unexpected request")
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
	s, err := Listen(path, nil)
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
