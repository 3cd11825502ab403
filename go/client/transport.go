package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/weave-app/weave/go/protocol"
)

// Backoff while the daemon's listen backlog is full: connect(2) on a Unix
// socket then fails at once with EAGAIN instead of waiting, so the connect
// timeout is implemented by retrying.
const (
	initialConnectBackoff = time.Millisecond
	maxConnectBackoff     = 50 * time.Millisecond
)

// aLongTimeAgo is a deadline in the past: setting it makes blocked I/O on a
// net.Conn return at once.
var aLongTimeAgo = time.Unix(1, 0)

// Send writes one request message (header and payload, as built by the
// protocol encoders) on a new connection and returns the daemon's reply
// message, undecoded. The connection is closed before Send returns.
//
// The reply header is checked before the payload is read; a reply larger
// than protocol.MaxMessageSize is refused without reading it (a *ReplyError).
// If the daemon closes the connection while the request is being written
// (e.g. it answered "server busy" without reading), Send still reads the
// reply it may have sent. When ctx is done, Send returns ctx.Err().
func (c *Client) Send(ctx context.Context, msg []byte) ([]byte, error) {
	return c.send(ctx, msg, nil)
}

// send is Send; when peer is not nil it is filled in with the credentials
// of the connection's peer (SO_PEERCRED) once connected.
func (c *Client) send(ctx context.Context, msg []byte, peer *Peer) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	conn, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if peer != nil {
		if p, err := peerOf(conn); err == nil {
			*peer = *p
		}
	}
	g := watchContext(ctx, conn)
	defer g.stop()
	return c.exchange(ctx, conn, g, msg)
}

// dial connects to the socket within the connect timeout, retrying while the
// listen backlog is full (EAGAIN).
func (c *Client) dial(ctx context.Context) (net.Conn, error) {
	if err := CheckSocketPath(c.socketPath); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(c.connectTimeout)
	backoff := initialConnectBackoff
	for {
		remaining := time.Until(deadline)
		if remaining <= 0 {
			return nil, &Error{Sentinel: ErrConnectTimeout, Also: ErrNotResponding,
				Detail: fmt.Sprintf("%s: listen backlog stayed full for %v (the daemon is not responding)", c.socketPath, c.connectTimeout),
				Cause:  syscall.EAGAIN}
		}
		// connect(2) on a Unix socket never waits: it succeeds, or fails at
		// once (EAGAIN when the backlog is full). So no Dialer timeout and no
		// context plumbing here: both cost a timer per request for nothing;
		// the deadline and ctx are checked around the EAGAIN retries instead.
		conn, err := net.DialUnix("unix", nil, c.unixAddr)
		if err == nil {
			return conn, nil
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		switch {
		case errors.Is(err, syscall.EAGAIN):
			wait := backoff
			if left := time.Until(deadline); wait > left {
				wait = left
			}
			if wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return nil, ctx.Err()
				case <-t.C:
				}
			}
			backoff *= 2
			if backoff > maxConnectBackoff {
				backoff = maxConnectBackoff
			}
		case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.ENOTDIR):
			return nil, newError(ErrDaemonNotRunning, c.socketPath, err)
		case errors.Is(err, syscall.ECONNREFUSED):
			return nil, newError(ErrConnectionRefused, c.socketPath+" (stale socket?)", err)
		default:
			return nil, fmt.Errorf("connect to weave-compute daemon at %s: %w", c.socketPath, err)
		}
	}
}

// exchange writes msg and reads one reply message.
func (c *Client) exchange(ctx context.Context, conn net.Conn, g *connGuard, msg []byte) ([]byte, error) {
	g.setDeadline(conn.SetWriteDeadline, time.Now().Add(c.writeTimeout))
	_, werr := conn.Write(msg)
	if werr != nil {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if isTimeout(werr) {
			return nil, &Error{Sentinel: ErrReadTimeout, Also: ErrNotResponding,
				Detail: fmt.Sprintf("request not accepted within %v (the daemon is not responding)", c.writeTimeout),
				Cause:  werr, PeerPID: peerPID(conn)}
		}
		if !isClosedByPeer(werr) {
			return nil, fmt.Errorf("send request to weave-compute daemon: %w", werr)
		}
		// The daemon closed its end early. It may have answered first (for
		// example 500 "server busy" before reading anything): read on.
	}

	g.setDeadline(conn.SetReadDeadline, time.Now().Add(c.readTimeout))
	cr := &countingReader{r: conn}
	reply, rerr := protocol.ReadMessage(cr, c.maxMessageSize)
	if rerr == nil {
		return reply, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch {
	case isTimeout(rerr):
		if cr.n > 0 {
			return nil, &Error{Sentinel: ErrReadTimeout,
				Detail: fmt.Sprintf("reply incomplete after %v (%d bytes received)", c.readTimeout, cr.n),
				Cause:  rerr, PeerPID: peerPID(conn)}
		}
		// Not one byte: a stopped or wedged daemon looks exactly like this
		// (the kernel accepted the connection and buffered the request).
		return nil, &Error{Sentinel: ErrReadTimeout, Also: ErrNotResponding,
			Detail: fmt.Sprintf("no reply within %v (the daemon is not responding)", c.readTimeout),
			Cause:  rerr, PeerPID: peerPID(conn)}
	case isClosedByPeer(rerr):
		switch {
		case cr.n > 0:
			return nil, newError(ErrConnectionClosed, fmt.Sprintf("reply cut off after %d bytes", cr.n), rerr)
		case werr != nil:
			return nil, newError(ErrConnectionClosed, "", werr)
		default:
			return nil, newError(ErrConnectionClosed, "", rerr)
		}
	case werr != nil && cr.n == 0:
		return nil, newError(ErrConnectionClosed, "", werr)
	default:
		// A reply header the protocol refuses (bad magic, too large, ...).
		return nil, &ReplyError{Err: rerr}
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (cr *countingReader) Read(p []byte) (int, error) {
	n, err := cr.r.Read(p)
	cr.n += int64(n)
	return n, err
}

// connGuard makes ctx cancellation unblock I/O on conn: when ctx is done, a
// watcher goroutine sets a deadline in the past, and every later deadline
// set through setDeadline stays in the past.
type connGuard struct {
	mu       sync.Mutex
	conn     net.Conn
	canceled bool
	stopCh   chan struct{}
	doneCh   chan struct{}
}

func watchContext(ctx context.Context, conn net.Conn) *connGuard {
	g := &connGuard{conn: conn, stopCh: make(chan struct{}), doneCh: make(chan struct{})}
	if ctx.Done() == nil {
		close(g.doneCh)
		return g
	}
	go func() {
		defer close(g.doneCh)
		select {
		case <-ctx.Done():
			g.mu.Lock()
			g.canceled = true
			_ = g.conn.SetDeadline(aLongTimeAgo)
			g.mu.Unlock()
		case <-g.stopCh:
		}
	}()
	return g
}

func (g *connGuard) setDeadline(set func(time.Time) error, t time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.canceled {
		t = aLongTimeAgo
	}
	_ = set(t)
}

// stop ends the watcher and waits for it.
func (g *connGuard) stop() {
	close(g.stopCh)
	<-g.doneCh
}
