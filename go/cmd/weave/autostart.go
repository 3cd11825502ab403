package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/weave-app/weave/go/client"
	"github.com/weave-app/weave/go/protocol"
	"github.com/weave-app/weave/internal/runfiles"
)

// daemonName is the daemon's binary name; daemonRunfile its runfiles path.
const (
	daemonName    = "weave-compute"
	daemonRunfile = runfiles.Workspace + "/c/daemon/weave-compute"
	// daemonExitAlreadyRunning is weave-compute's exit code when another
	// instance already serves the socket (docs/DEVELOPMENT.md).
	daemonExitAlreadyRunning = 3
)

// autostarter starts weave-compute in the background, like gpg-agent.
type autostarter struct {
	env          *environ
	stderr       io.Writer
	executable   string // os.Executable(), may be ""
	argv0        string
	readyTimeout time.Duration
}

// autostartReadyTimeout bounds the wait for a started daemon to answer.
var autostartReadyTimeout = 5 * time.Second

func newAutostarter(e *environ, stderr io.Writer) *autostarter {
	exe, err := os.Executable()
	if err != nil {
		exe = ""
	}
	return &autostarter{
		env:          e,
		stderr:       stderr,
		executable:   exe,
		argv0:        os.Args[0],
		readyTimeout: autostartReadyTimeout,
	}
}

// findDaemon returns the weave-compute binary to start, looking in order
// at $WEAVE_COMPUTE_BIN, the directory of the weave executable, weave's
// Bazel runfiles (<workspace>/c/daemon/weave-compute), and $PATH (absolute
// entries only).
func (a *autostarter) findDaemon() (string, error) {
	if p := a.env.Get("WEAVE_COMPUTE_BIN"); p != "" {
		if !isExecutableFile(p) {
			return "", fmt.Errorf("WEAVE_COMPUTE_BIN=%s is not an executable file", p)
		}
		return p, nil
	}
	var looked []string
	if a.executable != "" {
		p := filepath.Join(filepath.Dir(a.executable), daemonName)
		if isExecutableFile(p) {
			return p, nil
		}
		looked = append(looked, p)
	}
	src := runfiles.Source{Getenv: a.env.Get, Executable: a.executable, Argv0: a.argv0}
	if p, ok := src.Find(daemonRunfile); ok && isExecutableFile(p) {
		return p, nil
	}
	looked = append(looked, "runfiles")
	for _, dir := range filepath.SplitList(a.env.Get("PATH")) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue // never run a binary from a relative $PATH entry
		}
		if p := filepath.Join(dir, daemonName); isExecutableFile(p) {
			return p, nil
		}
	}
	looked = append(looked, "$PATH")
	return "", fmt.Errorf("no %s binary found (set WEAVE_COMPUTE_BIN; looked in %s)", daemonName, strings.Join(looked, ", "))
}

// closeInheritedOnExec marks every open descriptor above stderr
// close-on-exec. Descriptors Go opens already are; this catches those
// inherited from weave's parent. weave never execs anything that needs
// them.
func closeInheritedOnExec() {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	for _, name := range names {
		fd, err := strconv.Atoi(name)
		if err != nil || fd <= 2 {
			continue
		}
		syscall.CloseOnExec(fd)
	}
}

func isExecutableFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// start starts weave-compute and waits until it answers a status request.
// cause is the error that showed the daemon is not running.
func (a *autostarter) start(ctx context.Context, socketPath string, cause error) error {
	bin, err := a.findDaemon()
	if err != nil {
		return &daemonUnavailableError{msg: fmt.Sprintf("%v; cannot start it: %v", cause, err), err: cause}
	}
	xdg := a.env.Get("XDG_RUNTIME_DIR")
	if xdg == "" {
		return client.ErrXDGNotSet
	}
	dir := filepath.Join(xdg, client.SocketDirName)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return &daemonUnavailableError{msg: fmt.Sprintf("%v; cannot start %s: %v", cause, daemonName, err), err: cause}
	}
	logPath := filepath.Join(dir, client.LogName)
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return &daemonUnavailableError{msg: fmt.Sprintf("%v; cannot open the daemon log: %v", cause, err), err: cause}
	}
	logStart, _ := logf.Seek(0, io.SeekEnd)
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		logf.Close()
		return fmt.Errorf("open %s: %w", os.DevNull, err)
	}
	cmd := exec.Command(bin)
	cmd.Env = a.env.List()
	cmd.Dir = "/"
	cmd.Stdin = devnull
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	// os/exec passes the child stdin, stdout and stderr, but also every
	// descriptor weave itself inherited without close-on-exec (a pipe of
	// the shell or test harness that ran weave, a jobserver fd, ...). The
	// long-lived daemon would hold such a pipe open, and whoever waits
	// for its EOF would hang until the daemon exits.
	closeInheritedOnExec()
	err = cmd.Start()
	logf.Close()
	devnull.Close()
	if err != nil {
		return &daemonUnavailableError{msg: fmt.Sprintf("%v; cannot start %s: %v", cause, bin, err), err: cause}
	}
	pid := cmd.Process.Pid

	// Reap the child if it exits while we wait; if weave exits first, the
	// daemon (in its own session) is simply reparented.
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	serving, err := a.waitReady(ctx, socketPath, pid, exited, logPath, logStart)
	if err != nil {
		return err
	}
	// Several weave started at once each start a daemon; one wins the
	// socket and the others exit. Only the winner's starter says so.
	if serving == pid {
		fmt.Fprintf(a.stderr, "started %s (pid %d)\n", daemonName, pid)
	}
	return nil
}

