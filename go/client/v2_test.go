package client

import (
	"context"
	"errors"
	"github.com/weave-app/weave/internal/testutil"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/weave-app/weave/go/client/internal/shm"
	"github.com/weave-app/weave/go/internal/fakedaemon"
	"github.com/weave-app/weave/go/protocol"
)

// recorder collects progress events (the callback runs on the caller's
// goroutine, so no locking).
type recorder struct{ events []Event }

func (r *recorder) opt() GenerateOption {
	return WithProgress(func(e Event) { r.events = append(r.events, e) })
}

func (r *recorder) kinds() []EventKind {
	var k []EventKind
	for _, e := range r.events {
		k = append(k, e.Kind)
	}
	return k
}

func (r *recorder) count(k EventKind) int {
	n := 0
	for _, e := range r.events {
		if e.Kind == k {
			n++
		}
	}
	return n
}

// openFDs counts this process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(ents)
}

// waitHangUp waits for the fake daemon to see a client hang up.
func waitHangUp(t *testing.T, s *fakedaemon.Server, within time.Duration) {
	t.Helper()
	select {
	case <-s.Events():
	case <-time.After(within):
		t.Fatalf("the daemon saw no hang-up within %v", within)
	}
}

var v1Protocols = []struct {
	name string
	p    fakedaemon.Protocol
	code protocol.ErrorCode
}{
	{"error 2 (weave-compute before version 2)", fakedaemon.V1Only, protocol.CodeUnsupportedVersion},
	{"error 12", fakedaemon.V1UnknownType, protocol.CodeUnknownType},
	{"500/99 (public reference daemon)", fakedaemon.V1Reference, protocol.CodeInternal},
}

// A v1-only daemon costs one extra round trip, once per Client: the first
// version-2 request is refused and resent in version 1, later ones go
// straight to version 1.
func TestFallbackToV1(t *testing.T) {
	for _, tt := range v1Protocols {
		t.Run(tt.name, func(t *testing.T) {
			t.Run("generate with progress", func(t *testing.T) {
				s := startFakeConfig(t, fakedaemon.Config{Protocol: tt.p})
				c := newTestClient(t, s.Path())
				var rec recorder
				req := protocol.NewGenerateRequest(0, "a cat", 64, 64, 4, 7, 9)
				resp, err := c.Generate(context.Background(), req, rec.opt())
				require.NoError(t, err)
				assert.Equal(t, fakedaemon.Pixels(64, 64, 9), resp.Pixels)
				assert.Empty(t, rec.events, "a v1 daemon sends no progress")
				assert.EqualValues(t, 2, s.Accepted(), "exactly one extra round trip")
				assert.EqualValues(t, 1, s.Refused())
				_, err = c.Generate(context.Background(), req, rec.opt())
				require.NoError(t, err)
				assert.EqualValues(t, 3, s.Accepted(), "the Client remembers: straight to version 1")
				assert.EqualValues(t, 1, s.Refused())
			})
			t.Run("status", func(t *testing.T) {
				s := startFakeConfig(t, fakedaemon.Config{Protocol: tt.p})
				c := newTestClient(t, s.Path())
				st, err := c.Status(context.Background())
				require.NoError(t, err)
				assert.Nil(t, st.V2)
				assert.Equal(t, "fake", st.Backend)
				assert.EqualValues(t, 2, s.Accepted())
				_, err = c.Status(context.Background())
				require.NoError(t, err)
				assert.EqualValues(t, 3, s.Accepted())
				assert.EqualValues(t, 1, s.Refused())
			})
			t.Run("2048x2048 needs version 2", func(t *testing.T) {
				s := startFakeConfig(t, fakedaemon.Config{Protocol: tt.p})
				c := newTestClient(t, s.Path())
				for i := 0; i < 2; i++ {
					_, err := c.Generate(context.Background(), protocol.NewGenerateRequest(0, "x", 2048, 2048, 1, 7, 0))
					require.Error(t, err)
					assert.ErrorIs(t, err, ErrV1Only)
					assert.ErrorIs(t, err, protocol.ErrInvalidDimensions)
					var ve *V1OnlyError
					require.ErrorAs(t, err, &ve)
					assert.Contains(t, err.Error(), "2048x2048")
					assert.Contains(t, err.Error(), "1856x1856")
				}
				assert.EqualValues(t, 1, s.Accepted(), "the refusal says it all: no version-1 retry, and none the second time")
			})
		})
	}
}

