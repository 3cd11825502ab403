package client

import (
	"bytes"
	"context"
	"github.com/weave-app/weave/internal/testutil"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/weave-app/weave/go/protocol"
	"github.com/weave-app/weave/internal/runfiles"
)

// The real weave-compute, from WEAVE_COMPUTE_BIN (set by the BUILD file to
// $(rootpath //c/daemon:weave-compute); export it for host `go test`).
// Under Bazel a missing binary fails the test; on the host it skips.

type realDaemon struct {
	cmd    *exec.Cmd
	socket string
	stderr *bytes.Buffer
}

// realDaemonBin is the daemon binary (skipping or failing the test as the
// header says).
func realDaemonBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("WEAVE_COMPUTE_BIN")
	if bin == "" {
		if os.Getenv("TEST_SRCDIR") != "" {
			t.Fatal("WEAVE_COMPUTE_BIN is not set (the BUILD file sets it)")
		}
		t.Skip("WEAVE_COMPUTE_BIN not set: export it to run the tests against the real daemon")
	}
	if p, ok := runfiles.Default().Rootpath(bin); ok {
		bin = p
	} else if abs, err := filepath.Abs(bin); err == nil {
		bin = abs
	}
	return bin
}

// daemonHas reports whether the daemon's --help names flag.
func daemonHas(t *testing.T, flag string) bool {
	t.Helper()
	out, _ := exec.Command(realDaemonBin(t), "--help").CombinedOutput()
	return bytes.Contains(out, []byte(flag))
}

func startRealDaemon(t *testing.T, args ...string) *realDaemon {
	t.Helper()
	bin := realDaemonBin(t)
	xdg := testutil.ShortTempDir(t)
	require.NoError(t, os.Chmod(xdg, 0o700))
	d := &realDaemon{socket: filepath.Join(xdg, "weave", "weave.sock"), stderr: &bytes.Buffer{}}
	d.cmd = exec.Command(bin, args...)
	d.cmd.Env = []string{"XDG_RUNTIME_DIR=" + xdg, "PATH=/usr/bin:/bin"}
	d.cmd.Stderr = d.stderr
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, d.cmd.Start())
	t.Cleanup(func() {
		_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		_ = d.cmd.Wait()
		if t.Failed() {
			t.Logf("daemon stderr:\n%s", d.stderr.String())
		}
	})
	c := newTestClient(t, d.socket, WithConnectTimeout(time.Second), WithReadTimeout(2*time.Second))
	require.Eventually(t, func() bool {
		c.v1Only.Store(true) // readiness in version 1: no extra round trip
		_, err := c.Status(context.Background())
		return err == nil
	}, 10*time.Second, 10*time.Millisecond, "daemon not ready")
	return d
}

// served is the daemon's requests_served (replies sent, errors included),
// asked in version 1 so the question itself costs one.
func (d *realDaemon) served(t *testing.T) uint64 {
	t.Helper()
	c := newTestClient(t, d.socket)
	c.v1Only.Store(true)
	st, err := c.Status(context.Background())
	require.NoError(t, err)
	return st.RequestsServed
}

