package main

import (
	"fmt"
	"math"
	"sort"
)

// The targets of issues 12, 13 and 14 (printed after the older ones, same
// verdicts: met, MISSED, unreliable, n/a).

// inProcess are figures of the run of 2026-12-01 09:00 UTC (cpus=same;
// docs/PERFORMANCE.md, "Targets of the in-process run"), made with the backend still inside
// the daemon: the base of issue 13's "the process boundary costs at most"
// targets, which no run of a worker daemon can measure side by side.
var inProcess = struct {
	run                         string
	statusWeave, statusFloor    float64 // us, p50
	statusRatio                 float64 // paired weave / floor-c
	gen64Weave, gen64C, gen64Fl float64 // us, p50
	bulkWeave, bulkC            float64 // ms, p50
}{
	run:         "the in-process run of 2026-12-01 09:00 UTC (docs/PERFORMANCE.md, 'Targets of the in-process run'; cpus=same)",
	statusWeave: 10.84, statusFloor: 6.329, statusRatio: 1.71,
	gen64Weave: 25.52, gen64C: 21.02, gen64Fl: 7.031,
	bulkWeave: 9.499, bulkC: 8.891,
}

// medianOf is the median of a figure, NaN when it is missing.
func (s *session) medianOf(p, wl, m, c string) float64 {
	if f := s.b.get(p, wl, m, c); f != nil && f.Rounds > 0 {
		return f.Median
	}
	return math.NaN()
}

// figSpread is (max - min) / median of a figure (NaN when missing).
func (s *session) figSpread(p, wl, m, c string) float64 {
	f := s.b.get(p, wl, m, c)
	if f == nil || f.Rounds == 0 || f.Median == 0 {
		return math.NaN()
	}
	return (f.Max - f.Min) / f.Median
}