// A version-2 daemon's own failure is not a refusal of version 2: 500 / 99
// that echoes the request_id (the reference daemon's never does) is
// returned as it is, with no second round trip and nothing remembered.
func TestInternalErrorIsNotAFallback(t *testing.T) {
	s := startFakeConfig(t, fakedaemon.Config{Protocol: fakedaemon.V2, Handler: func(m protocol.Message) protocol.Message {
		if r, ok := m.(*protocol.GenerateOptionsRequest); ok {
			e := protocol.NewErrorResponse(r.RequestID, protocol.CodeInternal, "no shared memory today")
			e.Version = protocol.Version2
			return e
		}
		return fakedaemon.Default(m)
	}})
	c := newTestClient(t, s.Path())
	_, err := c.GenerateImage(context.Background(), protocol.NewGenerateRequest(0, "x", 2048, 2048, 1, 7, 1))
	require.Error(t, err)
	var er *protocol.ErrorResponse
	require.ErrorAs(t, err, &er)
	assert.Equal(t, protocol.CodeInternal, er.Code)
	assert.NotErrorIs(t, err, ErrV1Only)
	assert.EqualValues(t, 1, s.Accepted())
	assert.False(t, c.v1Only.Load())
}

// A plain request that fits in version 1 is sent in version 1: no
// negotiation at all.
func TestPlainRequestIsVersion1(t *testing.T) {
	var version uint32 = 99
	s := startFakeConfig(t, fakedaemon.Config{Protocol: fakedaemon.V2, Handler: func(m protocol.Message) protocol.Message {
		if r, ok := m.(*protocol.GenerateRequest); ok {
			atomic.StoreUint32(&version, uint32(r.Version))
		}
		return fakedaemon.Default(m)
	}})
	c := newTestClient(t, s.Path())
	resp, err := c.Generate(context.Background(), protocol.NewGenerateRequest(0, "x", 64, 64, 1, 7, 5))
	require.NoError(t, err)
	assert.EqualValues(t, 0, atomic.LoadUint32(&version), "version-1 header")
	assert.EqualValues(t, 0, resp.Version)
	assert.EqualValues(t, 1, s.Accepted())
}

func TestStatusVersion2(t *testing.T) {
	s := startFakeConfig(t, fakedaemon.Config{Protocol: fakedaemon.V2})
	c := newTestClient(t, s.Path())
	st, err := c.Status(context.Background())
	require.NoError(t, err)
	require.NotNil(t, st.V2)
	assert.EqualValues(t, os.Getpid(), st.V2.DaemonPID)
	assert.Equal(t, protocol.FlagProgress|protocol.FlagSHM, st.V2.Features)
	assert.Equal(t, protocol.BackendLoaded, st.V2.BackendState)
	assert.EqualValues(t, 2, st.VersionMax)
	assert.EqualValues(t, 1, s.Accepted())
}

