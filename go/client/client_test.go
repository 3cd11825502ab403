package client

import (
	"bytes"
	"context"
	"errors"
	"github.com/weave-app/weave/internal/testutil"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/weave-app/weave/go/internal/fakedaemon"
	"github.com/weave-app/weave/go/protocol"
)

// rawServer accepts connections on a new socket and runs behave on each
// (then closes it). It returns the socket path and the accept counter.
func rawServer(t *testing.T, behave func(net.Conn)) (string, *int64) {
	t.Helper()
	path := filepath.Join(testutil.ShortTempDir(t), "s.sock")
	l, err := net.Listen("unix", path)
	require.NoError(t, err)
	var accepted int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			atomic.AddInt64(&accepted, 1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				behave(conn)
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
	return path, &accepted
}

// readRequest reads one request message from conn.
func readRequest(conn net.Conn) ([]byte, error) {
	return protocol.ReadMessage(conn, 0)
}

// staleSocket creates a socket file nobody listens on.
func staleSocket(t *testing.T) string {
	t.Helper()
	path := filepath.Join(testutil.ShortTempDir(t), "stale.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	require.NoError(t, err)
	l.SetUnlinkOnClose(false)
	require.NoError(t, l.Close())
	_, err = os.Stat(path)
	require.NoError(t, err, "socket file must stay behind")
	return path
}

// fullBacklogSocket creates a listening socket that never accepts, with
// its backlog filled, so further connects fail with EAGAIN.
func fullBacklogSocket(t *testing.T) string {
	t.Helper()
	path := filepath.Join(testutil.ShortTempDir(t), "full.sock")
	lfd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	t.Cleanup(func() { syscall.Close(lfd) })
	require.NoError(t, syscall.Bind(lfd, &syscall.SockaddrUnix{Name: path}))
	require.NoError(t, syscall.Listen(lfd, 0))
	filled := false
	for i := 0; i < 64 && !filled; i++ {
		fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
		require.NoError(t, err)
		t.Cleanup(func() { syscall.Close(fd) })
		err = syscall.Connect(fd, &syscall.SockaddrUnix{Name: path})
		if errors.Is(err, syscall.EAGAIN) {
			filled = true
		} else {
			require.NoError(t, err)
		}
	}
	require.True(t, filled, "could not fill the listen backlog")
	return path
}

func newTestClient(t *testing.T, path string, opts ...Option) *Client {
	t.Helper()
	c, err := New(append([]Option{WithSocketPath(path)}, opts...)...)
	require.NoError(t, err)
	return c
}

func statusMessage(t *testing.T) []byte {
	t.Helper()
	b, err := protocol.EncodeStatusRequest(&protocol.StatusRequest{RequestID: 9})
	require.NoError(t, err)
	return b
}

func TestSentinelMessages(t *testing.T) {
	// docs/DEVELOPMENT.md and the story's acceptance criteria.
	tests := []struct {
		err  error
		want string
	}{
		{ErrXDGNotSet, "XDG_RUNTIME_DIR not set"},
		{ErrDaemonNotRunning, "weave-compute daemon not running (socket not found)"},
		{ErrConnectionRefused, "weave-compute daemon not accepting connections"},
		{ErrConnectTimeout, "weave-compute daemon connection timeout"},
		{ErrReadTimeout, "weave-compute daemon response timeout"},
		{ErrConnectionClosed, "weave-compute daemon closed the connection without a response"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.err.Error())
	}
}

func TestSocketPath(t *testing.T) {
	tests := []struct {
		name    string
		set     bool
		value   string
		want    string
		wantErr error
	}{
		{name: "unset", set: false, wantErr: ErrXDGNotSet},
		{name: "empty", set: true, value: "", wantErr: ErrXDGNotSet},
		{name: "set", set: true, value: "/run/user/1000", want: "/run/user/1000/weave/weave.sock"},
		{name: "trailing slash", set: true, value: "/run/user/1000/", want: "/run/user/1000/weave/weave.sock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("XDG_RUNTIME_DIR", tt.value)
			if !tt.set {
				require.NoError(t, os.Unsetenv("XDG_RUNTIME_DIR"))
			}
			got, err := SocketPath()
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.Equal(t, "XDG_RUNTIME_DIR not set", err.Error())
				_, err = New()
				require.ErrorIs(t, err, tt.wantErr)
				assert.Equal(t, "XDG_RUNTIME_DIR not set", err.Error())
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			c, err := New()
			require.NoError(t, err)
			assert.Equal(t, tt.want, c.SocketPath())
		})
	}
}

func TestOptionsRejectBadValues(t *testing.T) {
	for _, opt := range []Option{WithSocketPath(""), WithConnectTimeout(0), WithReadTimeout(-time.Second), WithWriteTimeout(0)} {
		_, err := New(WithSocketPath("/tmp/x.sock"), opt)
		assert.Error(t, err)
	}
}

// TestConnectionErrors checks that each failure to reach the daemon maps
// to its sentinel, with the sentinel's text first.
func TestConnectionErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T) string
		opts  []Option
		want  error
		cause error // low-level error still visible with errors.Is, if any
		max   time.Duration
	}{
		{
			name:  "no socket file (ENOENT)",
			setup: func(t *testing.T) string { return filepath.Join(testutil.ShortTempDir(t), "missing.sock") },
			want:  ErrDaemonNotRunning,
			cause: syscall.ENOENT,
		},
		{
			name:  "no XDG weave directory (ENOENT)",
			setup: func(t *testing.T) string { return filepath.Join(testutil.ShortTempDir(t), "weave", "weave.sock") },
			want:  ErrDaemonNotRunning,
		},
		{
			name: "path through a regular file (ENOTDIR)",
			setup: func(t *testing.T) string {
				f := filepath.Join(testutil.ShortTempDir(t), "file")
				require.NoError(t, os.WriteFile(f, nil, 0o600))
				return filepath.Join(f, "weave.sock")
			},
			want:  ErrDaemonNotRunning,
			cause: syscall.ENOTDIR,
		},
		{
			name:  "stale socket (ECONNREFUSED)",
			setup: staleSocket,
			want:  ErrConnectionRefused,
			cause: syscall.ECONNREFUSED,
		},
		{
			name:  "backlog full until the connect timeout",
			setup: fullBacklogSocket,
			opts:  []Option{WithConnectTimeout(300 * time.Millisecond)},
			want:  ErrConnectTimeout,
			max:   3 * time.Second,
		},
		{
			name: "accepts but never answers",
			setup: func(t *testing.T) string {
				done := make(chan struct{})
				p, _ := rawServer(t, func(c net.Conn) {
					_, _ = readRequest(c)
					<-done
				})
				// Registered after rawServer's cleanup, so it runs first.
				t.Cleanup(func() { close(done) })
				return p
			},
			opts: []Option{WithReadTimeout(300 * time.Millisecond)},
			want: ErrReadTimeout,
			max:  3 * time.Second,
		},
		{
			name: "reads the request and closes",
			setup: func(t *testing.T) string {
				p, _ := rawServer(t, func(c net.Conn) { _, _ = readRequest(c) })
				return p
			},
			want: ErrConnectionClosed,
		},
		{
			name: "closes at once (like a rejected other-UID client)",
			setup: func(t *testing.T) string {
				p, _ := rawServer(t, func(c net.Conn) {})
				return p
			},
			want: ErrConnectionClosed,
		},
		{
			name: "reply cut off inside the header",
			setup: func(t *testing.T) string {
				p, _ := rawServer(t, func(c net.Conn) {
					_, _ = readRequest(c)
					_, _ = c.Write([]byte{0x57, 0x45, 0x56, 0x45, 0, 1})
				})
				return p
			},
			want: ErrConnectionClosed,
		},
		{
			name: "reply cut off inside the payload",
			setup: func(t *testing.T) string {
				p, _ := rawServer(t, func(c net.Conn) {
					_, _ = readRequest(c)
					b, _ := protocol.EncodeError(protocol.NewErrorResponse(9, protocol.CodeInternal, "boom"))
					_, _ = c.Write(b[:len(b)-2])
				})
				return p
			},
			want: ErrConnectionClosed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestClient(t, tt.setup(t), tt.opts...)
			start := time.Now()
			_, err := c.Send(context.Background(), statusMessage(t))
			elapsed := time.Since(start)
			require.Error(t, err)
			assert.ErrorIs(t, err, tt.want)
			assert.True(t, strings.HasPrefix(err.Error(), tt.want.Error()), "message %q must start with %q", err.Error(), tt.want.Error())
			assert.True(t, IsUnavailable(err))
			if tt.cause != nil {
				assert.ErrorIs(t, err, tt.cause)
			}
			if tt.max > 0 {
				assert.Less(t, elapsed, tt.max)
			}
			if errors.Is(tt.want, ErrConnectTimeout) {
				assert.GreaterOrEqual(t, elapsed, 250*time.Millisecond, "must retry EAGAIN until the timeout")
			}
		})
	}
}

