package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/weave-app/weave/go/client"
	"github.com/weave-app/weave/go/internal/fakedaemon"
	"golang.org/x/sys/unix"
)

// startFakeConfig serves cfg on the env's socket (a fake daemon that can
// speak protocol v2).
func (e *testEnv) startFakeConfig(t *testing.T, cfg fakedaemon.Config) *fakedaemon.Server {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(e.socketPath()), 0o700))
	s, err := fakedaemon.ListenConfig(e.socketPath(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func TestGenerateJSONProgress(t *testing.T) {
	e := newTestEnv(t)
	e.startFakeConfig(t, fakedaemon.Config{Protocol: fakedaemon.V2, Job: fakedaemon.Job{Ahead: 2, QueueStep: 5 * time.Millisecond}})
	r := e.run(t, "generate", "x", "--width", "64", "--height", "64", "--steps", "3", "--seed", "9", "-o", "p.png", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	require.Len(t, lines, 6, r.stdout)
	assert.Equal(t, `{"event":"queued","position":2,"queue_depth":2}`, lines[0])
	assert.Equal(t, `{"event":"queued","position":1,"queue_depth":2}`, lines[1])
	for i := 0; i < 3; i++ {
		var ev map[string]interface{}
		require.NoError(t, json.Unmarshal([]byte(lines[2+i]), &ev), lines[2+i])
		assert.Equal(t, map[string]interface{}{"event": "progress", "step": float64(i + 1), "steps": float64(3), "elapsed_ms": ev["elapsed_ms"]}, ev)
		assert.True(t, strings.HasPrefix(lines[2+i], `{"event":"progress","step":`), "field order: %s", lines[2+i])
	}
	assert.Equal(t, `{"event":"done","path":"p.png","width":64,"height":64,"seed":9,"generation_ms":42}`, lines[5])
	assert.Empty(t, r.stderr)
}

func TestGenerateProgressDisplay(t *testing.T) {
	oldTerm, oldInterval := isTerminal, spinnerInterval
	defer func() { isTerminal, spinnerInterval = oldTerm, oldInterval }()
	spinnerInterval = 10 * time.Millisecond
	job := fakedaemon.Job{Ahead: 1, QueueStep: 200 * time.Millisecond, StepDelay: 60 * time.Millisecond}
	tests := []struct {
		name     string
		terminal bool
		env      map[string]string
		escapes  bool
	}{
		{name: "terminal", terminal: true, env: map[string]string{"TERM": "xterm"}, escapes: true},
		{name: "TERM=dumb", terminal: true, env: map[string]string{"TERM": "dumb"}},
		{name: "NO_COLOR", terminal: true, env: map[string]string{"TERM": "xterm", "NO_COLOR": "1"}},
		{name: "not a terminal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isTerminal = func(io.Writer) bool { return tt.terminal }
			e := newTestEnv(t)
			for k, v := range tt.env {
				e.vars[k] = v
			}
			e.startFakeConfig(t, fakedaemon.Config{Protocol: fakedaemon.V2, Job: job})
			errb := &syncBuffer{}
			var out bytes.Buffer
			code := runContext(context.Background(), []string{"generate", "x", "--width", "64", "--height", "64", "--steps", "5", "--seed", "4", "-o", "d.png"},
				newEnviron(e.list()), &out, errb)
			require.Equal(t, 0, code, errb.String())
			assert.Equal(t, "wrote d.png (64x64, seed 4, generated in 42 ms)\n", out.String())
			got := errb.String()
			if !tt.terminal {
				assert.Empty(t, got, "only the final line when stderr is not a terminal")
				return
			}
			assert.Contains(t, got, "waiting in queue: position 1 of 1...")
			assert.Contains(t, got, "step 2/5 [=======>            ]  40%")
			assert.Contains(t, got, "left")
			assert.Contains(t, got, "step 5/5 [====================] 100%")
			assert.NotContains(t, got, "\n", "one line, redrawn")
			assert.Equal(t, tt.escapes, strings.Contains(got, "\x1b"), "%q", got)
		})
	}
}

func TestProgressLine(t *testing.T) {
	now := time.Unix(1000, 0)
	var v progressView
	assert.True(t, v.update(client.Event{Kind: client.EventQueued, Position: 2, Depth: 3}, now))
	assert.Equal(t, "waiting in queue: position 2 of 3... 4s", v.line(now.Add(4*time.Second)))
	assert.False(t, v.update(client.Event{Kind: client.EventHeartbeat}, now))
	assert.True(t, v.update(client.Event{Kind: client.EventStarted}, now))
	assert.Equal(t, "started... 0.5s", v.line(now.Add(500*time.Millisecond)))
	assert.True(t, v.update(client.Event{Kind: client.EventStep, Step: 12, Steps: 28, Elapsed: 3 * time.Second}, now))
	assert.Equal(t, "step 12/28 [=======>            ]  42%  3.0s, about 4.0s left", v.line(now))
	assert.Equal(t, "step 12/28 [=======>            ]  42%  3.5s, about 3.5s left", v.line(now.Add(500*time.Millisecond)))
	assert.Equal(t, "step 12/28 [=======>            ]  42%  1m13s, about 0.0s left", v.line(now.Add(70*time.Second)))
	v.update(client.Event{Kind: client.EventStep, Step: 28, Steps: 28, Elapsed: 7 * time.Second}, now)
	assert.Equal(t, "step 28/28 [====================] 100%  7.0s", v.line(now))
	assert.Equal(t, "[>                   ]", bar(1, 28))
	assert.Equal(t, "[                    ]", bar(0, 28))
}

// 2048x2048 through shared memory against a daemon that offers it.
func TestGenerate2048(t *testing.T) {
	e := newTestEnv(t)
	e.startFakeConfig(t, fakedaemon.Config{Protocol: fakedaemon.V2})
	r := e.run(t, "generate", "x", "--width", "2048", "--height", "2048", "--steps", "1", "--seed", "6", "-o", "big.png")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "wrote big.png (2048x2048, seed 6, generated in 42 ms)\n", r.stdout)
	requireRGB(t, decodePNG(t, filepath.Join(e.work, "big.png")), 2048, 2048, fakedaemon.Pixels(2048, 2048, 6))
}

// With progress --timeout bounds silence: a job longer than it completes
// while the daemon reports; one that stalls fails after it.
func TestGenerateInactivityTimeout(t *testing.T) {
	e := newTestEnv(t)
	e.startFakeConfig(t, fakedaemon.Config{Protocol: fakedaemon.V2, Job: fakedaemon.Job{StepDelay: 100 * time.Millisecond}})
	start := time.Now()
	r := e.run(t, "generate", "x", "--width", "64", "--height", "64", "--steps", "6", "--timeout", "300ms", "-o", "long.png")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Greater(t, time.Since(start), 500*time.Millisecond)

	e2 := newTestEnv(t)
	e2.startFakeConfig(t, fakedaemon.Config{Protocol: fakedaemon.V2, Job: fakedaemon.Job{StepDelay: 10 * time.Millisecond, StallAfter: 2}})
	r = e2.run(t, "generate", "x", "--width", "64", "--height", "64", "--steps", "6", "--timeout", "300ms", "-o", "stall.png")
	assert.Equal(t, 3, r.code, r.stderr)
	assert.Contains(t, r.stderr, "weave: weave-compute daemon response timeout: no message from the daemon for 300ms (last: step 2/6)")
	_, err := os.Stat(filepath.Join(e2.work, "stall.png"))
	assert.True(t, os.IsNotExist(err))
}

// SIGINT / SIGTERM while the job runs: the connection is closed at once
// (the daemon sees the hang-up, so it cancels the job), no file, 130/143,
// within a fraction of a second.
func TestSignalCancelsJob(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			e := newTestEnv(t)
			s := e.startFakeConfig(t, fakedaemon.Config{Protocol: fakedaemon.V2, Job: fakedaemon.Job{StepDelay: 30 * time.Second}})
			done := make(chan int, 1)
			var out, errb bytes.Buffer
			go func() {
				done <- run([]string{"generate", "x", "--width", "64", "--height", "64", "-o", "sig.png"}, e.list(), &out, &errb)
			}()
			require.Eventually(t, func() bool { return s.Requests() > 0 }, 10*time.Second, 5*time.Millisecond)
			start := time.Now()
			require.NoError(t, syscall.Kill(os.Getpid(), sig))
			var code int
			select {
			case code = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("weave did not stop")
			}
			assert.Less(t, time.Since(start), 500*time.Millisecond, "a fraction of a second")
			assert.Equal(t, 128+int(sig), code, errb.String())
			select {
			case <-s.Events():
			case <-time.After(2 * time.Second):
				t.Fatal("the daemon saw no hang-up")
			}
			assert.EqualValues(t, 1, s.HungUp())
			_, err := os.Stat(filepath.Join(e.work, "sig.png"))
			assert.True(t, os.IsNotExist(err), "no output after %v", sig)
		})
	}
}