func TestProgressEvents(t *testing.T) {
	tests := []struct {
		name  string
		job   fakedaemon.Job
		steps uint32
		want  []EventKind
	}{
		{name: "starts at once", steps: 3,
			want: []EventKind{EventStarted, EventStep, EventStep, EventStep}},
		{name: "two ahead in the queue", steps: 2, job: fakedaemon.Job{Ahead: 2, QueueStep: 5 * time.Millisecond},
			want: []EventKind{EventQueued, EventQueued, EventStarted, EventStep, EventStep}},
		{name: "a long step sends heartbeats", steps: 1, job: fakedaemon.Job{StepDelay: 350 * time.Millisecond, Heartbeat: 100 * time.Millisecond},
			want: []EventKind{EventStarted, EventHeartbeat, EventHeartbeat, EventHeartbeat, EventStep}},
		{name: "queued heartbeats", steps: 1, job: fakedaemon.Job{Ahead: 1, QueueStep: 250 * time.Millisecond, Heartbeat: 100 * time.Millisecond},
			want: []EventKind{EventQueued, EventHeartbeat, EventHeartbeat, EventStarted, EventStep}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startFakeConfig(t, fakedaemon.Config{Protocol: fakedaemon.V2, Job: tt.job})
			c := newTestClient(t, s.Path())
			var rec recorder
			resp, err := c.Generate(context.Background(), protocol.NewGenerateRequest(0, "x", 64, 64, tt.steps, 7, 3), rec.opt())
			require.NoError(t, err)
			assert.Equal(t, fakedaemon.Pixels(64, 64, 3), resp.Pixels)
			assert.Equal(t, tt.want, rec.kinds())
			step := uint32(0)
			pos := uint32(tt.job.Ahead) + 1
			for _, e := range rec.events {
				switch e.Kind {
				case EventStep:
					step++
					assert.Equal(t, step, e.Step)
					assert.Equal(t, tt.steps, e.Steps)
				case EventQueued:
					assert.Less(t, e.Position, pos, "positions count down")
					pos = e.Position
					assert.EqualValues(t, tt.job.Ahead, e.Depth)
				case EventHeartbeat:
					assert.Equal(t, step > 0 || pos == 1 && tt.job.Ahead == 0 || rec.count(EventStarted) > 0 && e.Running, e.Running)
				}
			}
			assert.EqualValues(t, 1, s.Accepted())
		})
	}
}

// With progress the read timeout restarts with every message; without it
// it bounds the whole reply.
func TestInactivityDeadline(t *testing.T) {
	const timeout = 300 * time.Millisecond
	tests := []struct {
		name     string
		job      fakedaemon.Job
		steps    uint32
		progress bool
		wantErr  bool
	}{
		{name: "reporting job longer than the timeout passes", steps: 8, progress: true,
			job: fakedaemon.Job{StepDelay: 100 * time.Millisecond}},
		{name: "slow steps kept alive by heartbeats pass", steps: 2, progress: true,
			job: fakedaemon.Job{StepDelay: 400 * time.Millisecond, Heartbeat: 100 * time.Millisecond}},
		{name: "stalled job fails", steps: 8, progress: true, wantErr: true,
			job: fakedaemon.Job{StepDelay: 20 * time.Millisecond, StallAfter: 2}},
		{name: "without progress the timeout is total", steps: 8, progress: false, wantErr: true,
			job: fakedaemon.Job{StepDelay: 100 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startFakeConfig(t, fakedaemon.Config{Protocol: fakedaemon.V2, Job: tt.job})
			c := newTestClient(t, s.Path(), WithReadTimeout(timeout))
			var opts []GenerateOption
			var rec recorder
			if tt.progress {
				opts = append(opts, rec.opt())
			}
			start := time.Now()
			// GenerateImage: version 2 even without progress.
			img, err := c.GenerateImage(context.Background(), protocol.NewGenerateRequest(0, "x", 64, 64, tt.steps, 7, 3), opts...)
			elapsed := time.Since(start)
			if !tt.wantErr {
				require.NoError(t, err)
				defer img.Close()
				assert.Greater(t, elapsed, timeout, "the job took longer than the timeout")
				assert.Equal(t, int(tt.steps), rec.count(EventStep))
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrReadTimeout)
			assert.Less(t, elapsed, 3*time.Second)
			if tt.progress {
				assert.Contains(t, err.Error(), "step 2/8")
				assert.NotErrorIs(t, err, ErrNotResponding, "it did answer")
			}
			waitHangUp(t, s, 2*time.Second)
		})
	}
}