// A daemon that is briefly saturated must not fail the client: EAGAIN is
// retried until the backlog drains.
func TestConnectRetriesWhileBacklogFull(t *testing.T) {
	path := filepath.Join(testutil.ShortTempDir(t), "busy.sock")
	lfd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	require.NoError(t, syscall.Bind(lfd, &syscall.SockaddrUnix{Name: path}))
	require.NoError(t, syscall.Listen(lfd, 0))
	// Fill the backlog.
	var queued []int
	for i := 0; i < 64; i++ {
		fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
		require.NoError(t, err)
		queued = append(queued, fd)
		if err := syscall.Connect(fd, &syscall.SockaddrUnix{Name: path}); errors.Is(err, syscall.EAGAIN) {
			break
		}
	}
	defer func() {
		for _, fd := range queued {
			syscall.Close(fd)
		}
	}()
	// After 200 ms, start serving: accept and answer every connection.
	f := os.NewFile(uintptr(lfd), path)
	l, err := net.FileListener(f)
	require.NoError(t, err)
	f.Close()
	defer l.Close()
	go func() {
		time.Sleep(200 * time.Millisecond)
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				if _, err := readRequest(conn); err != nil {
					return
				}
				b, _ := protocol.EncodeError(protocol.NewErrorResponse(9, protocol.CodeUnknownType, "nope"))
				_, _ = conn.Write(b)
			}()
		}
	}()
	c := newTestClient(t, path, WithConnectTimeout(3*time.Second), WithReadTimeout(3*time.Second))
	reply, err := c.Send(context.Background(), statusMessage(t))
	require.NoError(t, err)
	m, err := protocol.DecodeResponse(reply)
	require.NoError(t, err)
	assert.IsType(t, &protocol.ErrorResponse{}, m)
}

