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
	Requests     int       `json:"requests_measured"`
	Failures     int       `json:"failures"`
	RatioCFloor  *float64  `json:"ratio_to_c_floor,omitempty"`
	RatioGoFloor *float64  `json:"ratio_to_go_floor,omitempty"`
	FirstError   string    `json:"first_error,omitempty"`
}

type book struct {
	figs  []*figure
	index map[string]*figure
}

func newBook() *book { return &book{index: map[string]*figure{}} }

func (b *book) add(workload, metric, unit string, higherBetter bool, contestant string, v float64, requests, failures int, firstErr string) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		b.addFailures(workload, metric, unit, higherBetter, contestant, failures, firstErr)
		return
	}
	key := workload + "\x00" + metric + "\x00" + contestant
	f := b.index[key]
	if f == nil {
		f = &figure{Workload: workload, Metric: metric, Unit: unit, Contestant: contestant, HigherBetter: higherBetter}
		b.index[key] = f
		b.figs = append(b.figs, f)
	}
	f.PerRound = append(f.PerRound, v)
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
	f := b.index[workload+"\x00"+metric+"\x00"+contestant]
	f.PerRound = f.PerRound[:len(f.PerRound)-1]
}

func (b *book) get(workload, metric, contestant string) *figure {
	return b.index[workload+"\x00"+metric+"\x00"+contestant]
}

// finish computes median/min/max and the ratios. cFloor and goFloor name
// the base contestant of each workload's ratios; goFloorFor says which
// contestants get a Go-floor ratio.
func (b *book) finish(cFloor, goFloor func(workload string) string, goFloorFor func(contestant string) bool) {
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
		if base := b.get(f.Workload, f.Metric, cFloor(f.Workload)); base != nil && base.Median != 0 {
			r := f.Median / base.Median
			f.RatioCFloor = &r
		}
		if g := goFloor(f.Workload); g != "" && goFloorFor(f.Contestant) {
			if base := b.get(f.Workload, f.Metric, g); base != nil && base.Median != 0 {
				r := f.Median / base.Median
				f.RatioGoFloor = &r
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

func fmtRatio(r *float64) string {
	if r == nil {
		return ""
	}
	return fmt.Sprintf("%.2fx", *r)
}

// printTable writes the one table: a row per (workload, metric, contestant).
func printTable(w io.Writer, figs []*figure) {
	header := []string{"workload", "metric", "contestant", "median", "min", "max", "x C floor", "x Go floor", "rounds x req", "fail"}
	rows := [][]string{header}
	lastGroup := ""
	for _, f := range figs {
		group := f.Workload + "/" + f.Metric
		wl, mt := f.Workload, f.Metric+" ("+f.Unit+")"
		if group == lastGroup {
			wl, mt = "", ""
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
		rows = append(rows, []string{wl, mt, f.Contestant, med, lo, hi,
			fmtRatio(f.RatioCFloor), fmtRatio(f.RatioGoFloor), per, fmt.Sprint(f.Failures)})
	}
	widths := make([]int, len(header))
	for _, r := range rows {
		for i, c := range r {
			if len(c) > widths[i] {
				widths[i] = len(c)
			}
		}
	}
	numeric := map[int]bool{3: true, 4: true, 5: true, 6: true, 7: true, 8: true, 9: true}
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
