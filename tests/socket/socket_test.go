// Package socket_test checks the daemon's socket life cycle and the client's
// connection errors against the real weave-compute binary: missing and stale
// sockets, signals, unsafe paths and permissions, XDG_RUNTIME_DIR handling,
// and two daemons racing for one socket.
package socket_test

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/weave-app/weave/go/client"
	"github.com/weave-app/weave/tests/internal/daemontest"
)

const exitTimeout = 5 * time.Second

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// TestDaemonNotRunning: no socket file → ErrDaemonNotRunning with the exact
// text, for a client that derives the path from XDG_RUNTIME_DIR.
func TestDaemonNotRunning(t *testing.T) {
	dir := daemontest.RuntimeDir(t)
	t.Setenv("XDG_RUNTIME_DIR", dir)
	c, err := client.New(client.WithConnectTimeout(time.Second))
	require.NoError(t, err)
	require.Equal(t, daemontest.SocketPath(dir), c.SocketPath())

	_, err = c.Status(daemontest.Context(t))
	daemontest.RequireSentinelText(t, err, client.ErrDaemonNotRunning, "weave-compute daemon not running (socket not found)")
	assert.True(t, client.IsUnavailable(err))

	// The weave directory exists but the socket does not: same answer.
	require.NoError(t, os.Mkdir(filepath.Join(dir, "weave"), 0o700))
	_, err = c.Status(daemontest.Context(t))
	daemontest.RequireSentinelText(t, err, client.ErrDaemonNotRunning, "weave-compute daemon not running (socket not found)")
}

// bindStaleSocket leaves a socket file at path with no listener behind it,
// which is what a SIGKILLed daemon leaves.
func bindStaleSocket(t *testing.T, path string) {
	t.Helper()
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	require.NoError(t, err)
	l.SetUnlinkOnClose(false)
	require.NoError(t, l.Close())
	st, err := os.Lstat(path)
	require.NoError(t, err)
	require.True(t, st.Mode()&os.ModeSocket != 0)
}

// TestStaleSocketRefused: a socket file nobody listens on →
// ErrConnectionRefused with the exact text.
func TestStaleSocketRefused(t *testing.T) {
	dir := daemontest.RuntimeDir(t)
	require.NoError(t, os.Mkdir(filepath.Join(dir, "weave"), 0o700))
	sock := daemontest.SocketPath(dir)
	bindStaleSocket(t, sock)

	_, err := daemontest.NewClient(t, sock, client.WithConnectTimeout(time.Second)).Status(daemontest.Context(t))
	daemontest.RequireSentinelText(t, err, client.ErrConnectionRefused, "weave-compute daemon not accepting connections")
	assert.True(t, client.IsUnavailable(err))
}

// TestStaleSocketReplacedAfterSIGKILL: a daemon killed with SIGKILL leaves
// its socket; the next daemon detects it is stale, replaces it and serves.
func TestStaleSocketReplacedAfterSIGKILL(t *testing.T) {
	d1 := daemontest.Start(t, daemontest.Options{})
	require.NoError(t, syscall.Kill(d1.Pid, syscall.SIGKILL))
	_, err := d1.WaitExit(exitTimeout)
	require.Error(t, err, "SIGKILL must kill the daemon")
	<-d1.Done()
	require.True(t, exists(d1.SocketPath), "a SIGKILLed daemon cannot remove its socket")

	_, err = daemontest.NewClient(t, d1.SocketPath, client.WithConnectTimeout(time.Second)).Status(daemontest.Context(t))
	daemontest.RequireSentinelText(t, err, client.ErrConnectionRefused, "weave-compute daemon not accepting connections")

	d2 := daemontest.Start(t, daemontest.Options{RuntimeDir: d1.RuntimeDir})
	st, err := daemontest.NewClient(t, d2.SocketPath).Status(daemontest.Context(t))
	require.NoError(t, err)
	assert.EqualValues(t, 200, st.Status)

	code, err := d2.Stop()
	require.NoError(t, err)
	assert.Equal(t, 0, code)
	assert.False(t, exists(d2.SocketPath), "socket removed on SIGTERM")
}

