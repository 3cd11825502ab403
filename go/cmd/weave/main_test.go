package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/weave-app/weave/internal/testutil"
	"hash/adler32"
	"image"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/weave-app/weave/go/client"
	"github.com/weave-app/weave/go/internal/fakedaemon"
	"github.com/weave-app/weave/go/protocol"
)

// fakeDaemonEnv makes the test binary act as weave-compute when set (the
// autostart tests point WEAVE_COMPUTE_BIN at the test binary):
// "serve" serves fakedaemon.Default, "fail" logs and exits 1, "race" exits
// 3 (another instance won).
const fakeDaemonEnv = "WEAVE_TEST_FAKE_DAEMON"

// raceMarkerEnv names a file the "race" fake daemon creates before it
// exits, so a test can act after it lost.
const raceMarkerEnv = "WEAVE_TEST_RACE_MARKER"

func TestMain(m *testing.M) {
	if os.Getenv(runWeaveEnv) != "" {
		// The test binary as the weave command (progress_test.go: a real
		// child process on a pty, real signals).
		os.Exit(run(os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
	}
	switch os.Getenv(fakeDaemonEnv) {
	case "":
		os.Exit(m.Run())
	case "serve":
		os.Exit(fakedaemon.Main(30 * time.Second))
	case "fail":
		fmt.Fprintln(os.Stderr, "weave-compute: boom: cannot open the GPU")
		os.Exit(1)
	case "race":
		if p := os.Getenv(raceMarkerEnv); p != "" {
			if err := os.WriteFile(p, nil, 0o600); err != nil {
				os.Exit(98)
			}
		}
		fmt.Fprintln(os.Stderr, "weave-compute: another instance serves the socket")
		os.Exit(daemonExitAlreadyRunning)
	default:
		os.Exit(99)
	}
}

// testEnv is a private XDG_RUNTIME_DIR and a working directory.
type testEnv struct {
	xdg  string
	work string
	vars map[string]string
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	root := testutil.ShortTempDir(t)
	e := &testEnv{xdg: filepath.Join(root, "x"), work: filepath.Join(root, "w"), vars: map[string]string{}}
	require.NoError(t, os.Mkdir(e.xdg, 0o700))
	require.NoError(t, os.Mkdir(e.work, 0o755))
	e.vars["XDG_RUNTIME_DIR"] = e.xdg
	e.vars["BUILD_WORKING_DIRECTORY"] = e.work
	e.vars["PATH"] = "/nonexistent"
	return e
}

func (e *testEnv) socketPath() string { return filepath.Join(e.xdg, "weave", "weave.sock") }

func (e *testEnv) list() []string {
	var out []string
	for k, v := range e.vars {
		out = append(out, k+"="+v)
	}
	return out
}

// startFake serves h on the env's socket.
func (e *testEnv) startFake(t *testing.T, h fakedaemon.Handler) *fakedaemon.Server {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(e.socketPath()), 0o700))
	s, err := fakedaemon.Listen(e.socketPath(), h)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

type result struct {
	code   int
	stdout string
	stderr string
}

func (e *testEnv) run(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := runContext(context.Background(), args, newEnviron(e.list()), &out, &errb)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	return img
}

// requireRGB checks that img has exactly the RGB pixels, fully opaque.
func requireRGB(t *testing.T, img image.Image, w, h int, rgb []byte) {
	t.Helper()
	require.Equal(t, image.Rect(0, 0, w, h), img.Bounds())
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			r, g, b, a := img.At(x, y).RGBA()
			i := 3 * (y*w + x)
			if byte(r>>8) != rgb[i] || byte(g>>8) != rgb[i+1] || byte(b>>8) != rgb[i+2] || a != 0xFFFF {
				t.Fatalf("pixel (%d,%d) = %d,%d,%d,%d, want %d,%d,%d,255", x, y, r>>8, g>>8, b>>8, a>>8, rgb[i], rgb[i+1], rgb[i+2])
			}
		}
	}
}