// ctx cancellation closes the connection at once, wherever the call is,
// and the daemon sees the hang-up (so it cancels the job).
func TestCancelClosesConnection(t *testing.T) {
	hold := func(x *fakedaemon.Exchange) { <-x.HungUp() }
	tests := []struct {
		name     string
		cfg      fakedaemon.Config
		progress bool
		cancelOn EventKind // 0: after 100 ms
	}{
		{name: "while queued", cfg: fakedaemon.Config{Protocol: fakedaemon.V2, Job: fakedaemon.Job{Ahead: 3, QueueStep: 10 * time.Second}},
			progress: true, cancelOn: EventQueued},
		{name: "while running", cfg: fakedaemon.Config{Protocol: fakedaemon.V2, Job: fakedaemon.Job{StepDelay: 10 * time.Second}},
			progress: true, cancelOn: EventStarted},
		{name: "between steps", cfg: fakedaemon.Config{Protocol: fakedaemon.V2, Job: fakedaemon.Job{StepDelay: 50 * time.Millisecond}},
			progress: true, cancelOn: EventStep},
		{name: "waiting for a version-1 reply", cfg: fakedaemon.Config{Stream: hold}},
		{name: "waiting for a version-2 reply without progress", cfg: fakedaemon.Config{Protocol: fakedaemon.V2, Stream: hold}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startFakeConfig(t, tt.cfg)
			c := newTestClient(t, s.Path(), WithReadTimeout(30*time.Second))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var opts []GenerateOption
			var canceledAt time.Time
			if tt.progress {
				opts = append(opts, WithProgress(func(e Event) {
					if e.Kind == tt.cancelOn && canceledAt.IsZero() {
						canceledAt = time.Now()
						cancel()
						// The connection is closed by the watcher, even
						// while the callback still runs.
						waitHangUp(t, s, time.Second)
					}
				}))
			} else {
				time.AfterFunc(100*time.Millisecond, cancel)
			}
			start := time.Now()
			var err error
			if strings.Contains(tt.name, "version-2 reply") {
				_, err = c.GenerateImage(ctx, protocol.NewGenerateRequest(0, "x", 64, 64, 5, 7, 3), opts...)
			} else {
				_, err = c.Generate(ctx, protocol.NewGenerateRequest(0, "x", 64, 64, 5, 7, 3), opts...)
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, context.Canceled)
			assert.Less(t, time.Since(start), 3*time.Second)
			if !tt.progress {
				waitHangUp(t, s, time.Second)
			} else {
				require.False(t, canceledAt.IsZero(), "the event to cancel on came")
			}
			assert.EqualValues(t, 1, s.HungUp())
		})
	}
}

func TestSharedMemoryImage(t *testing.T) {
	tests := []struct {
		name   string
		w, h   uint32
		call   string // image, copy, into
		shared bool
	}{
		{name: "2048x2048 zero-copy", w: 2048, h: 2048, call: "image", shared: true},
		{name: "2048x2048 copied", w: 2048, h: 2048, call: "copy"},
		{name: "2048x2048 into a buffer", w: 2048, h: 2048, call: "into"},
		{name: "small image zero-copy", w: 64, h: 128, call: "image", shared: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startFakeConfig(t, fakedaemon.Config{Protocol: fakedaemon.V2})
			c := newTestClient(t, s.Path())
			before := openFDs(t)
			req := protocol.NewGenerateRequest(0, "x", tt.w, tt.h, 1, 7, 11)
			want := fakedaemon.Pixels(tt.w, tt.h, 11)
			switch tt.call {
			case "image":
				img, err := c.GenerateImage(context.Background(), req)
				require.NoError(t, err)
				assert.Equal(t, tt.shared, img.Shared())
				assert.Equal(t, tt.w, img.Width)
				assert.EqualValues(t, 3, img.Channels)
				assert.True(t, img.HasSeed)
				assert.EqualValues(t, 11, img.Seed)
				assert.True(t, bytesEqual(want, img.Pixels()))
				require.NoError(t, img.Close())
				assert.Nil(t, img.Pixels())
				require.NoError(t, img.Close(), "a second Close does nothing")
			case "copy":
				resp, err := c.Generate(context.Background(), req)
				require.NoError(t, err)
				assert.True(t, bytesEqual(want, resp.Pixels))
				assert.EqualValues(t, 11, resp.Seed)
			case "into":
				buf := make([]byte, len(want)+100)
				resp, err := c.GenerateInto(context.Background(), req, buf)
				require.NoError(t, err)
				assert.True(t, bytesEqual(want, resp.Pixels))
				assert.Equal(t, &buf[0], &resp.Pixels[0], "pixels in the caller's buffer")
			}
			require.Eventually(t, func() bool { return openFDs(t) == before }, 2*time.Second, 10*time.Millisecond,
				"descriptors leaked: %d open, %d before", openFDs(t), before)
		})
	}
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }

