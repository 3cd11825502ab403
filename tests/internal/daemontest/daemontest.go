// Package daemontest starts the real weave-compute daemon for integration
// tests: each daemon gets its own short temporary XDG_RUNTIME_DIR, its stderr
// is captured, readiness is detected by polling (socket exists and answers a
// status request), and the process (and its process group) is always killed
// when the test ends, whether it passed, failed or panicked. It also holds
// the small helpers the suites share: raw connections (DialRaw), sentinel
// error checks (RequireSentinel) and short temporary directories
// (ShortTempDir).
//
// The daemon binary comes from the environment variable WEAVE_COMPUTE_BIN,
// which the go_test's BUILD file sets (env = {"WEAVE_COMPUTE_BIN":
// "$(rootpath //c/daemon:weave-compute)"}, with the binary in data) and which is
// resolved through internal/runfiles; for host `go test`, export it. Under
// Bazel a missing binary is a test failure, never a skip.
package daemontest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/weave-app/weave/internal/testutil"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/weave-app/weave/internal/runfiles"
	"github.com/weave-app/weave/internal/wire"
)

// EnvDaemonBin names the variable that holds the weave-compute binary: a
// $(rootpath) set by the go_test's BUILD file, or, for host `go test`, any
// path to a daemon built outside Bazel. (The weave CLI reads the same
// variable to find the daemon it autostarts.)
const EnvDaemonBin = "WEAVE_COMPUTE_BIN"

// Default bounds. They are upper limits for polling loops, not sleeps: a
// healthy daemon is ready in a few milliseconds.
const (
	ReadyTimeout = 10 * time.Second
	StopTimeout  = 5 * time.Second
)

