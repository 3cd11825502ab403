package main

import (
	"reflect"
	"testing"
)

func TestNoiseCheck(t *testing.T) {
	lat := func(floor []float64, ratios map[string]float64) []noiseInput {
		return []noiseInput{{Placement: "same", Workload: "small status", Metric: "p50 latency", Floor: floor, Ratios: ratios}}
	}
	type want struct{ contestant, kind string }
	tests := []struct {
		name         string
		in           []noiseInput
		spread, beat float64
		want         []want
	}{
		{"quiet", lat([]float64{19.0, 19.1, 19.2}, map[string]float64{"weave": 1.36, "weave-c": 1.18}), 0.10, 0.05, nil},
		{"no input", nil, 0.10, 0.05, nil},
		{"floor spreads", lat([]float64{19.7, 37.4, 37.9}, map[string]float64{"weave": 1.2}), 0.10, 0.05,
			[]want{{"floor-c", "floor spread"}}},
		{"a spread just under the limit is fine", lat([]float64{10, 10.5, 11}, nil), 0.10, 0.05, nil},
		{"contestant beats the floor", lat([]float64{37.4, 37.5, 37.6}, map[string]float64{"weave": 0.76, "grpc": 1.6}), 0.10, 0.05,
			[]want{{"weave", "beats the floor"}}},
		{"within 5% below the floor is tolerated", lat([]float64{20, 20, 20}, map[string]float64{"floor-go": 0.96}), 0.10, 0.05, nil},
		{"floor-c itself is never a contestant", lat([]float64{20, 20}, map[string]float64{"floor-c": 0.5}), 0.10, 0.05, nil},
		{"both, contestants by name", lat([]float64{10, 20}, map[string]float64{"weave-c": 0.5, "weave": 0.9}), 0.10, 0.05,
			[]want{{"floor-c", "floor spread"}, {"weave", "beats the floor"}, {"weave-c", "beats the floor"}}},
		{"throughput: higher beats", []noiseInput{{Placement: "split", Workload: "bulk 1856x1856", Metric: "throughput, wall - generation_time_ms", HigherBetter: true,
			Floor: []float64{6000, 6100}, Ratios: map[string]float64{"weave": 1.2, "weave-c": 0.8}}}, 0.10, 0.05,
			[]want{{"weave", "beats the floor"}}},
		{"negative spread limit always warns", lat([]float64{20, 20}, nil), -1, 0.05, []want{{"floor-c", "floor spread"}}},
		{"huge limits never warn", lat([]float64{1, 100}, map[string]float64{"weave": 0.01}), 1000, 1000, nil},
	}
	for _, tt := range tests {
		got := noiseCheck(tt.in, tt.spread, tt.beat)
		var gw []want
		for _, w := range got {
			gw = append(gw, want{w.Contestant, w.Kind})
			if w.Text == "" || w.Workload == "" || w.Placement == "" {
				t.Errorf("%s: incomplete warning %+v", tt.name, w)
			}
		}
		if !reflect.DeepEqual(gw, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, gw, tt.want)
		}
	}
}