// hostileSHM is a daemon that answers a shared-memory request with the
// descriptors fds() makes (closing them after sending).
func hostileSHM(t *testing.T, size func(n int) uint64, fds func(t *testing.T, px []byte) []int) fakedaemon.StreamHandler {
	return func(x *fakedaemon.Exchange) {
		r, ok := x.Req.(*protocol.GenerateOptionsRequest)
		if !ok {
			return
		}
		g := fakedaemon.Default(r).(*protocol.GenerateResponse)
		reply := fakedaemon.SHMReply(g)
		if size != nil {
			reply.ImageSize = size(len(g.Pixels))
		}
		ds := fds(t, g.Pixels)
		x.Final()
		_ = x.SendFDs(reply, ds...)
		for _, fd := range ds {
			syscall.Close(fd)
		}
		<-x.HungUp()
	}
}

func memfdOrFail(t *testing.T, data []byte, size, seals int) int {
	fd, err := fakedaemon.Memfd(data, size, seals)
	if err != nil {
		t.Errorf("memfd: %v", err)
	}
	return fd
}

// The client accepts only one memfd with all four seals and room for the
// image; anything else is refused, closed, and nothing leaks.
func TestHostileSharedMemory(t *testing.T) {
	tests := []struct {
		name string
		fds  func(t *testing.T, px []byte) []int
		want error
	}{
		{"unsealed memfd", func(t *testing.T, px []byte) []int {
			return []int{memfdOrFail(t, px, len(px), 0)}
		}, shm.ErrUnsealed},
		{"three of four seals", func(t *testing.T, px []byte) []int {
			return []int{memfdOrFail(t, px, len(px), fakedaemon.AllSeals&^0x0008 /* F_SEAL_WRITE */)}
		}, shm.ErrUnsealed},
		{"too small", func(t *testing.T, px []byte) []int {
			return []int{memfdOrFail(t, px, len(px)/2, fakedaemon.AllSeals)}
		}, shm.ErrTooSmall},
		{"regular file", func(t *testing.T, px []byte) []int {
			f, err := os.CreateTemp(t.TempDir(), "img")
			require.NoError(t, err)
			_, _ = f.Write(px)
			fd, err := syscall.Dup(int(f.Fd()))
			require.NoError(t, err)
			f.Close()
			return []int{fd}
		}, shm.ErrNotMemfd},
		{"pipe", func(t *testing.T, px []byte) []int {
			var p [2]int
			require.NoError(t, syscall.Pipe2(p[:], syscall.O_CLOEXEC))
			syscall.Close(p[1])
			return []int{p[0]}
		}, shm.ErrNotMemfd},
		{"two descriptors", func(t *testing.T, px []byte) []int {
			return []int{memfdOrFail(t, px, len(px), fakedaemon.AllSeals), memfdOrFail(t, px, len(px), fakedaemon.AllSeals)}
		}, shm.ErrDescriptorCount},
		{"none", func(t *testing.T, px []byte) []int { return nil }, shm.ErrDescriptorCount},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startFakeConfig(t, fakedaemon.Config{Protocol: fakedaemon.V2, Stream: hostileSHM(t, nil, tt.fds)})
			c := newTestClient(t, s.Path())
			before := openFDs(t)
			for i := 0; i < 3; i++ {
				img, err := c.GenerateImage(context.Background(), protocol.NewGenerateRequest(0, "x", 256, 256, 1, 7, 11))
				require.Error(t, err)
				assert.Nil(t, img)
				assert.ErrorIs(t, err, ErrSharedMemory)
				assert.ErrorIs(t, err, tt.want)
				var se *SharedMemoryError
				assert.ErrorAs(t, err, &se)
				assert.True(t, strings.HasPrefix(err.Error(), ErrSharedMemory.Error()), err.Error())
			}
			require.Eventually(t, func() bool { return openFDs(t) == before }, 2*time.Second, 10*time.Millisecond,
				"descriptors leaked: %d open, %d before", openFDs(t), before)
		})
	}
}