// UnderBazel reports whether the test runs under `bazel test`.
func UnderBazel() bool {
	return os.Getenv("TEST_SRCDIR") != "" && os.Getenv("TEST_WORKSPACE") != ""
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// BinaryFromEnv returns the executable envVar names. Its value is a
// $(rootpath label), resolved in the runfiles, or a path (absolute, or,
// outside Bazel, relative to the test's working directory: its package
// directory). Unset, it fails the
// test under Bazel (the BUILD file must set it) and skips it, with the
// reason, outside Bazel. A value that names no executable file is a
// failure everywhere.
func BinaryFromEnv(t testing.TB, what, envVar, label string) string {
	t.Helper()
	v := os.Getenv(envVar)
	if v == "" {
		if UnderBazel() {
			t.Fatalf("%s is not set: the go_test needs env = {%q: \"$(rootpath %s)\"} and %s in its data",
				envVar, envVar, label, label)
		}
		t.Skipf("SKIP: %s binary not available: not running under Bazel and %s is not set "+
			"(build it, e.g. ./bazelw build %s, and export %s=/path/to/it)", what, envVar, label, envVar)
	}
	src := runfiles.Default()
	p, ok := src.Rootpath(v)
	looked := []string{v}
	if !filepath.IsAbs(v) {
		looked = src.Candidates(runfiles.RunfilePath(v))
		if abs, err := filepath.Abs(v); err == nil && !UnderBazel() {
			looked = append(looked, abs)
			if !ok && isExecutable(abs) {
				p, ok = abs, true
			}
		}
	}
	if !ok {
		t.Fatalf("%s=%q: no such file (looked at %v)", envVar, v, looked)
	}
	if !isExecutable(p) {
		t.Fatalf("%s=%q: %s is not an executable file", envVar, v, p)
	}
	return p
}

// Binary returns the path of the weave-compute binary.
func Binary(t testing.TB) string {
	t.Helper()
	return BinaryFromEnv(t, "weave-compute", EnvDaemonBin, "//c/daemon:weave-compute")
}

// RuntimeDir creates a short temporary directory to use as XDG_RUNTIME_DIR
// (see ShortTempDir) and removes it when the test ends.
func RuntimeDir(t testing.TB) string {
	t.Helper()
	return testutil.ShortTempDir(t)
}

// RequireSentinelText is RequireSentinel that also pins the sentinel's own
// text to text.
func RequireSentinelText(t testing.TB, err error, sentinel error, text string) {
	t.Helper()
	if sentinel.Error() != text {
		t.Fatalf("sentinel text %q, want %q: the text is part of the contract", sentinel.Error(), text)
	}
	RequireSentinel(t, err, sentinel)
}

// DialRaw opens a plain connection to the daemon's socket (closed when the
// test ends), for tests that write bytes by hand.
func (d *Daemon) DialRaw(t testing.TB) *net.UnixConn {
	t.Helper()
	conn, err := net.DialTimeout("unix", d.SocketPath, 2*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", d.SocketPath, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn.(*net.UnixConn)
}

// RequireSentinel checks that err is the sentinel (errors.Is) and that its
// text is the sentinel's, optionally followed by ": detail" (the text is
// part of the contract, docs/DEVELOPMENT.md).
func RequireSentinel(t testing.TB, err error, sentinel error) {
	t.Helper()
	if err == nil {
		t.Fatalf("want %q, got no error", sentinel)
	}
	if !errors.Is(err, sentinel) {
		t.Fatalf("want errors.Is(err, %q), got %T: %v", sentinel, err, err)
	}
	text, msg := sentinel.Error(), err.Error()
	if msg != text && !strings.HasPrefix(msg, text+": ") {
		t.Fatalf("error text %q must be %q (optionally followed by \": detail\")", msg, text)
	}
}

// SocketPath returns $dir/weave/weave.sock.
func SocketPath(runtimeDir string) string {
	return filepath.Join(runtimeDir, "weave", "weave.sock")
}

// LockPath returns $dir/weave/weave.lock.
func LockPath(runtimeDir string) string {
	return filepath.Join(runtimeDir, "weave", "weave.lock")
}

// Options configure a daemon start.
type Options struct {
	// Args are the daemon's command-line flags.
	Args []string
	// Env are extra KEY=VALUE entries added to the daemon's environment.
	Env []string
	// RuntimeDir is used as XDG_RUNTIME_DIR; when empty a new one is made.
	RuntimeDir string
	// NoXDG starts the daemon without XDG_RUNTIME_DIR in its environment.
	NoXDG bool
}

// Daemon is one running (or exited) weave-compute process.
type Daemon struct {
	t          testing.TB
	Cmd        *exec.Cmd
	Pid        int
	RuntimeDir string
	SocketPath string
	LockPath   string

	stderr     *syncBuffer
	done       chan struct{} // closed when the process has been reaped
	state      *os.ProcessState
	waitErr    error
	readerDone chan struct{} // closed when stderr reached EOF
}

// Start starts a daemon and waits until it is ready (socket answers a
// status request). The test fails if it does not become ready.
func Start(t testing.TB, opts Options) *Daemon {
	t.Helper()
	d := StartProcess(t, opts)
	if err := d.WaitReady(ReadyTimeout); err != nil {
		t.Fatalf("daemon not ready: %v", err)
	}
	return d
}

// StartProcess starts a daemon without waiting for readiness (for tests that
// expect it to exit). Cleanup is registered: the process group is killed and
// reaped when the test ends.
func StartProcess(t testing.TB, opts Options) *Daemon {
	t.Helper()
	bin := Binary(t)
	dir := opts.RuntimeDir
	if dir == "" && !opts.NoXDG {
		dir = RuntimeDir(t)
	}
	env := cleanEnv()
	if !opts.NoXDG {
		env = append(env, "XDG_RUNTIME_DIR="+dir)
	}
	env = append(env, opts.Env...)

	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatalf("pipe: %v", err)
	}
	cmd := exec.Command(bin, opts.Args...)
	cmd.Env = env
	cmd.Stdout = pw
	cmd.Stderr = pw
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid: true,
		// If the test binary dies without running cleanups (killed by
		// a Bazel timeout), take the daemon with it.
		Pdeathsig: syscall.SIGKILL,
	}
	d := &Daemon{
		t:          t,
		Cmd:        cmd,
		RuntimeDir: dir,
		stderr:     newSyncBuffer(),
		done:       make(chan struct{}),
		readerDone: make(chan struct{}),
	}
	if dir != "" {
		d.SocketPath = SocketPath(dir)
		d.LockPath = LockPath(dir)
	}
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		t.Fatalf("start %s: %v", bin, err)
	}
	pw.Close()
	d.Pid = cmd.Process.Pid
	go func() {
		_, _ = io.Copy(d.stderr, pr)
		pr.Close()
		close(d.readerDone)
	}()
	go func() {
		err := cmd.Wait()
		d.state = cmd.ProcessState
		d.waitErr = err
		close(d.done)
	}()
	t.Cleanup(func() {
		d.kill()
		if t.Failed() {
			t.Logf("weave-compute (pid %d, args %q) output:\n%s", d.Pid, opts.Args, d.Stderr())
		}
	})
	return d
}