func TestOversizeReplyRefusedBeforeReadingPayload(t *testing.T) {
	tests := []struct {
		name       string
		payloadLen uint32
		limit      uint32 // 0: default (10 MiB)
	}{
		{name: "over 10 MiB", payloadLen: protocol.MaxPayloadSize + 1},
		{name: "max uint32", payloadLen: 0xFFFFFFFF},
		{name: "over a lowered limit", payloadLen: 1000, limit: 512},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			release := make(chan struct{})
			defer close(release)
			path, _ := rawServer(t, func(c net.Conn) {
				_, _ = readRequest(c)
				hdr := protocol.AppendHeader(nil, protocol.Header{Magic: protocol.Magic, Version: 1, Type: protocol.TypeGenerateResponse, PayloadLen: tt.payloadLen})
				_, _ = c.Write(hdr)
				// Keep the connection open and send nothing more: a client
				// that tried to read the payload would hang until its read
				// timeout.
				<-release
			})
			opts := []Option{WithReadTimeout(10 * time.Second)}
			if tt.limit > 0 {
				opts = append(opts, withMaxMessageSize(tt.limit))
			}
			c := newTestClient(t, path, opts...)
			start := time.Now()
			_, err := c.Send(context.Background(), statusMessage(t))
			require.Error(t, err)
			assert.Less(t, time.Since(start), 2*time.Second)
			assert.ErrorIs(t, err, protocol.ErrTooLarge)
			var re *ReplyError
			assert.ErrorAs(t, err, &re)
			assert.False(t, IsUnavailable(err))
		})
	}
}

func TestReplyWithBadMagic(t *testing.T) {
	path, _ := rawServer(t, func(c net.Conn) {
		_, _ = readRequest(c)
		_, _ = c.Write(bytes.Repeat([]byte{'x'}, 16))
	})
	c := newTestClient(t, path)
	_, err := c.Send(context.Background(), statusMessage(t))
	assert.ErrorIs(t, err, protocol.ErrInvalidMagic)
	var re *ReplyError
	assert.ErrorAs(t, err, &re)
}