// Descriptors that come with messages that must not carry one (progress,
// an inline reply) are closed, and the request still succeeds.
func TestStrayDescriptorsClosed(t *testing.T) {
	stray := func(t *testing.T) int { return memfdOrFail(t, []byte("junk"), 4, fakedaemon.AllSeals) }
	tests := []struct {
		name   string
		stream func(t *testing.T) fakedaemon.StreamHandler
	}{
		{"with a progress message", func(t *testing.T) fakedaemon.StreamHandler {
			return func(x *fakedaemon.Exchange) {
				r := x.Req.(*protocol.GenerateOptionsRequest)
				fd := stray(t)
				_ = x.SendFDs(&protocol.Heartbeat{RequestID: r.RequestID, Phase: protocol.PhaseRunning}, fd)
				syscall.Close(fd)
				x.Final()
				_ = x.Send(fakedaemon.Default(r))
				<-x.HungUp()
			}
		}},
		{"with an inline reply", func(t *testing.T) fakedaemon.StreamHandler {
			return func(x *fakedaemon.Exchange) {
				fd := stray(t)
				x.Final()
				_ = x.SendFDs(fakedaemon.Default(x.Req), fd)
				syscall.Close(fd)
				<-x.HungUp()
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startFakeConfig(t, fakedaemon.Config{Protocol: fakedaemon.V2, Stream: tt.stream(t)})
			c := newTestClient(t, s.Path())
			before := openFDs(t)
			var rec recorder
			resp, err := c.Generate(context.Background(), protocol.NewGenerateRequest(0, "x", 64, 64, 1, 7, 11), rec.opt())
			require.NoError(t, err)
			assert.Equal(t, fakedaemon.Pixels(64, 64, 11), resp.Pixels)
			require.Eventually(t, func() bool { return openFDs(t) == before }, 2*time.Second, 10*time.Millisecond)
		})
	}
}

// A loop of bulk requests into one reused buffer allocates no image-sized
// memory: a small, fixed number of small allocations per request (the
// connection, its context watcher, the decoded reply), against a fresh
// 10 MB reply for Generate. The daemon runs in a child process (this test
// binary, see TestMain) so that only the client's allocations are counted.
func TestGenerateIntoAllocations(t *testing.T) {
	const side = protocol.MaxSquareDimension
	path := filepath.Join(testutil.ShortTempDir(t), "bulk.sock")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), bulkDaemonEnv+"="+path)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	require.Eventually(t, func() bool { _, err := os.Stat(path); return err == nil }, 10*time.Second, 10*time.Millisecond)
	c := newTestClient(t, path)
	req := protocol.NewGenerateRequest(1, "x", side, side, 1, 7, 11)
	buf := make([]byte, protocol.MaxMessageSize)
	ctx := context.Background()
	run := func(into bool) func() {
		return func() {
			var resp *protocol.GenerateResponse
			var err error
			if into {
				resp, err = c.GenerateInto(ctx, req, buf)
			} else {
				resp, err = c.Generate(ctx, req)
			}
			if err != nil || len(resp.Pixels) != side*side*3 {
				t.Fatalf("generate: %v", err)
			}
		}
	}
	measure := func(f func()) (float64, uint64) {
		f() // warm up
		var a, b runtime.MemStats
		runtime.ReadMemStats(&a)
		const n = 20
		allocs := testing.AllocsPerRun(n, f)
		runtime.ReadMemStats(&b)
		return allocs, (b.TotalAlloc - a.TotalAlloc) / (n + 1)
	}
	allocsInto, bytesInto := measure(run(true))
	allocsCopy, bytesCopy := measure(run(false))
	t.Logf("per request: GenerateInto %.0f allocations, %d bytes; Generate %.0f allocations, %d bytes", allocsInto, bytesInto, allocsCopy, bytesCopy)
	assert.Less(t, bytesInto, uint64(4<<10), "no image-sized allocation with a reused buffer")
	assert.LessOrEqual(t, allocsInto, 16.0, "the connection (net), its reader, the decoded reply: nothing that grows with the image")
	assert.Greater(t, bytesCopy, uint64(side*side*3), "Generate allocates the reply (so the measurement can fail)")
}

