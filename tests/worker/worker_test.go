// Package worker_test checks, against the real daemon binary with the
// test-only scripted backend (//c/daemon:weave-compute-scripted), that a
// backend crash never takes the daemon down: the generator runs in a worker
// process, and whatever happens to it (a crash chosen by the prompt, real
// signals sent from here, a hang, SIGSTOP) the client gets an error reply,
// queued jobs survive, the daemon keeps serving, and no zombie or daemon
// descriptor is left in the worker.
package worker_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/weave-app/weave/go/client"
	"github.com/weave-app/weave/go/protocol"
	"github.com/weave-app/weave/tests/internal/daemontest"
)

// TestMain turns core files off for this process and the daemons it starts
// (and their workers): the crashes here are deliberate, and a core would
// also change the message ("..., core dumped").
func TestMain(m *testing.M) {
	if err := syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{}); err != nil {
		fmt.Fprintln(os.Stderr, "setrlimit(RLIMIT_CORE):", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// generate sends a 64x64 job whose clip_l prompt is the scripted backend's
// script, and returns the daemon's error reply (nil on success).
func generate(t *testing.T, d *daemontest.Daemon, steps uint32, script string) *protocol.ErrorResponse {
	t.Helper()
	c := d.Client(t, client.WithReadTimeout(30*time.Second))
	_, err := c.Generate(daemontest.Context(t), protocol.NewGenerateRequest(0, script, 64, 64, steps, 1, 5))
	if err == nil {
		return nil
	}
	var er *protocol.ErrorResponse
	require.True(t, errors.As(err, &er), "want a daemon error reply, got %v", err)
	return er
}

// workerPid is the daemon's child (its worker process), 0 when none.
func workerPid(t *testing.T, d *daemontest.Daemon) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", d.Pid, d.Pid))
	require.NoError(t, err)
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	pid, err := strconv.Atoi(f[0])
	require.NoError(t, err)
	return pid
}

var readyLine = regexp.MustCompile(`DEBUG worker: request_id=\d+ sent to pid (\d+)`)

// waitReady waits (the daemon runs with --log-level=debug) until a job was
// sent to a worker and returns that worker's pid: the job is running from
// then on, and the process is past exec and READY.
func waitReady(t *testing.T, d *daemontest.Daemon) int {
	t.Helper()
	line := d.MustWaitForLog(readyLine, 10*time.Second)
	pid, err := strconv.Atoi(readyLine.FindStringSubmatch(line)[1])
	require.NoError(t, err)
	return pid
}

// requireReaped: the process is gone from /proc, so the daemon reaped it
// (a zombie would stay listed).
func requireReaped(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); errors.Is(err, os.ErrNotExist) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	t.Fatalf("worker %d not reaped: %s", pid, stat)
}

