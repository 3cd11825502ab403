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
)

// End-to-end rows: the real `weave generate` process (spawn to exit, the
// PNG written) against the running weave-compute, next to go/client in the
// bench asking for the same image (no PNG) and the daemon's own
// generation_time_ms, so the CLI's share (process start, PNG encoding and
// writing) is visible. They run free (no affinity), as a user runs weave.

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
		for r := 0; r < s.o.rounds; r++ {
			b.round = r
			cliFirst := r%2 == 0 // alternate the order round by round
			for k := 0; k < 2; k++ {
				if (k == 0) == cliFirst {
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
				} else {
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

// e2eTargetSide is the image of issue 15's target: weave generate adds at
// most 2x the transport+daemon time (go/client's round trip for the same
// image) at 1024x1024.
const e2eTargetSide = 1024

// evaluateE2ETarget is that target, from the rows above: per round, the
// CLI's wall time over go/client's in the same round, minus one.
func (s *session) evaluateE2ETarget() target {
	name := fmt.Sprintf("weave generate at %dx%d adds at most 2x the transport+daemon time (go/client, same image)", e2eTargetSide, e2eTargetSide)
	wl := fmt.Sprintf("end-to-end %dx%d", e2eTargetSide, e2eTargetSide)
	cli := s.b.get(cpusFree, wl, "wall", "weave-cli")
	base := s.b.get(cpusFree, wl, "wall", "weave")
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
	return target{Name: name, Verdict: verdict, Detail: fmt.Sprintf(
		"cpus=free: weave generate (process start to exit, PNG written%s) %.2f ms vs go/client %.2f ms: adds %.2f ms = paired %.2fx the round trip (min %.2f, max %.2f over %d rounds; limit 2x)",
		png, cli.Median, base.Median, cli.Median-base.Median, r.Median-1, r.Min-1, r.Max-1, r.Rounds)}
}
