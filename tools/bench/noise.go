package main

import (
	"fmt"
	"sort"
)

// The noise check: a floor that is not a floor makes every ratio against
// it meaningless. Two symptoms are checked on the figures the targets use:
//
//   - the floor's own rounds spread: (max - min) / median over the rounds
//     of floor-c exceeds maxSpread (default 10 %);
//   - a contestant beats the floor: its median paired ratio to floor-c is
//     better than the floor by more than maxBeat (default 5 %: below 0.95x
//     for a latency, above 1.05x for a throughput). Every contestant does
//     at least the floor's work, so this is the instrument, not the
//     contestant.
//
// noiseCheck is pure (figures in, warnings out) so it has a table-driven
// test; the bench prints one warning line per result and the targets that
// use a flagged figure say "unreliable".

// noiseInput is one (placement, workload, metric): the floor's per-round
// values and every other contestant's median paired ratio to it.
type noiseInput struct {
	Placement    string
	Workload     string
	Metric       string
	HigherBetter bool
	Floor        []float64          // floor-c, one value per round
	Ratios       map[string]float64 // contestant -> median paired ratio to floor-c
}

// noiseWarning is one symptom found.
type noiseWarning struct {
	Placement  string  `json:"cpus"`
	Workload   string  `json:"workload"`
	Metric     string  `json:"metric"`
	Contestant string  `json:"contestant"` // floor-c for a spread
	Kind       string  `json:"kind"`       // "floor spread" or "beats the floor"
	Value      float64 `json:"value"`      // the spread, or the ratio
	Text       string  `json:"text"`
}

// noiseCheck returns the warnings for in, in input order (contestants
// sorted by name). A negative maxSpread flags every spread (for tests).
func noiseCheck(in []noiseInput, maxSpread, maxBeat float64) []noiseWarning {
	var out []noiseWarning
	for _, n := range in {
		where := fmt.Sprintf("%s, cpus=%s, %s", n.Workload, n.Placement, n.Metric)
		if len(n.Floor) > 0 {
			vals := append([]float64(nil), n.Floor...)
			sort.Float64s(vals)
			med := median(vals)
			if med > 0 {
				spread := (vals[len(vals)-1] - vals[0]) / med
				if spread > maxSpread {
					out = append(out, noiseWarning{Placement: n.Placement, Workload: n.Workload, Metric: n.Metric, Contestant: "floor-c",
						Kind: "floor spread", Value: spread,
						Text: fmt.Sprintf("%s: the floor (floor-c) spreads by %.0f%% over its %d rounds (min %s, max %s; limit %.0f%%)",
							where, 100*spread, len(vals), fmtNum(vals[0]), fmtNum(vals[len(vals)-1]), 100*maxSpread)})
				}
			}
		}
		var keys []string
		for k := range n.Ratios {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if k == "floor-c" {
				continue
			}
			r := n.Ratios[k]
			beats := r < 1-maxBeat
			if n.HigherBetter {
				beats = r > 1+maxBeat
			}
			if beats {
				out = append(out, noiseWarning{Placement: n.Placement, Workload: n.Workload, Metric: n.Metric, Contestant: k,
					Kind: "beats the floor", Value: r,
					Text: fmt.Sprintf("%s: %s is %.2fx the floor (floor-c), better than the floor by more than %.0f%%", where, k, r, 100*maxBeat)})
			}
		}
	}
	return out
}

// noiseInputs collects, from a finished book, the inputs of the noise
// check: for every placement of the sequential workloads, the metrics the
// targets use.
func noiseInputs(b *book, placements []string) []noiseInput {
	checks := []struct{ workload, metric string }{
		{"small status", "p50 latency"},
		{"small gen64", "p50 latency"},
		{"bulk 1856x1856", "throughput, wall - generation_time_ms"},
		{"bulk 1856x1856", bulkExact},
		{"bulk 1856x1856", "throughput, first to last reply byte"},
	}
	var in []noiseInput
	for _, p := range placements {
		for _, c := range checks {
			fl := b.get(p, c.workload, c.metric, "floor-c")
			if fl == nil {
				continue
			}
			n := noiseInput{Placement: p, Workload: c.workload, Metric: c.metric, HigherBetter: fl.HigherBetter,
				Floor: fl.PerRound, Ratios: map[string]float64{}}
			for _, f := range b.figs {
				if f.Placement == p && f.Workload == c.workload && f.Metric == c.metric && f.Contestant != "floor-c" && f.RatioCFloor != nil {
					n.Ratios[f.Contestant] = *f.RatioCFloor
				}
			}
			in = append(in, n)
		}
	}
	return in
}

// flagged reports whether a warning concerns placement/workload/metric.
func flagged(ws []noiseWarning, placement, workload, metric string) bool {
	for _, w := range ws {
		if w.Placement == placement && w.Workload == workload && w.Metric == metric {
			return true
		}
	}
	return false
}
