// Package client talks to the weave-compute daemon over its Unix socket
// ($XDG_RUNTIME_DIR/weave/weave.sock) with the binary protocol of
// go/protocol (proto_spec/SPEC.md).
//
// Every request uses a new connection that is closed before the call
// returns (one request per connection, SPEC section 1). Failures to reach
// the daemon are reported with the sentinel errors of this package (whose
// messages are fixed by docs/DEVELOPMENT.md); a daemon error reply is returned
// as a *protocol.ErrorResponse; a request that fails local validation is
// returned as the *protocol.Error of its Validate.
//
// # Protocol versions
//
// A call uses protocol version 2 (SPEC section 11) only when it needs it:
// WithProgress, GenerateImage (pixels in shared memory), or an image whose
// reply does not fit in a 10 MiB version-1 message (beyond 1856x1856, up to
// 2048x2048). Status always asks in version 2 (for the 11.6 fields in
// StatusResponse.V2). A plain Generate of an image that fits is sent in
// version 1, byte for byte as any v1 client sends it.
//
// A daemon that does not speak version 2 answers error 2 (unsupported
// version), error 12 (unknown message type) or 500 / 99 (the public
// reference daemon). The call then sends the same request in version 1 on a
// new connection (one extra round trip at most; no events come, and the
// read timeout is a total deadline again), and the Client remembers that
// the daemon is version-1 only: its later calls go straight to version 1.
// The memory lasts as long as the Client: make a new Client to use a daemon
// that was upgraded meanwhile. A request that cannot be sent in version 1
// (2048x2048) then fails with a *V1OnlyError (ErrV1Only) naming the limit.
//
// # Progress, deadlines, cancellation
//
// WithProgress(fn) asks for the daemon's progress messages and calls fn
// with each Event, in order, on the calling goroutine: EventQueued
// (Position, Depth) while the job waits, EventStarted, EventStep (Step,
// Steps, Elapsed) after each step, EventHeartbeat when nothing else was
// said for 500 ms. With progress the read timeout (WithReadTimeout, 65 s by
// default) is an inactivity timeout, restarted by every message, so a job
// of any length completes as long as the daemon keeps reporting; without it
// the timeout bounds the whole reply.
//
// Cancelling ctx closes the connection at once, from any point (dialling,
// queued, running, reading the reply, even while fn runs), so the daemon
// sees the hang-up and drops or stops the job (SPEC 11.5); the call returns
// an error that satisfies errors.Is(err, context.Canceled).
//
// # Pixels
//
// Generate returns the pixels in memory the caller owns (copied out of
// shared memory when they came that way). GenerateInto reads an inline reply
// straight into a caller-supplied buffer, so a loop of large requests
// allocates nothing image-sized. GenerateImage is zero-copy: it asks for the
// pixels in a sealed memfd and returns an *Image that maps it read-only until
// Close. Only a descriptor that is exactly one memfd sealed with
// F_SEAL_SHRINK, F_SEAL_GROW, F_SEAL_WRITE and F_SEAL_SEAL and holding at
// least the image is accepted (so reading the mapping cannot SIGBUS); any
// other is closed and the call fails with a *SharedMemoryError
// (ErrSharedMemory). Descriptors that arrive with any other message are
// closed unread. The package is Linux-only (memfd, SCM_RIGHTS, SO_PEERCRED).
package client

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/weave-app/weave/go/protocol"
)

// Default timeouts (the story's acceptance criteria: connect 5 s, read 65 s,
// which is longer than the daemon's 60 s so the daemon's own deadline fires
// first; the daemon's write timeout is 5 s and so is ours).
const (
	DefaultConnectTimeout = 5 * time.Second
	DefaultReadTimeout    = 65 * time.Second
	DefaultWriteTimeout   = 5 * time.Second
)