// Against the real daemon: generate with progress, status, and a 2048x2048
// request, counting the daemon's replies. A daemon of version 1 costs one
// extra reply once per Client; one that speaks version 2 none.
func TestRealDaemonNegotiation(t *testing.T) {
	// With steps that take time, every step's progress message goes out
	// before the reply (without, a daemon may coalesce them).
	var args []string
	slowSteps := daemonHas(t, "--step-delay-ms")
	if slowSteps {
		args = append(args, "--step-delay-ms=20")
	}
	d := startRealDaemon(t, args...)
	probe := newTestClient(t, d.socket)
	st, err := probe.Status(context.Background())
	require.NoError(t, err)
	v2 := st.VersionMax >= protocol.Version2
	if v2 {
		require.NotNil(t, st.V2, "a version-2 daemon answers the 11.6 fields")
	} else {
		assert.Nil(t, st.V2)
		assert.True(t, probe.v1Only.Load(), "the refusal is remembered")
	}
	extra := uint64(1)
	if v2 {
		extra = 0
	}

	c := newTestClient(t, d.socket)
	var rec recorder
	req := protocol.NewGenerateRequest(0, "a lighthouse", 256, 256, 6, 7, 99)
	before := d.served(t)
	resp, err := c.Generate(context.Background(), req, rec.opt())
	require.NoError(t, err)
	assert.EqualValues(t, 256, resp.Width)
	assert.EqualValues(t, 99, resp.Seed)
	after := d.served(t)
	assert.Equal(t, 1+extra+1, after-before, "replies: the request, the refusal (v1 daemon only), the status")
	if v2 && slowSteps {
		assert.Equal(t, 6, rec.count(EventStep), "progress count equals steps")
	}
	if !v2 {
		assert.Empty(t, rec.events)
	}
	step := uint32(0)
	for _, e := range rec.events {
		if e.Kind == EventStep {
			assert.Greater(t, e.Step, step, "steps in order")
			assert.EqualValues(t, 6, e.Steps)
			step = e.Step
		}
	}
	// The same pixels without progress (plain version 1).
	plain, err := newTestClient(t, d.socket).Generate(context.Background(), req)
	require.NoError(t, err)
	assert.Equal(t, plain.Pixels, resp.Pixels)

	before = d.served(t)
	_, err = c.Generate(context.Background(), req, rec.opt())
	require.NoError(t, err)
	assert.EqualValues(t, 2, d.served(t)-before, "the second request goes straight to the version that works")

	big := protocol.NewGenerateRequest(0, "x", 2048, 2048, 1, 7, 5)
	if v2 {
		img, err := c.GenerateImage(context.Background(), big)
		require.NoError(t, err)
		assert.True(t, img.Shared())
		assert.Len(t, img.Pixels(), 2048*2048*3)
		require.NoError(t, img.Close())
	} else {
		_, err := c.Generate(context.Background(), big)
		assert.ErrorIs(t, err, ErrV1Only)
		assert.Contains(t, err.Error(), "1856x1856")
	}
}

// Bulk replies through GenerateInto against the real daemon: correct, and
// no image-sized allocation per request.
func TestRealDaemonBulkInto(t *testing.T) {
	d := startRealDaemon(t)
	c := newTestClient(t, d.socket)
	side := uint32(protocol.MaxSquareDimension)
	req := protocol.NewGenerateRequest(0, "bulk", side, side, 1, 7, 42)
	want, err := c.Generate(context.Background(), req)
	require.NoError(t, err)
	buf := make([]byte, protocol.MaxMessageSize)
	for i := 0; i < 5; i++ {
		resp, err := c.GenerateInto(context.Background(), req, buf)
		require.NoError(t, err)
		require.True(t, bytes.Equal(want.Pixels, resp.Pixels))
		require.Equal(t, &buf[protocol.HeaderSize+protocol.GenerateResponseFixedSize], &resp.Pixels[0])
	}
}

// --- the scripted backend (weave-compute-scripted): long jobs for real ---
//
// A job's clip_l prompt chooses what it does ("script: step-ms=100":
// every step sleeps 100 ms; c/backends/scripted/scripted.h). The binary
// comes from WEAVE_COMPUTE_SCRIPTED_BIN (the BUILD file sets it).

func startScripted(t *testing.T) (*realDaemon, bool) {
	t.Helper()
	bin := os.Getenv("WEAVE_COMPUTE_SCRIPTED_BIN")
	if bin == "" {
		if os.Getenv("TEST_SRCDIR") != "" {
			t.Fatal("WEAVE_COMPUTE_SCRIPTED_BIN is not set (the BUILD file sets it)")
		}
		t.Skip("WEAVE_COMPUTE_SCRIPTED_BIN not set: export it to run the long-job tests against the real daemon")
	}
	t.Setenv("WEAVE_COMPUTE_BIN", bin) // startRealDaemon resolves a $(rootpath)
	d := startRealDaemon(t)
	c := newTestClient(t, d.socket)
	st, err := c.Status(context.Background())
	require.NoError(t, err)
	return d, st.VersionMax >= protocol.Version2
}

func scriptJob(script string, steps uint32) *protocol.GenerateRequest {
	return protocol.NewGenerateRequest(0, "script: "+script, 64, 64, steps, 7, 1)
}

