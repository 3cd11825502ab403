package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/weave-app/weave/go/protocol/vecfile"
)

// testdataDir is proto_spec/testdata (vecfile.Dir: Bazel runfiles, the
// module root for `go test`, or WEAVE_VECTOR_DIR).
func testdataDir(t *testing.T) string {
	t.Helper()
	dir, err := vecfile.Dir()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// loadVectors reads every checked-in vector with the shared reader, which
// enforces proto_spec/testdata/README.md; it fails the test on zero vectors
// and names every file that does not follow the README.
func loadVectors(t *testing.T) []*vecfile.Vector {
	t.Helper()
	vs, err := vecfile.Load(testdataDir(t))
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

func TestCheckedInVectorsMatchGenerator(t *testing.T) {
	problems, err := check(testdataDir(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
	if len(problems) > 0 {
		t.Log("regenerate with: go run ./tools/vecgen -out proto_spec/testdata")
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	a, err := generate()
	if err != nil {
		t.Fatal(err)
	}
	b, err := generate()
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != len(b) {
		t.Fatalf("%d vs %d files", len(a), len(b))
	}
	for name, content := range a {
		if !bytes.Equal(content, b[name]) {
			t.Errorf("%s differs between two runs", name)
		}
	}
}

func TestCheckFindsDriftAndWriteFixesIt(t *testing.T) {
	dir := t.TempDir()
	var log bytes.Buffer
	if err := write(dir, &log); err != nil {
		t.Fatal(err)
	}
	if p, err := check(dir); err != nil || len(p) != 0 {
		t.Fatalf("fresh directory: %v %v", p, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "request_example_118.vec"), []byte("edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "req_ok_status.vec")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "zz_stale.vec"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("not a vector\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := check(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"differs from the generator: request_example_118.vec",
		"extra (not generated): zz_stale.vec",
		"missing: req_ok_status.vec",
	}
	if strings.Join(p, "\n") != strings.Join(want, "\n") {
		t.Fatalf("check found:\n%s\nwant:\n%s", strings.Join(p, "\n"), strings.Join(want, "\n"))
	}
	if err := write(dir, &log); err != nil {
		t.Fatal(err)
	}
	if p, err := check(dir); err != nil || len(p) != 0 {
		t.Fatalf("after write: %v %v", p, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "README.md")); err != nil {
		t.Fatalf("write removed a file that is not a vector: %v", err)
	}
}

func TestCheckedInVectorsParse(t *testing.T) {
	vs := loadVectors(t)
	for _, v := range vs {
		if v.LeadingComments < 2 {
			t.Errorf("%s: needs the generated note and a comment explaining what it exercises", v.Name)
		}
		if v.Description == "" {
			t.Errorf("%s: empty description", v.Name)
		}
		// Header consistency that holds for every result: ok vector.
		if v.OK() {
			if len(v.Bytes) < headerSize {
				t.Errorf("%s: ok vector shorter than a header", v.Name)
				continue
			}
			plen := uint64(v.Bytes[8])<<24 | uint64(v.Bytes[9])<<16 | uint64(v.Bytes[10])<<8 | uint64(v.Bytes[11])
			if uint64(len(v.Bytes)) != headerSize+plen {
				t.Errorf("%s: %d bytes but header says 16 + %d", v.Name, len(v.Bytes), plen)
			}
		}
	}
}

// TestCoverage guards the categories the vectors exist to cover.
func TestCoverage(t *testing.T) {
	vs := loadVectors(t)
	reqCodes := map[uint32]int{}
	respCodes := map[uint32]int{}
	errReplies := map[string]int{}
	okTypes := map[string]int{}
	rt := map[bool]int{}
	for _, v := range vs {
		if v.OK() {
			okTypes[v.Decoder+"/"+v.Type]++
			rt[v.Roundtrip]++
			if v.Type == "error" {
				code, err := v.String("code")
				if err != nil {
					t.Fatal(err)
				}
				errReplies[code]++
			}
			continue
		}
		if v.Decoder == "request" {
			reqCodes[v.ErrCode]++
		} else {
			respCodes[v.ErrCode]++
		}
	}
	for _, c := range []uint32{1, 2, 3, 4, 5, 6, 7, 11, 12, 13} {
		if reqCodes[c] == 0 {
			t.Errorf("no request vector for error %d", c)
		}
	}
	for _, c := range []uint32{1, 2, 11, 12, 13} {
		if respCodes[c] == 0 {
			t.Errorf("no response vector for error %d", c)
		}
	}
	for c := 1; c <= 14; c++ {
		if errReplies[strconv.Itoa(c)] == 0 {
			t.Errorf("no valid error reply with code %d", c)
		}
	}
	if errReplies["99"] == 0 {
		t.Error("no valid error reply with code 99")
	}
	for _, typ := range []string{"request/generate_request", "request/status_request", "response/generate_response", "response/status_response", "response/error",
		"request/generate_request_options", "response/shm_generate_response", "response/queued", "response/progress",
		"response/heartbeat", "response/status_response_v2"} {
		if okTypes[typ] == 0 {
			t.Errorf("no valid %s vector", typ)
		}
	}
	if rt[true] == 0 || rt[false] == 0 {
		t.Error("need both roundtrip yes and no vectors")
	}
	t.Logf("%d vectors: request errors by code %v, response errors by code %v, ok by type %v",
		len(vs), reqCodes, respCodes, okTypes)
}

// TestCoverageV2 guards SPEC section 11's rules: each has a vector for a
// decoder serving 1..2.
func TestCoverageV2(t *testing.T) {
	have := map[string]bool{}
	for _, v := range loadVectors(t) {
		have[strings.TrimSuffix(v.Name, ".vec")] = true
		// The generations vectors carry the pair, except the one whose
		// 15 bytes after last_crash are too few for it.
		if strings.HasPrefix(v.Name, "resp_v2_ok_status_generations") {
			if want := v.Name != "resp_v2_ok_status_generations_short.vec"; v.Has("generations") != want {
				t.Errorf("%s: lists generations %v, want %v", v.Name, v.Has("generations"), want)
			}
		}
		if strings.Contains(v.Name, "_v2_") && v.VersionMax != 2 && !strings.HasSuffix(v.Name, "_v1_decoder.vec") {
			t.Errorf("%s: a version-2 vector for a decoder serving %d..%d", v.Name, v.VersionMin, v.VersionMax)
		}
	}
	for _, name := range []string{
		"req_v2_ok_options_shm_2048x2048", "req_v2_err_options_2048x2048_flags_0",
		"req_v2_err_options_in_v1_header", "req_v2_err_options_in_v1_header_v1_decoder",
		"req_v2_ok_status_v2_header", "req_v2_ok_generate_v1_type_in_v2_header",
		"req_v2_err_version_3", "req_v2_err_options_payload_67",
		"resp_v2_err_type_0006_in_v1_header", "resp_v2_err_type_0010_in_v1_header",
		"resp_v2_err_type_0011_in_v1_header", "resp_v2_err_type_0012_in_v1_header",
		"resp_v2_err_queued_0_of_1", "resp_v2_err_progress_step_29_of_28", "resp_v2_err_heartbeat_phase_3",
		"resp_v2_err_shm_size_16384x16385_rgba", "resp_v2_err_shm_status_500",
		"resp_v2_err_status_v1_payload_in_v2_header", "resp_v2_ok_status",
		// SPEC 11.6's optional generations pair after last_crash.
		"resp_v2_ok_status_generations", "resp_v2_ok_status_generations_max",
		"resp_v2_ok_status_generations_trailing", "resp_v2_ok_status_generations_short",
		"resp_v2_ok_status_generations_crashed", "resp_v2_trunc_status_generations_at_end_minus_1",
	} {
		if !have[name] {
			t.Errorf("no vector %s", name)
		}
	}
}
