package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

// figure is one metric of one contestant in one workload, over all rounds.
type figure struct {
	Placement    string    `json:"cpus"` // same, split, free (see placement.go)
	Workload     string    `json:"workload"`
	Metric       string    `json:"metric"`
	Unit         string    `json:"unit"`
	Contestant   string    `json:"contestant"`
	HigherBetter bool      `json:"higher_is_better"`
	Median       float64   `json:"median"`
	Min          float64   `json:"min"`
	Max          float64   `json:"max"`
	Rounds       int       `json:"rounds"`
	PerRound     []float64 `json:"per_round"`
	RoundIndex   []int     `json:"round_index"` // the round of each per_round value
	Requests     int       `json:"requests_measured"`
	Failures     int       `json:"failures"`
	// Ratios: with ratios_paired, the median (min, max) over rounds of
	// this contestant's value / the base's value in the same round; else
	// the ratio of the two medians.
	RatioPaired     bool     `json:"ratios_paired"`
	RatioCFloor     *float64 `json:"ratio_to_c_floor,omitempty"`
	RatioCFloorMin  *float64 `json:"ratio_to_c_floor_min,omitempty"`
	RatioCFloorMax  *float64 `json:"ratio_to_c_floor_max,omitempty"`
	RatioGoFloor    *float64 `json:"ratio_to_go_floor,omitempty"`
	RatioGoFloorMin *float64 `json:"ratio_to_go_floor_min,omitempty"`
	RatioGoFloorMax *float64 `json:"ratio_to_go_floor_max,omitempty"`
	FirstError      string   `json:"first_error,omitempty"`
}

// book collects the figures. placement and round are the current phase's:
// add files every value under them.
type book struct {
	figs      []*figure
	index     map[string]*figure
	placement string
	round     int
}

func figKey(placement, workload, metric, contestant string) string {
	return placement + "\x00" + workload + "\x00" + metric + "\x00" + contestant
}

func newBook() *book { return &book{index: map[string]*figure{}, placement: cpusFree} }

func (b *book) add(workload, metric, unit string, higherBetter bool, contestant string, v float64, requests, failures int, firstErr string) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		b.addFailures(workload, metric, unit, higherBetter, contestant, failures, firstErr)
		return
	}
	key := figKey(b.placement, workload, metric, contestant)
	f := b.index[key]
	if f == nil {
		f = &figure{Placement: b.placement, Workload: workload, Metric: metric, Unit: unit, Contestant: contestant, HigherBetter: higherBetter}
		b.index[key] = f
		b.figs = append(b.figs, f)
	}
	f.PerRound = append(f.PerRound, v)
	f.RoundIndex = append(f.RoundIndex, b.round)
	f.Requests += requests
	f.Failures += failures
	if f.FirstError == "" {
		f.FirstError = firstErr
	}
}

// addFailures records failures without a value (a start that never got
// ready has no time to report).
func (b *book) addFailures(workload, metric, unit string, higherBetter bool, contestant string, failures int, firstErr string) {
	b.add(workload, metric, unit, higherBetter, contestant, 0, 0, failures, firstErr)
	f := b.index[figKey(b.placement, workload, metric, contestant)]
	f.PerRound = f.PerRound[:len(f.PerRound)-1]
	f.RoundIndex = f.RoundIndex[:len(f.RoundIndex)-1]
}

func (b *book) get(placement, workload, metric, contestant string) *figure {
	return b.index[figKey(placement, workload, metric, contestant)]
}

// ratioStat is a ratio with its spread: median, min, max of the per-round
// ratios (paired), or the ratio of two medians (min = max = median).
type ratioStat struct {
	Median, Min, Max float64
	Rounds           int // rounds paired; 0 for a ratio of medians
}

// pairedRatio is a / base round by round (only rounds both have, base
// value non-zero), then the median, min and max of those ratios.
func pairedRatio(a, base *figure) (ratioStat, bool) {
	if a == nil || base == nil {
		return ratioStat{}, false
	}
	byRound := map[int]float64{}
	for i, r := range base.RoundIndex {
		if i < len(base.PerRound) {
			byRound[r] = base.PerRound[i]
		}
	}
	var rs []float64
	for i, r := range a.RoundIndex {
		if i >= len(a.PerRound) {
			break
		}
		if bv, ok := byRound[r]; ok && bv != 0 {
			rs = append(rs, a.PerRound[i]/bv)
		}
	}
	if len(rs) == 0 {
		return ratioStat{}, false
	}
	sort.Float64s(rs)
	return ratioStat{Median: median(rs), Min: rs[0], Max: rs[len(rs)-1], Rounds: len(rs)}, true
}

func medianRatio(a, base *figure) (ratioStat, bool) {
	if a == nil || base == nil || a.Rounds == 0 || base.Rounds == 0 || base.Median == 0 {
		return ratioStat{}, false
	}
	r := a.Median / base.Median
	return ratioStat{Median: r, Min: r, Max: r}, true
}

func fptr(v float64) *float64 { return &v }