// startJob sends a job in the background; its result arrives on the channel.
func startJob(t *testing.T, d *daemontest.Daemon, steps uint32, script string) <-chan *protocol.ErrorResponse {
	t.Helper()
	c := d.Client(t, client.WithReadTimeout(30*time.Second))
	out := make(chan *protocol.ErrorResponse, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	go func() {
		_, err := c.Generate(ctx, protocol.NewGenerateRequest(0, script, 64, 64, steps, 1, 5))
		var er *protocol.ErrorResponse
		if err != nil && !errors.As(err, &er) {
			er = &protocol.ErrorResponse{Message: "client error: " + err.Error()}
		}
		out <- er
	}()
	return out
}

func recv(t *testing.T, ch <-chan *protocol.ErrorResponse) *protocol.ErrorResponse {
	t.Helper()
	select {
	case er := <-ch:
		return er
	case <-time.After(30 * time.Second):
		t.Fatal("no reply within 30 s")
		return nil
	}
}

func requireCrash(t *testing.T, er *protocol.ErrorResponse, message string) {
	t.Helper()
	require.NotNil(t, er, "want an error reply")
	assert.Equal(t, uint32(500), er.Status)
	assert.Equal(t, protocol.ErrorCode(9), er.Code)
	assert.Equal(t, message, er.Message)
}

func start(t *testing.T, args ...string) *daemontest.Daemon {
	t.Helper()
	return daemontest.Start(t, daemontest.Options{Args: args})
}

// TestBackendCrashes: crashes chosen by the prompt, each answered 500/9
// with what happened, and the next job served by a fresh worker.
func TestBackendCrashes(t *testing.T) {
	d := start(t)
	cases := []struct{ script, want string }{
		{"script: step-ms=5 crash=segv@2", "backend crashed (SIGSEGV)"},
		{"script: crash=bus", "backend crashed (SIGBUS)"},
		{"script: exit=42", "backend exited with status 42"},
	}
	for _, tc := range cases {
		tc := tc
		t.Run(tc.want, func(t *testing.T) {
			requireCrash(t, generate(t, d, 3, tc.script), tc.want)
			require.Nil(t, generate(t, d, 1, "plain"), "the daemon serves on")
		})
	}
	_, err := d.Client(t).Status(daemontest.Context(t))
	require.NoError(t, err)
	d.MustWaitForLog(regexp.MustCompile(`WARN worker: pid \d+ backend crashed \(SIGSEGV\) during request_id=`), 5*time.Second)
	d.MustWaitForLog(regexp.MustCompile(`INFO worker: started pid \d+ to replace the last one \(restart 3\)`), 5*time.Second)
}

// TestRealSignals: signals sent from here to the worker while it renders.
func TestRealSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGSEGV, syscall.SIGKILL, syscall.SIGABRT, syscall.SIGTERM} {
		sig := sig
		t.Run(sig.String(), func(t *testing.T) {
			d := start(t, "--log-level=debug")
			res := startJob(t, d, 100, "script: step-ms=50")
			pid := waitReady(t, d)
			require.NoError(t, syscall.Kill(pid, sig))
			want := map[syscall.Signal]string{
				syscall.SIGSEGV: "backend crashed (SIGSEGV)",
				syscall.SIGKILL: "backend crashed (SIGKILL)",
				syscall.SIGABRT: "backend crashed (SIGABRT)",
				syscall.SIGTERM: "backend crashed (SIGTERM)",
			}[sig]
			requireCrash(t, recv(t, res), want)
			requireReaped(t, pid)
			require.Nil(t, generate(t, d, 1, "plain"))
		})
	}
}

// TestCrashOnThirdOfFive: five jobs queued at once, the third crashes the
// worker; the four others succeed.
func TestCrashOnThirdOfFive(t *testing.T) {
	d := start(t)
	var res []<-chan *protocol.ErrorResponse
	for i := 0; i < 5; i++ {
		script := "script: step-ms=20"
		if i == 2 {
			script = "script: step-ms=20 crash=segv@2"
		}
		res = append(res, startJob(t, d, 3, script))
		time.Sleep(30 * time.Millisecond) // arrival order
	}
	for i, ch := range res {
		er := recv(t, ch)
		if i == 2 {
			requireCrash(t, er, "backend crashed (SIGSEGV)")
		} else {
			assert.Nil(t, er, "job %d", i+1)
		}
	}
}

// TestWatchdog: SIGSTOP freezes the worker; the generation timeout answers
// 500/10, kills it and a new one serves the next job.
func TestWatchdog(t *testing.T) {
	d := start(t, "--generation-timeout-ms=500", "--log-level=debug")
	res := startJob(t, d, 100, "script: step-ms=50")
	pid := waitReady(t, d)
	require.NoError(t, syscall.Kill(pid, syscall.SIGSTOP))
	er := recv(t, res)
	require.NotNil(t, er)
	assert.Equal(t, uint32(500), er.Status)
	assert.Equal(t, protocol.ErrorCode(10), er.Code)
	assert.Contains(t, er.Message, "timed out after 500 ms")
	requireReaped(t, pid)
	require.Nil(t, generate(t, d, 1, "plain"))
	assert.NotEqual(t, pid, workerPid(t, d))
}