// cleanEnv is the test's environment without the variables the daemon
// reads, so the caller decides them.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "XDG_RUNTIME_DIR=") ||
			strings.HasPrefix(kv, "WEAVE_LOG_LEVEL=") ||
			strings.HasPrefix(kv, "LISTEN_FDS=") ||
			strings.HasPrefix(kv, "LISTEN_PID=") ||
			strings.HasPrefix(kv, "LISTEN_FDNAMES=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// kill stops the process group: SIGCONT (in case a test stopped it), SIGTERM,
// wait, then SIGKILL. Always reaps.
func (d *Daemon) kill() {
	if d.Exited() {
		// Reaped: its pid (and so the group id) may belong to someone
		// else by now; signal nothing.
		return
	}
	_ = syscall.Kill(-d.Pid, syscall.SIGCONT)
	_ = syscall.Kill(-d.Pid, syscall.SIGTERM)
	select {
	case <-d.done:
		return
	case <-time.After(StopTimeout):
		d.t.Logf("daemon pid %d did not exit %v after SIGTERM; sending SIGKILL", d.Pid, StopTimeout)
	}
	_ = syscall.Kill(-d.Pid, syscall.SIGKILL)
	<-d.done
}

// Exited reports whether the process has exited (and been reaped).
func (d *Daemon) Exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// Done is closed when the process has exited.
func (d *Daemon) Done() <-chan struct{} { return d.done }

// Signal sends sig to the daemon process (not its group).
func (d *Daemon) Signal(sig syscall.Signal) error {
	return syscall.Kill(d.Pid, sig)
}

// WaitExit waits at most timeout for the process to exit and returns its
// exit code; a process killed by a signal yields an error.
func (d *Daemon) WaitExit(timeout time.Duration) (int, error) {
	select {
	case <-d.done:
	default:
		t := time.NewTimer(timeout)
		defer t.Stop()
		select {
		case <-d.done:
		case <-t.C:
			return -1, fmt.Errorf("daemon pid %d still running after %v", d.Pid, timeout)
		}
	}
	// Let the stderr copier drain what the process wrote before exiting.
	select {
	case <-d.readerDone:
	case <-time.After(time.Second):
	}
	ws, ok := d.state.Sys().(syscall.WaitStatus)
	if ok && ws.Signaled() {
		return -1, fmt.Errorf("daemon pid %d killed by signal %v", d.Pid, ws.Signal())
	}
	return d.state.ExitCode(), nil
}

// Stop sends SIGTERM and waits for the exit code (SIGKILL after
// StopTimeout, which is reported as an error).
func (d *Daemon) Stop() (int, error) {
	if !d.Exited() {
		_ = syscall.Kill(d.Pid, syscall.SIGCONT)
		if err := d.Signal(syscall.SIGTERM); err != nil && !d.Exited() {
			return -1, err
		}
	}
	code, err := d.WaitExit(StopTimeout)
	if err != nil && !d.Exited() {
		_ = syscall.Kill(-d.Pid, syscall.SIGKILL)
		<-d.done
	}
	return code, err
}

// Stderr returns everything the daemon wrote so far (stdout and stderr).
func (d *Daemon) Stderr() string { return d.stderr.String() }

// Logs returns the output split into lines.
func (d *Daemon) Logs() []string {
	s := strings.TrimRight(d.Stderr(), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// WaitForLog waits until a line of output matches re, and returns it.
func (d *Daemon) WaitForLog(re *regexp.Regexp, timeout time.Duration) (string, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		changed := d.stderr.changed()
		for _, line := range d.Logs() {
			if re.MatchString(line) {
				return line, nil
			}
		}
		select {
		case <-changed:
		case <-d.readerDone:
			// No more output can come; one last look.
			for _, line := range d.Logs() {
				if re.MatchString(line) {
					return line, nil
				}
			}
			return "", fmt.Errorf("daemon output closed without a line matching %q", re)
		case <-deadline.C:
			return "", fmt.Errorf("no daemon log line matching %q within %v", re, timeout)
		}
	}
}

// MustWaitForLog is WaitForLog failing the test on error.
func (d *Daemon) MustWaitForLog(re *regexp.Regexp, timeout time.Duration) string {
	d.t.Helper()
	line, err := d.WaitForLog(re, timeout)
	if err != nil {
		d.t.Fatal(err)
	}
	return line
}

// WaitReady polls until the socket exists and a status request succeeds,
// with short exponential backoff, bounded by timeout. It fails fast when the
// process exits.
func (d *Daemon) WaitReady(timeout time.Duration) error {
	if d.SocketPath == "" {
		return errors.New("daemon has no runtime dir")
	}
	deadline := time.Now().Add(timeout)
	backoff := 2 * time.Millisecond
	var lastErr error
	for {
		if d.Exited() {
			code, _ := d.WaitExit(0)
			return fmt.Errorf("daemon exited (code %d) before becoming ready; output:\n%s", code, d.Stderr())
		}
		if _, err := os.Stat(d.SocketPath); err != nil {
			lastErr = err
		} else if err := Ping(d.SocketPath, time.Second); err != nil {
			lastErr = err
		} else {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready within %v: %v", timeout, lastErr)
		}
		select {
		case <-d.done:
		case <-time.After(backoff):
		}
		if backoff < 100*time.Millisecond {
			backoff *= 2
		}
	}
}

// FDCount returns the number of open file descriptors of the daemon, not
// counting the two it holds for its worker process (isWorkerFD).
func (d *Daemon) FDCount() (int, error) {
	fdDir := fmt.Sprintf("/proc/%d/fd", d.Pid)
	ents, err := os.ReadDir(fdDir)
	if err != nil {
		return -1, err
	}
	seqpacket, err := seqpacketInodes()
	if err != nil {
		return -1, err
	}
	n := 0
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join(fdDir, e.Name()))
		if err == nil && isWorkerFD(target, seqpacket) {
			continue
		}
		n++
	}
	return n, nil
}

