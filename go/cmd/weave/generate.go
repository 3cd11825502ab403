package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/weave-app/weave/go/client"
	"github.com/weave-app/weave/go/protocol"
	"golang.org/x/sys/unix"
)

const generateUsage = `Usage: weave generate PROMPT [-o FILE.png] [flags]

Asks weave-compute for an image of PROMPT and writes it as a PNG file.
Flags may come before or after the prompt; several words are joined with
spaces; put "--" before a prompt that starts with "-".

Flags:
  -o, --output FILE  PNG file to write (default: weave-SEED.png). A relative
                     path is taken relative to $BUILD_WORKING_DIRECTORY when
                     set (bazel run), else to the current directory.
  --width N          image width: 64..2048, a multiple of 64 (default 512)
  --height N         image height: 64..2048, a multiple of 64 (default 512)
  --steps N          sampling steps: 1..100 (default 28)
  --cfg X            guidance scale: 0.0..20.0 (default 7.0)
  --seed N           seed; 0 lets the daemon choose one (default 0)
  --timeout D        how long to wait for the image (default 65s)
  --no-autostart     do not start weave-compute when it is not running
  -h, --help         show this help

The file is written atomically: on failure no partial file is left behind.
When weave-compute is not running, weave starts it in the background (from
$WEAVE_COMPUTE_BIN, next to weave, or weave's Bazel runfiles), logging to
$XDG_RUNTIME_DIR/weave/weave-compute.log.

Exit codes: 0 ok, 1 other failure (e.g. cannot write FILE), 2 usage error,
3 daemon unavailable, 4 request rejected (invalid parameters), 5 daemon failed.
`

// generateOptions are the parsed arguments of weave generate.
type generateOptions struct {
	prompt      string
	output      string // as given; "" for the default name
	width       uint32
	height      uint32
	steps       uint32
	cfg         float32
	seed        uint64
	timeout     time.Duration
	noAutostart bool
}

// usageErr is a command-line error (exit code 2).
type usageErr struct{ msg string }

func (e *usageErr) Error() string { return e.msg }

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
	fs.DurationVar(&o.timeout, "timeout", o.timeout, "")
	fs.BoolVar(&o.noAutostart, "no-autostart", false, "")
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, &usageErr{msg: err.Error()}
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
	return o, nil
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

// seedText describes the seed of the image for the summary line.
func seedText(resp *protocol.GenerateResponse, requestedSeed uint64) string {
	switch {
	case resp.HasSeed:
		return fmt.Sprintf("seed %d", resp.Seed)
	case requestedSeed != 0:
		return fmt.Sprintf("seed %d", requestedSeed)
	default:
		return "seed unknown"
	}
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

	socketPath, err := client.SocketPathFromEnv(e.Get("XDG_RUNTIME_DIR"))
	if err != nil {
		return fail(stderr, err)
	}
	req := protocol.NewGenerateRequest(0, o.prompt, o.width, o.height, o.steps, o.cfg, o.seed)
	if err := req.Validate(); err != nil {
		// The same typed error the daemon would answer with (exit 4).
		return fail(stderr, err)
	}

	// Fail before a long generation if the output cannot be written.
	bwd := e.Get("BUILD_WORKING_DIRECTORY")
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
		return fail(stderr, &outputError{path: shown, err: err})
	}

	c, err := client.New(client.WithSocketPath(socketPath), client.WithReadTimeout(o.timeout))
	if err != nil {
		return fail(stderr, err)
	}
	label := fmt.Sprintf("generating %dx%d, %d steps", o.width, o.height, o.steps)
	sp := startSpinner(stderr, label)
	resp, err := c.Generate(ctx, req)
	sp.Stop()
	if err != nil && !o.noAutostart && needsAutostart(err) {
		a := newAutostarter(e, stderr)
		if serr := a.start(ctx, socketPath, err); serr != nil {
			return fail(stderr, serr)
		}
		sp = startSpinner(stderr, label)
		resp, err = c.Generate(ctx, req)
		sp.Stop()
	}
	if err != nil {
		return fail(stderr, err)
	}

	shown := o.output
	if shown == "" {
		shown = defaultOutputName(resp, o.seed, time.Now())
	}
	path := resolvePath(shown, bwd)
	img, err := responseImage(resp)
	if err != nil {
		return fail(stderr, err)
	}
	if err := writePNGAtomic(path, img); err != nil {
		return fail(stderr, &outputError{path: shown, err: err})
	}
	fmt.Fprintf(stdout, "wrote %s (%dx%d, %s, generated in %d ms)\n",
		shown, resp.Width, resp.Height, seedText(resp, o.seed), resp.GenerationTimeMS)
	return exitOK
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
