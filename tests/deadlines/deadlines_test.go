// Package deadlines_test checks the timeouts on both sides with short
// configured values: the client's connect and read timeouts, and the
// daemon's read and write deadlines.
package deadlines_test

import (
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/weave-app/weave/go/client"
	"github.com/weave-app/weave/go/protocol"
	"github.com/weave-app/weave/tests/internal/daemontest"
)

// stopDaemon freezes the daemon with SIGSTOP until the test ends.
func stopDaemon(t *testing.T, d *daemontest.Daemon) {
	t.Helper()
	require.NoError(t, d.Signal(syscall.SIGSTOP))
	t.Cleanup(func() { _ = d.Signal(syscall.SIGCONT) })
}

// fillBacklog makes raw non-blocking connections until connect(2) fails with
// EAGAIN (the listen backlog of the stopped daemon is full). The fds are
// closed when the test ends.
func fillBacklog(t *testing.T, path string) int {
	t.Helper()
	var fds []int
	t.Cleanup(func() {
		for _, fd := range fds {
			syscall.Close(fd)
		}
	})
	const limit = 100000
	for i := 0; i < limit; i++ {
		fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
		require.NoError(t, err, "socket() after %d connections (fd limit?)", len(fds))
		err = syscall.Connect(fd, &syscall.SockaddrUnix{Name: path})
		if err == syscall.EAGAIN {
			syscall.Close(fd)
			return len(fds)
		}
		fds = append(fds, fd)
		require.NoError(t, err, "raw connect %d", i)
	}
	t.Fatalf("listen backlog still not full after %d connections", limit)
	return 0
}

// TestClientConnectTimeout: with the daemon stopped and its listen backlog
// full, a client with a 200 ms connect timeout fails with ErrConnectTimeout
// after about 200 ms.
func TestClientConnectTimeout(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{})
	stopDaemon(t, d)
	n := fillBacklog(t, d.SocketPath)
	t.Logf("listen backlog full after %d connections", n)

	c := d.Client(t, client.WithConnectTimeout(200*time.Millisecond))
	start := time.Now()
	_, err := c.Status(daemontest.Context(t))
	elapsed := time.Since(start)
	daemontest.RequireSentinel(t, err, client.ErrConnectTimeout)
	assert.Equal(t, "weave-compute daemon connection timeout", client.ErrConnectTimeout.Error())
	assert.GreaterOrEqual(t, elapsed, 190*time.Millisecond, "gave up before the connect timeout")
	assert.Less(t, elapsed, 3*time.Second, "connect timeout not honoured")
	assert.True(t, client.IsUnavailable(err))
}

// TestClientReadTimeout: the daemon is frozen after readiness; the
// connection and the write succeed (kernel backlog and buffers), and the
// client gives up reading after its read timeout with ErrReadTimeout.
func TestClientReadTimeout(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{})
	stopDaemon(t, d)

	c := d.Client(t, client.WithReadTimeout(300*time.Millisecond), client.WithConnectTimeout(2*time.Second))
	start := time.Now()
	_, err := c.Generate(daemontest.Context(t), protocol.NewGenerateRequest(5, "frozen", 64, 64, 1, 1, 1))
	elapsed := time.Since(start)
	daemontest.RequireSentinel(t, err, client.ErrReadTimeout)
	assert.Equal(t, "weave-compute daemon response timeout", client.ErrReadTimeout.Error())
	assert.GreaterOrEqual(t, elapsed, 290*time.Millisecond)
	assert.Less(t, elapsed, 3*time.Second)

	// Thawed, the daemon serves again.
	require.NoError(t, d.Signal(syscall.SIGCONT))
	_, err = d.Client(t).Status(daemontest.Context(t))
	require.NoError(t, err)
}

// readReply reads one reply message and what follows it until the daemon
// closes the connection.
func readReply(t *testing.T, conn net.Conn, timeout time.Duration) (protocol.Message, []byte) {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(timeout)))
	msg, err := protocol.ReadMessage(conn, protocol.MaxMessageSize)
	require.NoError(t, err, "no reply")
	m, err := protocol.DecodeResponse(msg)
	require.NoError(t, err)
	rest, err := io.ReadAll(conn)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		require.NoError(t, err, "after the reply the daemon closes the connection")
	}
	return m, rest
}