func TestUsageAndHelp(t *testing.T) {
	tests := []struct {
		args       []string
		code       int
		stdoutHas  string
		stderrHas  string
		quietOther bool // the other stream must be empty
	}{
		{args: nil, code: 2, stderrHas: "Usage: weave COMMAND"},
		{args: []string{"help"}, code: 0, stdoutHas: "Usage: weave COMMAND", quietOther: true},
		{args: []string{"--help"}, code: 0, stdoutHas: "Commands:", quietOther: true},
		{args: []string{"-h"}, code: 0, stdoutHas: "Commands:", quietOther: true},
		{args: []string{"help", "generate"}, code: 0, stdoutHas: "Usage: weave generate PROMPT", quietOther: true},
		{args: []string{"help", "status"}, code: 0, stdoutHas: "Usage: weave status", quietOther: true},
		{args: []string{"help", "nope"}, code: 2, stderrHas: `unknown command "nope"`},
		{args: []string{"help", "a", "b"}, code: 2, stderrHas: "too many arguments"},
		{args: []string{"generate", "--help"}, code: 0, stdoutHas: "--no-autostart", quietOther: true},
		{args: []string{"generate", "a prompt", "-h"}, code: 0, stdoutHas: "Usage: weave generate", quietOther: true},
		{args: []string{"status", "--help"}, code: 0, stdoutHas: "Usage: weave status", quietOther: true},
		{args: []string{"version", "--help"}, code: 0, stdoutHas: "Usage: weave version", quietOther: true},
		{args: []string{"version"}, code: 0, stdoutHas: "weave " + version + " (protocol 1..2, ", quietOther: true},
		{args: []string{"--version"}, code: 0, stdoutHas: "weave " + version, quietOther: true},
		{args: []string{"frobnicate"}, code: 2, stderrHas: `weave: unknown command "frobnicate"`},
		{args: []string{"generate"}, code: 2, stderrHas: "weave: generate needs a PROMPT"},
		{args: []string{"generate", "--steps", "abc", "x"}, code: 2, stderrHas: `weave: invalid value "abc" for --steps: not a number`},
		{args: []string{"generate", "--width", "99999999999", "x"}, code: 2, stderrHas: "value out of range"},
		{args: []string{"generate", "--no-such-flag", "x"}, code: 2, stderrHas: "weave: unknown flag --no-such-flag\n"},
		{args: []string{"generate", "x", "--timeout", "5"}, code: 2, stderrHas: `invalid value "5" for --timeout: a duration needs a unit: did you mean 5s?`},
		{args: []string{"generate", "x", "--png-compression", "max"}, code: 2, stderrHas: `invalid value "max" for --png-compression: want fast, default, best`},
		{args: []string{"generate", "x", "--json", "-o", "-"}, code: 2, stderrHas: "--json and -o - both write to stdout"},
		{args: []string{"status", "--bogus"}, code: 2, stderrHas: "weave: unknown flag --bogus\n"},
		{args: []string{"status", "--timeout", "2"}, code: 2, stderrHas: "did you mean 2s?"},
		{args: []string{"stop", "--help"}, code: 0, stdoutHas: "Usage: weave stop", quietOther: true},
		{args: []string{"stop", "extra"}, code: 2, stderrHas: `unexpected argument "extra"`},
		{args: []string{"completion"}, code: 2, stderrHas: "completion needs one shell"},
		{args: []string{"completion", "tcsh"}, code: 2, stderrHas: `unknown shell "tcsh"`},
		{args: []string{"help", "stop"}, code: 0, stdoutHas: "SO_PEERCRED", quietOther: true},
		{args: []string{"generate", "--help"}, code: 0, stdoutHas: "1856x1856", quietOther: true},
		{args: []string{"generate", "--help"}, code: 0, stdoutHas: "1..2048 bytes", quietOther: true},
		{args: []string{"generate", "x", "--timeout", "0s"}, code: 2, stderrHas: "--timeout must be positive"},
		{args: []string{"generate", "x", "-o"}, code: 2, stderrHas: "weave: -o needs a value"},
		{args: []string{"generate", "x", "--width"}, code: 2, stderrHas: "weave: --width needs a value"},
		{args: []string{"generate", "x", "-o", ""}, code: 2, stderrHas: "-o needs a file name"},
		{args: []string{"status", "extra"}, code: 2, stderrHas: `unexpected argument "extra"`},
		{args: []string{"version", "extra"}, code: 2, stderrHas: `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			e := newTestEnv(t)
			r := e.run(t, tt.args...)
			assert.Equal(t, tt.code, r.code, "stderr: %s", r.stderr)
			if tt.stdoutHas != "" {
				assert.Contains(t, r.stdout, tt.stdoutHas)
				if tt.quietOther {
					assert.Empty(t, r.stderr)
				}
			}
			if tt.stderrHas != "" {
				assert.Contains(t, r.stderr, tt.stderrHas)
				if tt.quietOther {
					assert.Empty(t, r.stdout)
				}
			}
			_, err := os.Stat(filepath.Join(e.xdg, "weave"))
			assert.True(t, os.IsNotExist(err), "a usage error must not start a daemon")
		})
	}
}

func TestParseGenerateArgs(t *testing.T) {
	def := generateOptions{width: 512, height: 512, steps: 28, cfg: 7.0, timeout: 65 * time.Second}
	with := func(f func(o *generateOptions)) generateOptions {
		o := def
		f(&o)
		return o
	}
	tests := []struct {
		name string
		args []string
		want generateOptions
	}{
		{"defaults", []string{"a lighthouse"}, with(func(o *generateOptions) { o.prompt = "a lighthouse" })},
		{"flags after the prompt", []string{"a lighthouse", "-o", "l.png", "--width", "768"},
			with(func(o *generateOptions) { o.prompt, o.output, o.width = "a lighthouse", "l.png", 768 })},
		{"flags before the prompt", []string{"--steps=4", "--cfg", "3.5", "--seed", "123456", "a lighthouse"},
			with(func(o *generateOptions) { o.prompt, o.steps, o.cfg, o.seed = "a lighthouse", 4, 3.5, 123456 })},
		{"flags around words joined", []string{"a", "--height", "256", "light", "house", "--output", "x.png"},
			with(func(o *generateOptions) { o.prompt, o.height, o.output = "a light house", 256, "x.png" })},
		{"double dash keeps dashes", []string{"--no-autostart", "--", "-o", "--width"},
			with(func(o *generateOptions) { o.prompt, o.noAutostart = "-o --width", true })},
		{"timeout", []string{"x", "--timeout", "2m"}, with(func(o *generateOptions) { o.prompt, o.timeout = "x", 2*time.Minute })},
		{"hex seed", []string{"x", "--seed", "0xff"}, with(func(o *generateOptions) { o.prompt, o.seed = "x", 255 })},
		{"max seed", []string{"x", "--seed", "18446744073709551615"}, with(func(o *generateOptions) { o.prompt, o.seed = "x", ^uint64(0) })},
		{"invalid values are left to validation", []string{"x", "--width", "100", "--cfg", "NaN"},
			with(func(o *generateOptions) { o.prompt, o.width, o.cfg = "x", 100, float32(nan()) })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseGenerateArgs(tt.args)
			require.NoError(t, err)
			if tt.want.cfg != tt.want.cfg { // NaN
				assert.True(t, got.cfg != got.cfg)
				got.cfg, tt.want.cfg = 0, 0
			}
			assert.Equal(t, tt.want, *got)
		})
	}
}

func strp(s string) *string { return &s }

func nan() float64 {
	zero := 0.0
	return zero / zero
}

func TestParseGenerateArgsErrors(t *testing.T) {
	tests := []struct {
		args []string
		help bool
	}{
		{args: []string{}},
		{args: []string{"--width", "-1", "x"}},
		{args: []string{"--seed", "-1", "x"}},
		{args: []string{"--cfg", "abc", "x"}},
		{args: []string{"--timeout", "5", "x"}},
		{args: []string{"--help"}, help: true},
		{args: []string{"x", "--help"}, help: true},
	}
	for _, tt := range tests {
		_, err := parseGenerateArgs(tt.args)
		require.Error(t, err, "%v", tt.args)
		if tt.help {
			assert.True(t, errors.Is(err, flag.ErrHelp), "%v", tt.args)
		} else {
			var ue *usageErr
			assert.ErrorAs(t, err, &ue, "%v", tt.args)
		}
	}
}

func TestResolvePath(t *testing.T) {
	tests := []struct {
		path, bwd, want string
	}{
		{"out.png", "", "out.png"},
		{"out.png", "/home/me/proj", "/home/me/proj/out.png"},
		{"sub/out.png", "/home/me/proj", "/home/me/proj/sub/out.png"},
		{"../out.png", "/home/me/proj", "/home/me/out.png"},
		{"/abs/out.png", "/home/me/proj", "/abs/out.png"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, resolvePath(tt.path, tt.bwd), "%s in %s", tt.path, tt.bwd)
	}
}

func TestExitCodes(t *testing.T) {
	validation := protocol.NewGenerateRequest(0, "x", 100, 512, 28, 7, 0).Validate()
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"ok", nil, 0},
		{"not running", &client.Error{Sentinel: client.ErrDaemonNotRunning, Detail: "/x"}, 3},
		{"refused", client.ErrConnectionRefused, 3},
		{"connect timeout", client.ErrConnectTimeout, 3},
		{"read timeout", client.ErrReadTimeout, 3},
		{"closed", fmt.Errorf("wrapped: %w", client.ErrConnectionClosed), 3},
		{"autostart failed", &daemonUnavailableError{msg: "x"}, 3},
		{"XDG unset", client.ErrXDGNotSet, 1},
		{"rejected 400", protocol.NewErrorResponse(1, protocol.CodeInvalidSteps, "x"), 4},
		{"local validation", validation, 4},
		{"failed 500", protocol.NewErrorResponse(1, protocol.CodeGPU, "x"), 5},
		{"busy 500 reply", protocol.NewErrorResponse(1, protocol.CodeBusy, "x"), 5},
		{"still busy at the deadline", &busyError{last: protocol.NewErrorResponse(1, protocol.CodeBusy, "x"), after: "2s"}, 3},
		{"not responding", &client.Error{Sentinel: client.ErrReadTimeout, Also: client.ErrNotResponding}, 3},
		{"socket path too long", &client.SocketPathError{Path: "/x"}, 1},
		{"usage", &usageErr{msg: "x"}, 2},
		{"unknown code 4xx", &protocol.ErrorResponse{Status: 404, Code: 77}, 4},
		{"unknown status", &protocol.ErrorResponse{Status: 0, Code: 77}, 5},
		{"bad reply", &client.ReplyError{Err: protocol.NewError(protocol.CodeMalformed, 0, "x")}, 1},
		{"output", &outputError{path: "x.png", err: os.ErrPermission}, 1},
		{"interrupted", context.Canceled, 130},
		{"other", errors.New("x"), 1},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, exitCode(tt.err), tt.name)
	}
}

func TestWritePNG(t *testing.T) {
	const w, h = 5, 3
	rgb := fakedaemon.Pixels(w, h, 77)
	rgba := make([]byte, 0, w*h*4)
	for i := 0; i < w*h; i++ {
		rgba = append(rgba, rgb[3*i], rgb[3*i+1], rgb[3*i+2], byte(i*10))
	}
	tests := []struct {
		name     string
		channels uint32
		pixels   []byte
	}{
		{"RGB", 3, rgb},
		{"RGBA", 4, rgba},
	}
	for _, tt := range tests {
		for _, level := range []pngCompression{pngFast, pngDefault, pngBest} {
			tt, level := tt, level
			t.Run(tt.name+"/"+level.String(), func(t *testing.T) {
				dir := t.TempDir()
				path := filepath.Join(dir, "out.png")
				img, err := responseImage(&protocol.GenerateResponse{Width: w, Height: h, Channels: tt.channels, Pixels: tt.pixels})
				require.NoError(t, err)
				require.NoError(t, writePNGAtomic(context.Background(), path, img, level, level == pngBest))
				got := decodePNG(t, path)
				require.Equal(t, image.Rect(0, 0, w, h), got.Bounds())
				for y := 0; y < h; y++ {
					for x := 0; x < w; x++ {
						c := got.At(x, y)
						n := image.NewNRGBA(image.Rect(0, 0, 1, 1))
						n.Set(0, 0, c)
						i := int(tt.channels) * (y*w + x)
						want := []byte{tt.pixels[i], tt.pixels[i+1], tt.pixels[i+2], 255}
						if tt.channels == 4 {
							want[3] = tt.pixels[i+3]
						}
						assert.Equal(t, want, n.Pix[:4], "pixel %d,%d", x, y)
					}
				}
				entries, err := os.ReadDir(dir)
				require.NoError(t, err)
				assert.Len(t, entries, 1, "no temporary file left behind")
				fi, err := os.Stat(path)
				require.NoError(t, err)
				assert.Equal(t, os.FileMode(0o666)&^umask(), fi.Mode().Perm())
			})
		}
	}
}

func TestWritePNGReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.png")
	require.NoError(t, os.WriteFile(path, []byte("old"), 0o644))
	img, err := responseImage(&protocol.GenerateResponse{Width: 2, Height: 2, Channels: 3, Pixels: make([]byte, 12)})
	require.NoError(t, err)
	require.NoError(t, writePNGAtomic(context.Background(), path, img, pngFast, false))
	decodePNG(t, path)

	// A failing write (missing directory) leaves nothing.
	err = writePNGAtomic(context.Background(), filepath.Join(dir, "missing", "out.png"), img, pngFast, false)
	require.Error(t, err)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1)

	// Canceled (Ctrl-C) while writing: the old file stays, no temporary.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = writePNGAtomic(ctx, path, img, pngFast, true)
	require.ErrorIs(t, err, context.Canceled)
	entries, err = os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1)
	decodePNG(t, path)
}

func TestResponseImageRejectsInconsistentData(t *testing.T) {
	for _, r := range []*protocol.GenerateResponse{
		{Width: 2, Height: 2, Channels: 3, Pixels: make([]byte, 11)},
		{Width: 2, Height: 2, Channels: 2, Pixels: make([]byte, 8)},
		{Width: 0, Height: 2, Channels: 3},
	} {
		_, err := responseImage(r)
		assert.Error(t, err)
	}
}

func TestGenerateWritesPNG(t *testing.T) {
	e := newTestEnv(t)
	s := e.startFake(t, nil)
	r := e.run(t, "generate", "a", "lighthouse", "-o", "lighthouse.png", "--width", "128", "--height", "64", "--seed", "123456", "--no-autostart")
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	assert.Equal(t, "wrote lighthouse.png (128x64, seed 123456, generated in 42 ms)\n", r.stdout)
	assert.Empty(t, r.stderr, "no spinner when stderr is not a terminal")
	img := decodePNG(t, filepath.Join(e.work, "lighthouse.png"))
	requireRGB(t, img, 128, 64, fakedaemon.Pixels(128, 64, 123456))
	assert.EqualValues(t, 2, s.Accepted(), "a v1-only daemon: the refused v2 request, then v1")
}

func TestGenerateDefaultOutputName(t *testing.T) {
	e := newTestEnv(t)
	e.startFake(t, nil)
	r := e.run(t, "generate", "x", "--width", "64", "--height", "64")
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	name := fmt.Sprintf("weave-%d.png", fakedaemon.DefaultSeed)
	assert.Equal(t, fmt.Sprintf("wrote %s (64x64, seed %d, generated in 42 ms)\n", name, fakedaemon.DefaultSeed), r.stdout)
	requireRGB(t, decodePNG(t, filepath.Join(e.work, name)), 64, 64, fakedaemon.Pixels(64, 64, fakedaemon.DefaultSeed))
}

func TestGenerateWithoutSeedExtension(t *testing.T) {
	e := newTestEnv(t)
	e.startFake(t, func(m protocol.Message) protocol.Message {
		resp := fakedaemon.Default(m).(*protocol.GenerateResponse)
		resp.HasSeed = false
		return resp
	})
	r := e.run(t, "generate", "x", "--width", "64", "--height", "64", "-o", "x.png")
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	assert.Equal(t, "wrote x.png (64x64, seed unknown, generated in 42 ms)\n", r.stdout)
}

func TestGenerateAbsoluteOutputIgnoresBuildWorkingDirectory(t *testing.T) {
	e := newTestEnv(t)
	e.startFake(t, nil)
	out := filepath.Join(testutil.ShortTempDir(t), "abs.png")
	r := e.run(t, "generate", "x", "--width", "64", "--height", "64", "-o", out)
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	decodePNG(t, out)
}

func TestGenerateErrors(t *testing.T) {
	reply := func(code protocol.ErrorCode, msg string) fakedaemon.Handler {
		return func(m protocol.Message) protocol.Message {
			return protocol.NewErrorResponse(m.(*protocol.GenerateRequest).RequestID, code, msg)
		}
	}
	tests := []struct {
		name      string
		handler   fakedaemon.Handler
		noDaemon  bool
		args      []string
		code      int
		stderr    string // exact stderr, if set
		stderrHas []string
		contacted bool
		lines     int     // lines on stderr (default 1)
		prompt    *string // the prompt (default "a prompt")
	}{
		{name: "not running, no autostart", noDaemon: true, args: []string{"--no-autostart"}, code: 3, lines: 5,
			stderrHas: []string{"weave: weave-compute daemon not running (socket not found)", "\nIs weave-compute running?",
				"without --no-autostart", "weave-compute &", "systemctl --user start weave-compute.socket"}},
		{name: "width rule", args: []string{"--width", "100"}, code: 2, lines: 2,
			stderr: "weave: --width 100: want a multiple of 64 in 64..2048\nRun 'weave generate --help' for usage.\n"},
		{name: "height rule", args: []string{"--height", "4096"}, code: 2, lines: 2,
			stderrHas: []string{"weave: --height 4096: want a multiple of 64 in 64..2048\n"}},
		{name: "2048x2048 against a v1-only daemon", args: []string{"--width", "2048", "--height", "2048"}, code: 4, lines: 2, contacted: true,
			stderrHas: []string{"weave: weave-compute daemon speaks protocol version 1 only: a 2048x2048 image does not fit", "1856x1856",
				"\nThis weave-compute sends at most 3495234 pixels (e.g. 1856x1856 or 2048x1664): ask for less, or update weave-compute.\n"}},
		{name: "steps", args: []string{"--steps", "0"}, code: 2, lines: 2, stderrHas: []string{"weave: --steps 0: want 1..100\n"}},
		{name: "cfg", args: []string{"--cfg", "99"}, code: 2, lines: 2, stderrHas: []string{"weave: --cfg 99: want 0..20\n"}},
		{name: "cfg NaN", args: []string{"--cfg", "NaN"}, code: 2, lines: 2, stderrHas: []string{"weave: --cfg NaN: want 0..20\n"}},
		{name: "blank prompt", prompt: strp(" \t "), code: 2, lines: 2, stderrHas: []string{"weave: the prompt is blank"}},
		{name: "empty prompt", prompt: strp(""), code: 2, lines: 2, stderrHas: []string{"weave: the prompt is empty"}},
		{name: "prompt too long", prompt: strp(strings.Repeat("a", 2049)), code: 2, lines: 2,
			stderrHas: []string{"weave: the prompt is 2049 bytes; at most 2048 are allowed"}},
		{name: "daemon rejects", handler: reply(protocol.CodeInvalidPrompt, "t5 prompt is odd"), code: 4, contacted: true,
			stderr: "weave: weave-compute rejected the request (400, invalid prompt): t5 prompt is odd\n"},
		{name: "daemon fails", handler: reply(protocol.CodeGPU, "backend failed"), code: 5, contacted: true,
			stderrHas: []string{"weave-compute failed the request (500, GPU error): backend failed"}},
		{name: "daemon busy", handler: reply(protocol.CodeBusy, "server busy"), args: []string{"--timeout", "300ms"}, code: 3, contacted: true,
			lines: 2, stderrHas: []string{`weave: weave-compute daemon is busy: still answering "server busy" after `, "try again in a moment"}},
		{name: "daemon closes", handler: func(protocol.Message) protocol.Message { return nil }, code: 3, contacted: true,
			stderr: "weave: weave-compute daemon closed the connection without a response\n"},
		{name: "output directory missing", args: []string{"-o", "nowhere/x.png"}, code: 1,
			stderrHas: []string{"weave: cannot write nowhere/x.png:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t)
			var s *fakedaemon.Server
			if !tt.noDaemon {
				s = e.startFake(t, tt.handler)
			}
			prompt := "a prompt"
			if tt.prompt != nil {
				prompt = *tt.prompt
			}
			args := append([]string{"generate", "--width", "64", "--height", "64", "-o", "out.png"}, tt.args...)
			args = append(args, "--", prompt)
			r := e.run(t, args...)
			assert.Equal(t, tt.code, r.code, "stderr: %s", r.stderr)
			assert.Empty(t, r.stdout)
			if tt.stderr != "" {
				assert.Equal(t, tt.stderr, r.stderr)
			}
			for _, want := range tt.stderrHas {
				assert.Contains(t, r.stderr, want)
			}
			lines := tt.lines
			if lines == 0 {
				lines = 1
			}
			assert.Equal(t, lines, strings.Count(r.stderr, "\n"), "%d lines: %q", lines, r.stderr)
			_, err := os.Stat(filepath.Join(e.work, "out.png"))
			assert.True(t, os.IsNotExist(err), "no output file on failure")
			if s != nil {
				assert.Equal(t, tt.contacted, s.Accepted() > 0)
			}
		})
	}
}

// An output that cannot be written fails before the daemon is asked for
// an image (which can take a minute), with exit code 1.
func TestGenerateUnwritableOutputFailsEarly(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(t *testing.T, e *testEnv) string // returns the -o value
		stderrHas string
	}{
		{"output is a directory", func(t *testing.T, e *testEnv) string {
			require.NoError(t, os.Mkdir(filepath.Join(e.work, "adir"), 0o755))
			return "adir"
		}, "is a directory"},
		{"directory not writable", func(t *testing.T, e *testEnv) string {
			if os.Geteuid() == 0 {
				t.Skip("root may write into a read-only directory")
			}
			d := filepath.Join(e.work, "ro")
			require.NoError(t, os.Mkdir(d, 0o555))
			return "ro/x.png"
		}, "permission denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t)
			s := e.startFake(t, nil)
			out := tt.setup(t, e)
			r := e.run(t, "generate", "x", "--width", "64", "--height", "64", "-o", out)
			assert.Equal(t, 1, r.code, "stderr: %s", r.stderr)
			assert.True(t, strings.HasPrefix(r.stderr, "weave: cannot write "+out+": "), r.stderr)
			assert.Contains(t, r.stderr, tt.stderrHas)
			assert.Equal(t, 1, strings.Count(r.stderr, "\n"), r.stderr)
			assert.Empty(t, r.stdout)
			assert.Zero(t, s.Accepted(), "the daemon must not be asked")
		})
	}
}

func TestXDGNotSet(t *testing.T) {
	for _, args := range [][]string{{"status"}, {"generate", "x"}} {
		e := newTestEnv(t)
		delete(e.vars, "XDG_RUNTIME_DIR")
		r := e.run(t, args...)
		assert.Equal(t, 1, r.code)
		assert.True(t, strings.HasPrefix(r.stderr, "weave: XDG_RUNTIME_DIR not set (set it to"), r.stderr)
		assert.Equal(t, 1, strings.Count(r.stderr, "\n"))
	}
}

func TestStatus(t *testing.T) {
	e := newTestEnv(t)
	e.startFake(t, nil)
	r := e.run(t, "status")
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	want := "weave-compute is running\n" +
		"  pid:              " + pidText(os.Getpid()) + "\n" +
		"  socket:           " + e.socketPath() + "\n" +
		"  backend:          fake\n" +
		"  daemon version:   fake-1\n" +
		"  protocol:         1 (weave speaks 1..2)\n" +
		"  uptime:           1s\n" +
		"  requests served:  7\n" +
		"  connections:      1 open, 64 max\n" +
		"  queue depth:      0\n"
	assert.Equal(t, want, r.stdout)
	assert.Empty(t, r.stderr)
}

func TestStatusSanitizesDaemonStrings(t *testing.T) {
	e := newTestEnv(t)
	e.startFake(t, func(m protocol.Message) protocol.Message {
		st := fakedaemon.Default(m).(*protocol.StatusResponse)
		st.Backend = "fake\x1b]0;pwned\x07\r\n"
		st.DaemonVersion = "v\xff1"
		return st
	})
	r := e.run(t, "status")
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	assert.Contains(t, r.stdout, "  backend:          fake\uFFFD]0;pwned\uFFFD\uFFFD\uFFFD\n")
	assert.Contains(t, r.stdout, "  daemon version:   v\uFFFD1\n")
	assert.NotContains(t, r.stdout, "\x1b")
	assert.Equal(t, 10, strings.Count(r.stdout, "\n"), r.stdout)
}

// A daemon at its connection limit is up, but busy is temporary: status
// asks again with a back-off until its deadline, then exits 3.
func TestStatusBusy(t *testing.T) {
	e := newTestEnv(t)
	s := e.startFake(t, func(m protocol.Message) protocol.Message {
		return protocol.NewErrorResponse(m.(*protocol.StatusRequest).RequestID, protocol.CodeBusy, "too many connections")
	})
	start := time.Now()
	r := e.run(t, "status", "--timeout", "500ms")
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.Equal(t, 3, r.code)
	assert.Regexp(t, `^weave: weave-compute daemon is busy: still answering "too many connections" after [0-9.]+m?s\n`, r.stderr)
	assert.Contains(t, r.stderr, "try again in a moment")
	assert.Empty(t, r.stdout)
	assert.Greater(t, s.Accepted(), int64(2), "asked more than once")
}

// Busy for a while, then an answer: the command succeeds.
func TestBusyThenServed(t *testing.T) {
	e := newTestEnv(t)
	var mu sync.Mutex
	n := 0
	e.startFake(t, func(m protocol.Message) protocol.Message {
		mu.Lock()
		n++
		k := n
		mu.Unlock()
		if k <= 2 {
			var id uint64
			switch req := m.(type) {
			case *protocol.StatusRequest:
				id = req.RequestID
			case *protocol.GenerateRequest:
				id = req.RequestID
			}
			return protocol.NewErrorResponse(id, protocol.CodeBusy, "server busy")
		}
		return fakedaemon.Default(m)
	})
	r := e.run(t, "generate", "x", "--width", "64", "--height", "64", "-o", "b.png", "--no-autostart")
	require.Equal(t, 0, r.code, r.stderr)
	decodePNG(t, filepath.Join(e.work, "b.png"))
	mu.Lock()
	n = 0
	mu.Unlock()
	r = e.run(t, "status")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "weave-compute is running")
}

func TestStatusDown(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, e *testEnv)
		want  string
	}{
		{"no socket", func(t *testing.T, e *testEnv) {}, "weave: weave-compute daemon not running (socket not found): "},
		{"stale socket", func(t *testing.T, e *testEnv) {
			s := e.startFake(t, nil)
			// Leave the socket file behind, as a killed daemon does.
			require.NoError(t, os.Link(e.socketPath(), e.socketPath()+".keep"))
			s.Close()
			require.NoError(t, os.Rename(e.socketPath()+".keep", e.socketPath()))
		}, "weave: weave-compute daemon not accepting connections: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t)
			tt.setup(t, e)
			r := e.run(t, "status")
			assert.Equal(t, 3, r.code)
			assert.True(t, strings.HasPrefix(r.stderr, tt.want), r.stderr)
			assert.Empty(t, r.stdout)
		})
	}
}

func TestStatusNotSupported(t *testing.T) {
	e := newTestEnv(t)
	e.startFake(t, func(m protocol.Message) protocol.Message {
		return protocol.NewErrorResponse(0, protocol.CodeInternal, "unknown message")
	})
	r := e.run(t, "status")
	assert.Equal(t, 0, r.code)
	assert.Contains(t, r.stdout, "weave-compute is running")
	assert.Contains(t, r.stdout, "not supported by this daemon")
}

func TestFormatUptime(t *testing.T) {
	assert.Equal(t, "850ms", formatUptime(850*time.Millisecond))
	assert.Equal(t, "2h3m4s", formatUptime(2*time.Hour+3*time.Minute+4*time.Second+200*time.Millisecond))
}

func TestGenerationsText(t *testing.T) {
	for _, tt := range []struct {
		n, us uint64
		want  string
	}{
		{0, 0, "0"},
		{0, 123, "0"}, // no image: no mean, whatever generation_us says
		{42, 329412345, "42 (mean 7.84 s)"},
		{1, 999994, "1 (mean 999.99 ms)"},
		{1, 1000000, "1 (mean 1.00 s)"},
		{3, 23520, "3 (mean 7.84 ms)"},
		{1, 10, "1 (mean 0.01 ms)"},
		{1, 9, "1 (mean 0.009 ms)"},
		{2, 0, "2 (mean 0.000 ms)"},
	} {
		assert.Equal(t, tt.want, generationsText(tt.n, tt.us), "%d, %d", tt.n, tt.us)
	}
}

func TestEnvironGet(t *testing.T) {
	e := newEnviron([]string{"A=1", "AB=2", "A=3", "EMPTY=", "NOEQ"})
	assert.Equal(t, "3", e.Get("A"))
	assert.Equal(t, "2", e.Get("AB"))
	assert.Equal(t, "", e.Get("EMPTY"))
	assert.Equal(t, "", e.Get("NOEQ"))
	assert.Equal(t, "", e.Get("MISSING"))
}

var startedRE = regexp.MustCompile(`started weave-compute \(pid (\d+)\)`)

// killStarted stops a fake daemon the CLI started (by its pid).
func killStarted(t *testing.T, stderr string) {
	t.Helper()
	m := startedRE.FindStringSubmatch(stderr)
	if m == nil {
		return
	}
	pid, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	_ = syscall.Kill(pid, syscall.SIGTERM)
}

func testBinary(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	return exe
}

func TestAutostart(t *testing.T) {
	e := newTestEnv(t)
	e.vars["WEAVE_COMPUTE_BIN"] = testBinary(t)
	e.vars[fakeDaemonEnv] = "serve"
	r := e.run(t, "generate", "x", "--width", "64", "--height", "64", "-o", "auto.png")
	defer killStarted(t, r.stderr)
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	assert.Regexp(t, `^started weave-compute \(pid \d+\)\n$`, r.stderr)
	decodePNG(t, filepath.Join(e.work, "auto.png"))
	fi, err := os.Stat(filepath.Join(e.xdg, "weave"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
	log, err := os.ReadFile(filepath.Join(e.xdg, "weave", "weave-compute.log"))
	require.NoError(t, err)
	assert.Contains(t, string(log), "fake weave-compute listening on")

	// The daemon outlives the command and serves the next one.
	r2 := e.run(t, "status")
	assert.Equal(t, 0, r2.code, "stderr: %s", r2.stderr)
}

// The daemon must not inherit descriptors weave got from its parent
// without close-on-exec (here: both ends of a pipe), or it would keep,
// e.g., the pipe of a $(weave ...) caller open for its whole life.
func TestAutostartDoesNotLeakDescriptors(t *testing.T) {
	var p [2]int
	require.NoError(t, syscall.Pipe(p[:])) // pipe2(..., 0): no O_CLOEXEC
	defer syscall.Close(p[0])
	defer syscall.Close(p[1])
	pipeID, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", p[1]))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(pipeID, "pipe:"), pipeID)

	e := newTestEnv(t)
	e.vars["WEAVE_COMPUTE_BIN"] = testBinary(t)
	e.vars[fakeDaemonEnv] = "serve"
	r := e.run(t, "generate", "x", "--width", "64", "--height", "64", "-o", "auto.png")
	defer killStarted(t, r.stderr)
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	m := startedRE.FindStringSubmatch(r.stderr)
	require.NotNil(t, m, r.stderr)

	fdDir := "/proc/" + m[1] + "/fd"
	entries, err := os.ReadDir(fdDir)
	require.NoError(t, err)
	var links []string
	for _, ent := range entries {
		l, err := os.Readlink(filepath.Join(fdDir, ent.Name()))
		if err != nil {
			continue
		}
		links = append(links, ent.Name()+" -> "+l)
		assert.NotEqual(t, pipeID, l, "daemon fd %s is weave's inherited pipe", ent.Name())
	}
	// stdin is /dev/null, stdout and stderr the log.
	assert.Contains(t, links, "0 -> /dev/null")
	assert.Contains(t, links, "2 -> "+filepath.Join(e.xdg, "weave", "weave-compute.log"))
}

func TestAutostartStaleSocket(t *testing.T) {
	e := newTestEnv(t)
	e.vars["WEAVE_COMPUTE_BIN"] = testBinary(t)
	e.vars[fakeDaemonEnv] = "serve"
	s := e.startFake(t, nil)
	require.NoError(t, os.Link(e.socketPath(), e.socketPath()+".keep"))
	s.Close()
	require.NoError(t, os.Rename(e.socketPath()+".keep", e.socketPath()))
	r := e.run(t, "generate", "x", "--width", "64", "--height", "64", "-o", "auto.png")
	defer killStarted(t, r.stderr)
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	assert.Contains(t, r.stderr, "started weave-compute")
}

func TestAutostartFailures(t *testing.T) {
	tests := []struct {
		name      string
		bin       func(t *testing.T) string
		mode      string
		stderrHas []string
	}{
		{name: "daemon exits early", bin: testBinary, mode: "fail",
			stderrHas: []string{"weave: weave-compute (pid ", "exited with status 1 before it was ready: weave-compute: boom: cannot open the GPU (log: "}},
		{name: "no binary", bin: func(t *testing.T) string { return "/nonexistent/weave-compute" },
			stderrHas: []string{"weave: weave-compute daemon not running (socket not found): ", "cannot start it: WEAVE_COMPUTE_BIN=/nonexistent/weave-compute is not an executable file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t)
			e.vars["WEAVE_COMPUTE_BIN"] = tt.bin(t)
			if tt.mode != "" {
				e.vars[fakeDaemonEnv] = tt.mode
			}
			r := e.run(t, "generate", "x", "-o", "out.png")
			defer killStarted(t, r.stderr)
			assert.Equal(t, 3, r.code)
			for _, want := range tt.stderrHas {
				assert.Contains(t, r.stderr, want)
			}
			_, err := os.Stat(filepath.Join(e.work, "out.png"))
			assert.True(t, os.IsNotExist(err))
		})
	}
}

// A daemon that exits 3 lost the race to another instance: weave keeps
// polling and uses the winner.
func TestAutostartLostRace(t *testing.T) {
	e := newTestEnv(t)
	e.vars["WEAVE_COMPUTE_BIN"] = testBinary(t)
	e.vars[fakeDaemonEnv] = "race"
	marker := filepath.Join(e.work, "lost-race")
	e.vars[raceMarkerEnv] = marker
	var wg sync.WaitGroup
	wg.Add(1)
	var winner *fakedaemon.Server
	go func() {
		defer wg.Done()
		// The winner starts listening only after the daemon weave started
		// has lost (exits 3), so weave must keep polling to succeed.
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, err := os.Stat(marker); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Error("the autostarted daemon never ran")
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		if err := os.MkdirAll(filepath.Dir(e.socketPath()), 0o700); err != nil {
			t.Error(err)
			return
		}
		s, err := fakedaemon.Listen(e.socketPath(), nil)
		if err != nil {
			t.Error(err)
			return
		}
		winner = s
	}()
	r := e.run(t, "generate", "x", "--width", "64", "--height", "64", "-o", "out.png")
	wg.Wait()
	if winner != nil {
		defer winner.Close()
	}
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	// The daemon this weave started lost; the one serving is not its own,
	// so it must not claim to have started it.
	assert.Empty(t, r.stderr)
	decodePNG(t, filepath.Join(e.work, "out.png"))
}

func TestAutostartTimeout(t *testing.T) {
	old := autostartReadyTimeout
	autostartReadyTimeout = time.Second
	defer func() { autostartReadyTimeout = old }()
	e := newTestEnv(t)
	e.vars["WEAVE_COMPUTE_BIN"] = testBinary(t)
	e.vars[fakeDaemonEnv] = "race"
	r := e.run(t, "generate", "x", "-o", "out.png")
	assert.Equal(t, 3, r.code)
	assert.Contains(t, r.stderr, "did not become ready within 1s")
	assert.True(t, strings.HasPrefix(r.stderr, "weave: another weave-compute (pid "), r.stderr)
	assert.Equal(t, 1, strings.Count(r.stderr, "\n"), r.stderr)
}

func TestFindDaemon(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, root string) (a *autostarter, want string)
	}{
		{"WEAVE_COMPUTE_BIN", func(t *testing.T, root string) (*autostarter, string) {
			p := writeExe(t, filepath.Join(root, "custom", "daemon"))
			writeExe(t, filepath.Join(root, "bin", "weave-compute"))
			return &autostarter{env: newEnviron([]string{"WEAVE_COMPUTE_BIN=" + p}), executable: filepath.Join(root, "bin", "weave")}, p
		}},
		{"next to weave", func(t *testing.T, root string) (*autostarter, string) {
			p := writeExe(t, filepath.Join(root, "bin", "weave-compute"))
			return &autostarter{env: newEnviron(nil), executable: filepath.Join(root, "bin", "weave")}, p
		}},
		{"runfiles of weave", func(t *testing.T, root string) (*autostarter, string) {
			exe := filepath.Join(root, "bin", "weave_", "weave")
			p := writeExe(t, filepath.Join(exe+".runfiles", "com_github_weave_app_weave", "c", "daemon", "weave-compute"))
			return &autostarter{env: newEnviron(nil), executable: exe}, p
		}},
		{"RUNFILES_DIR", func(t *testing.T, root string) (*autostarter, string) {
			p := writeExe(t, filepath.Join(root, "rf", "com_github_weave_app_weave", "c", "daemon", "weave-compute"))
			return &autostarter{env: newEnviron([]string{"RUNFILES_DIR=" + filepath.Join(root, "rf")}), executable: filepath.Join(root, "bin", "weave")}, p
		}},
		{"PATH", func(t *testing.T, root string) (*autostarter, string) {
			p := writeExe(t, filepath.Join(root, "usr", "bin", "weave-compute"))
			return &autostarter{env: newEnviron([]string{"PATH=relative:" + filepath.Join(root, "usr", "bin")}), executable: filepath.Join(root, "bin", "weave")}, p
		}},
		{"not executable next to weave", func(t *testing.T, root string) (*autostarter, string) {
			p := filepath.Join(root, "bin", "weave-compute")
			require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
			require.NoError(t, os.WriteFile(p, nil, 0o644))
			return &autostarter{env: newEnviron(nil), executable: filepath.Join(root, "bin", "weave")}, ""
		}},
		{"WEAVE_COMPUTE_BIN missing is an error", func(t *testing.T, root string) (*autostarter, string) {
			writeExe(t, filepath.Join(root, "bin", "weave-compute"))
			return &autostarter{env: newEnviron([]string{"WEAVE_COMPUTE_BIN=" + filepath.Join(root, "nope")}), executable: filepath.Join(root, "bin", "weave")}, ""
		}},
		{"nowhere", func(t *testing.T, root string) (*autostarter, string) {
			return &autostarter{env: newEnviron(nil), executable: filepath.Join(root, "bin", "weave")}, ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, want := tt.setup(t, t.TempDir())
			got, err := a.findDaemon()
			if want == "" {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, want, got)
		})
	}
}

func writeExe(t *testing.T, p string) string {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755))
	return p
}

func TestLogFirstError(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "log")
	old := "weave-compute: old error from an earlier daemon\n"
	body := "2026-11-26T09:30:00.123Z weave-compute[7] INFO weave-compute 0.1.0 pid 7\n" +
		"weave-compute: invalid --log-level 'x' (want debug, info, warn or error)\n" +
		"Usage: weave-compute [--log-level=debug|info|warn|error]\n" +
		"  --help  this text\n"
	require.NoError(t, os.WriteFile(p, []byte(old+body), 0o600))
	got := logFirstError(p, int64(len(old)))
	assert.Equal(t, ": weave-compute: invalid --log-level 'x' (want debug, info, warn or error) (log: "+p+")", got)
	assert.Equal(t, "; log: "+p, logFirstError(p, int64(len(old)+len(body))))
	assert.Equal(t, "", logFirstError(filepath.Join(dir, "missing"), 0))
	require.NoError(t, os.WriteFile(p, []byte("just a line\nanother\n"), 0o600))
	assert.Equal(t, ": just a line (log: "+p+")", logFirstError(p, 0))
}

// syncBuffer is a goroutine-safe buffer for the spinner tests.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestSpinner(t *testing.T) {
	oldTerm, oldInterval := isTerminal, spinnerInterval
	defer func() { isTerminal, spinnerInterval = oldTerm, oldInterval }()
	spinnerInterval = 10 * time.Millisecond

	t.Run("terminal", func(t *testing.T) {
		isTerminal = func(io.Writer) bool { return true }
		e := newTestEnv(t)
		e.vars["TERM"] = "xterm"
		errb := &syncBuffer{}
		e.startFake(t, func(m protocol.Message) protocol.Message {
			// Answer once the spinner has drawn a frame (bounded wait; a
			// spinner that never draws fails the assertion below).
			deadline := time.Now().Add(10 * time.Second)
			for !strings.Contains(errb.String(), "generating") && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			return fakedaemon.Default(m)
		})
		var out bytes.Buffer
		code := runContext(context.Background(), []string{"generate", "x", "--width", "64", "--height", "64", "-o", "s.png"}, newEnviron(e.list()), &out, errb)
		require.Equal(t, 0, code, errb.String())
		s := errb.String()
		assert.Contains(t, s, "generating 64x64, 28 steps... 0s")
		assert.True(t, strings.HasSuffix(s, "\r\x1b[K"), "spinner line cleared: %q", s)
		assert.Contains(t, out.String(), "wrote s.png")
	})
	for _, env := range []map[string]string{{"TERM": "dumb"}, {"TERM": "xterm", "NO_COLOR": "1"}} {
		env := env
		t.Run(fmt.Sprintf("no escapes with %v", env), func(t *testing.T) {
			isTerminal = func(io.Writer) bool { return true }
			spinnerInterval = 10 * time.Millisecond
			e := newTestEnv(t)
			for k, v := range env {
				e.vars[k] = v
			}
			errb := &syncBuffer{}
			e.startFake(t, func(m protocol.Message) protocol.Message {
				deadline := time.Now().Add(10 * time.Second)
				for strings.Count(errb.String(), "generating") < 2 && time.Now().Before(deadline) {
					time.Sleep(5 * time.Millisecond)
				}
				return fakedaemon.Default(m)
			})
			var out bytes.Buffer
			code := runContext(context.Background(), []string{"generate", "x", "--width", "64", "--height", "64", "-o", "s.png"}, newEnviron(e.list()), &out, errb)
			require.Equal(t, 0, code, errb.String())
			got := errb.String()
			assert.Contains(t, got, "\r| generating 64x64, 28 steps... 0s")
			assert.NotContains(t, got, "\x1b")
			assert.True(t, strings.HasSuffix(got, " \r"), "line blanked with spaces: %q", got)
		})
	}
	t.Run("quick answers draw nothing", func(t *testing.T) {
		isTerminal = func(io.Writer) bool { return true }
		spinnerInterval = time.Hour
		var b bytes.Buffer
		sp := startSpinner(&b, "x", nil)
		sp.Stop()
		sp.Stop()
		assert.Empty(t, b.String())
	})
	t.Run("not a terminal", func(t *testing.T) {
		isTerminal = oldTerm
		spinnerInterval = 10 * time.Millisecond
		var b bytes.Buffer
		sp := startSpinner(&b, "x", nil)
		time.Sleep(50 * time.Millisecond)
		sp.Stop()
		assert.Empty(t, b.String())
	})
}

func TestIsTerminal(t *testing.T) {
	assert.False(t, isTerminal(&bytes.Buffer{}))
	f, err := os.CreateTemp(t.TempDir(), "f")
	require.NoError(t, err)
	defer f.Close()
	assert.False(t, isTerminal(f))
}

func TestGenerateJSON(t *testing.T) {
	e := newTestEnv(t)
	e.startFake(t, nil)
	r := e.run(t, "generate", "x", "--width", "128", "--height", "64", "--seed", "9", "-o", "j.png", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, `{"event":"done","path":"j.png","width":128,"height":64,"seed":9,"generation_ms":42}`+"\n", r.stdout)
	assert.Empty(t, r.stderr)

	// A daemon error: status and code of the reply.
	e2 := newTestEnv(t)
	e2.startFake(t, func(m protocol.Message) protocol.Message {
		return protocol.NewErrorResponse(m.(*protocol.GenerateRequest).RequestID, protocol.CodeGPU, "backend failed")
	})
	r = e2.run(t, "generate", "x", "--width", "64", "--height", "64", "-o", "j.png", "--json")
	assert.Equal(t, 5, r.code)
	assert.Equal(t, `{"event":"error","status":500,"code":9,"message":"weave-compute failed the request (500, GPU error): backend failed"}`+"\n", r.stdout)
	assert.Contains(t, r.stderr, "weave: weave-compute failed the request")

	// A local failure: status 0.
	r = e2.run(t, "generate", "x", "--steps", "0", "--json")
	assert.Equal(t, 2, r.code)
	assert.Equal(t, `{"event":"error","status":0,"code":0,"message":"--steps 0: want 1..100"}`+"\n", r.stdout)
	e3 := newTestEnv(t)
	r = e3.run(t, "generate", "x", "--json", "--no-autostart")
	assert.Equal(t, 3, r.code)
	assert.True(t, strings.HasPrefix(r.stdout, `{"event":"error","status":0,"code":0,"message":"weave-compute daemon not running (socket not found): `), r.stdout)
}

func TestGenerateToStdout(t *testing.T) {
	e := newTestEnv(t)
	e.startFake(t, nil)
	r := e.run(t, "generate", "x", "--width", "64", "--height", "64", "--seed", "5", "-o", "-")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "wrote PNG to stdout (64x64, seed 5, generated in 42 ms)\n", r.stderr)
	img, err := png.Decode(strings.NewReader(r.stdout))
	require.NoError(t, err)
	requireRGB(t, img, 64, 64, fakedaemon.Pixels(64, 64, 5))
	entries, err := os.ReadDir(e.work)
	require.NoError(t, err)
	assert.Empty(t, entries, "no file written")
}

func TestStatusJSON(t *testing.T) {
	e := newTestEnv(t)
	e.startFake(t, nil)
	r := e.run(t, "status", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	want := fmt.Sprintf(`{"running":true,"pid":%d,"socket":%q,"daemon_version":"fake-1","protocol":{"min":1,"max":1},`+
		`"uptime_ms":1234,"requests_served":7,"connections_open":1,"max_connections":64,"queue_depth":0,"backend":"fake"}`+"\n",
		os.Getpid(), e.socketPath())
	assert.Equal(t, want, r.stdout)
	assert.Empty(t, r.stderr)

	down := newTestEnv(t)
	r = down.run(t, "status", "--json")
	assert.Equal(t, 3, r.code)
	assert.True(t, strings.HasPrefix(r.stdout, fmt.Sprintf(`{"running":false,"socket":%q,"error":"weave-compute daemon not running`, down.socketPath())), r.stdout)
}

func TestVersionShowsDaemon(t *testing.T) {
	e := newTestEnv(t)
	r := e.run(t, "version")
	require.Equal(t, 0, r.code)
	assert.Contains(t, r.stdout, "\nweave-compute: not running\n")
	e.startFake(t, nil)
	r = e.run(t, "version")
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 2, r.stdout)
	assert.True(t, strings.HasPrefix(lines[0], "weave "+version+" (protocol 1..2, "), lines[0])
	assert.Equal(t, fmt.Sprintf("weave-compute fake-1 (protocol 1, pid %s)", pidText(os.Getpid())), lines[1])
}

func TestStopNotRunning(t *testing.T) {
	e := newTestEnv(t)
	r := e.run(t, "stop")
	assert.Equal(t, 0, r.code)
	assert.Equal(t, "weave-compute is not running\n", r.stdout)
	assert.Empty(t, r.stderr)
}

// weave stop sends SIGTERM to the pid the kernel reports for the socket
// and waits for the process to exit; here the daemon is the test binary
// acting as one (started by autostart).
func TestStopAutostarted(t *testing.T) {
	old := daemonProcessName
	daemonProcessName = processName(os.Getpid())
	defer func() { daemonProcessName = old }()
	e := newTestEnv(t)
	e.vars["WEAVE_COMPUTE_BIN"] = testBinary(t)
	e.vars[fakeDaemonEnv] = "serve"
	r := e.run(t, "generate", "x", "--width", "64", "--height", "64", "-o", "auto.png")
	defer killStarted(t, r.stderr)
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	m := startedRE.FindStringSubmatch(r.stderr)
	require.NotNil(t, m, r.stderr)
	r = e.run(t, "stop")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "stopped weave-compute (pid "+m[1]+")\n", r.stdout)
	pid, _ := strconv.Atoi(m[1])
	assert.True(t, exited(pid))
}

// Something that is not a weave-compute holds the socket (as systemd does
// under socket activation): weave stop must not signal it.
func TestStopRefusesOtherProcess(t *testing.T) {
	e := newTestEnv(t)
	e.startFake(t, nil)
	r := e.run(t, "stop")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, fmt.Sprintf("is held by pid %d (", os.Getpid()))
	assert.Contains(t, r.stderr, "systemctl --user stop weave-compute.socket weave-compute.service")
}