// runWeaveEnv makes the test binary run as the weave command (TestMain).
const runWeaveEnv = "WEAVE_TEST_RUN_WEAVE"

// openPTY returns the master and the slave of a new pseudo-terminal.
func openPTY(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	require.NoError(t, unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0))
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	require.NoError(t, err)
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return m, s
}

// weaveOnPTY starts weave (this test binary) as a child process with its
// stderr on a pseudo-terminal; the returned function waits for it and
// returns its exit code and everything the terminal showed.
func weaveOnPTY(t *testing.T, e *testEnv, args ...string) (*exec.Cmd, *bytes.Buffer, func() (int, string)) {
	t.Helper()
	m, s := openPTY(t)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(e.list(), runWeaveEnv+"=1")
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = s
	require.NoError(t, cmd.Start())
	s.Close() // the child holds it now; EOF (EIO) on the master once it exits
	screen := &syncBuffer{}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(screen, m)
	}()
	return cmd, &out, func() (int, string) {
		err := cmd.Wait()
		<-copied
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				code = 128 + int(ws.Signal())
			}
		} else if err != nil {
			t.Fatalf("weave: %v", err)
		}
		return code, screen.String()
	}
}

// The progress line on a real terminal (a pty): drawn in place with
// escapes, then removed before the result line on stdout.
func TestProgressOnPTY(t *testing.T) {
	e := newTestEnv(t)
	e.vars["TERM"] = "xterm"
	e.startFakeConfig(t, fakedaemon.Config{Protocol: fakedaemon.V2, Job: fakedaemon.Job{Ahead: 1, QueueStep: 300 * time.Millisecond, StepDelay: 150 * time.Millisecond}})
	_, out, wait := weaveOnPTY(t, e, "generate", "x", "--width", "64", "--height", "64", "--steps", "4", "--seed", "3", "-o", "tty.png")
	code, screen := wait()
	require.Equal(t, 0, code, screen)
	assert.Equal(t, "wrote tty.png (64x64, seed 3, generated in 42 ms)\n", out.String())
	assert.Contains(t, screen, "waiting in queue: position 1 of 1...")
	assert.Contains(t, screen, "step 2/4 [=========>          ]  50%")
	assert.Contains(t, screen, "\r\x1b[K")
	assert.NotContains(t, screen, "\n", "one line, redrawn")
	assert.True(t, strings.HasSuffix(screen, "\r\x1b[K"), "line removed at the end: %q", screen)
}