// TestDaemonReadDeadline: with --read-timeout-ms=300, half a request gets a
// 500/10 reply (request_id 0: not readable yet) and the connection closed,
// after about 300 ms.
func TestDaemonReadDeadline(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{Args: []string{"--read-timeout-ms=300"}})

	t.Run("half header", func(t *testing.T) {
		// The deadline runs from accept(), which follows connect(): timing
		// from before the dial makes the lower bound safe.
		start := time.Now()
		conn := d.DialRaw(t)
		_, err := conn.Write(daemontest.StatusRequest(9)[:10])
		require.NoError(t, err)
		m, rest := readReply(t, conn, 5*time.Second)
		elapsed := time.Since(start)
		er, ok := m.(*protocol.ErrorResponse)
		require.True(t, ok, "got %T", m)
		assert.EqualValues(t, 500, er.Status)
		assert.Equal(t, protocol.CodeTimeout, er.Code)
		assert.EqualValues(t, 0, er.RequestID)
		assert.Empty(t, rest)
		assert.GreaterOrEqual(t, elapsed, 250*time.Millisecond, "deadline fired too early")
		assert.Less(t, elapsed, 3*time.Second, "deadline fired too late")
	})

	t.Run("half payload with request_id", func(t *testing.T) {
		msg, err := protocol.EncodeGenerateRequest(protocol.NewGenerateRequest(0xABCDEF, "half", 64, 64, 1, 1, 1))
		require.NoError(t, err)
		start := time.Now()
		conn := d.DialRaw(t)
		_, err = conn.Write(msg[:16+20]) // header, request_id and a bit more
		require.NoError(t, err)
		m, _ := readReply(t, conn, 5*time.Second)
		er, ok := m.(*protocol.ErrorResponse)
		require.True(t, ok, "got %T", m)
		assert.EqualValues(t, 500, er.Status)
		assert.Equal(t, protocol.CodeTimeout, er.Code)
		assert.EqualValues(t, 0xABCDEF, er.RequestID, "request_id echoed once 8 payload bytes arrived")
		assert.Less(t, time.Since(start), 3*time.Second)
	})

	t.Run("slow but complete request within the deadline", func(t *testing.T) {
		conn := d.DialRaw(t)
		req := daemontest.StatusRequest(11)
		_, err := conn.Write(req[:12])
		require.NoError(t, err)
		_, err = conn.Write(req[12:])
		require.NoError(t, err)
		m, _ := readReply(t, conn, 5*time.Second)
		_, ok := m.(*protocol.StatusResponse)
		require.True(t, ok, "got %T", m)
	})

	// The daemon still serves normally afterwards.
	_, err := d.Client(t).Status(daemontest.Context(t))
	require.NoError(t, err)
}

// TestDaemonWriteDeadline: with --write-timeout-ms=300, a client that
// requests a big image and never reads is dropped, and other clients are
// served promptly meanwhile.
func TestDaemonWriteDeadline(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{Args: []string{"--write-timeout-ms=300"}})
	baseline := idleFDs(t, d)

	// 1856x1856 RGB: a ~10 MiB reply, far more than socket buffers hold.
	req := protocol.NewGenerateRequest(31, "never read", protocol.MaxSquareDimension, protocol.MaxSquareDimension, 1, 1, 1)
	msg, err := protocol.EncodeGenerateRequest(req)
	require.NoError(t, err)
	full := int(protocol.ReplySize(req.Width, req.Height, 3))

	conn := d.DialRaw(t)
	// Small receive buffer: the daemon's write blocks early.
	require.NoError(t, conn.SetReadBuffer(4096))
	_, err = conn.Write(msg)
	require.NoError(t, err)

	// Others are served while that reply is stuck (or after it is dropped).
	c := d.Client(t, client.WithReadTimeout(5*time.Second))
	for i := 0; i < 3; i++ {
		start := time.Now()
		_, err := c.Generate(daemontest.Context(t), protocol.NewGenerateRequest(0, "other", 64, 64, 1, 1, 9))
		require.NoError(t, err)
		assert.Less(t, time.Since(start), 3*time.Second, "other client served promptly")
	}

	// The stuck connection is dropped: the daemon's fd count comes back to
	// its baseline without us reading a byte.
	require.NoError(t, d.WaitFDs(baseline, 10*time.Second))

	// What we can read now is a cut-off reply followed by the close.
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
	got, err := io.ReadAll(conn)
	if err != nil {
		require.True(t, errors.Is(err, syscall.ECONNRESET), "read after drop: %v", err)
	}
	assert.Less(t, len(got), full, "the daemon must not have delivered the whole reply")

	_, err = d.Client(t).Status(daemontest.Context(t))
	require.NoError(t, err)
}

func idleFDs(t *testing.T, d *daemontest.Daemon) int {
	t.Helper()
	n, err := d.WaitIdle(5 * time.Second)
	require.NoError(t, err)
	return n
}