// Client sends requests to one weave-compute socket. It holds no connection
// and is safe for concurrent use.
type Client struct {
	socketPath     string
	unixAddr       *net.UnixAddr // socketPath, resolved once in New
	connectTimeout time.Duration
	readTimeout    time.Duration
	writeTimeout   time.Duration
	maxMessageSize uint32

	// v1Only is set once the daemon refused a version-2 request (SPEC
	// 11.8): later requests go straight to version 1.
	v1Only atomic.Bool

	// nextID is the last request id handed out; it starts at a random
	// value. atomic.Uint64 keeps it 8-byte aligned on 32-bit platforms
	// too, where a plain uint64 field after a uint32 makes the 64-bit
	// atomic operations panic.
	nextID atomic.Uint64
}

// Option configures a Client.
type Option func(*Client) error

// WithSocketPath sets the socket path instead of $XDG_RUNTIME_DIR/weave/weave.sock.
func WithSocketPath(path string) Option {
	return func(c *Client) error {
		if path == "" {
			return errors.New("client: empty socket path")
		}
		c.socketPath = path
		return nil
	}
}

// WithConnectTimeout bounds connection establishment (default 5 s), including
// the retries while the daemon's listen backlog is full.
func WithConnectTimeout(d time.Duration) Option {
	return timeoutOption("connect", d, func(c *Client) *time.Duration { return &c.connectTimeout })
}

// WithReadTimeout bounds the wait for the whole reply after the request was
// written (default 65 s). With progress (WithProgress, against a version-2
// daemon) it bounds the silence between two messages instead.
func WithReadTimeout(d time.Duration) Option {
	return timeoutOption("read", d, func(c *Client) *time.Duration { return &c.readTimeout })
}

// WithWriteTimeout bounds writing the request (default 5 s).
func WithWriteTimeout(d time.Duration) Option {
	return timeoutOption("write", d, func(c *Client) *time.Duration { return &c.writeTimeout })
}

// timeoutOption sets the timeout field picks out, refusing d <= 0.
func timeoutOption(name string, d time.Duration, field func(*Client) *time.Duration) Option {
	return func(c *Client) error {
		if d <= 0 {
			return fmt.Errorf("client: %s timeout must be positive, got %v", name, d)
		}
		*field(c) = d
		return nil
	}
}

// withMaxMessageSize lowers the reply size limit (tests only).
func withMaxMessageSize(n uint32) Option {
	return func(c *Client) error {
		c.maxMessageSize = n
		return nil
	}
}

// New returns a Client. Without WithSocketPath the socket path comes from
// $XDG_RUNTIME_DIR, and New fails with ErrXDGNotSet when it is unset or
// empty.
func New(opts ...Option) (*Client, error) {
	c := &Client{
		connectTimeout: DefaultConnectTimeout,
		readTimeout:    DefaultReadTimeout,
		writeTimeout:   DefaultWriteTimeout,
		maxMessageSize: protocol.MaxMessageSize,
	}
	for _, opt := range opts {
		if err := opt(c); err != nil {
			return nil, err
		}
	}
	if c.socketPath == "" {
		p, err := SocketPath()
		if err != nil {
			return nil, err
		}
		c.socketPath = p
	}
	c.unixAddr = &net.UnixAddr{Name: c.socketPath, Net: "unix"}
	var seed [8]byte
	if _, err := rand.Read(seed[:]); err != nil {
		binary.BigEndian.PutUint64(seed[:], uint64(time.Now().UnixNano()))
	}
	c.nextID.Store(binary.BigEndian.Uint64(seed[:]))
	return c, nil
}

// SocketPath returns the socket path the client connects to.
func (c *Client) SocketPath() string { return c.socketPath }

// newRequestID returns a non-zero request id: a counter that starts at a
// random value, so ids of concurrent clients rarely collide.
func (c *Client) newRequestID() uint64 {
	for {
		if id := c.nextID.Add(1); id != 0 {
			return id
		}
	}
}

// ReplyError means the daemon's reply could not be decoded or did not match
// the request (wrong type, wrong request_id). Err is the cause (often a
// *protocol.Error).
type ReplyError struct {
	Err error
}

func (e *ReplyError) Error() string {
	if e.Err == nil {
		return "invalid reply from weave-compute"
	}
	return "invalid reply from weave-compute: " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *ReplyError) Unwrap() error { return e.Err }