// isWorkerFD reports whether an fd link target is one of the two
// descriptors the daemon holds for its worker process while one runs (the
// SOCK_SEQPACKET socketpair end and the worker's pidfd). The worker starts
// on the first job and may be replaced or unloaded, so these come and go
// with it; they are not connections and not leaks.
func isWorkerFD(target string, seqpacket map[string]bool) bool {
	if target == "anon_inode:[pidfd]" {
		return true
	}
	if strings.HasPrefix(target, "socket:[") {
		return seqpacket[strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")]
	}
	return false
}

// seqpacketInodes returns the inodes of the SOCK_SEQPACKET Unix sockets on
// the system (/proc/net/unix, Type 0005).
func seqpacketInodes() (map[string]bool, error) {
	data, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n")[1:] {
		// Num RefCount Protocol Flags Type St Inode [Path]
		f := strings.Fields(line)
		if len(f) >= 7 && f[4] == "0005" {
			out[f[6]] = true
		}
	}
	return out, nil
}

// ConnFDs returns how many of the daemon's file descriptors are accepted
// client connections: sockets that carry the address of a listening socket
// the daemon holds (an accepted Unix socket inherits its listener's bound
// address; the daemon may bind under a temporary name and rename it, so the
// address is taken from /proc/net/unix rather than assumed to be
// SocketPath), excluding the listeners themselves.
func (d *Daemon) ConnFDs() (int, error) {
	fdDir := fmt.Sprintf("/proc/%d/fd", d.Pid)
	ents, err := os.ReadDir(fdDir)
	if err != nil {
		return -1, err
	}
	var inodes []string
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join(fdDir, e.Name()))
		if err != nil || !strings.HasPrefix(target, "socket:[") {
			continue
		}
		inodes = append(inodes, strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]"))
	}
	data, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		return -1, err
	}
	type sockInfo struct {
		path      string
		listening bool
	}
	info := map[string]sockInfo{}
	for _, line := range strings.Split(string(data), "\n")[1:] {
		// Num RefCount Protocol Flags Type St Inode [Path]
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		const soAcceptCon = 0x10000
		var flags uint64
		if _, err := fmt.Sscanf(f[3], "%x", &flags); err != nil {
			continue
		}
		info[f[6]] = sockInfo{path: f[7], listening: flags&soAcceptCon != 0}
	}
	listenPaths := map[string]bool{}
	for _, ino := range inodes {
		if si, ok := info[ino]; ok && si.listening {
			listenPaths[si.path] = true
		}
	}
	n := 0
	for _, ino := range inodes {
		if si, ok := info[ino]; ok && !si.listening && listenPaths[si.path] {
			n++
		}
	}
	return n, nil
}

