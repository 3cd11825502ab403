package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/weave-app/weave/go/client/internal/shm"
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
// reply it may have sent. Descriptors that arrive with the reply are closed
// unread. When ctx is done, Send returns ctx.Err(). Send reads one message:
// it is for version-1 requests and version-2 requests without PROGRESS.
func (c *Client) Send(ctx context.Context, msg []byte) ([]byte, error) {
	return c.send(ctx, msg, nil)
}

// send is Send; when peer is not nil it is filled in with the credentials
// of the connection's peer (SO_PEERCRED) once connected.
func (c *Client) send(ctx context.Context, msg []byte, peer *Peer) ([]byte, error) {
	cv, err := c.open(ctx, peer)
	if err != nil {
		return nil, err
	}
	defer cv.close()
	if err := cv.write(msg); err != nil {
		return nil, err
	}
	cv.startReading(false)
	reply, fds, err := cv.next(nil, c.maxMessageSize)
	shm.CloseFDs(fds)
	return reply, err
}

// conversation is one connection: one request written, then the daemon's
// messages read until the final reply. The connection is closed by close,
// or at once by the context watcher when ctx is done.
type conversation struct {
	c    *Client
	ctx  context.Context
	conn *net.UnixConn
	rd   *shm.Reader
	g    connGuard
	// werr is a write error after which the reply is still read (the
	// daemon closed early, possibly after answering).
	werr error
	// inactivity: the read deadline restarts with every message (progress
	// on); otherwise it is one total deadline set by startReading.
	inactivity bool
	received   int64  // reply bytes read on this connection
	messages   int    // whole messages read
	last       string // the last progress seen, for error texts ("step 3/28")
}

// open dials and starts watching ctx: from here on, ctx being done closes
// the connection at once, so the daemon sees the hang-up (SPEC 11.5).
func (c *Client) open(ctx context.Context, peer *Peer) (*conversation, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	conn, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	if peer != nil {
		if p, err := peerOf(conn); err == nil {
			*peer = *p
		}
	}
	rd, err := shm.NewReader(conn)
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("weave-compute daemon connection: %w", err)
	}
	cv := &conversation{c: c, ctx: ctx, conn: conn, rd: rd}
	cv.g.watch(ctx, conn)
	return cv, nil
}

func (cv *conversation) close() {
	cv.g.stop()
	_ = cv.conn.Close()
}

// write sends msg within the write timeout. A peer that closed early is
// not an error yet: it may have answered before closing, so the reply is
// read anyway.
func (cv *conversation) write(msg []byte) error {
	c, conn := cv.c, cv.conn
	cv.g.setDeadline(conn.SetWriteDeadline, time.Now().Add(c.writeTimeout))
	_, werr := conn.Write(msg)
	if werr == nil {
		return nil
	}
	if err := cv.ctx.Err(); err != nil {
		return err
	}
	if isTimeout(werr) {
		return &Error{Sentinel: ErrReadTimeout, Also: ErrNotResponding,
			Detail: fmt.Sprintf("request not accepted within %v (the daemon is not responding)", c.writeTimeout),
			Cause:  werr, PeerPID: peerPID(conn)}
	}
	if !isClosedByPeer(werr) {
		return fmt.Errorf("send request to weave-compute daemon: %w", werr)
	}
	cv.werr = werr
	return nil
}

// startReading arms the read deadline: one total deadline of the read
// timeout, or (inactivity) a deadline that next restarts before every
// message.
func (cv *conversation) startReading(inactivity bool) {
	cv.inactivity = inactivity
	if !inactivity {
		cv.g.setDeadline(cv.conn.SetReadDeadline, time.Now().Add(cv.c.readTimeout))
	}
}