// roundTrip encodes req, sends it on a new connection and decodes the one
// reply with vs; a reply that does not decode is a *ReplyError.
func (c *Client) roundTrip(ctx context.Context, req protocol.Message, vs protocol.Versions, peer *Peer) (protocol.Message, error) {
	msg, err := protocol.Encode(req)
	if err != nil {
		return nil, err
	}
	reply, err := c.send(ctx, msg, peer)
	if err != nil {
		return nil, err
	}
	m, err := vs.DecodeResponse(reply)
	if err != nil {
		return nil, &ReplyError{Err: err}
	}
	return m, nil
}

// Status asks the daemon for its status: in version 2 (SPEC 11.6, the
// result's V2 is set), or, from a daemon that does not speak it, in version
// 1 (SPEC section 7, V2 nil; one extra round trip, remembered as for
// Generate). A daemon that
// answers with an error reply is up but does not serve the extension: the
// error then matches ErrStatusNotSupported and wraps the
// *protocol.ErrorResponse — except for a "server busy" reply, which is
// returned as the *protocol.ErrorResponse itself.
func (c *Client) Status(ctx context.Context) (*protocol.StatusResponse, error) {
	return c.status(ctx, nil)
}

// StatusWithPeer is Status that also returns the credentials of the process
// serving the socket (SO_PEERCRED; see Peer). The peer is not nil whenever a
// connection was made, also when the call fails afterwards (for example a
// daemon that is not responding).
func (c *Client) StatusWithPeer(ctx context.Context) (*protocol.StatusResponse, *Peer, error) {
	var p Peer
	st, err := c.status(ctx, &p)
	if p.PID == 0 {
		return st, nil, err
	}
	return st, &p, err
}

func (c *Client) status(ctx context.Context, peer *Peer) (*protocol.StatusResponse, error) {
	if !c.v1Only.Load() {
		st, err := c.statusIn(ctx, protocol.Version2, peer)
		var er *protocol.ErrorResponse
		if err == nil || !errors.As(err, &er) || !isV2Refusal(er) {
			return st, err
		}
		c.v1Only.Store(true)
	}
	return c.statusIn(ctx, protocol.Version, peer)
}

// statusIn asks for the status in one protocol version. An error reply
// other than "server busy" is returned as a *statusNotSupportedError.
func (c *Client) statusIn(ctx context.Context, version uint16, peer *Peer) (*protocol.StatusResponse, error) {
	id := c.newRequestID()
	vs := protocol.Versions1
	if version == protocol.Version2 {
		vs = protocol.Versions12
	}
	m, err := c.roundTrip(ctx, &protocol.StatusRequest{Version: version, RequestID: id}, vs, peer)
	if err != nil {
		return nil, err
	}
	switch resp := m.(type) {
	case *protocol.StatusResponse:
		if resp.RequestID != id {
			return nil, &ReplyError{Err: fmt.Errorf("request_id %d, want %d", resp.RequestID, id)}
		}
		if version == protocol.Version2 && resp.V2 == nil {
			return nil, &ReplyError{Err: errors.New("version-1 status reply to a version-2 request")}
		}
		return resp, nil
	case *protocol.ErrorResponse:
		if resp.RequestID != 0 && resp.RequestID != id {
			return nil, &ReplyError{Err: fmt.Errorf("error reply for request_id %d, want %d: %v", resp.RequestID, id, resp)}
		}
		if resp.Code == protocol.CodeBusy {
			return nil, resp
		}
		return nil, &statusNotSupportedError{resp: resp}
	default:
		return nil, &ReplyError{Err: fmt.Errorf("unexpected %T to a status request", m)}
	}
}

type statusNotSupportedError struct {
	resp *protocol.ErrorResponse
}

func (e *statusNotSupportedError) Error() string {
	return ErrStatusNotSupported.Error() + " (" + e.resp.Error() + ")"
}

func (e *statusNotSupportedError) Is(target error) bool { return target == ErrStatusNotSupported }

func (e *statusNotSupportedError) Unwrap() error { return e.resp }
