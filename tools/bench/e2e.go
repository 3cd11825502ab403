package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/weave-app/weave/go/client"
)

// End-to-end rows: the real `weave generate` process (spawn to exit, the
// PNG written) against the running weave-compute, next to go/client in the
// bench asking for the same image (no PNG) and the daemon's own
// generation_time_ms, so the CLI's share (process start, PNG encoding and
// writing) is visible. go/client asks twice: as a version-1 request (the
// pixels inline, "weave") and, when the daemon serves shared memory, the
// way weave generate does ("weave-image": GenerateImage with progress, the
// pixels in a sealed memfd, then closed). They run free (no affinity), as
// a user runs weave.

var generatedIn = regexp.MustCompile(`generated in ([0-9]+) ms`)

// cliSupports reports whether `weave generate --help` lists flag.
func cliSupports(cli, flag string) bool {
	out, err := exec.Command(cli, "generate", "--help").CombinedOutput()
	if err != nil {
		return false
	}
	return bytes.Contains(out, []byte(flag))
}

// e2eArgs are the arguments of one `weave generate` run: the bench's
// prompt, steps and seed (the same request as go/client's), side x side.
func e2eArgs(side int, png string, pngCompression string) []string {
	n := strconv.Itoa(side)
	args := []string{"generate", benchPrompt, "-o", png, "--width", n, "--height", n,
		"--steps", strconv.Itoa(benchSteps), "--seed", strconv.Itoa(benchSeed), "--no-autostart"}
	if pngCompression != "" {
		args = append(args, "--png-compression="+pngCompression)
	}
	return args
}

// runCLI runs the CLI once; it returns the wall time, the generation time
// it printed and the PNG's size.
func runCLI(cli string, args []string, xdg, png string) (time.Duration, float64, int64, error) {
	_ = os.Remove(png)
	cmd := exec.Command(cli, args...)
	cmd.Env = envWith("XDG_RUNTIME_DIR", xdg, "BUILD_WORKING_DIRECTORY", "")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	t0 := time.Now()
	err := cmd.Run()
	d := time.Since(t0)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("weave generate: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	m := generatedIn.FindSubmatch(stdout.Bytes())
	if m == nil {
		return 0, 0, 0, fmt.Errorf("weave generate printed no generation time: %q", stdout.String())
	}
	gen, _ := strconv.ParseFloat(string(m[1]), 64)
	st, err := os.Stat(png)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("weave generate wrote no PNG: %v", err)
	}
	return d, gen, st.Size(), nil
}

// measureEndToEnd adds the end-to-end rows for every --e2e-sizes side.
func (s *session) measureEndToEnd() error {
	d := s.servers["weave"]
	if d == nil || len(s.o.e2eSizes) == 0 {
		return nil
	}
	cli, err := runfile(s.o.weaveCLI, "go/cmd/weave/weave_/weave")
	if err != nil {
		return err
	}
	s.cliPNGFlag = cliSupports(cli, "--png-compression")
	pngComp := ""
	if s.cliPNGFlag {
		pngComp = s.o.pngCompression
	}
	xdg := filepath.Dir(filepath.Dir(d.sock)) // the daemon's XDG_RUNTIME_DIR
	png := filepath.Join(s.e.tmp, "e2e.png")
	wc, err := newWeaveClient(d.sock)
	if err != nil {
		return err
	}
	defer wc.close()
	// go/client the way weave generate calls it, when the daemon can.
	var g *goV2
	if s.v2 != nil && s.v2.SHM && s.v2.Progress {
		if g, err = newGoV2(d.sock); err != nil {
			return err
		}
	}
	b := s.b
	b.placement = cpusFree
	for _, side := range s.o.e2eSizes {
		wl := fmt.Sprintf("end-to-end %dx%d", side, side)
		w := &workload{name: wl, replyType: typeGenResp, side: uint32(side)}
		wc.prepare([]*workload{w})
		args := e2eArgs(side, png, pngComp)
		// One warm-up of each (page cache, daemon buffers).
		if _, _, _, err := runCLI(cli, args, xdg, png); err != nil {
			b.addFailures(wl, "wall", "ms", false, "weave-cli", 1, err.Error())
			continue
		}
		_, _ = wc.roundTrip(w)
		contestants := 2
		if g != nil {
			_, _ = g.image(uint32(side), ignoreProgress)
			contestants = 3
		}
		for r := 0; r < s.o.rounds; r++ {
			b.round = r
			// Rotate the order round by round.
			for k := 0; k < contestants; k++ {
				switch (k + r) % contestants {
				case 2:
					o, err := g.image(uint32(side), ignoreProgress)
					if err != nil {
						b.addFailures(wl, "wall", "ms", false, "weave-image", 1, err.Error())
						continue
					}
					ms := float64(o.wall) / 1e6
					b.add(wl, "wall", "ms", false, "weave-image", ms, 1, 0, "")
					b.add(wl, "reported generation_time_ms", "ms", false, "weave-image", float64(o.genMS), 1, 0, "")
					b.add(wl, "wall - generation_time_ms", "ms", false, "weave-image", ms-float64(o.genMS), 1, 0, "")
				case 0:
					wall, gen, size, err := runCLI(cli, args, xdg, png)
					if err != nil {
						b.addFailures(wl, "wall", "ms", false, "weave-cli", 1, err.Error())
						continue
					}
					ms := float64(wall) / 1e6
					b.add(wl, "wall", "ms", false, "weave-cli", ms, 1, 0, "")
					b.add(wl, "reported generation_time_ms", "ms", false, "weave-cli", gen, 1, 0, "")
					b.add(wl, "wall - generation_time_ms", "ms", false, "weave-cli", ms-gen, 1, 0, "")
					b.add(wl, "PNG file", "KiB", false, "weave-cli", float64(size)/1024, 1, 0, "")
				default:
					t0 := time.Now()
					info, err := wc.roundTrip(w)
					wall := time.Since(t0)
					if err != nil {
						b.addFailures(wl, "wall", "ms", false, "weave", 1, err.Error())
						continue
					}
					ms := float64(wall) / 1e6
					b.add(wl, "wall", "ms", false, "weave", ms, 1, 0, "")
					b.add(wl, "reported generation_time_ms", "ms", false, "weave", float64(info.genMS), 1, 0, "")
					b.add(wl, "wall - generation_time_ms", "ms", false, "weave", ms-float64(info.genMS), 1, 0, "")
				}
			}
		}
		s.pt.say("%s done", wl)
	}
	return nil
}

