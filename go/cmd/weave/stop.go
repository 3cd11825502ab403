package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/weave-app/weave/go/client"
)

const stopUsage = `Usage: weave stop [--timeout D]

Stops the weave-compute that serves the socket: sends it SIGTERM (its pid
comes from the kernel, SO_PEERCRED on a connection to the socket, never
from a pid file) and waits until it has exited and removed the socket. A
stopped (SIGSTOP) daemon is also sent SIGCONT so it can exit. With no
daemon running it says so and exits 0, as 'gpgconf --kill' does.

Under systemd socket activation the socket belongs to the service manager:
stop it with 'systemctl --user stop weave-compute.socket weave-compute.service'.

Flags:
  --timeout D   how long to wait for the daemon to exit (default 10s)
  -h, --help    show this help

Exit codes: 0 stopped or not running, 1 it did not exit in time or is not
a weave-compute this user may stop.
`

// stopPoll is how often weave stop looks whether the daemon is gone.
var stopPoll = 10 * time.Millisecond

// daemonProcessName is the /proc/PID/comm weave stop expects of the process
// serving the socket (a variable for tests, which serve with a fake).
var daemonProcessName = daemonName

func runStop(ctx context.Context, args []string, e *environ, stdout, stderr io.Writer) int {
	fs := newFlagSet("stop")
	timeout := 10 * time.Second
	fs.Var((*durationValue)(&timeout), "timeout", "")
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, stopUsage)
			return exitOK
		}
		return usageError(stderr, "stop", flagError(err).Error())
	}
	if len(positional) > 0 {
		return usageError(stderr, "stop", fmt.Sprintf("unexpected argument %q", positional[0]))
	}
	if timeout <= 0 {
		return usageError(stderr, "stop", fmt.Sprintf("--timeout must be positive, got %v", timeout))
	}
	h := hintContext{xdg: e.Get("XDG_RUNTIME_DIR")}
	socketPath, err := client.SocketPathFromEnv(h.xdg)
	if err != nil {
		return fail(stderr, err)
	}
	c, err := client.New(client.WithSocketPath(socketPath), client.WithConnectTimeout(statusTimeout))
	if err != nil {
		return fail(stderr, err)
	}
	peer, err := c.Peer(ctx)
	switch {
	case errors.Is(err, client.ErrDaemonNotRunning):
		fmt.Fprintln(stdout, "weave-compute is not running")
		return exitOK
	case errors.Is(err, client.ErrConnectionRefused):
		fmt.Fprintf(stdout, "weave-compute is not running (stale socket %s left by a daemon that died; the next one replaces it)\n", socketPath)
		return exitOK
	case err != nil:
		return failHint(stderr, err, h)
	}
	pid := peer.PID
	if peer.UID != os.Getuid() {
		return fail(stderr, fmt.Errorf("%s is served by pid %d of uid %d, not by this user (uid %d); not stopping it", socketPath, pid, peer.UID, os.Getuid()))
	}
	if name := processName(pid); name != daemonProcessName {
		if name == "" {
			name = "unknown"
		}
		return fail(stderr, fmt.Errorf("%s is held by pid %d (%s), not by a weave-compute; under systemd socket activation stop it with: systemctl --user stop weave-compute.socket weave-compute.service", socketPath, pid, name))
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			fmt.Fprintln(stdout, "weave-compute is not running")
			return exitOK
		}
		return fail(stderr, fmt.Errorf("cannot stop weave-compute (pid %d): %w", pid, err))
	}
	if processState(pid) == 'T' {
		// A stopped process keeps SIGTERM pending until it continues.
		_ = syscall.Kill(pid, syscall.SIGCONT)
	}
	deadline := time.Now().Add(timeout)
	for {
		if exited(pid) {
			// The daemon removes its socket before it exits; one that was
			// socket-activated leaves it to its owner.
			if _, err := os.Lstat(socketPath); err == nil {
				fmt.Fprintf(stdout, "stopped weave-compute (pid %d); the socket %s stays (it belongs to whoever activated the daemon)\n", pid, socketPath)
				return exitOK
			}
			fmt.Fprintf(stdout, "stopped weave-compute (pid %d)\n", pid)
			return exitOK
		}
		if time.Now().After(deadline) {
			return fail(stderr, fmt.Errorf("weave-compute (pid %d) did not exit within %v of SIGTERM; kill -KILL %d forces it", pid, timeout, pid))
		}
		t := time.NewTimer(stopPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return exitCode(ctx.Err())
		case <-t.C:
		}
	}
}

// exited reports whether pid has exited (or is a zombie nobody reaped
// yet).
func exited(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	return processState(pid) == 'Z'
}

// processState is the state letter of /proc/PID/stat (R, S, T, Z, ...), 0
// when unknown.
func processState(pid int) byte {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// "PID (COMM) S ...": COMM may contain spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return 0
	}
	return s[i+2]
}
