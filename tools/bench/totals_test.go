package main

import (
	"math"
	"testing"
)

func TestGenTotalsMeanSince(t *testing.T) {
	tests := []struct {
		name  string
		t0, t genTotals
		want  float64
	}{
		{"none since", genTotals{3, 900}, genTotals{3, 900}, 0},
		{"one job", genTotals{3, 900}, genTotals{4, 8763}, 7863},
		{"mean of several", genTotals{0, 0}, genTotals{4, 10}, 2.5},
		// SPEC 11.6: both wrap at 2^64; differences are taken modulo 2^64.
		{"wrapped", genTotals{math.MaxUint64, math.MaxUint64 - 99}, genTotals{1, 300}, 200},
	}
	for _, tt := range tests {
		if got := tt.t.meanSince(tt.t0); got != tt.want {
			t.Errorf("%s: meanSince = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// A server that is not weave-compute has no totals, and asking costs
// nothing (no connection is made).
func TestGenTotalsOfOtherServers(t *testing.T) {
	for _, s := range []*server{nil, {key: "floor", sock: "/nonexistent/floor.sock"}, {key: "http"}} {
		if _, ok := genTotalsOf(s); ok {
			t.Errorf("genTotalsOf(%+v) = ok", s)
		}
	}
}