func startFake(t *testing.T, h fakedaemon.Handler) *fakedaemon.Server {
	t.Helper()
	s, err := fakedaemon.Listen(filepath.Join(testutil.ShortTempDir(t), "weave.sock"), h)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func startFakeConfig(t *testing.T, cfg fakedaemon.Config) *fakedaemon.Server {
	t.Helper()
	s, err := fakedaemon.ListenConfig(filepath.Join(testutil.ShortTempDir(t), "weave.sock"), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func TestGenerateRoundTrip(t *testing.T) {
	tests := []struct {
		name     string
		seed     uint64
		wantSeed uint64
		w, h     uint32
	}{
		{name: "daemon picks the seed", seed: 0, wantSeed: fakedaemon.DefaultSeed, w: 64, h: 128},
		{name: "given seed", seed: 123456, wantSeed: 123456, w: 128, h: 64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startFake(t, nil)
			c := newTestClient(t, s.Path())
			req := protocol.NewGenerateRequest(0, "a cat in space", tt.w, tt.h, 28, 7.0, tt.seed)
			resp, err := c.Generate(context.Background(), req)
			require.NoError(t, err)
			assert.EqualValues(t, 200, resp.Status)
			assert.Equal(t, tt.w, resp.Width)
			assert.Equal(t, tt.h, resp.Height)
			assert.EqualValues(t, 3, resp.Channels)
			assert.True(t, resp.HasSeed)
			assert.Equal(t, tt.wantSeed, resp.Seed)
			assert.Equal(t, fakedaemon.Pixels(tt.w, tt.h, tt.wantSeed), resp.Pixels)
			assert.NotZero(t, resp.RequestID)
			assert.Zero(t, req.RequestID, "the caller's request is not modified")
		})
	}
}

func TestGenerateKeepsCallerRequestID(t *testing.T) {
	var got uint64
	s := startFake(t, func(m protocol.Message) protocol.Message {
		atomic.StoreUint64(&got, m.(*protocol.GenerateRequest).RequestID)
		return fakedaemon.Default(m)
	})
	c := newTestClient(t, s.Path())
	resp, err := c.Generate(context.Background(), protocol.NewGenerateRequest(77, "x", 64, 64, 1, 0, 1))
	require.NoError(t, err)
	assert.EqualValues(t, 77, atomic.LoadUint64(&got))
	assert.EqualValues(t, 77, resp.RequestID)
}

func TestGenerateErrorReplyIsTyped(t *testing.T) {
	tests := []struct {
		name     string
		code     protocol.ErrorCode
		msg      string
		sentinel error
		status   uint32
		echoID   bool
	}{
		{name: "rejected", code: protocol.CodeInvalidDimensions, msg: "width 100 is not a multiple of 64", sentinel: protocol.ErrInvalidDimensions, status: 400, echoID: true},
		{name: "busy", code: protocol.CodeBusy, msg: "server busy", sentinel: protocol.ErrBusy, status: 500, echoID: true},
		{name: "gpu", code: protocol.CodeGPU, msg: "backend failed", sentinel: protocol.ErrGPU, status: 500, echoID: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startFake(t, func(m protocol.Message) protocol.Message {
				id := uint64(0)
				if tt.echoID {
					id = m.(*protocol.GenerateRequest).RequestID
				}
				return protocol.NewErrorResponse(id, tt.code, tt.msg)
			})
			c := newTestClient(t, s.Path())
			_, err := c.Generate(context.Background(), protocol.NewGenerateRequest(0, "x", 64, 64, 1, 1, 0))
			require.Error(t, err)
			assert.ErrorIs(t, err, tt.sentinel)
			var er *protocol.ErrorResponse
			require.ErrorAs(t, err, &er)
			assert.Equal(t, tt.status, er.Status)
			assert.Equal(t, tt.code, er.Code)
			assert.Equal(t, tt.msg, er.Message)
			assert.False(t, IsUnavailable(err))
		})
	}
}

func TestGenerateValidatesLocally(t *testing.T) {
	tests := []struct {
		name string
		req  *protocol.GenerateRequest
		want error
	}{
		{"width", protocol.NewGenerateRequest(0, "x", 100, 512, 28, 7, 0), protocol.ErrInvalidDimensions},
		{"side over 2048", protocol.NewGenerateRequest(0, "x", 2112, 64, 28, 7, 0), protocol.ErrInvalidDimensions},
		{"steps", protocol.NewGenerateRequest(0, "x", 512, 512, 0, 7, 0), protocol.ErrInvalidSteps},
		{"cfg", protocol.NewGenerateRequest(0, "x", 512, 512, 28, 21, 0), protocol.ErrInvalidCFG},
		{"empty prompt", protocol.NewGenerateRequest(0, "", 512, 512, 28, 7, 0), protocol.ErrInvalidPrompt},
	}
	s := startFake(t, nil)
	c := newTestClient(t, s.Path())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Generate(context.Background(), tt.req)
			assert.ErrorIs(t, err, tt.want)
			var pe *protocol.Error
			assert.ErrorAs(t, err, &pe)
		})
	}
	assert.Zero(t, s.Accepted(), "invalid requests never reach the daemon")
}

