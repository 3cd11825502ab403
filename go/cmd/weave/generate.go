package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/weave-app/weave/go/client"
	"github.com/weave-app/weave/go/protocol"
	"golang.org/x/sys/unix"
)

const generateUsage = `Usage: weave generate PROMPT [-o FILE.png] [flags]

Asks weave-compute for an image of PROMPT and writes it as a PNG file.
Flags may come before or after the prompt; several words are joined with
spaces; put "--" before a prompt that starts with "-".

Flags:
  -o, --output FILE  PNG file to write (default: weave-SEED.png); "-" writes
                     the PNG to stdout (messages go to stderr). A relative
                     path is taken relative to $BUILD_WORKING_DIRECTORY when
                     set (bazel run), else to the current directory.
  --width N          image width: 64..2048, a multiple of 64 (default 512)
  --height N         image height: 64..2048, a multiple of 64 (default 512).
                     A current weave-compute sends up to 2048x2048 through
                     shared memory; one that speaks only protocol v1 sends
                     at most 1856x1856 (at most 3495234 pixels: width x
                     height, e.g. 2048x1664)
  --steps N          sampling steps: 1..100 (default 28)
  --cfg X            guidance scale: 0..20 (default 7)
  --seed N           seed; 0 lets the daemon choose one (default 0)
  --timeout D        with a unit: 65s, 2m (default 65s). The longest silence
                     accepted from a daemon that reports progress (every
                     step or heartbeat restarts it, so long jobs finish);
                     with a protocol v1 daemon, the time for the whole image
  --png-compression L  fast, default or best (default fast: quickest to
                     write, larger file)
  --json             print events as JSON lines on stdout instead of text:
                     {"event":"queued","position":N,"queue_depth":N} while
                     waiting, {"event":"progress","step":I,"steps":N,
                     "elapsed_ms":T} after each step, then
                     {"event":"done","path":...,"width":...,"height":...,
                     "seed":...,"generation_ms":...} or {"event":"error",
                     "status":...,"code":...,"message":...} (status 0 for
                     a failure in weave itself)
  --no-autostart     do not start weave-compute when it is not running
  -h, --help         show this help

PROMPT is 1..2048 bytes of UTF-8 and not only spaces. weave checks every
value above itself (exit 2) before it connects.

On a terminal, stderr shows the queue position while the job waits, then
"step 12/28" with a bar, the elapsed time and an estimate of the time left,
on one line redrawn in place (no escape sequences with TERM=dumb or
NO_COLOR); when stderr is not a terminal only the final line is printed.

The file is written atomically: on failure or Ctrl-C no partial file is
left behind. Ctrl-C (or SIGTERM) cancels the job: weave closes its
connection, which tells weave-compute to stop it.

When weave-compute is not running, weave starts it in the
background (from $WEAVE_COMPUTE_BIN, next to weave, or weave's Bazel
runfiles), logging to $XDG_RUNTIME_DIR/weave/weave-compute.log. A daemon that
answers "server busy" is asked again, with a short back-off, until
--timeout.

Exit codes: 0 ok, 1 other failure (e.g. cannot write FILE), 2 usage error,
3 daemon unavailable (not running, not responding, busy), 4 request rejected
(invalid parameters), 5 daemon failed, 130 Ctrl-C, 143 SIGTERM.
`

// generateOptions are the parsed arguments of weave generate.
type generateOptions struct {
	prompt      string
	output      string // as given; "" for the default name, "-" for stdout
	width       uint32
	height      uint32
	steps       uint32
	cfg         float32
	seed        uint64
	timeout     time.Duration
	compression pngCompression
	json        bool
	noAutostart bool
}