func TestSocketPathTooLong(t *testing.T) {
	e := newTestEnv(t)
	long := filepath.Join(e.xdg, strings.Repeat("d", 100))
	e.vars["XDG_RUNTIME_DIR"] = long
	for _, args := range [][]string{{"status"}, {"generate", "x", "--no-autostart", "-o", "x.png"}, {"generate", "x", "-o", "x.png"}, {"stop"}} {
		r := e.run(t, args...)
		assert.Equal(t, 1, r.code, "%v: %s", args, r.stderr)
		n := len(long) + len("/weave/weave.sock")
		assert.True(t, strings.HasPrefix(r.stderr, fmt.Sprintf("weave: socket path too long (%d bytes, max 107): ", n)), r.stderr)
		assert.Contains(t, r.stderr, "export XDG_RUNTIME_DIR=$(mktemp -d /tmp/xdg.XXXXXX)")
		assert.NotContains(t, r.stderr, "invalid argument")
	}
}

func TestCompletion(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish"} {
		e := newTestEnv(t)
		r := e.run(t, "completion", sh)
		require.Equal(t, 0, r.code, r.stderr)
		for _, word := range []string{"generate", "status", "stop", "png-compression", "no-autostart"} {
			assert.Contains(t, r.stdout, word, sh)
		}
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash to load the bash script into")
	}
	script := filepath.Join(t.TempDir(), "weave.bash")
	e := newTestEnv(t)
	require.NoError(t, os.WriteFile(script, []byte(e.run(t, "completion", "bash").stdout), 0o600))
	for _, tc := range []struct{ words, want string }{
		{"weave st", "status stop"},
		{"weave generate --png", "--png-compression"},
		{"weave generate --png-compression f", "fast"},
		{"weave completion z", "zsh"},
		{"weave help ge", "generate"},
	} {
		words := strings.Fields(tc.words)
		cmd := exec.Command(bash, "-c", `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($#-1)); _weave; echo "${COMPREPLY[*]}"`, "x", script)
		cmd.Args = append(cmd.Args, words...)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
		assert.Equal(t, tc.want, strings.TrimSpace(string(out)), tc.words)
	}
}