func TestGenerateRejectsMismatchedReplies(t *testing.T) {
	tests := []struct {
		name  string
		reply func(req *protocol.GenerateRequest) protocol.Message
	}{
		{"wrong request_id", func(r *protocol.GenerateRequest) protocol.Message {
			m := fakedaemon.Default(r).(*protocol.GenerateResponse)
			m.RequestID++
			return m
		}},
		{"error for another request_id", func(r *protocol.GenerateRequest) protocol.Message {
			return protocol.NewErrorResponse(r.RequestID+1, protocol.CodeInternal, "x")
		}},
		{"status response to generate", func(r *protocol.GenerateRequest) protocol.Message {
			return fakedaemon.Default(&protocol.StatusRequest{RequestID: r.RequestID})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startFake(t, func(m protocol.Message) protocol.Message { return tt.reply(m.(*protocol.GenerateRequest)) })
			c := newTestClient(t, s.Path())
			_, err := c.Generate(context.Background(), protocol.NewGenerateRequest(0, "x", 64, 64, 1, 1, 0))
			var re *ReplyError
			assert.ErrorAs(t, err, &re)
		})
	}
}

func TestStatus(t *testing.T) {
	s := startFake(t, nil)
	c := newTestClient(t, s.Path())
	st, err := c.Status(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "fake", st.Backend)
	assert.Equal(t, "fake-1", st.DaemonVersion)
	assert.EqualValues(t, 64, st.MaxConnections)
	assert.EqualValues(t, 1, st.VersionMin)
}

func TestStatusNotSupported(t *testing.T) {
	tests := []struct {
		name string
		code protocol.ErrorCode
	}{
		{"this project's answer (12)", protocol.CodeUnknownType},
		{"reference daemon's answer (99)", protocol.CodeInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startFake(t, func(m protocol.Message) protocol.Message {
				return protocol.NewErrorResponse(0, tt.code, "unsupported")
			})
			c := newTestClient(t, s.Path())
			_, err := c.Status(context.Background())
			assert.ErrorIs(t, err, ErrStatusNotSupported)
			var er *protocol.ErrorResponse
			assert.ErrorAs(t, err, &er)
			assert.True(t, strings.HasPrefix(err.Error(), ErrStatusNotSupported.Error()))
		})
	}
}

func TestOneConnectionPerRequestAlwaysClosed(t *testing.T) {
	s := startFakeConfig(t, fakedaemon.Config{Protocol: fakedaemon.V2})
	c := newTestClient(t, s.Path())
	const n = 6
	for i := 0; i < n; i++ {
		if i%2 == 0 {
			_, err := c.Status(context.Background())
			require.NoError(t, err)
		} else {
			_, err := c.Generate(context.Background(), protocol.NewGenerateRequest(0, "x", 64, 64, 1, 1, 0))
			require.NoError(t, err)
		}
	}
	assert.EqualValues(t, n, s.Accepted())
	assert.EqualValues(t, n, s.Requests())
	require.Eventually(t, func() bool { return s.ClientClosed() == n }, 2*time.Second, 5*time.Millisecond,
		"every connection must be closed by the client (closed %d of %d)", s.ClientClosed(), n)
}

func TestConnectionClosedOnErrorPaths(t *testing.T) {
	// The server answers with garbage; the client must still close.
	var closed int64
	path, accepted := rawServer(t, func(c net.Conn) {
		_, _ = readRequest(c)
		_, _ = c.Write(bytes.Repeat([]byte{'x'}, 16))
		var b [1]byte
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Read(b[:]); err == io.EOF {
			atomic.AddInt64(&closed, 1)
		}
	})
	c := newTestClient(t, path)
	for i := 0; i < 3; i++ {
		_, err := c.Send(context.Background(), statusMessage(t))
		require.Error(t, err)
	}
	assert.EqualValues(t, 3, atomic.LoadInt64(accepted))
	require.Eventually(t, func() bool { return atomic.LoadInt64(&closed) == 3 }, 3*time.Second, 5*time.Millisecond)
}