func TestPairedRatio(t *testing.T) {
	fig := func(vals []float64, rounds []int) *figure { return &figure{PerRound: vals, RoundIndex: rounds} }
	tests := []struct {
		name    string
		a, base *figure
		want    ratioStat
		ok      bool
	}{
		// Ratio of medians would be 30/20 = 1.5; paired per round: 2, 1, 1.5.
		{"paired by round", fig([]float64{20, 30, 45}, []int{0, 1, 2}), fig([]float64{10, 30, 30}, []int{0, 1, 2}), ratioStat{Median: 1.5, Min: 1, Max: 2, Rounds: 3}, true},
		{"a failed round is skipped, not shifted", fig([]float64{20, 45}, []int{0, 2}), fig([]float64{10, 30, 30}, []int{0, 1, 2}), ratioStat{Median: 1.75, Min: 1.5, Max: 2, Rounds: 2}, true},
		{"zero base rounds are skipped", fig([]float64{20, 30}, []int{0, 1}), fig([]float64{0, 15}, []int{0, 1}), ratioStat{Median: 2, Min: 2, Max: 2, Rounds: 1}, true},
		{"no common round", fig([]float64{20}, []int{0}), fig([]float64{10}, []int{1}), ratioStat{}, false},
		{"missing figure", nil, fig([]float64{10}, []int{0}), ratioStat{}, false},
	}
	for _, tt := range tests {
		got, ok := pairedRatio(tt.a, tt.base)
		if ok != tt.ok || got != tt.want {
			t.Errorf("%s: got %+v %v, want %+v %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestFlagged(t *testing.T) {
	ws := noiseCheck([]noiseInput{
		{Placement: "same", Workload: "small status", Metric: "p50 latency", Floor: []float64{10, 20}},
		{Placement: "split", Workload: "bulk 1856x1856", Metric: "throughput, first to last reply byte", HigherBetter: true,
			Floor: []float64{100, 100}, Ratios: map[string]float64{"weave-c": 1.5}},
	}, 0.10, 0.05)
	for _, tt := range []struct {
		placement, workload, metric string
		want                        bool
	}{
		{"same", "small status", "p50 latency", true},
		{"split", "small status", "p50 latency", false},
		{"same", "small gen64", "p50 latency", false},
		{"split", "bulk 1856x1856", "throughput, first to last reply byte", true},
		{"split", "bulk 1856x1856", "throughput, wall - generation_time_ms", false},
	} {
		if got := flagged(ws, tt.placement, tt.workload, tt.metric); got != tt.want {
			t.Errorf("flagged(%s, %s, %s) = %v, want %v", tt.placement, tt.workload, tt.metric, got, tt.want)
		}
	}
}

// evaluateTargets: verdicts from paired ratios on the first placement, and
// "unreliable" when the noise check flagged that figure.
func TestTargetsUnreliable(t *testing.T) {
	b := newBook()
	for _, p := range []string{"same", "split"} {
		b.placement = p
		// Per round: floor 10, 10, 30 (a noisy round), weave 14, 14, 15.
		// Paired: 1.4, 1.4, 0.5 -> median 1.4 (met); ratio of medians
		// would be 14/10 too, but the spread flags the floor.
		for r, v := range [][2]float64{{10, 14}, {10, 14}, {30, 15}} {
			b.round = r
			b.add("small status", "p50 latency", "us", false, "floor-c", v[0], 1, 0, "")
			b.add("small status", "p50 latency", "us", false, "weave", v[1], 1, 0, "")
		}
	}
	b.finish(func(string) string { return "floor-c" }, func(string) string { return "" }, func(string) bool { return false }, func(string) bool { return true })
	find := func(ts []target) target {
		for _, tt := range ts {
			if tt.Name == "small round trip within 1.5x of the floor (status, p50)" {
				return tt
			}
		}
		t.Fatal("no small round trip target")
		return target{}
	}
	quiet := noiseCheck(noiseInputs(b, []string{"same", "split"}), 1000, 1000)
	if got := find(evaluateTargets(b, []string{"same", "split"}, quiet, 0, nil)); got.Verdict != "met" {
		t.Errorf("quiet: verdict %q (%s), want met", got.Verdict, got.Detail)
	}
	noisy := noiseCheck(noiseInputs(b, []string{"same", "split"}), 0.10, 0.05)
	if len(noisy) == 0 {
		t.Fatal("a floor spreading 10..30 gave no warning")
	}
	if got := find(evaluateTargets(b, []string{"same", "split"}, noisy, 0, nil)); got.Verdict != "unreliable" {
		t.Errorf("noisy: verdict %q, want unreliable", got.Verdict)
	}
	// Only split flagged: the verdict is on same, so it stands.
	var splitOnly []noiseWarning
	for _, w := range noisy {
		if w.Placement == "split" {
			splitOnly = append(splitOnly, w)
		}
	}
	if got := find(evaluateTargets(b, []string{"same", "split"}, splitOnly, 0, nil)); got.Verdict != "met" {
		t.Errorf("split flagged only: verdict %q, want met", got.Verdict)
	}
}
