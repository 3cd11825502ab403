package vecfile

import (
	"reflect"
	"strings"
	"testing"
)

// Minimal valid version-2 files.
const (
	okQueued = "description: d\ndecoder: response\nversions: 1..2\nhex: 00\nresult: ok\nroundtrip: no\n" +
		"type: queued\nversion: 2\nrequest_id: 1\nposition: 1\nqueue_depth: 1\n"
	okStatusV2 = "description: d\ndecoder: response\nversions: 1..2\nhex: 00\nresult: ok\nroundtrip: no\n" +
		"type: status_response_v2\nversion: 2\nrequest_id: 1\nstatus: 200\nversion_min: 1\nversion_max: 2\n" +
		"uptime_ms: 0\nrequests_served: 0\nconnections_open: 1\nmax_connections: 64\nqueue_depth: 0\n" +
		"backend: procedural\ndaemon_version: 0.2.0\ndaemon_pid: 7\nfeatures: 3\nbackend_state: 2\n" +
		"worker_pid: 8\nworker_restarts: 0\njobs_running: 0\nlast_crash: backend crashed (SIGSEGV)\n"
	okOptions = "description: d\ndecoder: request\nversions: 1..2\nhex: 00\nresult: ok\nroundtrip: no\n" +
		"type: generate_request_options\nversion: 2\nrequest_id: 1\nflags: 3\nmodel_id: 0\nwidth: 64\nheight: 64\n" +
		"steps: 1\ncfg_bits: 0x40E00000\nseed: 0\nclip_l_hex: 61\nclip_g_hex: 61\nt5_hex: 61\n"
)

// okStatusV2Gen is okStatusV2 with SPEC 11.6's optional pair.
const okStatusV2Gen = okStatusV2 + "generations: 42\ngeneration_us: 0xFFFFFFFFFFFFFFFF\n"

func TestParseVersions(t *testing.T) {
	v, err := Parse("x.vec", []byte(errReq))
	if err != nil {
		t.Fatal(err)
	}
	if v.VersionMin != 1 || v.VersionMax != 1 {
		t.Errorf("no versions key: %d..%d, want 1..1", v.VersionMin, v.VersionMax)
	}
	v, err = Parse("x.vec", []byte(okQueued))
	if err != nil {
		t.Fatal(err)
	}
	if v.VersionMin != 1 || v.VersionMax != 2 {
		t.Errorf("versions: 1..2 read as %d..%d", v.VersionMin, v.VersionMax)
	}
	if n, err := v.Uint("position"); err != nil || n != 1 {
		t.Errorf("position = %d, %v", n, err)
	}
	v, err = Parse("x.vec", []byte(okStatusV2))
	if err != nil {
		t.Fatal(err)
	}
	if s, err := v.String("last_crash"); err != nil || s != "backend crashed (SIGSEGV)" {
		t.Errorf("last_crash = %q, %v", s, err)
	}
	if _, err := Parse("x.vec", []byte(okOptions)); err != nil {
		t.Error(err)
	}
	if _, err := Parse("x.vec", []byte(replace(errReq, "decoder: request", "decoder: request\nversions: 2..2"))); err != nil {
		t.Errorf("versions 2..2: %v", err)
	}
}

// TestParseGenerationsPair: status_response_v2's generations and
// generation_us are listed both or neither; absent, the vector says the
// decoder reports them absent.
func TestParseGenerationsPair(t *testing.T) {
	base := FieldNames("status_response_v2")
	if got, want := OptionalFieldNames("status_response_v2"), []string{"generations", "generation_us"}; !reflect.DeepEqual(got, want) {
		t.Errorf("OptionalFieldNames = %q, want %q", got, want)
	}
	for _, typ := range Types() {
		if typ != "status_response_v2" && OptionalFieldNames(typ) != nil {
			t.Errorf("OptionalFieldNames(%s) = %q, want none", typ, OptionalFieldNames(typ))
		}
	}

	v, err := Parse("x.vec", []byte(okStatusV2))
	if err != nil {
		t.Fatal(err)
	}
	if v.Has("generations") || v.Has("generation_us") {
		t.Error("pair absent, but Has reports it")
	}
	if !v.Has("last_crash") || v.Has("width") {
		t.Error("Has of a listed field / of a field the type does not have")
	}
	if _, err := v.Uint("generations"); err == nil || !strings.Contains(err.Error(), "absent") {
		t.Errorf("Uint of an absent optional field: %v", err)
	}
	if got := v.FieldNames(); !reflect.DeepEqual(got, base) {
		t.Errorf("FieldNames without the pair = %q, want %q", got, base)
	}

	v, err = Parse("x.vec", []byte(okStatusV2Gen))
	if err != nil {
		t.Fatal(err)
	}
	if !v.Has("generations") || !v.Has("generation_us") {
		t.Error("pair present, but Has does not report it")
	}
	if n, err := v.Uint("generations"); err != nil || n != 42 {
		t.Errorf("generations = %d, %v", n, err)
	}
	if n, err := v.Uint("generation_us"); err != nil || n != 1<<64-1 {
		t.Errorf("generation_us = %d, %v", n, err)
	}
	if got, want := v.FieldNames(), append(append([]string{}, base...), "generations", "generation_us"); !reflect.DeepEqual(got, want) {
		t.Errorf("FieldNames with the pair = %q, want %q", got, want)
	}
	// Any order, like every key.
	swapped := "generation_us: 1\n" + okStatusV2 + "generations: 0\n"
	if _, err := Parse("x.vec", []byte(swapped)); err != nil {
		t.Errorf("pair in another order: %v", err)
	}
	e, err := Parse("e.vec", []byte(errResp))
	if err != nil {
		t.Fatal(err)
	}
	if e.Has("generations") {
		t.Error("Has on an error vector")
	}
}

