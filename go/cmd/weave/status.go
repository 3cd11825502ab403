package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/weave-app/weave/go/client"
	"github.com/weave-app/weave/go/protocol"
)

const statusUsage = `Usage: weave status [--json] [--timeout D]

Shows whether weave-compute is running, its pid, socket, backend (and, from
a daemon that speaks protocol 2, the backend's worker process: loaded or
not, its pid, restarts and the last crash), protocol and daemon versions,
uptime, requests served, open connections, queue depth and, when the daemon
reports them, the images generated and their mean generation time. It
never starts the daemon.

Flags:
  --json        print one JSON object on stdout: running, pid, socket,
                daemon_version, protocol {min, max}, uptime_ms,
                requests_served, connections_open, max_connections,
                queue_depth, backend (and "error" when not running); from a
                daemon that speaks protocol 2 also features, backend_state
                (unloaded, starting, loaded, restarting), worker_pid (0:
                none), worker_restarts, jobs_running and last_crash, and,
                when the daemon sends them, generations (images the backend
                finished since it started) and generation_us (the sum of
                their generation times in microseconds; both wrap at 2^64)
  --timeout D   how long to wait for an answer (default 2s); a daemon that
                says nothing in that time "is not responding"
  -h, --help    show this help

Exit codes: 0 running, 3 not running, not responding or still busy at the
deadline, 1 other failure.
`

// statusTimeout bounds weave status: a healthy daemon answers at once, so
// silence for this long means it is stopped or wedged.
const statusTimeout = 2 * time.Second

// statusJSON is the object of weave status --json. New status fields are
// one line each here (and one in statusFields).
type statusJSON struct {
	Running         bool          `json:"running"`
	PID             int           `json:"pid,omitempty"`
	Socket          string        `json:"socket"`
	DaemonVersion   string        `json:"daemon_version,omitempty"`
	Protocol        *protocolJSON `json:"protocol,omitempty"`
	UptimeMS        *uint64       `json:"uptime_ms,omitempty"`
	RequestsServed  *uint64       `json:"requests_served,omitempty"`
	ConnectionsOpen *uint32       `json:"connections_open,omitempty"`
	MaxConnections  *uint32       `json:"max_connections,omitempty"`
	QueueDepth      *uint32       `json:"queue_depth,omitempty"`
	Backend         string        `json:"backend,omitempty"`
	// Protocol 2 (SPEC 11.6) only.
	Features       []string `json:"features,omitempty"`
	BackendState   string   `json:"backend_state,omitempty"`
	WorkerPID      *uint32  `json:"worker_pid,omitempty"`
	WorkerRestarts *uint32  `json:"worker_restarts,omitempty"`
	JobsRunning    *uint32  `json:"jobs_running,omitempty"`
	LastCrash      *string  `json:"last_crash,omitempty"`
	// SPEC 11.6's optional pair: only when the daemon sends it.
	Generations  *uint64 `json:"generations,omitempty"`
	GenerationUS *uint64 `json:"generation_us,omitempty"`
	Error        string  `json:"error,omitempty"`
}

type protocolJSON struct {
	Min uint16 `json:"min"`
	Max uint16 `json:"max"`
}

// statusFields fills in the fields of a status reply.
func (j *statusJSON) statusFields(st *protocol.StatusResponse) {
	j.DaemonVersion = st.DaemonVersion
	j.Protocol = &protocolJSON{Min: st.VersionMin, Max: st.VersionMax}
	j.UptimeMS = &st.UptimeMS
	j.RequestsServed = &st.RequestsServed
	j.ConnectionsOpen = &st.ConnectionsOpen
	j.MaxConnections = &st.MaxConnections
	j.QueueDepth = &st.QueueDepth
	j.Backend = st.Backend
	if v2 := st.V2; v2 != nil {
		j.Features = featureNames(v2.Features)
		j.BackendState = backendStateName(v2.BackendState)
		j.WorkerPID = &v2.WorkerPID
		j.WorkerRestarts = &v2.WorkerRestarts
		j.JobsRunning = &v2.JobsRunning
		crash := orEmpty(v2.LastCrash)
		j.LastCrash = &crash
		if v2.HasGenerations {
			j.Generations = &v2.Generations
			j.GenerationUS = &v2.GenerationUS
		}
	}
}

// backendStateName names a SPEC 11.6 backend_state.
func backendStateName(s uint16) string {
	switch s {
	case protocol.BackendUnloaded:
		return "unloaded"
	case protocol.BackendStarting:
		return "starting"
	case protocol.BackendLoaded:
		return "loaded"
	case protocol.BackendRestarting:
		return "restarting"
	}
	return fmt.Sprintf("state %d", s)
}