// finish computes median/min/max and the ratios. cFloor and goFloor name
// the base contestant of each workload's ratios; goFloorFor says which
// contestants get a Go-floor ratio; paired says which workloads have
// per-round ratios (every contestant measured once per round, close in
// time) rather than a ratio of medians.
func (b *book) finish(cFloor, goFloor func(workload string) string, goFloorFor func(contestant string) bool, paired func(workload string) bool) {
	for _, f := range b.figs {
		vals := append([]float64(nil), f.PerRound...)
		sort.Float64s(vals)
		f.Rounds = len(vals)
		if len(vals) == 0 {
			continue // only failures: no value (JSON has no NaN)
		}
		f.Min, f.Max = vals[0], vals[len(vals)-1]
		f.Median = median(vals)
	}
	for _, f := range b.figs {
		if f.Rounds == 0 {
			continue
		}
		ratio := medianRatio
		if paired(f.Workload) {
			ratio = pairedRatio
			f.RatioPaired = true
		}
		if r, ok := ratio(f, b.get(f.Placement, f.Workload, f.Metric, cFloor(f.Workload))); ok {
			f.RatioCFloor, f.RatioCFloorMin, f.RatioCFloorMax = fptr(r.Median), fptr(r.Min), fptr(r.Max)
		}
		if g := goFloor(f.Workload); g != "" && goFloorFor(f.Contestant) {
			if r, ok := ratio(f, b.get(f.Placement, f.Workload, f.Metric, g)); ok {
				f.RatioGoFloor, f.RatioGoFloorMin, f.RatioGoFloorMax = fptr(r.Median), fptr(r.Min), fptr(r.Max)
			}
		}
	}
}

// median of sorted values.
func median(sorted []float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// percentile of sorted ns latencies, nearest rank.
func percentile(sorted []int64, p float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	if rank < 0 {
		rank = 0
	}
	if rank >= len(sorted) {
		rank = len(sorted) - 1
	}
	return sorted[rank]
}

func fmtNum(v float64) string {
	a := math.Abs(v)
	switch {
	case math.IsNaN(v):
		return "-"
	case a >= 100000:
		return fmt.Sprintf("%.0f", v)
	case a >= 1000:
		return fmt.Sprintf("%.0f", v)
	case a >= 100:
		return fmt.Sprintf("%.1f", v)
	case a >= 10:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

// fmtRatio is "1.36x", with the range of the paired per-round ratios when
// there is one: "1.36x (1.30-1.41)".
func fmtRatio(r, lo, hi *float64) string {
	if r == nil {
		return ""
	}
	if lo == nil || hi == nil || *lo == *hi {
		return fmt.Sprintf("%.2fx", *r)
	}
	return fmt.Sprintf("%.2fx (%.2f-%.2f)", *r, *lo, *hi)
}

// printTable writes the one table: a row per (workload, metric, contestant).
func printTable(w io.Writer, figs []*figure) {
	header := []string{"workload", "cpus", "metric", "contestant", "median", "min", "max", "x C floor", "x Go floor", "rounds x req", "fail"}
	rows := [][]string{header}
	lastGroup := ""
	for _, f := range figs {
		group := f.Placement + "/" + f.Workload + "/" + f.Metric
		wl, pl, mt := f.Workload, f.Placement, f.Metric+" ("+f.Unit+")"
		if group == lastGroup {
			wl, pl, mt = "", "", ""
		}
		lastGroup = group
		per := ""
		if f.Rounds > 0 && f.Requests > 0 {
			per = fmt.Sprintf("%dx%d", f.Rounds, (f.Requests+f.Rounds/2)/f.Rounds)
		} else if f.Rounds > 0 {
			per = fmt.Sprintf("%dx", f.Rounds)
		}
		med, lo, hi := fmtNum(f.Median), fmtNum(f.Min), fmtNum(f.Max)
		if f.Rounds == 0 {
			med, lo, hi = "-", "-", "-"
		}
		rows = append(rows, []string{wl, pl, mt, f.Contestant, med, lo, hi,
			fmtRatio(f.RatioCFloor, f.RatioCFloorMin, f.RatioCFloorMax), fmtRatio(f.RatioGoFloor, f.RatioGoFloorMin, f.RatioGoFloorMax), per, fmt.Sprint(f.Failures)})
	}
	widths := make([]int, len(header))
	for _, r := range rows {
		for i, c := range r {
			if len(c) > widths[i] {
				widths[i] = len(c)
			}
		}
	}
	numeric := map[int]bool{4: true, 5: true, 6: true, 7: true, 8: true, 9: true, 10: true}
	line := func(r []string) {
		var sb strings.Builder
		sb.WriteString("|")
		for i, c := range r {
			pad := strings.Repeat(" ", widths[i]-len(c))
			if numeric[i] {
				sb.WriteString(" " + pad + c + " |")
			} else {
				sb.WriteString(" " + c + pad + " |")
			}
		}
		fmt.Fprintln(w, sb.String())
	}
	line(rows[0])
	var sep strings.Builder
	sep.WriteString("|")
	for i := range header {
		if numeric[i] {
			sep.WriteString(strings.Repeat("-", widths[i]+1) + ":|")
		} else {
			sep.WriteString(strings.Repeat("-", widths[i]+2) + "|")
		}
	}
	fmt.Fprintln(w, sep.String())
	for _, r := range rows[1:] {
		line(r)
	}
}
