package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/weave-app/weave/go/client"
	"github.com/weave-app/weave/go/protocol"
)

const statusUsage = `Usage: weave status

Shows whether weave-compute is running, its socket, backend, protocol and
daemon versions, uptime, requests served, open connections and queue depth.
It never starts the daemon.

Exit codes: 0 running, 3 not running or not answering, 5 running but busy
(at its connection limit), 1 other failure.
`

// statusTimeout bounds the status request (the daemon answers at once).
const statusTimeout = 10 * time.Second

func runStatus(ctx context.Context, args []string, e *environ, stdout, stderr io.Writer) int {
	fs := newFlagSet("status")
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, statusUsage)
			return exitOK
		}
		return usageError(stderr, "status", err.Error())
	}
	if len(positional) > 0 {
		return usageError(stderr, "status", fmt.Sprintf("unexpected argument %q", positional[0]))
	}
	socketPath, err := client.SocketPathFromEnv(e.Get("XDG_RUNTIME_DIR"))
	if err != nil {
		return fail(stderr, err)
	}
	c, err := client.New(client.WithSocketPath(socketPath), client.WithReadTimeout(statusTimeout))
	if err != nil {
		return fail(stderr, err)
	}
	st, err := c.Status(ctx)
	if errors.Is(err, client.ErrStatusNotSupported) {
		fmt.Fprintf(stdout, "weave-compute is running\n")
		fmt.Fprintf(stdout, "  %-17s %s\n", "socket:", socketPath)
		fmt.Fprintf(stdout, "  %-17s %s\n", "status:", "not supported by this daemon ("+err.Error()+")")
		return exitOK
	}
	if err != nil {
		return fail(stderr, err)
	}
	writeStatus(stdout, socketPath, st)
	return exitOK
}

func writeStatus(w io.Writer, socketPath string, st *protocol.StatusResponse) {
	line := func(k, v string) { fmt.Fprintf(w, "  %-17s %s\n", k+":", v) }
	fmt.Fprintln(w, "weave-compute is running")
	line("socket", socketPath)
	line("backend", orUnknown(st.Backend))
	line("daemon version", orUnknown(st.DaemonVersion))
	line("protocol", fmt.Sprintf("%s (weave speaks %d)", versionRange(st.VersionMin, st.VersionMax), protocol.Version))
	line("uptime", formatUptime(time.Duration(st.UptimeMS)*time.Millisecond))
	line("requests served", fmt.Sprint(st.RequestsServed))
	line("connections", fmt.Sprintf("%d open, %d max", st.ConnectionsOpen, st.MaxConnections))
	line("queue depth", fmt.Sprint(st.QueueDepth))
}

func versionRange(lo, hi uint16) string {
	if lo == hi {
		return fmt.Sprint(lo)
	}
	return fmt.Sprintf("%d..%d", lo, hi)
}

// orUnknown returns the daemon-supplied s fit for a terminal (control
// characters and invalid UTF-8 become U+FFFD, as in the daemon's error
// messages), or "(unknown)" when empty.
func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, string(utf8.RuneError))
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return utf8.RuneError
		}
		return r
	}, s)
}

// formatUptime prints a duration rounded to seconds (milliseconds under a
// second), e.g. "2h3m4s", "850ms".
func formatUptime(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func runVersion(ctx context.Context, args []string, e *environ, stdout, stderr io.Writer) int {
	fs := newFlagSet("version")
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, versionUsage)
			return exitOK
		}
		return usageError(stderr, "version", err.Error())
	}
	if len(positional) > 0 {
		return usageError(stderr, "version", fmt.Sprintf("unexpected argument %q", positional[0]))
	}
	fmt.Fprintf(stdout, "weave %s (protocol %d, %s %s/%s)\n", version, protocol.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return exitOK
}