// bulkDaemonEnv names the socket a child process of this test binary
// serves bulk replies on (TestGenerateIntoAllocations).
const bulkDaemonEnv = "WEAVE_CLIENT_TEST_BULK_DAEMON"

func TestMain(m *testing.M) {
	if path := os.Getenv(bulkDaemonEnv); path != "" {
		os.Exit(serveBulk(path))
	}
	os.Exit(m.Run())
}

// serveBulk answers every generate request with one prebuilt 1856x1856
// reply (its request_id patched), until killed.
func serveBulk(path string) int {
	const side = protocol.MaxSquareDimension
	reply, err := protocol.EncodeGenerateResponse(&protocol.GenerateResponse{Status: 200, Width: side, Height: side, Channels: 3,
		Pixels: fakedaemon.Pixels(side, side, 11), Seed: 11, HasSeed: true})
	if err != nil {
		return 1
	}
	var mu sync.Mutex
	s, err := fakedaemon.ListenConfig(path, fakedaemon.Config{Stream: func(x *fakedaemon.Exchange) {
		r, ok := x.Req.(*protocol.GenerateRequest)
		if !ok {
			return
		}
		mu.Lock()
		putU64(reply[protocol.HeaderSize:], r.RequestID)
		x.Final()
		_ = x.SendRaw(reply)
		mu.Unlock()
		<-x.HungUp()
	}})
	if err != nil {
		return 1
	}
	defer s.Close()
	select {}
}

func putU64(b []byte, v uint64) {
	for i := 7; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
}

// Errors of version 2 have sentinels usable with errors.Is.
func TestV2Sentinels(t *testing.T) {
	assert.True(t, errors.Is(&V1OnlyError{Width: 2048, Height: 2048}, ErrV1Only))
	assert.True(t, errors.Is(&SharedMemoryError{Err: &shm.Error{Kind: shm.ErrUnsealed}}, shm.ErrUnsealed))
	assert.Equal(t, "step", EventStep.String())
	assert.Equal(t, "step 3/28", Event{Kind: EventStep, Step: 3, Steps: 28}.String())
	assert.Equal(t, "queued 2/5", Event{Kind: EventQueued, Position: 2, Depth: 5}.String())
}

// memfdMappings counts this process's mappings of memfds.
func memfdMappings(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/maps")
	require.NoError(t, err)
	return strings.Count(string(b), "/memfd:")
}

// Many shared-memory replies through the client leave no descriptor and no
// mapping behind (a leak of one per reply would show as thousands).
func TestSharedMemoryNoLeaks(t *testing.T) {
	s := startFakeConfig(t, fakedaemon.Config{Protocol: fakedaemon.V2})
	c := newTestClient(t, s.Path())
	n := 2000
	if testing.Short() {
		n = 200
	}
	req := protocol.NewGenerateRequest(0, "x", 128, 128, 1, 7, 11)
	img, err := c.GenerateImage(context.Background(), req)
	require.NoError(t, err)
	require.True(t, img.Shared())
	require.NoError(t, img.Close())
	require.Eventually(t, func() bool { return memfdMappings(t) == 0 }, 2*time.Second, 10*time.Millisecond)
	fds := openFDs(t)
	for i := 0; i < n; i++ {
		img, err := c.GenerateImage(context.Background(), req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if px := img.Pixels(); len(px) != 128*128*3 || px[len(px)-1] != fakedaemon.Pixels(128, 128, 11)[len(px)-1] {
			t.Fatalf("request %d: wrong pixels", i)
		}
		if err := img.Close(); err != nil {
			t.Fatal(err)
		}
		if i%500 == 0 { // now and then the copying API, at 2048x2048
			if _, err := c.Generate(context.Background(), protocol.NewGenerateRequest(0, "x", 2048, 2048, 1, 7, 1)); err != nil {
				t.Fatalf("request %d (2048x2048): %v", i, err)
			}
		}
	}
	assert.Zero(t, memfdMappings(t), "mappings left")
	require.Eventually(t, func() bool { return openFDs(t) == fds }, 5*time.Second, 10*time.Millisecond,
		"descriptors: %d open, %d before", openFDs(t), fds)
}