// waitReady polls the socket with status requests (backoff 5 ms doubling to
// 200 ms) until a daemon answers or readyTimeout passes. It returns the pid
// of the daemon that answered (SO_PEERCRED), which is not pid when another
// weave's daemon won the race for the socket.
func (a *autostarter) waitReady(ctx context.Context, socketPath string, pid int, exited <-chan error, logPath string, logStart int64) (int, error) {
	c, err := client.New(client.WithSocketPath(socketPath),
		client.WithConnectTimeout(time.Second), client.WithReadTimeout(2*time.Second))
	if err != nil {
		return 0, err
	}
	deadline := time.Now().Add(a.readyTimeout)
	backoff := 5 * time.Millisecond
	lostRace := false
	var lastErr error
	for {
		_, peer, err := c.StatusWithPeer(ctx)
		if answered(err) {
			if peer == nil {
				return 0, nil
			}
			return peer.PID, nil
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return 0, ctxErr
		}
		lastErr = err
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		if backoff > left {
			backoff = left
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, ctx.Err()
		case werr := <-exited:
			t.Stop()
			exited = nil
			var ee *exec.ExitError
			if errors.As(werr, &ee) && ee.ExitCode() == daemonExitAlreadyRunning {
				// Another weave-compute won the race for the socket: it
				// will answer.
				lostRace = true
				continue
			}
			return 0, &daemonUnavailableError{
				msg: fmt.Sprintf("%s (pid %d) %s before it was ready%s",
					daemonName, pid, describeExit(werr), logFirstError(logPath, logStart)),
				err: lastErr,
			}
		case <-t.C:
		}
		backoff *= 2
		if backoff > 200*time.Millisecond {
			backoff = 200 * time.Millisecond
		}
	}
	what := fmt.Sprintf("%s (pid %d)", daemonName, pid)
	if lostRace {
		what = fmt.Sprintf("another %s (pid %d exited: already running)", daemonName, pid)
	}
	return 0, &daemonUnavailableError{
		msg: fmt.Sprintf("%s did not become ready within %v (last error: %v)%s",
			what, a.readyTimeout, lastErr, logFirstError(logPath, logStart)),
		err: lastErr,
	}
}

// answered reports whether a status call got an answer from a daemon (an
// error reply counts: the daemon is up).
func answered(err error) bool {
	if err == nil || errors.Is(err, client.ErrStatusNotSupported) {
		return true
	}
	var er *protocol.ErrorResponse
	return errors.As(err, &er)
}

func describeExit(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return fmt.Sprintf("was killed by signal %v", ws.Signal())
		}
		return fmt.Sprintf("exited with status %d", ee.ExitCode())
	}
	if err == nil {
		return "exited with status 0"
	}
	return fmt.Sprintf("failed: %v", err)
}

// logFirstError returns the first error line the daemon wrote to its log
// since logStart (its cause, not the usage text that may follow), and where
// the log is, formatted for the end of an error message.
func logFirstError(logPath string, logStart int64) string {
	f, err := os.Open(logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	const maxRead = 64 << 10
	end, err := f.Seek(0, io.SeekEnd)
	if err != nil || end <= logStart {
		return "; log: " + logPath
	}
	n := end - logStart
	if n > maxRead {
		n = maxRead
	}
	buf := make([]byte, n)
	got, _ := f.ReadAt(buf, logStart)
	text := string(bytes.ToValidUTF8(buf[:got], []byte("?")))
	var first, firstAny string
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if firstAny == "" {
			firstAny = l
		}
		// "weave-compute: REASON" (startup errors) or an ERROR log line.
		if strings.HasPrefix(l, daemonName+": ") || strings.Contains(l, " ERROR ") {
			first = l
			break
		}
	}
	if first == "" {
		first = firstAny
	}
	if first == "" {
		return "; log: " + logPath
	}
	if len(first) > 300 {
		first = first[:300] + "..."
	}
	return fmt.Sprintf(": %s (log: %s)", first, logPath)
}