// parseGenerateArgs parses the arguments after "generate". It returns
// flag.ErrHelp for -h/--help and a *usageErr for bad arguments.
func parseGenerateArgs(args []string) (*generateOptions, error) {
	o := &generateOptions{
		width:   512,
		height:  512,
		steps:   28,
		cfg:     7.0,
		timeout: client.DefaultReadTimeout,
	}
	fs := newFlagSet("generate")
	fs.StringVar(&o.output, "o", "", "")
	fs.StringVar(&o.output, "output", "", "")
	fs.Var((*uint32Value)(&o.width), "width", "")
	fs.Var((*uint32Value)(&o.height), "height", "")
	fs.Var((*uint32Value)(&o.steps), "steps", "")
	fs.Var((*float32Value)(&o.cfg), "cfg", "")
	fs.Var((*uint64Value)(&o.seed), "seed", "")
	fs.Var((*durationValue)(&o.timeout), "timeout", "")
	fs.Var(&o.compression, "png-compression", "")
	fs.BoolVar(&o.json, "json", false, "")
	fs.BoolVar(&o.noAutostart, "no-autostart", false, "")
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, flagError(err)
	}
	if len(positional) == 0 {
		return nil, &usageErr{msg: "generate needs a PROMPT"}
	}
	o.prompt = strings.Join(positional, " ")
	if o.timeout <= 0 {
		return nil, &usageErr{msg: fmt.Sprintf("--timeout must be positive, got %v", o.timeout)}
	}
	if fs.Lookup("o").Value.String() == "" && outputFlagGiven(fs) {
		return nil, &usageErr{msg: "-o needs a file name"}
	}
	if o.json && o.output == "-" {
		return nil, &usageErr{msg: "--json and -o - both write to stdout; pick one"}
	}
	return o, nil
}

// maxPixels is the largest width*height whose RGB reply fits in one v1
// message: the limit of a daemon that speaks only protocol v1 (a current
// one sends bigger images through shared memory).
var maxPixels = (protocol.MaxMessageSize - protocol.ReplySize(0, 0, protocol.ReplyChannels)) / protocol.ReplyChannels

// checkGenerateOptions checks every value weave can check itself, in the
// flag's own terms, so a mistake is a usage error (exit 2) before any
// connection.
func checkGenerateOptions(o *generateOptions) error {
	switch {
	case !utf8.ValidString(o.prompt):
		return &usageErr{msg: "the prompt is not valid UTF-8"}
	case strings.TrimSpace(o.prompt) == "":
		if o.prompt == "" {
			return &usageErr{msg: "the prompt is empty"}
		}
		return &usageErr{msg: "the prompt is blank (only white space)"}
	case len(o.prompt) > protocol.MaxPromptLen:
		return &usageErr{msg: fmt.Sprintf("the prompt is %d bytes; at most %d are allowed", len(o.prompt), protocol.MaxPromptLen)}
	}
	for _, d := range []struct {
		name string
		v    uint32
	}{{"--width", o.width}, {"--height", o.height}} {
		if d.v < protocol.MinDimension || d.v > protocol.MaxDimension || d.v%protocol.DimensionStep != 0 {
			return &usageErr{msg: fmt.Sprintf("%s %d: want a multiple of %d in %d..%d",
				d.name, d.v, protocol.DimensionStep, protocol.MinDimension, protocol.MaxDimension)}
		}
	}
	if o.steps < protocol.MinSteps || o.steps > protocol.MaxSteps {
		return &usageErr{msg: fmt.Sprintf("--steps %d: want %d..%d", o.steps, protocol.MinSteps, protocol.MaxSteps)}
	}
	c := float64(o.cfg)
	if math.IsNaN(c) || math.IsInf(c, 0) || o.cfg < protocol.MinCFG || o.cfg > protocol.MaxCFG {
		return &usageErr{msg: fmt.Sprintf("--cfg %v: want %g..%g", o.cfg, protocol.MinCFG, protocol.MaxCFG)}
	}
	return nil
}

// outputFlagGiven reports whether -o or --output was set explicitly.
func outputFlagGiven(fs *flag.FlagSet) bool {
	given := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "o" || f.Name == "output" {
			given = true
		}
	})
	return given
}

