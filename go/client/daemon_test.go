package client

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
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
	xdg := shortTempDir(t)
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