func TestContext(t *testing.T) {
	tests := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"cancel during read", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(100*time.Millisecond, cancel)
			return ctx, cancel
		}, context.Canceled},
		{"deadline during read", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 100*time.Millisecond)
		}, context.DeadlineExceeded},
		{"canceled before the call", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan struct{})
			defer close(done)
			path, _ := rawServer(t, func(c net.Conn) {
				_, _ = readRequest(c)
				<-done
			})
			c := newTestClient(t, path, WithReadTimeout(30*time.Second))
			ctx, cancel := tt.ctx()
			defer cancel()
			start := time.Now()
			_, err := c.Send(ctx, statusMessage(t))
			assert.ErrorIs(t, err, tt.want)
			assert.Less(t, time.Since(start), 2*time.Second)
		})
	}
}

func TestContextCancelWhileBacklogFull(t *testing.T) {
	path := fullBacklogSocket(t)
	c := newTestClient(t, path, WithConnectTimeout(30*time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Send(ctx, statusMessage(t))
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 2*time.Second)
}

// The daemon may answer "server busy" and close before reading the
// request; the client's write then fails, and the reply must still be read.
func TestReplyReadAfterFailedWrite(t *testing.T) {
	path, _ := rawServer(t, func(c net.Conn) {
		b, _ := protocol.EncodeError(protocol.NewErrorResponse(0, protocol.CodeBusy, "server busy"))
		_, _ = c.Write(b)
		// close without reading anything
	})
	// A request far larger than the socket buffers, so the write is still
	// in progress when the server closes.
	big := make([]byte, 8<<20)
	copy(big, protocol.AppendHeader(nil, protocol.Header{Magic: protocol.Magic, Version: 1, Type: protocol.TypeStatusRequest, PayloadLen: uint32(len(big) - 16)}))
	c := newTestClient(t, path)
	reply, err := c.Send(context.Background(), big)
	require.NoError(t, err)
	m, err := protocol.DecodeResponse(reply)
	require.NoError(t, err)
	er, ok := m.(*protocol.ErrorResponse)
	require.True(t, ok)
	assert.Equal(t, protocol.CodeBusy, er.Code)
}

func TestRequestIDsAreNonZeroAndDistinct(t *testing.T) {
	c := newTestClient(t, "/tmp/unused.sock")
	seen := map[uint64]bool{}
	c.nextID.Store(^uint64(0) - 2) // force a wrap-around through 0
	for i := 0; i < 10; i++ {
		id := c.newRequestID()
		assert.NotZero(t, id)
		assert.False(t, seen[id])
		seen[id] = true
	}
}

func TestStatusRejectsMismatchedReplies(t *testing.T) {
	tests := []struct {
		name  string
		reply func(req *protocol.StatusRequest) protocol.Message
	}{
		{"wrong request_id", func(r *protocol.StatusRequest) protocol.Message {
			m := fakedaemon.Default(r).(*protocol.StatusResponse)
			m.RequestID++
			return m
		}},
		{"error for another request_id", func(r *protocol.StatusRequest) protocol.Message {
			return protocol.NewErrorResponse(r.RequestID+1, protocol.CodeUnknownType, "x")
		}},
		{"busy for another request_id", func(r *protocol.StatusRequest) protocol.Message {
			return protocol.NewErrorResponse(r.RequestID+1, protocol.CodeBusy, "server busy")
		}},
		{"generate response to status", func(r *protocol.StatusRequest) protocol.Message {
			return fakedaemon.Default(protocol.NewGenerateRequest(r.RequestID, "x", 64, 64, 1, 1, 1))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startFake(t, func(m protocol.Message) protocol.Message { return tt.reply(m.(*protocol.StatusRequest)) })
			c := newTestClient(t, s.Path())
			_, err := c.Status(context.Background())
			var re *ReplyError
			require.ErrorAs(t, err, &re)
			assert.NotErrorIs(t, err, ErrStatusNotSupported)
			assert.False(t, IsUnavailable(err))
		})
	}
}

func TestErrorTypesWithoutCause(t *testing.T) {
	// Zero values built by callers must not panic.
	assert.Equal(t, "invalid reply from weave-compute", (&ReplyError{}).Error())
	assert.Equal(t, "weave-compute client error: x", (&Error{Detail: "x"}).Error())
	assert.Equal(t, "weave-compute daemon connection timeout: 5s", (&Error{Sentinel: ErrConnectTimeout, Detail: "5s"}).Error())
}