// TestStaleSocketFromOtherProcessReplaced: same, with a stale socket bound
// by another program (not a daemon) before the daemon ever ran.
func TestStaleSocketFromOtherProcessReplaced(t *testing.T) {
	dir := daemontest.RuntimeDir(t)
	require.NoError(t, os.Mkdir(filepath.Join(dir, "weave"), 0o700))
	bindStaleSocket(t, daemontest.SocketPath(dir))
	d := daemontest.Start(t, daemontest.Options{RuntimeDir: dir})
	_, err := daemontest.NewClient(t, d.SocketPath).Status(daemontest.Context(t))
	require.NoError(t, err)
}

// TestShutdownSignalsCleanUp: SIGTERM and SIGINT each make the daemon remove
// its socket and lock file and exit 0.
func TestShutdownSignalsCleanUp(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		sig := sig
		t.Run(sig.String(), func(t *testing.T) {
			d := daemontest.Start(t, daemontest.Options{})
			require.True(t, exists(d.SocketPath))
			require.True(t, exists(d.LockPath), "lock file %s while running", d.LockPath)

			require.NoError(t, d.Signal(sig))
			code, err := d.WaitExit(exitTimeout)
			require.NoError(t, err)
			assert.Equal(t, 0, code, "exit code after %v", sig)
			assert.False(t, exists(d.SocketPath), "socket must be removed after %v", sig)
			assert.False(t, exists(d.LockPath), "lock must be removed after %v", sig)
			// The directory itself stays (it may be shared with later runs).
			assert.True(t, exists(filepath.Dir(d.SocketPath)))

			_, err = daemontest.NewClient(t, d.SocketPath).Status(daemontest.Context(t))
			daemontest.RequireSentinelText(t, err, client.ErrDaemonNotRunning, "weave-compute daemon not running (socket not found)")
		})
	}
}

// TestNonSocketAtPathLeftAlone: a regular file or a directory where the
// socket should be is not removed; the daemon exits 1.
func TestNonSocketAtPathLeftAlone(t *testing.T) {
	t.Run("regular file", func(t *testing.T) {
		dir := daemontest.RuntimeDir(t)
		require.NoError(t, os.Mkdir(filepath.Join(dir, "weave"), 0o700))
		sock := daemontest.SocketPath(dir)
		content := []byte("precious user data\n")
		require.NoError(t, os.WriteFile(sock, content, 0o600))

		d := daemontest.StartProcess(t, daemontest.Options{RuntimeDir: dir})
		code, err := d.WaitExit(exitTimeout)
		require.NoError(t, err)
		assert.Equal(t, 1, code)
		got, err := os.ReadFile(sock)
		require.NoError(t, err, "the file must still be there")
		assert.Equal(t, content, got, "the file must be intact")
		st, err := os.Lstat(sock)
		require.NoError(t, err)
		assert.True(t, st.Mode().IsRegular())
	})
	t.Run("directory", func(t *testing.T) {
		dir := daemontest.RuntimeDir(t)
		require.NoError(t, os.Mkdir(filepath.Join(dir, "weave"), 0o700))
		sock := daemontest.SocketPath(dir)
		require.NoError(t, os.Mkdir(sock, 0o700))
		marker := filepath.Join(sock, "keep")
		require.NoError(t, os.WriteFile(marker, []byte("x"), 0o600))

		d := daemontest.StartProcess(t, daemontest.Options{RuntimeDir: dir})
		code, err := d.WaitExit(exitTimeout)
		require.NoError(t, err)
		assert.Equal(t, 1, code)
		st, err := os.Lstat(sock)
		require.NoError(t, err, "the directory must still be there")
		assert.True(t, st.IsDir())
		assert.True(t, exists(marker), "the directory's content must be intact")
	})
}

// TestXDGRuntimeDirUnsetDaemon: without XDG_RUNTIME_DIR the daemon exits 1
// with the contract's message on stderr.
func TestXDGRuntimeDirUnsetDaemon(t *testing.T) {
	d := daemontest.StartProcess(t, daemontest.Options{NoXDG: true})
	code, err := d.WaitExit(exitTimeout)
	require.NoError(t, err)
	assert.Equal(t, 1, code)
	assert.Contains(t, d.Stderr(), "weave-compute: XDG_RUNTIME_DIR not set")
}

// TestXDGRuntimeDirEmptyDaemon: an empty XDG_RUNTIME_DIR counts as unset.
func TestXDGRuntimeDirEmptyDaemon(t *testing.T) {
	d := daemontest.StartProcess(t, daemontest.Options{NoXDG: true, Env: []string{"XDG_RUNTIME_DIR="}})
	code, err := d.WaitExit(exitTimeout)
	require.NoError(t, err)
	assert.Equal(t, 1, code)
	assert.Contains(t, d.Stderr(), "XDG_RUNTIME_DIR not set")
}