func TestParseRejectsV2(t *testing.T) {
	tests := []struct{ name, text, why string }{
		{"versions not a range", replace(okQueued, "versions: 1..2", "versions: 2"), "MIN..MAX"},
		{"versions reversed", replace(okQueued, "versions: 1..2", "versions: 2..1"), "MIN <= MAX"},
		{"versions from 0", replace(okQueued, "versions: 1..2", "versions: 0..2"), "MIN <= MAX"},
		{"versions with spaces", replace(okQueued, "versions: 1..2", "versions: 1 .. 2"), "versions"},
		{"versions repeated", okQueued + "versions: 1..2\n", "repeated"},
		{"v2 type in version 1", replace(okQueued, "version: 2", "version: 1"), "needs version 2"},
		{"v2 status in version 1", replace(okStatusV2, "version: 2", "version: 1"), "needs version 2"},
		{"v1 status shape in version 2", replace(okStatusResp, "version: 1", "version: 2"), "needs version 1"},
		{"queued missing queue_depth", without(okQueued, "queue_depth: 1"), `missing key "queue_depth"`},
		{"status_v2 missing last_crash", without(okStatusV2, "last_crash: backend crashed (SIGSEGV)"), `missing key "last_crash"`},
		{"options missing flags", without(okOptions, "flags: 3"), `missing key "flags"`},
		{"response type on request decoder", replace(okQueued, "decoder: response", "decoder: request"), "not produced by the request decoder"},
		{"options on response decoder", replace(okOptions, "decoder: request", "decoder: response"), "not produced by the response decoder"},
		{"backend_state over 16 bits", replace(okStatusV2, "backend_state: 2", "backend_state: 65536"), "16-bit"},
		{"generations without generation_us", okStatusV2 + "generations: 42\n", "generations without generation_us: a status_response_v2 lists generations and generation_us both or neither"},
		{"generation_us without generations", okStatusV2 + "generation_us: 7\n", "generation_us without generations"},
		{"generations over 64 bits", replace(okStatusV2Gen, "generations: 42", "generations: 18446744073709551616"), "64-bit"},
		{"generation_us leading zero", replace(okStatusV2Gen, "generation_us: 0xFFFFFFFFFFFFFFFF", "generation_us: 07"), "leading zero"},
		{"generation_us empty", replace(okStatusV2Gen, "generation_us: 0xFFFFFFFFFFFFFFFF", "generation_us:"), "generation_us"},
		{"generations repeated", okStatusV2Gen + "generations: 42\n", "repeated"},
		{"generations typo", okStatusV2 + "generation: 42\ngeneration_us: 1\n", `unknown key "generation"`},
		{"pair on a version-1 status", okStatusResp + "generations: 1\ngeneration_us: 2\n", "do not belong"},
		{"pair on queued", okQueued + "generations: 1\ngeneration_us: 2\n", "do not belong"},
		{"pair on an error vector", errResp + "generations: 1\ngeneration_us: 2\n", "do not belong"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := Parse("x.vec", []byte(tc.text))
			if err == nil {
				t.Fatalf("accepted (%+v):\n%s", v, tc.text)
			}
			if !strings.Contains(err.Error(), tc.why) {
				t.Errorf("error %q does not say %q", err, tc.why)
			}
		})
	}
}
