package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/weave-app/weave/go/client"
	"github.com/weave-app/weave/go/protocol"
)

// busyError means the daemon kept answering "server busy" (500 / code 14)
// until the command's deadline: a temporary condition, exit 3.
type busyError struct {
	last  error // the last busy reply
	after string
}

func (e *busyError) Error() string {
	detail := "server busy"
	var er *protocol.ErrorResponse
	if errors.As(e.last, &er) && er.Message != "" {
		detail = orUnknown(er.Message)
	}
	return fmt.Sprintf("weave-compute daemon is busy: still answering %q after %s", detail, e.after)
}
func (e *busyError) Unwrap() error { return e.last }

// hintContext is what the hints may mention.
type hintContext struct {
	xdg         string // $XDG_RUNTIME_DIR
	noAutostart bool   // generate --no-autostart was given
}

// errorHint returns the lines printed after "weave: MESSAGE" that say how
// to fix err ("" when there is nothing to add), like docker's "Is the
// docker daemon running?".
func errorHint(err error, h hintContext) string {
	var b strings.Builder
	// cmd prints one command to run and what it does, aligned.
	cmd := func(command, why string) { fmt.Fprintf(&b, "  %-44s (%s)\n", command, why) }
	start := func() {
		cmd("weave-compute &", "in the background, or in another terminal")
		cmd("systemctl --user start weave-compute.socket", "when its systemd units are installed")
	}
	var be *busyError
	var du *daemonUnavailableError
	switch {
	case errors.As(err, &du):
		// An autostart that failed: its message names the cause and the log.
	case errors.Is(err, client.ErrSocketPathTooLong):
		fmt.Fprintf(&b, "The socket path is $XDG_RUNTIME_DIR (%d bytes) plus /%s/%s; a Unix socket address holds %d bytes.\n",
			len(h.xdg), client.SocketDirName, client.SocketName, client.MaxSocketPathLen)
		fmt.Fprintln(&b, "Use a shorter XDG_RUNTIME_DIR, for example:")
		fmt.Fprintln(&b, "  export XDG_RUNTIME_DIR=$(mktemp -d /tmp/xdg.XXXXXX)")
	case errors.Is(err, client.ErrV1Only):
		fmt.Fprintf(&b, "This weave-compute sends at most %d pixels (e.g. %dx%d or 2048x1664): ask for less, or update weave-compute.\n",
			maxPixels, protocol.MaxSquareDimension, protocol.MaxSquareDimension)
	case errors.Is(err, client.ErrDaemonNotRunning):
		fmt.Fprintln(&b, "Is weave-compute running? Start it with one of:")
		if h.noAutostart {
			cmd("weave generate PROMPT", "without --no-autostart, it starts one when needed")
		} else {
			cmd("weave generate PROMPT", "starts one when needed")
		}
		start()
	case errors.Is(err, client.ErrConnectionRefused):
		fmt.Fprintln(&b, "The weave-compute that created this socket has died (killed or crashed) and left it behind.")
		if h.xdg != "" {
			fmt.Fprintf(&b, "Its log may say why: %s\n", filepath.Join(h.xdg, client.SocketDirName, client.LogName))
		}
		fmt.Fprintln(&b, "Restart it (a new daemon replaces the stale socket) with one of:")
		cmd("weave generate PROMPT", "starts one when needed")
		start()
	case errors.Is(err, client.ErrNotResponding):
		pid := 0
		var ce *client.Error
		if errors.As(err, &ce) {
			pid = ce.PeerPID
		}
		if pid > 0 {
			fmt.Fprintf(&b, "weave-compute (pid %d) is not responding: it is stopped (kill -STOP, Ctrl-Z) or wedged.\n", pid)
			cmd(fmt.Sprintf("ps -o pid,stat,cmd -p %d", pid), fmt.Sprintf("state T is stopped; kill -CONT %d resumes it", pid))
		} else {
			fmt.Fprintln(&b, "weave-compute is not responding: it is stopped (kill -STOP, Ctrl-Z) or wedged.")
		}
		cmd("weave stop", "stops it; then start it again")
	case errors.As(err, &be):
		fmt.Fprintln(&b, "It is at its limit of connections or queued images; try again in a moment ('weave status' shows both).")
	}
	return b.String()
}