// TestXDGRuntimeDirUnsetClient: the client returns ErrXDGNotSet, whose text
// is exactly "XDG_RUNTIME_DIR not set", for unset and empty values.
func TestXDGRuntimeDirUnsetClient(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", "") // restored after the test
	require.NoError(t, os.Unsetenv("XDG_RUNTIME_DIR"))
	_, err := client.New()
	require.Error(t, err)
	assert.True(t, errors.Is(err, client.ErrXDGNotSet))
	assert.Equal(t, "XDG_RUNTIME_DIR not set", err.Error())

	_, err = client.SocketPath()
	assert.True(t, errors.Is(err, client.ErrXDGNotSet))

	t.Setenv("XDG_RUNTIME_DIR", "")
	_, err = client.New()
	require.Error(t, err)
	assert.True(t, errors.Is(err, client.ErrXDGNotSet))
	assert.Equal(t, "XDG_RUNTIME_DIR not set", err.Error())
}

// TestSocketAndDirectoryPermissions: the daemon creates the weave directory
// 0700 and the socket 0600, both owned by the daemon's user.
func TestSocketAndDirectoryPermissions(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{})
	sdir := filepath.Dir(d.SocketPath)

	st, err := os.Lstat(sdir)
	require.NoError(t, err)
	assert.True(t, st.IsDir())
	assert.Equal(t, os.FileMode(0o700), st.Mode().Perm(), "weave dir mode")
	assert.EqualValues(t, os.Getuid(), st.Sys().(*syscall.Stat_t).Uid)

	st, err = os.Lstat(d.SocketPath)
	require.NoError(t, err)
	assert.True(t, st.Mode()&os.ModeSocket != 0, "weave.sock is a socket")
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "socket mode")
	assert.EqualValues(t, os.Getuid(), st.Sys().(*syscall.Stat_t).Uid)
}

// TestSocketPermissionsUnderLooseUmask: a umask of 0 must not loosen the
// directory or the socket.
func TestSocketPermissionsUnderLooseUmask(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	d := daemontest.StartProcess(t, daemontest.Options{})
	syscall.Umask(old)
	require.NoError(t, d.WaitReady(daemontest.ReadyTimeout))

	st, err := os.Lstat(filepath.Dir(d.SocketPath))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), st.Mode().Perm(), "weave dir mode under umask 0")
	st, err = os.Lstat(d.SocketPath)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "socket mode under umask 0")
}

// TestLooseDirectoryRefused: a pre-existing weave directory with mode 0755
// is refused (exit 1), and left as it was.
func TestLooseDirectoryRefused(t *testing.T) {
	dir := daemontest.RuntimeDir(t)
	sdir := filepath.Join(dir, "weave")
	require.NoError(t, os.Mkdir(sdir, 0o700))
	require.NoError(t, os.Chmod(sdir, 0o755))

	d := daemontest.StartProcess(t, daemontest.Options{RuntimeDir: dir})
	code, err := d.WaitExit(exitTimeout)
	require.NoError(t, err)
	assert.Equal(t, 1, code)
	assert.False(t, exists(daemontest.SocketPath(dir)), "no socket in an unsafe directory")
	st, err := os.Lstat(sdir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755), st.Mode().Perm(), "directory left as it was")
}

// TestSymlinkedDirectoryRefused: $XDG_RUNTIME_DIR/weave being a symlink (even
// to a safe 0700 directory) is refused (exit 1).
func TestSymlinkedDirectoryRefused(t *testing.T) {
	dir := daemontest.RuntimeDir(t)
	target := filepath.Join(dir, "elsewhere")
	require.NoError(t, os.Mkdir(target, 0o700))
	require.NoError(t, os.Symlink(target, filepath.Join(dir, "weave")))

	d := daemontest.StartProcess(t, daemontest.Options{RuntimeDir: dir})
	code, err := d.WaitExit(exitTimeout)
	require.NoError(t, err)
	assert.Equal(t, 1, code)
	assert.False(t, exists(filepath.Join(target, "weave.sock")), "no socket through the symlink")
	fi, err := os.Lstat(filepath.Join(dir, "weave"))
	require.NoError(t, err)
	assert.True(t, fi.Mode()&os.ModeSymlink != 0, "symlink left as it was")
}