func (s *session) evaluateV2Targets() []target {
	var ts []target
	add := func(name, verdict, detail string) {
		ts = append(ts, target{Name: name, Verdict: verdict, Detail: detail})
	}
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	p0 := s.o.placements[0]
	v := s.v2
	if v == nil {
		v = &v2Support{Why: "not checked"}
	}

	// Issue 12: progress cost, cancel latency.
	const progName = "progress costs nothing visible (long job, v2 with / without progress, paired p50)"
	wl := s.longJobWorkload()
	if f := s.b.get(p0, wl, "p50 / v2 p50 (same round)", "v2-progress"); f != nil && f.Rounds > 0 {
		vd := verdict(f.Median <= 1+s.o.noiseBeat)
		spread := s.figSpread(p0, wl, "p50 latency", "v2")
		note := ""
		if spread > s.o.noiseSpread {
			vd = "unreliable"
			note = fmt.Sprintf("; the no-progress rounds spread by %.0f%% (limit %.0f%%)", 100*spread, 100*s.o.noiseSpread)
		}
		add(progName, vd, fmt.Sprintf("cpus=%s, %s: p50 %.3f ms with progress vs %.3f ms without, paired %.3fx (min %.3f, max %.3f over %d rounds; limit %.2fx); %.1f us per step; v1 %.3f ms; %.0f messages per job with progress%s",
			p0, wl, s.medianOf(p0, wl, "p50 latency", "v2-progress"), s.medianOf(p0, wl, "p50 latency", "v2"), f.Median, f.Min, f.Max, f.Rounds, 1+s.o.noiseBeat,
			s.medianOf(p0, wl, "progress cost per step ((p50 - v2 p50) / steps)", "v2-progress"), s.medianOf(p0, wl, "p50 latency", "v1"),
			s.medianOf(p0, wl, "messages before the reply, per job", "v2-progress"), note)+goClientProgress(s, p0, wl))
	} else {
		add(progName, "n/a", skippedOr(s, wl, "not measured"))
	}
	const cancelName = "a cancel frees the daemon within one step (hang-up to the next job started)"
	cwl := s.cancelWorkload()
	const startedM = "request sent to its job started (ms)"
	if c2 := s.medianOf(cpusFree, cwl, startedM, "cancel-v2"); !math.IsNaN(c2) {
		limit := 1.2 * float64(s.o.cancelDelayMS)
		add(cancelName, verdict(c2 <= limit), fmt.Sprintf("--step-delay-ms=%d: v2 client hanging up right after a step report: next job started %.1f ms after (limit 1.2 steps = %.0f ms); v1 client hanging up mid-step: %.1f ms; idle daemon: %.2f ms; replies (one step each) %.1f / %.1f / %.1f ms",
			s.o.cancelDelayMS, c2, limit, s.medianOf(cpusFree, cwl, startedM, "cancel-v1"), s.medianOf(cpusFree, cwl, startedM, "idle"),
			s.medianOf(cpusFree, cwl, "request sent to its reply (1 step)", "cancel-v2"), s.medianOf(cpusFree, cwl, "request sent to its reply (1 step)", "cancel-v1"),
			s.medianOf(cpusFree, cwl, "request sent to its reply (1 step)", "idle")))
	} else {
		add(cancelName, "n/a", skippedOr(s, cwl, "not measured"))
	}

	// Issue 13: the worker process against the published in-process run.
	ip := inProcess
	workerTargets := []struct {
		name string
		eval func() (string, string)
	}{
		{"worker process: small generate (64x64) costs at most +30 us over in-process", func() (string, string) {
			w := s.medianOf(p0, "small gen64", "p50 latency", "weave")
			fl := s.medianOf(p0, "small gen64", "p50 latency", "floor-c")
			wc := s.medianOf(p0, "small gen64", "p50 latency", "weave-c")
			if math.IsNaN(w) || math.IsNaN(fl) {
				return "n/a", "small gen64 not measured"
			}
			if d, ok := pairedDiff(s.b.get(p0, "small gen64", "p50 latency", "weave"), s.b.get(p0, "small gen64", "p50 latency", "weave-inproc")); ok {
				dc, _ := pairedDiff(s.b.get(p0, "small gen64", "p50 latency", "weave-c"), s.b.get(p0, "small gen64", "p50 latency", "weave-c-inproc"))
				return verdict(d.Median <= 30), fmt.Sprintf("go/client p50 %.1f us vs %.1f us in-process: paired %+.1f us (min %+.1f, max %+.1f over %d rounds; limit +30); C client %.1f vs %.1f us: %+.1f us",
					w, s.medianOf(p0, "small gen64", "p50 latency", "weave-inproc"), d.Median, d.Min, d.Max, d.Rounds,
					wc, s.medianOf(p0, "small gen64", "p50 latency", "weave-c-inproc"), dc.Median)
			}
			// Against the floor of each run, so that a faster or slower
			// machine between the runs does not count as the boundary.
			d := (w - fl) - (ip.gen64Weave - ip.gen64Fl)
			return verdict(d <= 30), fmt.Sprintf("go/client p50 %.1f us now vs %.1f us in-process (%+.1f us); above the floor of its own run: %.1f vs %.1f us = %+.1f us (limit +30); weave-c %.1f vs %.1f us; base: %s",
				w, ip.gen64Weave, w-ip.gen64Weave, w-fl, ip.gen64Weave-ip.gen64Fl, d, wc, ip.gen64C, ip.run)
		}},
		{"worker process: bulk 1856x1856 costs at most +10% over in-process (p50)", func() (string, string) {
			w := s.medianOf(p0, "bulk 1856x1856", "p50 latency", "weave")
			wc := s.medianOf(p0, "bulk 1856x1856", "p50 latency", "weave-c")
			if math.IsNaN(w) {
				return "n/a", "bulk not measured"
			}
			if r, ok := pairedRatio(s.b.get(p0, "bulk 1856x1856", "p50 latency", "weave"), s.b.get(p0, "bulk 1856x1856", "p50 latency", "weave-inproc")); ok {
				rc, _ := pairedRatio(s.b.get(p0, "bulk 1856x1856", "p50 latency", "weave-c"), s.b.get(p0, "bulk 1856x1856", "p50 latency", "weave-c-inproc"))
				return verdict(r.Median <= 1.10), fmt.Sprintf("go/client p50 %.3f ms vs %.3f ms in-process: paired %+.1f%% (min %+.1f%%, max %+.1f%% over %d rounds; limit +10%%); C client %.3f vs %.3f ms: %+.1f%%",
					w, s.medianOf(p0, "bulk 1856x1856", "p50 latency", "weave-inproc"), 100*(r.Median-1), 100*(r.Min-1), 100*(r.Max-1), r.Rounds,
					wc, s.medianOf(p0, "bulk 1856x1856", "p50 latency", "weave-c-inproc"), 100*(rc.Median-1))
			}
			return verdict(w <= 1.10*ip.bulkWeave), fmt.Sprintf("go/client p50 %.3f ms now vs %.3f ms in-process = %+.0f%% (limit +10%%); weave-c %.3f vs %.3f ms = %+.0f%%; base: %s",
				w, ip.bulkWeave, 100*(w/ip.bulkWeave-1), wc, ip.bulkC, 100*(wc/ip.bulkC-1), ip.run)
		}},
		{"worker process: the status round trip does not change (within 10% of in-process)", func() (string, string) {
			if r, ok := pairedRatio(s.b.get(p0, "small status", "p50 latency", "weave"), s.b.get(p0, "small status", "p50 latency", "weave-inproc")); ok {
				return verdict(math.Abs(r.Median-1) <= 0.10), fmt.Sprintf("go/client p50 %.1f us vs %.1f us in-process: paired %.2fx (min %.2f, max %.2f over %d rounds)",
					s.medianOf(p0, "small status", "p50 latency", "weave"), s.medianOf(p0, "small status", "p50 latency", "weave-inproc"), r.Median, r.Min, r.Max, r.Rounds)
			}
			r, ok := pairedRatio(s.b.get(p0, "small status", "p50 latency", "weave"), s.b.get(p0, "small status", "p50 latency", "floor-c"))
			if !ok {
				return "n/a", "small status not measured"
			}
			vd := verdict(math.Abs(r.Median/ip.statusRatio-1) <= 0.10)
			if flagged(s.warnings, p0, "small status", "p50 latency") {
				vd = "unreliable"
			}
			return vd, fmt.Sprintf("paired weave/floor-c %.2fx now vs %.2fx in-process (%+.0f%%); p50 %.1f us vs %.1f us; base: %s",
				r.Median, ip.statusRatio, 100*(r.Median/ip.statusRatio-1), s.medianOf(p0, "small status", "p50 latency", "weave"), ip.statusWeave, ip.run)
		}},
	}
	for _, t := range workerTargets {
		if !v.Worker {
			add(t.name, "n/a", v.notSupported("worker"))
			continue
		}
		if p0 != cpusSame && s.o.inprocDaemon == "" {
			add(t.name, "n/a", "the published in-process figures are cpus=same; this run's targets use cpus="+p0+" (--inproc-daemon compares in the same run)")
			continue
		}
		vd, detail := t.eval()
		add(t.name, vd, detail)
	}

	// Issue 14: shared memory, RSS after bulk, leaks.
	const shmName = "shared-memory reply at 1856x1856 >= 10x faster than the C floor's copy of the same bytes"
	swl := shmWorkload(1856)
	if f := s.b.get(p0, swl, "floor-c copy time / image ready time (same round)", "shm-raw"); f != nil && f.Rounds > 0 {
		vd := verdict(f.Median >= 10)
		// A noisy floor makes the ratio unreliable only when its rounds
		// do not all fall on the same side of the limit.
		if flagged(s.warnings, p0, "bulk 1856x1856", "throughput, first to last reply byte") && f.Min < 10 && f.Max >= 10 {
			vd = "unreliable"
		}
		add(shmName, vd, fmt.Sprintf("cpus=%s: first reply byte to image ready (fd received, seals checked, mapped) %.1f us vs floor-c first to last reply byte %.1f us: paired %.1fx (min %.1f, max %.1f over %d rounds); reading every page once after that: %.1f us",
			p0, s.medianOf(p0, swl, "first reply byte to image ready (fd, seals, mmap)", "shm-raw"),
			float64(s.bulk.replyLen)/s.medianOf(p0, "bulk 1856x1856", "throughput, first to last reply byte", "floor-c"),
			f.Median, f.Min, f.Max, f.Rounds, s.medianOf(p0, swl, "first reply byte to every page read once", "shm-raw")))
	} else {
		add(shmName, "n/a", skippedOr(s, swl, "not measured"))
	}
	if rss := s.medianOf(cpusFree, "memory", "idle VmRSS after all load", serverLabel["weave"]); !math.IsNaN(rss) {
		what := "v1 bulk"
		if v.SHM {
			what = "v1 and shared-memory bulk"
		}
		add("daemon idle RSS after bulk < 2 MiB", verdict(rss < 2048), fmt.Sprintf("VmRSS %.0f KiB after all load (%s included)", rss, what))
	} else {
		add("daemon idle RSS after bulk < 2 MiB", "n/a", "not measured")
	}
	leakName := fmt.Sprintf("no fd or mapping leak across %d shared-memory replies", s.o.leakReplies)
	if l := s.leak; l != nil {
		d := ""
		for i, who := range leakWho {
			if l.FDs[i][0] < 0 {
				continue
			}
			d += fmt.Sprintf("%s fds %d -> %d, maps %d -> %d; ", who, l.FDs[i][0], l.FDs[i][1], l.Maps[i][0], l.Maps[i][1])
		}
		d += fmt.Sprintf("worker pid %d -> %d; %d failures in %.1fs", l.WorkerPID, l.WorkerAfter, l.Failures, l.Seconds)
		add(leakName, verdict(!l.leaked() && l.Failures == 0), d)
	} else {
		add(leakName, "n/a", skippedOr(s, fmt.Sprintf("leak check, %d shm replies", s.o.leakReplies), "not run"))
	}
	return ts
}

