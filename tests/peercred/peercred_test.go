// Package peercred_test checks SO_PEERCRED authentication against the real
// daemon: a client running as another user (uid 65534) is rejected without
// a byte, logged once at DEBUG and never above.
//
// It needs root to start the other-user client, and no user namespace that
// maps only root: Bazel's linux-sandbox is such a namespace, so the target
// is tagged "no-sandbox".
package peercred_test

import (
	"bytes"
	"context"
	"errors"
	"github.com/weave-app/weave/internal/testutil"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/weave-app/weave/tests/internal/daemontest"
)

const nobody = 65534

func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// runAsOtherUser runs this test binary in peer-helper mode as uid/gid 65534
// against sock and returns the helper's pid and its one-line report. The
// socket path is made reachable for the other user only for the duration of
// the call (the daemon checks its directory at start, not later).
func runAsOtherUser(t *testing.T, d *daemontest.Daemon) (int, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("SKIP: running a client as uid %d needs root (this test runs as uid %d); "+
			"CI runs as root, where this test is not skipped", nobody, os.Geteuid())
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	// The test binary lives under a 0700 directory (Bazel's output base in
	// /root); the other user gets a copy it can execute.
	hdir := testutil.ShortTempDir(t)
	require.NoError(t, os.Chmod(hdir, 0o755))
	helper := filepath.Join(hdir, "peer-helper")
	copyFile(t, exe, helper, 0o755)

	// Temporarily let the other user reach the socket.
	paths := []struct {
		p    string
		mode os.FileMode
	}{{d.RuntimeDir, 0o711}, {filepath.Dir(d.SocketPath), 0o711}, {d.SocketPath, 0o666}}
	for _, e := range paths {
		st, err := os.Lstat(e.p)
		require.NoError(t, err)
		old := st.Mode().Perm()
		require.NoError(t, os.Chmod(e.p, e.mode))
		p := e.p
		defer func() { require.NoError(t, os.Chmod(p, old)) }()
	}

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, helper)
	cmd.Dir = hdir
	cmd.Env = []string{envPeerHelper + "=" + d.SocketPath, "PATH=/usr/bin:/bin"}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}},
		Pdeathsig:  syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		// Root, but the kernel refuses the switch (e.g. a user namespace
		// that maps only uid 0).
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EINVAL) {
			t.Skipf("SKIP: cannot start a process as uid %d here (%v): this environment maps no other user", nobody, err)
		}
		require.NoError(t, err)
	}
	pid := cmd.Process.Pid
	err = cmd.Wait()
	require.NoError(t, err, "peer helper failed: stdout %q stderr %q", out.String(), errOut.String())
	return pid, strings.TrimSpace(out.String())
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(src)
	require.NoError(t, err)
	defer in.Close()
	o, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	require.NoError(t, err)
	_, err = io.Copy(o, in)
	require.NoError(t, err)
	require.NoError(t, o.Close())
	require.NoError(t, os.Chmod(dst, mode))
}

var helperReport = regexp.MustCompile(`^uid=(\d+) bytes=(\d+) end=(\S+) write=`)

// checkRejectedSilently asserts that the helper (another UID) got no byte
// back and saw the connection closed (not a timeout).
func checkRejectedSilently(t *testing.T, report string) {
	t.Helper()
	m := helperReport.FindStringSubmatch(report)
	require.NotNil(t, m, "helper report %q", report)
	assert.Equal(t, strconv.Itoa(nobody), m[1], "the helper ran as the other user")
	assert.Equal(t, "0", m[2], "a rejected client must receive no bytes")
	assert.Contains(t, []string{"eof", "reset"}, m[3], "the daemon must close the connection at once (report %q)", report)
}

// mentionsRejection reports whether a log line talks about the rejected
// client.
func mentionsRejection(line string, pid int) bool {
	l := strings.ToLower(line)
	return strings.Contains(l, "reject") || strings.Contains(l, "uid=65534") || strings.Contains(l, " 65534") ||
		regexp.MustCompile(`pid=`+strconv.Itoa(pid)+`\b`).MatchString(l) ||
		strings.Contains(l, "denied") || strings.Contains(l, "unauthori")
}

// TestOtherUIDRejectedAtDebug: a client running as another UID gets no byte
// back; the daemon logs exactly one DEBUG line
// "rejected connection from uid=65534 pid=<helper pid>" and nothing at
// INFO/WARN/ERROR about it, and keeps serving.
func TestOtherUIDRejectedAtDebug(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{Args: []string{"--log-level=debug"}})
	pid, report := runAsOtherUser(t, d)
	checkRejectedSilently(t, report)

	want := regexp.MustCompile(` DEBUG .*rejected connection from uid=65534 pid=` + strconv.Itoa(pid) + `(\D|$)`)
	d.MustWaitForLog(want, 5*time.Second)
	require.NoError(t, daemontest.Ping(d.SocketPath, 2*time.Second), "daemon keeps serving its own user")

	code, err := d.Stop() // all output captured after this
	require.NoError(t, err)
	require.Equal(t, 0, code)
	n := 0
	for _, l := range d.Logs() {
		if strings.Contains(l, "rejected connection") {
			n++
			assert.Regexp(t, want, l)
		}
		if !strings.Contains(l, " DEBUG ") {
			assert.False(t, mentionsRejection(l, pid), "INFO/WARN/ERROR line about the rejected client: %q", l)
		}
	}
	assert.Equal(t, 1, n, "exactly one rejection line; log:\n%s", d.Stderr())
}

// TestOtherUIDRejectedSilentAtInfo: at --log-level=info the rejection leaves
// no trace in the log at all.
func TestOtherUIDRejectedSilentAtInfo(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{Args: []string{"--log-level=info"}})
	pid, report := runAsOtherUser(t, d)
	checkRejectedSilently(t, report)
	require.NoError(t, daemontest.Ping(d.SocketPath, 2*time.Second))

	code, err := d.Stop()
	require.NoError(t, err)
	require.Equal(t, 0, code)
	for _, l := range d.Logs() {
		assert.False(t, mentionsRejection(l, pid), "log line about the rejected client at info level: %q", l)
		assert.NotContains(t, l, " DEBUG ", "no DEBUG line at --log-level=info")
	}
}

// TestOtherUIDCannotDisturbService: a rejected connection in the middle of
// normal traffic does not change what the daemon's own user gets.
func TestOtherUIDCannotDisturbService(t *testing.T) {
	d := daemontest.Start(t, daemontest.Options{})
	c := d.Client(t)
	before, err := c.Status(daemontest.Context(t))
	require.NoError(t, err)
	_, report := runAsOtherUser(t, d)
	checkRejectedSilently(t, report)
	after, err := c.Status(daemontest.Context(t))
	require.NoError(t, err)
	// A rejected connection is not a served request: only our own status
	// request counts between the two.
	assert.Equal(t, before.RequestsServed+1, after.RequestsServed,
		"requests_served must count replies only (the rejected client got none)")
}