// resolvePath makes a relative output path relative to
// $BUILD_WORKING_DIRECTORY (bazel run changes the working directory to the
// runfiles tree) or, without it, leaves it relative to the working
// directory.
func resolvePath(path, buildWorkingDir string) string {
	if filepath.IsAbs(path) || buildWorkingDir == "" {
		return path
	}
	return filepath.Join(buildWorkingDir, path)
}

// defaultOutputName is the file name used without -o.
func defaultOutputName(resp *protocol.GenerateResponse, requestedSeed uint64, now time.Time) string {
	if resp.HasSeed {
		return fmt.Sprintf("weave-%d.png", resp.Seed)
	}
	if requestedSeed != 0 {
		return fmt.Sprintf("weave-%d.png", requestedSeed)
	}
	return "weave-" + now.Format("20060102-150405") + ".png"
}

func runGenerate(ctx context.Context, args []string, e *environ, stdout, stderr io.Writer) int {
	o, err := parseGenerateArgs(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, generateUsage)
			return exitOK
		}
		return usageError(stderr, "generate", err.Error())
	}
	toStdout := o.output == "-"
	var r eventRenderer
	if o.json {
		r = &jsonRenderer{w: stdout, spinnerOut: stderr, env: e}
	} else {
		out := stdout
		if toStdout {
			out = stderr
		}
		r = &textRenderer{w: out, spinnerOut: stderr, env: e}
	}
	h := hintContext{xdg: e.Get("XDG_RUNTIME_DIR"), noAutostart: o.noAutostart}
	failed := func(err error) int {
		r.event(errorEvent(err))
		var ue *usageErr
		if errors.As(err, &ue) {
			return usageError(stderr, "generate", ue.msg)
		}
		return failHint(stderr, err, h)
	}

	if err := checkGenerateOptions(o); err != nil {
		return failed(err)
	}
	if toStdout && isTerminal(stdout) {
		return failed(&usageErr{msg: "refusing to write a PNG to a terminal (-o -); redirect stdout or name a file"})
	}
	socketPath, err := client.SocketPathFromEnv(h.xdg)
	if err != nil {
		return failed(err)
	}
	req := protocol.NewGenerateRequest(0, o.prompt, o.width, o.height, o.steps, o.cfg, o.seed)
	// The rules of a request whose pixels may come through shared memory
	// (no 10 MiB reply rule): whether the daemon can send them is its
	// answer (client.ErrV1Only).
	if err := (&protocol.GenerateOptionsRequest{GenerateRequest: *req, Flags: protocol.FlagSHM}).Validate(); err != nil {
		// checkGenerateOptions covers every rule; kept as a safety net.
		return failed(err)
	}

	// Fail before a long generation if the output cannot be written.
	bwd := e.Get("BUILD_WORKING_DIRECTORY")
	if !toStdout {
		outDir, outPath := bwd, ""
		if o.output != "" {
			outPath = resolvePath(o.output, bwd)
			outDir = filepath.Dir(outPath)
		}
		if outDir == "" {
			outDir = "."
		}
		if err := checkOutput(outDir, outPath); err != nil {
			shown := o.output
			if shown == "" {
				shown = outDir
			}
			return failed(&outputError{path: shown, err: err})
		}
	}

	deadline := time.Now().Add(o.timeout)
	label := fmt.Sprintf("generating %dx%d, %d steps", o.width, o.height, o.steps)
	// Always with progress: a daemon that speaks protocol v2 then keeps the
	// connection alive with progress and heartbeats, so --timeout bounds
	// silence, not the whole job (a v1 daemon costs one extra round trip
	// and keeps the total deadline). GenerateImage takes the pixels from
	// shared memory when the daemon offers it (needed beyond 1856x1856).
	generate := func() (*client.Image, error) {
		var img *client.Image
		err := retryBusy(ctx, deadline, func(timeout time.Duration) error {
			c, err := client.New(client.WithSocketPath(socketPath), client.WithReadTimeout(timeout))
			if err != nil {
				return err
			}
			img, err = c.GenerateImage(ctx, req, client.WithProgress(r.progress))
			return err
		})
		return img, err
	}
	r.waiting(label)
	cimg, err := generate()
	r.stopWaiting()
	if err != nil && !o.noAutostart && needsAutostart(err) {
		a := newAutostarter(e, stderr)
		if serr := a.start(ctx, socketPath, err); serr != nil {
			return failed(serr)
		}
		r.waiting(label)
		cimg, err = generate()
		r.stopWaiting()
	}
	if err != nil {
		return failed(err)
	}
	defer cimg.Close()
	resp := &protocol.GenerateResponse{RequestID: cimg.RequestID, Status: protocol.StatusOK,
		GenerationTimeMS: cimg.GenerationTimeMS, Width: cimg.Width, Height: cimg.Height, Channels: cimg.Channels,
		Pixels: cimg.Pixels(), Seed: cimg.Seed, HasSeed: cimg.HasSeed}

	if testHookAfterReply != nil {
		testHookAfterReply(ctx)
	}
	img, err := responseImage(resp)
	if err != nil {
		return failed(err)
	}
	shown := o.output
	if toStdout {
		if err := writePNGStream(ctx, stdout, img, o.compression); err != nil {
			return failed(&outputError{path: "stdout", err: err})
		}
		shown = "-"
	} else {
		if shown == "" {
			shown = defaultOutputName(resp, o.seed, time.Now())
		}
		if err := writePNGAtomic(ctx, resolvePath(shown, bwd), img, o.compression); err != nil {
			if ctx.Err() != nil {
				return failed(ctx.Err())
			}
			return failed(&outputError{path: shown, err: err})
		}
	}
	r.event(doneEvent(resp, o.seed, shown))
	return exitOK
}