// next reads one message (into buf when it is large enough) with the
// descriptors that came with it; the caller owns them (shm.CloseFDs or
// shm.Accept). Failures are mapped to this package's errors.
func (cv *conversation) next(buf []byte, max uint32) ([]byte, []int, error) {
	if cv.inactivity {
		cv.g.setDeadline(cv.conn.SetReadDeadline, time.Now().Add(cv.c.readTimeout))
	}
	msg, fds, n, rerr := cv.rd.ReadMessage(buf, max)
	cv.received += int64(n)
	if rerr == nil {
		cv.messages++
		return msg, fds, nil
	}
	if msg != nil && errors.Is(rerr, shm.ErrLateDescriptor) {
		// A whole message whose descriptors came too late (all closed
		// already): usable by a caller that needs none.
		cv.messages++
		return msg, nil, rerr
	}
	return nil, nil, cv.readError(rerr)
}

// readError maps a failed read to this package's errors.
func (cv *conversation) readError(rerr error) error {
	c, conn := cv.c, cv.conn
	if err := cv.ctx.Err(); err != nil {
		return err
	}
	switch {
	case isTimeout(rerr):
		if cv.received > 0 {
			if cv.inactivity {
				detail := fmt.Sprintf("no message from the daemon for %v", c.readTimeout)
				if cv.last != "" {
					detail += " (last: " + cv.last + ")"
				}
				return &Error{Sentinel: ErrReadTimeout, Detail: detail, Cause: rerr, PeerPID: peerPID(conn)}
			}
			return &Error{Sentinel: ErrReadTimeout,
				Detail: fmt.Sprintf("reply incomplete after %v (%d bytes received)", c.readTimeout, cv.received),
				Cause:  rerr, PeerPID: peerPID(conn)}
		}
		// Not one byte: a stopped or wedged daemon looks exactly like this
		// (the kernel accepted the connection and buffered the request).
		return &Error{Sentinel: ErrReadTimeout, Also: ErrNotResponding,
			Detail: fmt.Sprintf("no reply within %v (the daemon is not responding)", c.readTimeout),
			Cause:  rerr, PeerPID: peerPID(conn)}
	case isClosedByPeer(rerr):
		switch {
		case cv.received > 0:
			return newError(ErrConnectionClosed, fmt.Sprintf("reply cut off after %d bytes", cv.received), rerr)
		case cv.werr != nil:
			return newError(ErrConnectionClosed, "", cv.werr)
		default:
			return newError(ErrConnectionClosed, "", rerr)
		}
	case cv.werr != nil && cv.received == 0:
		return newError(ErrConnectionClosed, "", cv.werr)
	default:
		// A reply header the protocol refuses (bad magic, too large, ...),
		// or control data that could not be trusted.
		return &ReplyError{Err: rerr}
	}
}

// dial connects to the socket within the connect timeout, retrying while the
// listen backlog is full (EAGAIN).
func (c *Client) dial(ctx context.Context) (*net.UnixConn, error) {
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

// connGuard makes ctx cancellation end the connection at once: when ctx is
// done, a watcher goroutine sets a deadline in the past (so blocked I/O
// returns) and closes the connection (so the daemon sees the hang-up and
// cancels the job, SPEC 11.5, whatever the caller is doing at that moment,
// a progress callback included). Every later deadline set through
// setDeadline stays in the past.
type connGuard struct {
	mu       sync.Mutex
	conn     net.Conn
	canceled bool
	stopCh   chan struct{}
	doneCh   chan struct{}
}

// watch starts watching ctx for conn. A context that can never be done
// (context.Background) needs no watcher, and costs nothing.
func (g *connGuard) watch(ctx context.Context, conn net.Conn) {
	g.conn = conn
	if ctx.Done() == nil {
		return
	}
	g.stopCh, g.doneCh = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(g.doneCh)
		select {
		case <-ctx.Done():
			g.mu.Lock()
			g.canceled = true
			_ = g.conn.SetDeadline(aLongTimeAgo)
			_ = g.conn.Close()
			g.mu.Unlock()
		case <-g.stopCh:
		}
	}()
}

func (g *connGuard) setDeadline(set func(time.Time) error, t time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.canceled {
		t = aLongTimeAgo
	}
	_ = set(t)
}

// stop ends the watcher (if any) and waits for it.
func (g *connGuard) stop() {
	if g.stopCh == nil {
		return
	}
	close(g.stopCh)
	<-g.doneCh
}
