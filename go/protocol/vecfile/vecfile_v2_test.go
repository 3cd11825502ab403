package vecfile

import (
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