// testHookAfterReply, when set (tests only), runs once the image has
// arrived, before it is written.
var testHookAfterReply func(ctx context.Context)

// busyBackoff is the first wait before asking a busy daemon again; it
// doubles up to maxBusyBackoff.
var (
	busyBackoff    = 20 * time.Millisecond
	maxBusyBackoff = 250 * time.Millisecond
)

// retryBusy calls call (with the time left until deadline as its timeout)
// until it returns something other than a "server busy" reply, waiting
// with a short back-off in between. A daemon still busy at the deadline
// gives a *busyError.
func retryBusy(ctx context.Context, deadline time.Time, call func(timeout time.Duration) error) error {
	start := time.Now()
	wait := busyBackoff
	for {
		left := time.Until(deadline).Round(time.Millisecond)
		if left <= 0 {
			left = time.Millisecond
		}
		err := call(left)
		if !errors.Is(err, protocol.ErrBusy) {
			return err
		}
		left = time.Until(deadline)
		if left <= wait {
			return &busyError{last: err, after: time.Since(start).Round(100 * time.Millisecond).String()}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait *= 2
		if wait > maxBusyBackoff {
			wait = maxBusyBackoff
		}
	}
}

// needsAutostart reports whether err means there is no daemon to talk to
// (no socket, or a stale one), so starting one can help.
func needsAutostart(err error) bool {
	return errors.Is(err, client.ErrDaemonNotRunning) || errors.Is(err, client.ErrConnectionRefused)
}

// checkOutput fails early when the PNG could not be written: dir must be
// an existing directory weave may create files in, and path (when known)
// must not be a directory.
func checkOutput(dir, path string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if err := unix.Access(dir, unix.W_OK|unix.X_OK); err != nil {
		return fmt.Errorf("directory %s: %w", dir, err)
	}
	if path != "" {
		if fi, err := os.Stat(path); err == nil && fi.IsDir() {
			return fmt.Errorf("%s is a directory", path)
		}
	}
	return nil
}
