// Command weave is the front end of Weave: it asks the weave-compute daemon
// for images over its Unix socket and writes them as PNG files.
//
//	weave generate PROMPT [-o FILE.png|-] [--json] [flags]
//	weave status [--json]
//	weave stop
//	weave version
//	weave completion bash|zsh|fish
//	weave help [COMMAND]
//
// Exit codes (docs/DEVELOPMENT.md): 0 success, 1 other failure, 2 usage
// error, 3 daemon unavailable, 4 request rejected (400), 5 daemon failure
// (500), 130 SIGINT, 143 SIGTERM.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// version is the weave version; release builds set it with
// x_defs = {"main.version": "..."}.
var version = "0.1.0-dev"

// Exit codes (docs/DEVELOPMENT.md, "Exit codes and sentinel errors").
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitUnavailable = 3
	exitRejected    = 4
	exitDaemonError = 5
	// exitInterrupted is 128+SIGINT, what a shell reports for Ctrl-C;
	// SIGTERM gives 128+15.
	exitInterrupted = 130
)

// mainStart is when main began (WEAVE_DEBUG_TIMING).
var mainStart time.Time

// gcMemoryLimit is the heap size at which the garbage collector runs at
// all (main).
const gcMemoryLimit = 256 << 20

func main() {
	mainStart = time.Now()
	// weave is one short process whose heap is bounded by one image (at
	// most 16 MiB of pixels and its PNG): collecting garbage only costs
	// time (measured: a collection during the PNG encoding of a 1024x1024
	// image added several ms), so the collector runs only beyond
	// gcMemoryLimit.
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(gcMemoryLimit)
	os.Exit(run(os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

// run is the whole program: args without the program name, the environment
// as os.Environ() returns it. It returns the exit code.
func run(args []string, env []string, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	var got atomic.Int32 // the signal number received, 0 for none
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			if n, ok := s.(syscall.Signal); ok {
				got.Store(int32(n))
			}
			cancel()
		case <-done:
		}
	}()
	code := runContext(ctx, args, newEnviron(env), stdout, stderr)
	close(done)
	// A signal at any point exits 128+N, as the shell reports a process it
	// killed; the command itself removed any partial output.
	if n := got.Load(); n != 0 {
		return 128 + int(n)
	}
	return code
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	usage   string // full usage text (ends with a newline)
	run     func(ctx context.Context, args []string, e *environ, stdout, stderr io.Writer) int
}

func commands() []*command {
	return []*command{
		{name: "generate", summary: "generate an image from a prompt and write it as PNG", usage: generateUsage, run: runGenerate},
		{name: "status", summary: "show whether weave-compute is running, and its state", usage: statusUsage, run: runStatus},
		{name: "stop", summary: "stop the running weave-compute", usage: stopUsage, run: runStop},
		{name: "version", summary: "print the versions of weave and of the running daemon", usage: versionUsage, run: runVersion},
		{name: "completion", summary: "print a shell completion script (bash, zsh, fish)", usage: completionUsage, run: runCompletion},
		{name: "help", summary: "show help for a command", usage: helpUsage, run: nil},
	}
}

func findCommand(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	return nil
}

func mainUsage() string {
	var b strings.Builder
	b.WriteString(`Usage: weave COMMAND [ARGS]

weave asks the weave-compute daemon (socket $XDG_RUNTIME_DIR/weave/weave.sock)
for images and writes them as PNG files.

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-10s %s\n", c.name, c.summary)
	}
	b.WriteString(`
Run 'weave help COMMAND' or 'weave COMMAND --help' for a command's flags.

Exit codes: 0 ok, 1 other failure, 2 usage error, 3 daemon unavailable
(not running, not responding, busy), 4 request rejected by the daemon,
5 daemon failed the request, 130 interrupted (Ctrl-C), 143 terminated.
`)
	return b.String()
}

const helpUsage = `Usage: weave help [COMMAND]

Shows the usage of weave or of one command.
`

const versionUsage = `Usage: weave version

Prints the weave version and the protocol version it speaks and, when a
weave-compute is running, its version, protocol range and pid (as
'docker version' shows client and server). It never starts the daemon.
`

func runContext(ctx context.Context, args []string, e *environ, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, mainUsage())
		return exitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "-h", "-help", "--help":
		fmt.Fprint(stdout, mainUsage())
		return exitOK
	case "-version", "--version":
		return runVersion(ctx, nil, e, stdout, stderr)
	case "help":
		return runHelp(rest, stdout, stderr)
	}
	c := findCommand(name)
	if c == nil {
		return usageError(stderr, "", fmt.Sprintf("unknown command %q", name))
	}
	return c.run(ctx, rest, e, stdout, stderr)
}

func runHelp(args []string, stdout, stderr io.Writer) int {
	switch len(args) {
	case 0:
		fmt.Fprint(stdout, mainUsage())
		return exitOK
	case 1:
		if args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
			fmt.Fprint(stdout, helpUsage)
			return exitOK
		}
		c := findCommand(args[0])
		if c == nil {
			return usageError(stderr, "help", fmt.Sprintf("unknown command %q", args[0]))
		}
		fmt.Fprint(stdout, c.usage)
		return exitOK
	default:
		return usageError(stderr, "help", "too many arguments")
	}
}

// usageError prints a usage error and returns exitUsage. cmd is the
// subcommand ("" for weave itself).
func usageError(stderr io.Writer, cmd, msg string) int {
	fmt.Fprintf(stderr, "weave: %s\n", msg)
	if cmd == "" {
		fmt.Fprintln(stderr, "Run 'weave help' for usage.")
	} else {
		fmt.Fprintf(stderr, "Run 'weave %s --help' for usage.\n", cmd)
	}
	return exitUsage
}

// environ is a read-only view of an environment list.
type environ struct {
	list []string
}

func newEnviron(list []string) *environ {
	return &environ{list: list}
}

// Get returns the value of key ("" when unset); the last entry wins, as in
// os.Getenv.
func (e *environ) Get(key string) string {
	v := ""
	for _, kv := range e.list {
		if strings.HasPrefix(kv, key) && len(kv) > len(key) && kv[len(key)] == '=' {
			v = kv[len(key)+1:]
		}
	}
	return v
}

// List returns the environment as a list (for child processes).
func (e *environ) List() []string { return e.list }