// TestCrashLoopBacksOff: three crashes in a row; then the daemon answers
// "backend unavailable" at once without starting a worker, and after the
// back-off serves again.
func TestCrashLoopBacksOff(t *testing.T) {
	d := start(t)
	for i := 0; i < 3; i++ {
		requireCrash(t, generate(t, d, 1, "script: crash=segv"), "backend crashed (SIGSEGV)")
	}
	er := generate(t, d, 1, "plain")
	require.NotNil(t, er)
	assert.Equal(t, protocol.ErrorCode(9), er.Code)
	assert.Contains(t, er.Message, "backend unavailable: 3 crashes within 10000 ms")
	assert.Contains(t, er.Message, "retrying in")
	assert.Equal(t, 0, workerPid(t, d))
	deadline := time.Now().Add(15 * time.Second)
	for {
		er = generate(t, d, 1, "plain")
		if er == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	require.Nil(t, er, "served again after the back-off")
}

// TestIdleUnload: with --keep-alive-ms=200 the worker goes away after a job
// and the next job starts a new one.
func TestIdleUnload(t *testing.T) {
	d := start(t, "--keep-alive-ms=200")
	assert.Equal(t, 0, workerPid(t, d), "lazy: no worker before the first job")
	require.Nil(t, generate(t, d, 1, "plain"))
	pid := workerPid(t, d)
	require.NotZero(t, pid)
	requireReaped(t, pid)
	assert.Equal(t, 0, workerPid(t, d))
	require.Nil(t, generate(t, d, 1, "plain"))
	d.MustWaitForLog(regexp.MustCompile(`INFO worker: unloading pid \d+ \(idle for 200 ms\)`), 5*time.Second)
}

// TestWorkerDescriptors: the worker holds stdin, stdout, stderr and its
// socketpair end; none of the daemon's (listener, lock, connections).
func TestWorkerDescriptors(t *testing.T) {
	d := start(t, "--log-level=debug")
	res := startJob(t, d, 40, "script: step-ms=50")
	pid := waitReady(t, d)
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range ents {
		target, _ := os.Readlink(filepath.Join(dir, e.Name()))
		names = append(names, e.Name()+" -> "+target)
		n, err := strconv.Atoi(e.Name())
		require.NoError(t, err)
		assert.LessOrEqual(t, n, 3, "worker fd %s -> %s", e.Name(), target)
	}
	assert.Len(t, ents, 4, "worker fds: %v", names)
	assert.Nil(t, recv(t, res))
}

// TestSIGTERMWithHungBackend: the daemon exits within its shutdown timeout
// even with a backend that never returns, and its worker goes with it.
func TestSIGTERMWithHungBackend(t *testing.T) {
	d := start(t, "--shutdown-timeout-ms=300", "--log-level=debug")
	res := startJob(t, d, 1, "script: hang")
	pid := waitReady(t, d)
	start := time.Now()
	code, err := d.Stop()
	require.NoError(t, err)
	assert.Equal(t, 0, code)
	assert.Less(t, time.Since(start), 3*time.Second)
	requireReaped(t, pid)
	<-res // the connection was closed without a reply
}

// TestParallelClientsDuringCrashes: status requests and other jobs keep
// being answered while workers crash.
func TestParallelClientsDuringCrashes(t *testing.T) {
	d := start(t)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		c := d.Client(t)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := c.Status(context.Background()); err != nil {
				errs <- err
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	for i := 0; i < 2; i++ {
		requireCrash(t, generate(t, d, 2, "script: step-ms=10 crash=segv@2"), "backend crashed (SIGSEGV)")
		require.Nil(t, generate(t, d, 2, "script: step-ms=10"))
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("status during crashes: %v", err)
	}
}