// goClientProgress is go/client's side of the progress target: Generate
// WithProgress against plain Generate (a v1 request), paired.
func goClientProgress(s *session, p0, wl string) string {
	f := s.b.get(p0, wl, "go/client: with progress / without (same round)", "weave-progress")
	if f == nil || f.Rounds == 0 {
		return ""
	}
	return fmt.Sprintf("; go/client Generate WithProgress %.3f ms vs Generate %.3f ms: paired %.3fx (min %.3f, max %.3f)",
		s.medianOf(p0, wl, "p50 latency", "weave-progress"), s.medianOf(p0, wl, "p50 latency", "weave"), f.Median, f.Min, f.Max)
}

// pairedDiff is a - base round by round (rounds both have), then the
// median, min and max of those differences.
func pairedDiff(a, base *figure) (ratioStat, bool) {
	if a == nil || base == nil {
		return ratioStat{}, false
	}
	byRound := map[int]float64{}
	for i, r := range base.RoundIndex {
		if i < len(base.PerRound) {
			byRound[r] = base.PerRound[i]
		}
	}
	var ds []float64
	for i, r := range a.RoundIndex {
		if bv, ok := byRound[r]; ok && i < len(a.PerRound) {
			ds = append(ds, a.PerRound[i]-bv)
		}
	}
	if len(ds) == 0 {
		return ratioStat{}, false
	}
	sort.Float64s(ds)
	return ratioStat{Median: median(ds), Min: ds[0], Max: ds[len(ds)-1], Rounds: len(ds)}, true
}

// skippedOr is the reason a row group was skipped, or def.
func skippedOr(s *session, rows, def string) string {
	for _, k := range s.skipped {
		if k.Rows == rows {
			return k.Why
		}
	}
	if s.v2 != nil && !s.v2.V2 {
		return s.v2.notSupported("")
	}
	return def
}