// WaitIdle polls until the daemon holds no client connection (bounded by
// timeout) and returns its fd count then: the baseline for leak checks.
func (d *Daemon) WaitIdle(timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	wait := time.Millisecond
	for {
		n, err := d.ConnFDs()
		if err != nil {
			return -1, err
		}
		if n == 0 {
			return d.FDCount()
		}
		if time.Now().After(deadline) {
			return -1, fmt.Errorf("daemon still holds %d client connections after %v", n, timeout)
		}
		select {
		case <-d.done:
			return -1, errors.New("daemon exited")
		case <-time.After(wait):
		}
		if wait < 50*time.Millisecond {
			wait *= 2
		}
	}
}

// WaitFDs polls until the daemon's fd count is want (bounded by timeout).
func (d *Daemon) WaitFDs(want int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	wait := time.Millisecond
	for {
		n, err := d.FDCount()
		if err != nil {
			return err
		}
		if n == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("daemon fd count %d, want %d (still %v after %v)", n, want, n, timeout)
		}
		select {
		case <-d.done:
			return errors.New("daemon exited")
		case <-time.After(wait):
		}
		if wait < 50*time.Millisecond {
			wait *= 2
		}
	}
}

// --- A tiny raw status exchange (internal/wire), independent of go/protocol

// StatusRequest returns the bytes of a protocol v1 status request.
func StatusRequest(requestID uint64) []byte {
	return wire.NewStatusRequest(requestID).Msg().Bytes()
}

// Ping sends a status request over a fresh connection and checks that a
// status response (msg_type 4, status 200, same request_id) comes back.
func Ping(socketPath string, timeout time.Duration) error {
	conn, err := net.DialTimeout("unix", socketPath, timeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	const id = 0x5eed0001
	if _, err := conn.Write(StatusRequest(id)); err != nil {
		return err
	}
	b := make([]byte, wire.HeaderSize)
	if _, err := io.ReadFull(conn, b); err != nil {
		return fmt.Errorf("read status reply header: %w", err)
	}
	h, _ := wire.ParseHeader(b)
	if h.Magic != wire.Magic {
		return fmt.Errorf("status reply magic %#x", h.Magic)
	}
	if h.Type != wire.TypeStatusResponse {
		return fmt.Errorf("status reply msg_type %#x, want %#x", h.Type, wire.TypeStatusResponse)
	}
	if h.PayloadLen < wire.StatusRespFixedSize || h.PayloadLen > 4096 {
		return fmt.Errorf("status reply payload_len %d", h.PayloadLen)
	}
	p := make([]byte, h.PayloadLen)
	if _, err := io.ReadFull(conn, p); err != nil {
		return fmt.Errorf("read status reply payload: %w", err)
	}
	be := binary.BigEndian
	if got := be.Uint64(p[wire.StatusRespRequestID:]); got != id {
		return fmt.Errorf("status reply request_id %#x, want %#x", got, id)
	}
	if st := be.Uint32(p[wire.StatusRespStatus:]); st != wire.StatusOK {
		return fmt.Errorf("status reply status %d", st)
	}
	return nil
}

// --- Concurrency-safe output buffer ----------------------------------------

type syncBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	notify chan struct{} // closed and replaced on every write
}

func newSyncBuffer() *syncBuffer {
	return &syncBuffer{notify: make(chan struct{})}
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	close(b.notify)
	b.notify = make(chan struct{})
	return n, err
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// changed returns a channel closed at the next write.
func (b *syncBuffer) changed() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.notify
}