// The completion scripts offer exactly the flags each command's --help
// lists (an option line starts with the flag), plus --help.
func TestCompletionFlagsMatchHelp(t *testing.T) {
	optionLine := regexp.MustCompile(`(?m)^\s+(?:-o, )?(--[a-z][a-z-]*)`)
	for _, cmd := range commandNames() {
		if cmd == "help" {
			continue
		}
		e := newTestEnv(t)
		r := e.run(t, cmd, "--help")
		require.Equal(t, 0, r.code, "%s --help: %s", cmd, r.stderr)
		want := []string{"--help"}
		for _, m := range optionLine.FindAllStringSubmatch(r.stdout, -1) {
			want = append(want, m[1])
		}
		if strings.Contains(r.stdout, "-o, --output") {
			want = append(want, "-o")
		}
		assert.ElementsMatch(t, want, flagWords(cmd, false), cmd)
	}
}

// The zsh and fish scripts parse (zsh -n, fish --no-execute), and fish
// completes with its script, where those shells are installed.
func TestCompletionZshFish(t *testing.T) {
	for _, tc := range []struct{ sh, check string }{{"zsh", "-n"}, {"fish", "--no-execute"}} {
		t.Run(tc.sh, func(t *testing.T) {
			path, err := exec.LookPath(tc.sh)
			if err != nil {
				t.Skipf("%s is not installed: its script is only checked for content (TestCompletion)", tc.sh)
			}
			script := filepath.Join(t.TempDir(), "weave."+tc.sh)
			e := newTestEnv(t)
			require.NoError(t, os.WriteFile(script, []byte(e.run(t, "completion", tc.sh).stdout), 0o600))
			out, err := exec.Command(path, tc.check, script).CombinedOutput()
			require.NoError(t, err, "%s %s: %s", tc.sh, tc.check, out)
			if tc.sh != "fish" {
				return // zsh completes only inside an interactive shell
			}
			// fish completes a command line on demand: complete -C.
			for _, c := range []struct{ line, want string }{
				{"weave st", "status stop"},
				{"weave generate --png-compression=", "--png-compression=best --png-compression=default --png-compression=fast"},
				{"weave generate --fs", "--fsync"},
				{"weave completion z", "zsh"},
			} {
				out, err := exec.Command(path, "-c", `source $argv[1]; complete -C $argv[2]`, script, c.line).CombinedOutput()
				require.NoError(t, err, string(out))
				var words []string
				for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
					words = append(words, strings.SplitN(l, "\t", 2)[0])
				}
				assert.Equal(t, c.want, strings.Join(words, " "), c.line)
			}
		})
	}
}