// With progress, a job longer than the read timeout completes while it
// reports (v2); a v1 daemon keeps the total deadline and the same job
// times out.
func TestScriptedInactivityDeadline(t *testing.T) {
	// The daemon speaks at least once a second (SPEC 11.3), so 1.2 s of
	// silence is a real stall; the job takes 2 s.
	const timeout = 1200 * time.Millisecond
	d, v2 := startScripted(t)
	c := newTestClient(t, d.socket, WithReadTimeout(timeout))
	var rec recorder
	start := time.Now()
	resp, err := c.Generate(context.Background(), scriptJob("step-ms=200", 10), rec.opt())
	if !v2 {
		assert.ErrorIs(t, err, ErrReadTimeout, "a v1 daemon: the timeout bounds the whole job")
		return
	}
	require.NoError(t, err)
	assert.Greater(t, time.Since(start), timeout)
	assert.EqualValues(t, 64, resp.Width)
	assert.Equal(t, 10, rec.count(EventStep), "progress count equals steps")

	// A daemon that goes silent (SIGSTOP) fails the call after the timeout.
	rec = recorder{}
	stopped := false
	c2 := newTestClient(t, d.socket, WithReadTimeout(timeout))
	start = time.Now()
	_, err = c2.Generate(context.Background(), scriptJob("step-ms=100", 50), WithProgress(func(e Event) {
		if !stopped { // the daemon has the job: stop it
			stopped = true
			require.NoError(t, d.cmd.Process.Signal(syscall.SIGSTOP))
		}
	}))
	require.NoError(t, d.cmd.Process.Signal(syscall.SIGCONT))
	require.True(t, stopped)
	assert.ErrorIs(t, err, ErrReadTimeout)
	assert.Contains(t, err.Error(), "no message from the daemon for 1.2s (last: ")
	assert.Less(t, time.Since(start), 4*time.Second)
}

// Cancelling ctx mid-job closes the connection; the daemon stops the job
// and the next request is served at once, not after the 10 s the cancelled
// job had left.
func TestScriptedCancelFreesDaemon(t *testing.T) {
	d, v2 := startScripted(t)
	if !v2 {
		t.Skip("the daemon speaks protocol 1 only: it does not watch for hang-ups")
	}
	c := newTestClient(t, d.socket)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(300*time.Millisecond, cancel) // the job runs by then
	_, err := c.Generate(ctx, scriptJob("step-ms=100", 100), WithProgress(func(Event) {}))
	assert.ErrorIs(t, err, context.Canceled)
	start := time.Now()
	_, err = c.Generate(context.Background(), scriptJob("step-ms=10", 2))
	require.NoError(t, err)
	assert.Less(t, time.Since(start), 3*time.Second, "the cancelled job did not keep the daemon")
}

// Three clients waiting behind a running job see their queue positions
// count down, hear heartbeats while queued, and all get their image.
func TestScriptedQueuePositions(t *testing.T) {
	d, v2 := startScripted(t)
	if !v2 {
		t.Skip("the daemon speaks protocol 1 only: no queue positions")
	}
	first := newTestClient(t, d.socket)
	started := make(chan struct{})
	firstDone := make(chan error, 1)
	go func() {
		var once sync.Once
		_, err := first.Generate(context.Background(), scriptJob("step-ms=150", 10), WithProgress(func(e Event) {
			// Whatever the daemon says first: it has the job.
			once.Do(func() { close(started) })
		}))
		firstDone <- err
	}()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the daemon said nothing about the first job")
	}
	time.Sleep(100 * time.Millisecond) // it runs now
	const waiting = 3
	recs := make([]recorder, waiting)
	errs := make(chan error, waiting)
	for i := 0; i < waiting; i++ {
		i := i
		go func() {
			c := newTestClient(t, d.socket)
			_, err := c.Generate(context.Background(), scriptJob("step-ms=50", 3), recs[i].opt())
			errs <- err
		}()
		time.Sleep(50 * time.Millisecond) // arrive in order
	}
	for i := 0; i < waiting; i++ {
		require.NoError(t, <-errs)
	}
	require.NoError(t, <-firstDone)
	for i := range recs {
		var positions []uint32
		heartbeatsQueued := 0
		for _, e := range recs[i].events {
			switch {
			case e.Kind == EventQueued:
				assert.LessOrEqual(t, e.Position, e.Depth)
				positions = append(positions, e.Position)
			case e.Kind == EventHeartbeat && !e.Running:
				heartbeatsQueued++
			}
		}
		require.NotEmpty(t, positions, "client %d saw no queued event", i)
		assert.EqualValues(t, i+1, positions[0], "client %d arrived %d-th", i, i+1)
		assert.EqualValues(t, 1, positions[len(positions)-1], "client %d ran next at last", i)
		for j := 1; j < len(positions); j++ {
			assert.Less(t, positions[j], positions[j-1], "positions count down")
		}
		assert.Greater(t, heartbeatsQueued, 0, "client %d: heartbeats while queued", i)
		assert.Equal(t, 3, recs[i].count(EventStep))
	}
}
