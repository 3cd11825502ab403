package vecfile

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// Minimal valid files of each shape; the rejection cases edit them.
const (
	errReq = "description: d\ndecoder: request\nhex: 5745 5645\nresult: error\nroundtrip: no\n" +
		"error.status: 400\nerror.code: 11\nerror.request_id: 0\n"
	errResp = "description: d\ndecoder: response\nhex: 00\nresult: error\nroundtrip: no\n" +
		"error.status: 400\nerror.code: 11\n"
	okStatusReq = "description: d\ndecoder: request\nhex: 00\nresult: ok\nroundtrip: no\n" +
		"type: status_request\nversion: 1\nrequest_id: 0x10\n"
	okGenReq = "description: d\ndecoder: request\nhex: 00\nresult: ok\nroundtrip: no\n" +
		"type: generate_request\nversion: 1\nrequest_id: 1\nmodel_id: 0\nwidth: 64\nheight: 64\n" +
		"steps: 1\ncfg_bits: 0x40E00000\nseed: 18446744073709551615\nclip_l_hex: 61\nclip_g_hex: c3 a9\nt5_hex:\n"
	okGenResp = "description: d\ndecoder: response\nhex: 00\nresult: ok\nroundtrip: no\n" +
		"type: generate_response\nversion: 1\nrequest_id: 1\nstatus: 200\ngeneration_time_ms: 5\n" +
		"width: 1\nheight: 1\nchannels: 3\nimage_hex: 010203\nseed: none\n"
	okStatusResp = "description: d\ndecoder: response\nhex: 00\nresult: ok\nroundtrip: no\n" +
		"type: status_response\nversion: 1\nrequest_id: 1\nstatus: 200\nversion_min: 1\nversion_max: 1\n" +
		"uptime_ms: 0\nrequests_served: 0\nconnections_open: 1\nmax_connections: 64\nqueue_depth: 0\n" +
		"backend: procedural (cpu)\ndaemon_version:\n"
	okError = "description: d\ndecoder: response\nhex: 00\nresult: ok\nroundtrip: no\n" +
		"type: error\nversion: 1\nrequest_id: 1\nstatus: 400\ncode: 5\nmessage:\n"
)

func without(text, line string) string {
	if !strings.Contains(text, line+"\n") {
		panic("test bug: no line " + line)
	}
	return strings.Replace(text, line+"\n", "", 1)
}

func replace(text, old, new string) string {
	if !strings.Contains(text, old) {
		panic("test bug: no " + old)
	}
	return strings.Replace(text, old, new, 1)
}