func TestSignalExitCodes(t *testing.T) {
	// run() maps a signal received at any point to 128+N. The fake daemon
	// waits until the test has sent the signal, so it arrives mid-request.
	e := newTestEnv(t)
	sent := make(chan struct{})
	srv := e.startFake(t, func(m protocol.Message) protocol.Message {
		<-sent
		return fakedaemon.Default(m)
	})
	for i, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		done := make(chan int, 1)
		var out, errb bytes.Buffer
		go func() {
			done <- run([]string{"generate", "x", "--width", "64", "--height", "64", "-o", "sig.png"}, e.list(), &out, &errb)
		}()
		// Wait until the request is with the daemon, then signal.
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if srv.Requests() > int64(i) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		require.NoError(t, syscall.Kill(os.Getpid(), sig))
		code := <-done
		sent <- struct{}{}
		assert.Equal(t, 128+int(sig), code, "%v: %s", sig, errb.String())
		_, err := os.Stat(filepath.Join(e.work, "sig.png"))
		assert.True(t, os.IsNotExist(err), "no output after %v", sig)
	}
}

// The limits --help states are the ones weave enforces.
func TestHelpStatesTheRealLimits(t *testing.T) {
	assert.Contains(t, generateUsage, fmt.Sprintf("at most %d pixels", maxPixels))
	assert.Contains(t, generateUsage, fmt.Sprintf("at most %dx%d", protocol.MaxSquareDimension, protocol.MaxSquareDimension))
	assert.Contains(t, generateUsage, fmt.Sprintf("up to %dx%d", protocol.MaxDimension, protocol.MaxDimension))
	assert.Contains(t, generateUsage, fmt.Sprintf("1..%d bytes", protocol.MaxPromptLen))
	// weave itself accepts up to 2048x2048 (a current daemon sends it
	// through shared memory); the v1 limit is the daemon's, and says so.
	big := &generateOptions{prompt: "x", width: protocol.MaxDimension, height: protocol.MaxDimension, steps: 1, cfg: 1}
	assert.NoError(t, checkGenerateOptions(big))
	big.width += protocol.DimensionStep
	assert.Error(t, checkGenerateOptions(big))
	assert.NoError(t, protocol.NewGenerateRequest(0, "x", 2048, 1664, 1, 1, 0).Validate(), "2048x1664 fits v1, as --help says")
	assert.Error(t, protocol.NewGenerateRequest(0, "x", 2048, 1728, 1, 1, 0).Validate(), "2048x1728 does not")
	assert.LessOrEqual(t, uint64(protocol.MaxSquareDimension*protocol.MaxSquareDimension), maxPixels)
}