// SIGINT to the weave process while its job runs: exit 130 at once, the
// daemon sees the hang-up (and would stop the job), no file.
func TestSIGINTToWeaveCancelsJob(t *testing.T) {
	e := newTestEnv(t)
	e.vars["TERM"] = "dumb"
	s := e.startFakeConfig(t, fakedaemon.Config{Protocol: fakedaemon.V2, Job: fakedaemon.Job{StepDelay: 30 * time.Second}})
	cmd, out, wait := weaveOnPTY(t, e, "generate", "x", "--width", "64", "--height", "64", "-o", "int.png")
	require.Eventually(t, func() bool { return s.Requests() > 0 }, 10*time.Second, 5*time.Millisecond)
	start := time.Now()
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	code, screen := wait()
	assert.Less(t, time.Since(start), time.Second, "a fraction of a second")
	assert.Equal(t, 130, code, screen)
	select {
	case <-s.Events():
	case <-time.After(2 * time.Second):
		t.Fatal("the daemon saw no hang-up")
	}
	assert.Empty(t, out.String())
	_, err := os.Stat(filepath.Join(e.work, "int.png"))
	assert.True(t, os.IsNotExist(err), "no output file")
	assert.NotContains(t, screen, "\x1b", "TERM=dumb")
}

// Every PNG writer reads the pixels straight from the read-only shared
// mapping (a write would crash the process, not fail a test quietly).
func TestPNGFromSharedMemory(t *testing.T) {
	for _, c := range pngCompressionNames {
		t.Run(c, func(t *testing.T) {
			e := newTestEnv(t)
			e.startFakeConfig(t, fakedaemon.Config{Protocol: fakedaemon.V2})
			r := e.run(t, "generate", "x", "--width", "256", "--height", "192", "--seed", "8", "--png-compression", c, "-o", "m.png")
			require.Equal(t, 0, r.code, r.stderr)
			requireRGB(t, decodePNG(t, filepath.Join(e.work, "m.png")), 256, 192, fakedaemon.Pixels(256, 192, 8))
		})
	}
}