// ignoreProgress asks for progress events as weave generate does, and
// drops them.
var ignoreProgress = client.WithProgress(func(client.Event) {})

// e2eTargetSide is the image of issue 15's target: weave generate adds at
// most 2x the transport+daemon time at 1024x1024. The transport+daemon
// time is go/client making the request weave generate makes
// ("weave-image": version 2, shared memory, progress), or, against a daemon
// without shared memory, the version-1 request ("weave").
const e2eTargetSide = 1024

// evaluateE2ETarget is that target, from the rows above: per round, the
// CLI's wall time over go/client's in the same round, minus one.
func (s *session) evaluateE2ETarget() target {
	name := fmt.Sprintf("weave generate at %dx%d adds at most 2x the transport+daemon time (go/client, same request)", e2eTargetSide, e2eTargetSide)
	wl := fmt.Sprintf("end-to-end %dx%d", e2eTargetSide, e2eTargetSide)
	cli := s.b.get(cpusFree, wl, "wall", "weave-cli")
	baseName, what := "weave-image", "go/client GenerateImage (v2, shared memory, progress: the request weave generate makes)"
	base := s.b.get(cpusFree, wl, "wall", baseName)
	if base == nil || base.Rounds == 0 {
		baseName, what = "weave", "go/client Generate (v1, pixels inline; the daemon has no shared memory)"
		base = s.b.get(cpusFree, wl, "wall", baseName)
	}
	r, ok := pairedRatio(cli, base)
	if !ok {
		return target{Name: name, Verdict: "n/a", Detail: "not measured (--e2e-sizes without " + strconv.Itoa(e2eTargetSide) + ")"}
	}
	verdict := "MISSED"
	if r.Median-1 <= 2 {
		verdict = "met"
	}
	png := ""
	if s.cliPNGFlag {
		png = ", --png-compression=" + s.o.pngCompression
	}
	detail := fmt.Sprintf(
		"cpus=free: weave generate (process start to exit, PNG written%s) %.2f ms vs %s %.2f ms: adds %.2f ms = paired %.2fx the round trip (min %.2f, max %.2f over %d rounds; limit 2x)",
		png, cli.Median, what, base.Median, cli.Median-base.Median, r.Median-1, r.Min-1, r.Max-1, r.Rounds)
	if v1 := s.b.get(cpusFree, wl, "wall", "weave"); baseName != "weave" && v1 != nil {
		if r1, ok := pairedRatio(cli, v1); ok {
			detail += fmt.Sprintf("; against go/client's v1 request (pixels inline, %.2f ms): %.2fx", v1.Median, r1.Median-1)
		}
	}
	return target{Name: name, Verdict: verdict, Detail: detail}
}