func TestAdler32Combine(t *testing.T) {
	data := []byte(strings.Repeat("weave adler combine \xff\x00", 5000))
	for _, cut := range []int{0, 1, 65520, 65521, 65522, len(data) / 2, len(data)} {
		a, b := data[:cut], data[cut:]
		assert.Equal(t, adler32.Checksum(data), adler32Combine(adler32.Checksum(a), adler32.Checksum(b), len(b)), "cut %d", cut)
	}
}

// Large images go through the banded encoder; the result must decode to
// the same pixels (the zlib reader checks the combined Adler-32).
func TestWritePNGFastBands(t *testing.T) {
	for _, size := range [][2]int{{1024, 1024}, {320, 1000}, {1856, 64}} {
		w, h := size[0], size[1]
		rgb := fakedaemon.Pixels(uint32(w), uint32(h), 3)
		img := &rawImage{w: w, h: h, ch: 3, pix: rgb}
		var buf bytes.Buffer
		require.NoError(t, encodePNG(context.Background(), &buf, img, pngFast))
		got, err := png.Decode(&buf)
		require.NoError(t, err, "%dx%d", w, h)
		requireRGB(t, got, w, h, rgb)
	}
}

// A Ctrl-C that arrives after the reply, while the PNG is being written,
// still exits 130 and leaves neither the file nor a temporary one.
func TestSignalAfterReplyLeavesNoFile(t *testing.T) {
	e := newTestEnv(t)
	e.startFake(t, nil)
	testHookAfterReply = func(ctx context.Context) {
		_ = syscall.Kill(os.Getpid(), syscall.SIGINT)
		// The signal is delivered asynchronously: let it land before the
		// write starts, so the test is deterministic.
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
			t.Error("SIGINT did not cancel the command")
		}
	}
	defer func() { testHookAfterReply = nil }()
	var out, errb bytes.Buffer
	code := run([]string{"generate", "x", "--width", "1024", "--height", "1024", "-o", "late.png"}, e.list(), &out, &errb)
	assert.Equal(t, 130, code, errb.String())
	entries, err := os.ReadDir(e.work)
	require.NoError(t, err)
	assert.Empty(t, entries, "no file and no temporary file")
	assert.Empty(t, out.String())
}