// featureNames names the 0x0005 flag bits a daemon honours.
func featureNames(bits uint32) []string {
	names := []string{}
	if bits&protocol.FlagProgress != 0 {
		names = append(names, "progress")
	}
	if bits&protocol.FlagSHM != 0 {
		names = append(names, "shm")
	}
	return names
}

// backendLine is the backend line of weave status: the name and, from a
// protocol-2 daemon, the worker process behind it.
func backendLine(st *protocol.StatusResponse) string {
	name := orUnknown(st.Backend)
	v2 := st.V2
	if v2 == nil {
		return name
	}
	state := backendStateName(v2.BackendState)
	switch {
	case v2.WorkerPID != 0 && v2.JobsRunning > 0:
		return fmt.Sprintf("%s (%s, worker pid %d, generating)", name, state, v2.WorkerPID)
	case v2.WorkerPID != 0:
		return fmt.Sprintf("%s (%s, worker pid %d)", name, state, v2.WorkerPID)
	case v2.BackendState == protocol.BackendUnloaded:
		return fmt.Sprintf("%s (unloaded: the next image starts it)", name)
	}
	return fmt.Sprintf("%s (%s)", name, state)
}

// daemonState is what a status request found out.
type daemonState struct {
	socket string
	st     *protocol.StatusResponse // nil when the daemon did not serve status
	peer   *client.Peer             // nil when no connection was made
	err    error                    // why st is nil; ErrStatusNotSupported means up
}

// queryStatus asks the daemon at socketPath for its status within timeout,
// asking again while it answers "server busy".
func queryStatus(ctx context.Context, socketPath string, timeout time.Duration) *daemonState {
	ds := &daemonState{socket: socketPath}
	deadline := time.Now().Add(timeout)
	ds.err = retryBusy(ctx, deadline, func(left time.Duration) error {
		c, err := client.New(client.WithSocketPath(socketPath),
			client.WithConnectTimeout(left), client.WithReadTimeout(left), client.WithWriteTimeout(left))
		if err != nil {
			return err
		}
		st, peer, err := c.StatusWithPeer(ctx)
		if peer != nil {
			ds.peer = peer
		}
		ds.st = st
		return err
	})
	return ds
}

func (ds *daemonState) running() bool {
	return ds.err == nil || errors.Is(ds.err, client.ErrStatusNotSupported)
}

func (ds *daemonState) pid() int {
	if ds.peer == nil {
		return 0
	}
	return ds.peer.PID
}

func runStatus(ctx context.Context, args []string, e *environ, stdout, stderr io.Writer) int {
	fs := newFlagSet("status")
	asJSON := fs.Bool("json", false, "")
	timeout := statusTimeout
	fs.Var((*durationValue)(&timeout), "timeout", "")
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, statusUsage)
			return exitOK
		}
		return usageError(stderr, "status", flagError(err).Error())
	}
	if len(positional) > 0 {
		return usageError(stderr, "status", fmt.Sprintf("unexpected argument %q", positional[0]))
	}
	if timeout <= 0 {
		return usageError(stderr, "status", fmt.Sprintf("--timeout must be positive, got %v", timeout))
	}
	h := hintContext{xdg: e.Get("XDG_RUNTIME_DIR")}
	socketPath, err := client.SocketPathFromEnv(h.xdg)
	if err != nil {
		return fail(stderr, err)
	}
	ds := queryStatus(ctx, socketPath, timeout)
	if *asJSON {
		j := &statusJSON{Running: ds.running(), PID: ds.pid(), Socket: socketPath}
		if ds.st != nil {
			j.statusFields(ds.st)
		}
		if ds.err != nil && !ds.running() {
			j.Error = errorMessage(ds.err)
		}
		b, _ := json.Marshal(j)
		fmt.Fprintf(stdout, "%s\n", b)
		if !ds.running() {
			return failHint(stderr, ds.err, h)
		}
		return exitOK
	}
	if errors.Is(ds.err, client.ErrStatusNotSupported) {
		fmt.Fprintf(stdout, "weave-compute is running\n")
		fmt.Fprintf(stdout, "  %-17s %s\n", "pid:", pidText(ds.pid()))
		fmt.Fprintf(stdout, "  %-17s %s\n", "socket:", socketPath)
		fmt.Fprintf(stdout, "  %-17s %s\n", "status:", "not supported by this daemon ("+ds.err.Error()+")")
		return exitOK
	}
	if ds.err != nil {
		return failHint(stderr, ds.err, h)
	}
	writeStatus(stdout, socketPath, ds.pid(), ds.st)
	return exitOK
}