func TestParseAccepts(t *testing.T) {
	tests := []struct{ name, text string }{
		{"error, request decoder", errReq},
		{"error, response decoder", errResp},
		{"status_request", okStatusReq},
		{"generate_request", okGenReq},
		{"generate_response", okGenResp},
		{"generate_response with seed", replace(okGenResp, "seed: none", "seed: 0")},
		{"status_response", okStatusResp},
		{"error reply", okError},
		{"error status 500", replace(errReq, "error.status: 400", "error.status: 500")},
		{"comments, blank lines, any key order", "# note\n\n# what\n" + without(errReq, "description: d") + "\n# x\ndescription: d\n"},
		{"empty message", replace(errReq, "hex: 5745 5645", "hex:")},
		{"key:value without the space", replace(okStatusReq, "version: 1", "version:1")},
		{"no final newline", strings.TrimSuffix(okStatusReq, "\n")},
		{"uppercase hex digits", replace(okGenReq, "0x40E00000", "0x40e00000")},
		{"integer 0", replace(okStatusReq, "request_id: 0x10", "request_id: 0")},
		{"integer 0x0", replace(okStatusReq, "request_id: 0x10", "request_id: 0x0")},
		{"version 65535", replace(okStatusReq, "version: 1", "version: 65535")},
		{"u32 max", replace(okGenReq, "width: 64", "width: 4294967295")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse("x.vec", []byte(tc.text)); err != nil {
				t.Errorf("rejected: %v\n%s", err, tc.text)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name, text string
		why        string // a substring of the error
	}{
		// Keys.
		{"unknown key", errReq + "error.cod: 11\n", `unknown key "error.cod"`},
		{"unknown key on ok vector", okStatusReq + "widht: 64\n", "unknown key"},
		{"key with a space", okStatusReq + " version: 1\n", "unknown key"},
		{"no colon", errReq + "garbage\n", "not \"key: value\""},
		{"empty key", errReq + ": x\n", "not \"key: value\""},
		{"whitespace-only line", errReq + " \n", "not \"key: value\""},
		{"repeated key", errReq + "error.code: 11\n", `"error.code" repeated`},
		{"repeated description", errReq + "description: d\n", "repeated"},
		{"ok field on error vector", errReq + "type: status_request\n", "do not belong"},
		{"ok field version on error vector", errReq + "version: 1\n", "do not belong"},
		{"error field on ok vector", okStatusReq + "error.code: 11\n", "do not belong"},
		{"field of another type", okStatusReq + "width: 64\n", "do not belong"},
		{"request_id on response-decoder error", errResp + "error.request_id: 0\n", "do not belong"},
		// Required keys.
		{"missing description", without(errReq, "description: d"), `missing key "description"`},
		{"empty description", replace(errReq, "description: d", "description:"), "empty description"},
		{"missing decoder", without(errReq, "decoder: request"), `missing key "decoder"`},
		{"missing hex", without(errReq, "hex: 5745 5645"), `missing key "hex"`},
		{"missing result", without(errReq, "result: error"), `missing key "result"`},
		{"missing roundtrip on error vector", without(errReq, "roundtrip: no"), `missing key "roundtrip"`},
		{"missing roundtrip on ok vector", without(okStatusReq, "roundtrip: no"), `missing key "roundtrip"`},
		{"missing error.status", without(errReq, "error.status: 400"), `missing key "error.status"`},
		{"missing error.code", without(errReq, "error.code: 11"), `missing key "error.code"`},
		{"missing error.request_id (request decoder)", without(errReq, "error.request_id: 0"), `missing key "error.request_id"`},
		{"missing type", without(okStatusReq, "type: status_request"), `missing key "type"`},
		{"status_request missing request_id", without(okStatusReq, "request_id: 0x10"), `missing key "request_id"`},
		{"status_request missing version", without(okStatusReq, "version: 1"), `missing key "version"`},
		{"generate_request missing t5_hex", without(okGenReq, "t5_hex:"), `missing key "t5_hex"`},
		{"generate_request missing cfg_bits", without(okGenReq, "cfg_bits: 0x40E00000"), `missing key "cfg_bits"`},
		{"generate_response missing seed", without(okGenResp, "seed: none"), `missing key "seed"`},
		{"generate_response missing image_hex", without(okGenResp, "image_hex: 010203"), `missing key "image_hex"`},
		{"status_response missing daemon_version", without(okStatusResp, "daemon_version:"), `missing key "daemon_version"`},
		{"status_response missing queue_depth", without(okStatusResp, "queue_depth: 0"), `missing key "queue_depth"`},
		{"error missing message", without(okError, "message:"), `missing key "message"`},
		{"error missing code", without(okError, "code: 5"), `missing key "code"`},
		// Enumerated values.
		{"bad decoder", replace(errReq, "decoder: request", "decoder: both"), "neither request nor response"},
		{"decoder with trailing space", replace(errReq, "decoder: request", "decoder: request "), "neither request nor response"},
		{"bad result", replace(errReq, "result: error", "result: fail"), "neither ok nor error"},
		{"bad roundtrip", replace(okStatusReq, "roundtrip: no", "roundtrip: true"), "neither yes nor no"},
		{"roundtrip yes on error vector", replace(errReq, "roundtrip: no", "roundtrip: yes"), "roundtrip: yes on an error vector"},
		{"unknown type", replace(okStatusReq, "type: status_request", "type: status"), `unknown type "status"`},
		{"type the decoder does not produce", replace(okStatusReq, "decoder: request", "decoder: response"), "not produced by the response decoder"},
		{"response type on request decoder", replace(okError, "decoder: response", "decoder: request"), "not produced by the request decoder"},
		{"error.status not 400/500", replace(errReq, "error.status: 400", "error.status: 404"), "neither 400 nor 500"},
		// Hex.
		{"bad hex digit", replace(errReq, "5745", "57G5"), "hex"},
		{"odd hex line", errReq + "hex: 0\n", "odd number of hex digits"},
		{"odd hex lines that would pair up", errReq + "hex: 0\nhex: 0\n", "odd number of hex digits"},
		{"tab in hex", replace(errReq, "5745 5645", "5745\t5645"), "hex"},
		{"0x in hex", replace(errReq, "5745 5645", "0x57"), "hex"},
		{"bad *_hex field", replace(okGenReq, "clip_l_hex: 61", "clip_l_hex: 6"), "clip_l_hex"},
		{"bad image_hex", replace(okGenResp, "image_hex: 010203", "image_hex: zz"), "image_hex"},
		// Integers.
		{"negative", replace(okStatusReq, "request_id: 0x10", "request_id: -1"), "request_id"},
		{"plus sign", replace(okStatusReq, "request_id: 0x10", "request_id: +1"), "request_id"},
		{"leading zero", replace(okStatusReq, "request_id: 0x10", "request_id: 010"), "leading zero"},
		{"empty integer", replace(okStatusReq, "request_id: 0x10", "request_id:"), "request_id"},
		{"0x without digits", replace(okStatusReq, "request_id: 0x10", "request_id: 0x"), "no digits"},
		{"0X prefix", replace(okStatusReq, "request_id: 0x10", "request_id: 0X10"), "request_id"},
		{"underscore", replace(okStatusReq, "request_id: 0x10", "request_id: 1_000"), "request_id"},
		{"trailing space", replace(okStatusReq, "version: 1", "version: 1 "), "version"},
		{"two spaces before value", replace(okStatusReq, "version: 1", "version:  1"), "version"},
		{"u64 overflow", replace(okStatusReq, "request_id: 0x10", "request_id: 18446744073709551616"), "64-bit"},
		{"u16 overflow (version)", replace(okStatusReq, "version: 1", "version: 65536"), "16-bit"},
		{"u16 overflow (version_min)", replace(okStatusResp, "version_min: 1", "version_min: 0x10000"), "version_min"},
		{"u32 overflow (width)", replace(okGenReq, "width: 64", "width: 4294967296"), "32-bit"},
		{"u32 overflow (code)", replace(okError, "code: 5", "code: 0x100000000"), "code"},
		{"cfg_bits in decimal", replace(okGenReq, "cfg_bits: 0x40E00000", "cfg_bits: 1088421888"), "cfg_bits"},
		{"cfg_bits over 32 bits", replace(okGenReq, "cfg_bits: 0x40E00000", "cfg_bits: 0x140E00000"), "cfg_bits"},
		{"seed none on a request", replace(okGenReq, "seed: 18446744073709551615", "seed: none"), "seed"},
		{"seed None", replace(okGenResp, "seed: none", "seed: None"), "seed"},
		{"bad error.status", replace(errReq, "error.status: 400", "error.status: 4OO"), "error.status"},
		{"bad error.code", replace(errReq, "error.code: 11", "error.code: eleven"), "error.code"},
		{"bad error.request_id", replace(errReq, "error.request_id: 0", "error.request_id: 0x"), "error.request_id"},
		// Encoding.
		{"CRLF line ends", strings.Replace(errReq, "\n", "\r\n", -1), "carriage return"},
		{"NUL byte", replace(okError, "message:", "message: a\x00b"), "NUL"},
		{"not UTF-8", replace(okError, "message:", "message: \xff"), "UTF-8"},
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
			if !strings.HasPrefix(err.Error(), "x.vec: ") {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func TestParseValues(t *testing.T) {
	text := "# generated\n# what it is\ndescription:  spaced  out \ndecoder: response\nhex: 01 02\n# more\nhex: 0304\nhex:\n" +
		"result: ok\nroundtrip: yes\ntype: error\nversion: 1\nrequest_id: 0xFFFFFFFFFFFFFFFF\nstatus: 400\ncode: 5\n" +
		"message:  two spaces: and a colon \n"
	v, err := Parse("x.vec", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if v.Name != "x.vec" || v.Decoder != "response" || v.Result != "ok" || !v.OK() || !v.Roundtrip || v.Type != "error" {
		t.Errorf("header fields: %+v", v)
	}
	if v.Description != " spaced  out " {
		t.Errorf("description %q: taken literally after one space", v.Description)
	}
	if v.LeadingComments != 2 {
		t.Errorf("LeadingComments = %d, want 2 (comments after the first key do not count)", v.LeadingComments)
	}
	if !bytes.Equal(v.Bytes, []byte{1, 2, 3, 4}) {
		t.Errorf("Bytes = %x", v.Bytes)
	}
	if m, err := v.String("message"); err != nil || m != " two spaces: and a colon " {
		t.Errorf("message = %q, %v", m, err)
	}
	if id, err := v.Uint("request_id"); err != nil || id != 1<<64-1 {
		t.Errorf("request_id = %d, %v", id, err)
	}
	if s, err := v.String("request_id"); err != nil || s != "0xFFFFFFFFFFFFFFFF" {
		t.Errorf("String(request_id) = %q, %v: want the value as written", s, err)
	}
	if _, err := v.Uint("message"); err == nil {
		t.Error("Uint of a text field")
	}
	if _, err := v.Hex("code"); err == nil {
		t.Error("Hex of an integer field")
	}
	if _, err := v.Uint("width"); err == nil {
		t.Error("Uint of a field the type does not have")
	}
	if got, want := v.FieldNames(), []string{"version", "request_id", "status", "code", "message"}; !reflect.DeepEqual(got, want) {
		t.Errorf("FieldNames = %q, want %q", got, want)
	}
	if v.HasErrRequestID || v.ErrStatus != 0 || v.ErrCode != 0 {
		t.Errorf("ok vector with error fields: %+v", v)
	}

	g, err := Parse("g.vec", []byte(okGenReq))
	if err != nil {
		t.Fatal(err)
	}
	if b, err := g.Uint("cfg_bits"); err != nil || b != 0x40E00000 {
		t.Errorf("cfg_bits = %#x, %v", b, err)
	}
	if b, err := g.Hex("clip_g_hex"); err != nil || string(b) != "\u00e9" {
		t.Errorf("clip_g_hex = %q, %v", b, err)
	}
	if b, err := g.Hex("t5_hex"); err != nil || b == nil || len(b) != 0 {
		t.Errorf("empty t5_hex = %#v, %v: want empty, non-nil", b, err)
	}
	if s, err := g.Uint("seed"); err != nil || s != 1<<64-1 {
		t.Errorf("seed = %d, %v", s, err)
	}
	if g.Bytes == nil {
		t.Error("Bytes nil")
	}

	r, err := Parse("r.vec", []byte(okGenResp))
	if err != nil {
		t.Fatal(err)
	}
	if s, err := r.String("seed"); err != nil || s != "none" {
		t.Errorf("seed = %q, %v", s, err)
	}
	if _, err := r.Uint("seed"); err == nil {
		t.Error("Uint of seed: none")
	}

	e, err := Parse("e.vec", []byte(replace(errReq, "error.request_id: 0", "error.request_id: 0x0102030405060708")))
	if err != nil {
		t.Fatal(err)
	}
	if e.OK() || e.Result != "error" || e.ErrStatus != 400 || e.ErrCode != 11 ||
		!e.HasErrRequestID || e.ErrRequestID != 0x0102030405060708 || e.Type != "" {
		t.Errorf("error vector: %+v", e)
	}
	if !bytes.Equal(e.Bytes, []byte("WEVE")) {
		t.Errorf("Bytes = %q", e.Bytes)
	}
	if _, err := e.Uint("request_id"); err == nil {
		t.Error("field of an error vector")
	}
	if e.FieldNames() != nil {
		t.Error("FieldNames of an error vector")
	}

	er, err := Parse("er.vec", []byte(errResp))
	if err != nil {
		t.Fatal(err)
	}
	if er.HasErrRequestID {
		t.Error("response-decoder error vector with a request_id")
	}
	if b, err := Parse("z.vec", []byte(replace(errReq, "hex: 5745 5645", "hex:"))); err != nil || b.Bytes == nil || len(b.Bytes) != 0 {
		t.Errorf("hex: (empty message) = %#v, %v: want empty, non-nil", b, err)
	}
}

func TestTypesAndFieldNames(t *testing.T) {
	want := map[string]string{
		"generate_request":  "version request_id model_id width height steps cfg_bits seed clip_l_hex clip_g_hex t5_hex",
		"status_request":    "version request_id",
		"generate_response": "version request_id status generation_time_ms width height channels image_hex seed",
		"status_response":   "version request_id status version_min version_max uptime_ms requests_served connections_open max_connections queue_depth backend daemon_version",
		"error":             "version request_id status code message",
		// Version 2.
		"generate_request_options": "version request_id flags model_id width height steps cfg_bits seed clip_l_hex clip_g_hex t5_hex",
		"shm_generate_response":    "version request_id status generation_time_ms width height channels image_size seed",
		"queued":                   "version request_id position queue_depth",
		"progress":                 "version request_id step steps elapsed_ms",
		"heartbeat":                "version request_id phase elapsed_ms",
		"status_response_v2": "version request_id status version_min version_max uptime_ms requests_served connections_open max_connections queue_depth backend daemon_version " +
			"daemon_pid features backend_state worker_pid worker_restarts jobs_running last_crash",
	}
	if got := Types(); len(got) != len(want) {
		t.Errorf("Types() = %q", got)
	}
	for typ, fields := range want {
		if got := strings.Join(FieldNames(typ), " "); got != fields {
			t.Errorf("FieldNames(%s) = %s, want the README's %s", typ, got, fields)
		}
	}
	if FieldNames("nope") != nil {
		t.Error("FieldNames of an unknown type")
	}
}

func write(t *testing.T, dir, name, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "no *.vec files") {
		t.Errorf("empty directory: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing directory loads")
	}
	write(t, dir, "README.md", "not a vector\n")
	if err := os.Mkdir(filepath.Join(dir, "sub.vec"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil {
		t.Error("directory without *.vec files (only README.md and a directory) loads")
	}
	write(t, dir, "b.vec", okStatusReq)
	write(t, dir, "a.vec", errReq)
	write(t, dir, "c.vec", okError)
	vs, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, v := range vs {
		names = append(names, v.Name)
	}
	if strings.Join(names, " ") != "a.vec b.vec c.vec" {
		t.Errorf("Load order %q, want sorted", names)
	}
	write(t, dir, "d.vec", errReq+"bogus: 1\n")
	write(t, dir, "e.vec", okStatusReq+"hex: 0\n")
	_, err = Load(dir)
	if err == nil {
		t.Fatal("a broken file loads")
	}
	for _, s := range []string{"2 of 5", "d.vec: ", "e.vec: "} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("Load error %q does not say %q", err, s)
		}
	}
}

func TestDir(t *testing.T) {
	// The process environment is shared by the subtests below: restore it.
	for _, k := range []string{EnvDir, "TEST_SRCDIR", "TEST_WORKSPACE"} {
		old, had := os.LookupEnv(k)
		k := k
		t.Cleanup(func() {
			if had {
				os.Setenv(k, old)
			} else {
				os.Unsetenv(k)
			}
		})
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chdir(wd) })

	root := t.TempDir()
	testdata := filepath.Join(root, "ws", "proto_spec", "testdata")
	if err := os.MkdirAll(testdata, 0o755); err != nil {
		t.Fatal(err)
	}

	// The override wins over everything.
	os.Setenv(EnvDir, root)
	os.Setenv("TEST_SRCDIR", filepath.Join(root, "nowhere"))
	if d, err := Dir(); err != nil || d != root {
		t.Errorf("override: %q, %v", d, err)
	}
	os.Setenv(EnvDir, filepath.Join(root, "missing"))
	if _, err := Dir(); err == nil {
		t.Error("override naming a missing directory")
	}
	os.Unsetenv(EnvDir)

	// Bazel: the runfiles tree.
	os.Setenv("TEST_SRCDIR", root)
	os.Setenv("TEST_WORKSPACE", "ws")
	if d, err := Dir(); err != nil || d != testdata {
		t.Errorf("bazel: %q, %v", d, err)
	}
	os.Setenv("TEST_WORKSPACE", "other")
	if _, err := Dir(); err == nil || !strings.Contains(err.Error(), "//proto_spec:testdata") {
		t.Errorf("bazel without the data dependency: %v", err)
	}
	os.Unsetenv("TEST_WORKSPACE")
	if _, err := Dir(); err == nil {
		t.Error("TEST_SRCDIR without TEST_WORKSPACE")
	}
	os.Unsetenv("TEST_SRCDIR")

	// go test: up from the working directory to go.mod.
	write(t, filepath.Join(root, "ws"), "go.mod", "module x\n")
	deep := filepath.Join(root, "ws", "a", "b")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chdir(deep); err != nil {
		t.Fatal(err)
	}
	d, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	// Compare resolved paths (TMPDIR may be a symlink).
	if want, _ := filepath.EvalSymlinks(testdata); d != testdata && d != want {
		got, _ := filepath.EvalSymlinks(d)
		if got != want {
			t.Errorf("go test: %q, want %q", d, testdata)
		}
	}
	// A go.mod without proto_spec/testdata next to it is an error, not a
	// silent walk further up.
	write(t, filepath.Join(root, "ws", "a"), "go.mod", "module y\n")
	if _, err := Dir(); err == nil {
		t.Error("nearest go.mod has no proto_spec/testdata")
	}
}

// TestCheckedInVectors: the repository's vectors all parse.
func TestCheckedInVectors(t *testing.T) {
	vs, err := LoadDefault()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d vectors", len(vs))
}