// startFakeV2 starts a fake daemon that speaks protocol 2 and answers a
// status request with the given 11.6 fields.
func (e *testEnv) startFakeV2(t *testing.T, v2 protocol.StatusV2) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(e.socketPath()), 0o700))
	s, err := fakedaemon.ListenConfig(e.socketPath(), fakedaemon.Config{
		Protocol: fakedaemon.V2,
		Handler: func(m protocol.Message) protocol.Message {
			st, ok := fakedaemon.Default(m).(*protocol.StatusResponse)
			if ok && st.V2 != nil {
				f := v2
				st.V2 = &f
			}
			if ok {
				return st
			}
			return fakedaemon.Default(m)
		},
	})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
}

func TestStatusBackendFields(t *testing.T) {
	tests := []struct {
		name     string
		v2       protocol.StatusV2
		text     []string // lines status prints
		last     string   // the line status prints last
		notText  []string // what it must not print
		jsonPart string   // the protocol-2 part of status --json
	}{
		{
			name: "loaded worker",
			v2: protocol.StatusV2{DaemonPID: 9, Features: protocol.FlagProgress | protocol.FlagSHM,
				BackendState: protocol.BackendLoaded, WorkerPID: 4321, JobsRunning: 1},
			text:     []string{"  backend:          fake (loaded, worker pid 4321, generating)\n"},
			last:     "  queue depth:      0\n",
			notText:  []string{"backend restarts", "generations"},
			jsonPart: `"backend":"fake","features":["progress","shm"],"backend_state":"loaded","worker_pid":4321,"worker_restarts":0,"jobs_running":1,"last_crash":""}`,
		},
		{
			name:     "unloaded",
			v2:       protocol.StatusV2{Features: protocol.FlagProgress, BackendState: protocol.BackendUnloaded},
			text:     []string{"  backend:          fake (unloaded: the next image starts it)\n"},
			notText:  []string{"backend restarts", "generations"},
			jsonPart: `"features":["progress"],"backend_state":"unloaded","worker_pid":0,"worker_restarts":0,"jobs_running":0,"last_crash":""}`,
		},
		{
			name: "restarting after crashes",
			v2: protocol.StatusV2{BackendState: protocol.BackendRestarting, WorkerRestarts: 3,
				LastCrash: "backend crashed (SIGSEGV)\x1b[2J"},
			text: []string{"  backend:          fake (restarting)\n",
				"  backend restarts: 3, last crash: backend crashed (SIGSEGV)\uFFFD[2J\n"},
			jsonPart: `"backend_state":"restarting","worker_pid":0,"worker_restarts":3,"jobs_running":0,"last_crash":"backend crashed (SIGSEGV)` + "\uFFFD" + `[2J"}`,
		},
		// SPEC 11.6's optional generations pair: a line after queue depth,
		// and two JSON keys, only when the daemon sends it.
		{
			name: "generations",
			v2: protocol.StatusV2{Features: protocol.FlagProgress | protocol.FlagSHM, BackendState: protocol.BackendLoaded,
				WorkerPID: 4321, Generations: 42, GenerationUS: 329412345, HasGenerations: true},
			text:     []string{"  queue depth:      0\n  generations:      42 (mean 7.84 s)\n"},
			last:     "  generations:      42 (mean 7.84 s)\n",
			jsonPart: `"worker_pid":4321,"worker_restarts":0,"jobs_running":0,"last_crash":"","generations":42,"generation_us":329412345}`,
		},
		{
			name:     "no generations yet",
			v2:       protocol.StatusV2{BackendState: protocol.BackendUnloaded, HasGenerations: true},
			last:     "  generations:      0\n",
			notText:  []string{"mean"},
			jsonPart: `"jobs_running":0,"last_crash":"","generations":0,"generation_us":0}`,
		},
		{
			name: "generations at the maximum, after a crash",
			v2: protocol.StatusV2{BackendState: protocol.BackendRestarting, WorkerRestarts: 1, LastCrash: "boom",
				Generations: 1<<64 - 1, GenerationUS: 1<<64 - 1, HasGenerations: true},
			text:     []string{"  backend restarts: 1, last crash: boom\n"},
			last:     "  generations:      18446744073709551615 (mean 0.001 ms)\n",
			jsonPart: `"last_crash":"boom","generations":18446744073709551615,"generation_us":18446744073709551615}`,
		},
	}
	for _, tt := range tests {
		tt := tt
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t)
			e.startFakeV2(t, tt.v2)
			r := e.run(t, "status")
			require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
			assert.Contains(t, r.stdout, "  protocol:         1..2 (weave speaks 1..2)\n")
			for _, l := range tt.text {
				assert.Contains(t, r.stdout, l)
			}
			if tt.last != "" {
				assert.True(t, strings.HasSuffix(r.stdout, tt.last), "got %s\nwant it to end with %q", r.stdout, tt.last)
			}
			for _, n := range tt.notText {
				assert.NotContains(t, r.stdout, n)
			}
			assert.NotContains(t, r.stdout, "\x1b")
			r = e.run(t, "status", "--json")
			require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
			assert.True(t, strings.HasSuffix(r.stdout, tt.jsonPart+"\n"), "got %s\nwant suffix %s", r.stdout, tt.jsonPart)
			var obj map[string]interface{}
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &obj))
		})
	}
}