// pidText is the pid line: the pid, and what the process is when it is not
// a weave-compute (under socket activation the socket belongs to the
// service manager).
func pidText(pid int) string {
	if pid <= 0 {
		return "(unknown)"
	}
	if comm := processName(pid); comm != "" && comm != daemonName {
		return fmt.Sprintf("%d (%s holds the socket)", pid, comm)
	}
	return fmt.Sprint(pid)
}

// processName is the command name of pid (/proc/PID/comm), "" if unknown.
func processName(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func writeStatus(w io.Writer, socketPath string, pid int, st *protocol.StatusResponse) {
	line := func(k, v string) { fmt.Fprintf(w, "  %-17s %s\n", k+":", v) }
	fmt.Fprintln(w, "weave-compute is running")
	line("pid", pidText(pid))
	line("socket", socketPath)
	line("backend", backendLine(st))
	if v2 := st.V2; v2 != nil && (v2.WorkerRestarts > 0 || v2.LastCrash != "") {
		restarts := fmt.Sprint(v2.WorkerRestarts)
		if v2.LastCrash != "" {
			restarts += ", last crash: " + orUnknown(v2.LastCrash)
		}
		line("backend restarts", restarts)
	}
	line("daemon version", orUnknown(st.DaemonVersion))
	line("protocol", fmt.Sprintf("%s (weave speaks %s)", versionRange(st.VersionMin, st.VersionMax), versionRange(protocol.Version, protocol.MaxVersion)))
	line("uptime", formatUptime(time.Duration(st.UptimeMS)*time.Millisecond))
	line("requests served", fmt.Sprint(st.RequestsServed))
	line("connections", fmt.Sprintf("%d open, %d max", st.ConnectionsOpen, st.MaxConnections))
	line("queue depth", fmt.Sprint(st.QueueDepth))
	if v2 := st.V2; v2 != nil && v2.HasGenerations {
		line("generations", generationsText(v2.Generations, v2.GenerationUS))
	}
}

// generationsText is the generations line: the images the backend
// finished since the daemon started and, when there are any, their mean
// generation time, e.g. "42 (mean 7.84 s)" or "3 (mean 7.84 ms)" (to the
// microsecond under 0.01 ms, so that a fast backend does not read 0.00).
func generationsText(n, us uint64) string {
	if n == 0 {
		return "0"
	}
	mean := float64(us) / float64(n) / 1000
	switch {
	case mean >= 1000:
		return fmt.Sprintf("%d (mean %.2f s)", n, mean/1000)
	case mean < 0.01:
		return fmt.Sprintf("%d (mean %.3f ms)", n, mean)
	}
	return fmt.Sprintf("%d (mean %.2f ms)", n, mean)
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

// orEmpty is orUnknown for a value that may legitimately be empty.
func orEmpty(s string) string {
	if s == "" {
		return ""
	}
	return orUnknown(s)
}

// formatUptime prints a duration rounded to seconds (milliseconds under a
// second), e.g. "2h3m4s", "850ms".
func formatUptime(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// versionTimeout bounds the daemon half of weave version.
const versionTimeout = time.Second

func runVersion(ctx context.Context, args []string, e *environ, stdout, stderr io.Writer) int {
	fs := newFlagSet("version")
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, versionUsage)
			return exitOK
		}
		return usageError(stderr, "version", flagError(err).Error())
	}
	if len(positional) > 0 {
		return usageError(stderr, "version", fmt.Sprintf("unexpected argument %q", positional[0]))
	}
	fmt.Fprintf(stdout, "weave %s (protocol %s, %s %s/%s)\n", version, versionRange(protocol.Version, protocol.MaxVersion), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	socketPath, err := client.SocketPathFromEnv(e.Get("XDG_RUNTIME_DIR"))
	if err != nil {
		fmt.Fprintf(stdout, "weave-compute: unknown (%s)\n", errorMessage(err))
		return exitOK
	}
	ds := queryStatus(ctx, socketPath, versionTimeout)
	switch {
	case ds.st != nil:
		fmt.Fprintf(stdout, "weave-compute %s (protocol %s, pid %s)\n", orUnknown(ds.st.DaemonVersion),
			versionRange(ds.st.VersionMin, ds.st.VersionMax), pidText(ds.pid()))
	case ds.running():
		fmt.Fprintf(stdout, "weave-compute (version unknown: the daemon does not serve status; pid %s)\n", pidText(ds.pid()))
	case errors.Is(ds.err, client.ErrDaemonNotRunning), errors.Is(ds.err, client.ErrConnectionRefused):
		fmt.Fprintln(stdout, "weave-compute: not running")
	case errors.Is(ds.err, context.Canceled):
		return exitCode(ds.err)
	default:
		fmt.Fprintf(stdout, "weave-compute: unknown (%s)\n", errorMessage(ds.err))
	}
	return exitOK
}