// TestSecondDaemonExits3: a daemon started while another serves the socket
// exits 3 and does not disturb the first one.
func TestSecondDaemonExits3(t *testing.T) {
	d1 := daemontest.Start(t, daemontest.Options{})
	d2 := daemontest.StartProcess(t, daemontest.Options{RuntimeDir: d1.RuntimeDir})
	code, err := d2.WaitExit(exitTimeout)
	require.NoError(t, err)
	assert.Equal(t, 3, code)

	require.NoError(t, daemontest.Ping(d1.SocketPath, 2*time.Second), "first daemon still serves")
	require.False(t, d1.Exited())
	assert.True(t, exists(d1.LockPath), "the loser must not remove the winner's lock")
}

// TestTwoDaemonsRace: two daemons started at the same moment on one
// directory: exactly one serves, the other exits 3, the socket keeps
// working.
func TestTwoDaemonsRace(t *testing.T) {
	const rounds = 3
	for i := 0; i < rounds; i++ {
		dir := daemontest.RuntimeDir(t)
		a := daemontest.StartProcess(t, daemontest.Options{RuntimeDir: dir})
		b := daemontest.StartProcess(t, daemontest.Options{RuntimeDir: dir})

		var loser, winner *daemontest.Daemon
		select {
		case <-a.Done():
			loser, winner = a, b
		case <-b.Done():
			loser, winner = b, a
		case <-time.After(exitTimeout):
			t.Fatalf("round %d: neither daemon exited within %v (both serving?)", i, exitTimeout)
		}
		code, err := loser.WaitExit(0)
		require.NoError(t, err)
		require.Equal(t, 3, code, "round %d: the loser exits 3; output:\n%s", i, loser.Stderr())
		require.NoError(t, winner.WaitReady(daemontest.ReadyTimeout), "round %d: the winner serves", i)
		require.False(t, winner.Exited())
		for j := 0; j < 3; j++ {
			require.NoError(t, daemontest.Ping(winner.SocketPath, 2*time.Second))
		}
		code, err = winner.Stop()
		require.NoError(t, err)
		require.Equal(t, 0, code)
	}
}

var logLine = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z weave-compute\[(\d+)\] (DEBUG|INFO|WARN|ERROR) (.+)$`)

// TestLogFormatAndListeningLine: every daemon log line has the contract's
// format with the daemon's pid, and INFO "listening on PATH" is printed.
func TestLogFormatAndListeningLine(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{Args: []string{"--log-level=debug"}})
	d.MustWaitForLog(regexp.MustCompile(` INFO listening on `+regexp.QuoteMeta(d.SocketPath)+`$`), 5*time.Second)
	require.NoError(t, daemontest.Ping(d.SocketPath, 2*time.Second))
	code, err := d.Stop()
	require.NoError(t, err)
	require.Equal(t, 0, code)
	lines := d.Logs()
	require.NotEmpty(t, lines)
	for _, l := range lines {
		m := logLine.FindStringSubmatch(l)
		if assert.NotNil(t, m, "log line not in the contract format: %q", l) {
			assert.Equal(t, strconv.Itoa(d.Pid), m[1], "pid in %q", l)
		}
	}
}

// TestLogLevelFromEnvironment: WEAVE_LOG_LEVEL=error hides the INFO
// listening line; --log-level wins over the variable.
func TestLogLevelFromEnvironment(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{Env: []string{"WEAVE_LOG_LEVEL=error"}})
	code, err := d.Stop()
	require.NoError(t, err)
	require.Equal(t, 0, code)
	assert.NotContains(t, d.Stderr(), "INFO", "WEAVE_LOG_LEVEL=error must hide INFO lines")

	d = daemontest.Start(t, daemontest.Options{Env: []string{"WEAVE_LOG_LEVEL=error"}, Args: []string{"--log-level=info"}})
	d.MustWaitForLog(regexp.MustCompile(` INFO listening on `), 5*time.Second)
}

// TestUsageErrorExits2: an unknown flag is a usage error (exit 2).
func TestUsageErrorExits2(t *testing.T) {
	for _, args := range [][]string{{"--no-such-flag"}, {"--log-level=loud"}, {"--read-timeout-ms=abc"}} {
		d := daemontest.StartProcess(t, daemontest.Options{Args: args})
		code, err := d.WaitExit(exitTimeout)
		require.NoError(t, err)
		assert.Equal(t, 2, code, "args %q", args)
		assert.False(t, exists(d.SocketPath), "args %q: no socket on a usage error", args)
	}
}
