package main

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// testdataDir is proto_spec/testdata: in Bazel's runfiles when run by
// `bazel test`, else relative to this package's directory (`go test`).
func testdataDir() string {
	if srcdir := os.Getenv("TEST_SRCDIR"); srcdir != "" {
		return filepath.Join(srcdir, os.Getenv("TEST_WORKSPACE"), "proto_spec", "testdata")
	}
	return filepath.Join("..", "..", "proto_spec", "testdata")
}

// fieldsByType is the README's table of decoded fields.
var fieldsByType = map[string][]string{
	"generate_request":  {"version", "request_id", "model_id", "width", "height", "steps", "cfg_bits", "seed", "clip_l_hex", "clip_g_hex", "t5_hex"},
	"status_request":    {"version", "request_id"},
	"generate_response": {"version", "request_id", "status", "generation_time_ms", "width", "height", "channels", "image_hex", "seed"},
	"status_response":   {"version", "request_id", "status", "version_min", "version_max", "uptime_ms", "requests_served", "connections_open", "max_connections", "queue_depth", "backend", "daemon_version"},
	"error":             {"version", "request_id", "status", "code", "message"},
}

var typesByDecoder = map[string][]string{
	"request":  {"generate_request", "status_request"},
	"response": {"generate_response", "status_response", "error"},
}

// textFields are taken literally; hexFields are hex bytes; the rest are
// integers (seed may also be "none" in a generate_response).
var textFields = map[string]bool{"backend": true, "daemon_version": true, "message": true}
var hexFields = map[string]bool{"clip_l_hex": true, "clip_g_hex": true, "t5_hex": true, "image_hex": true}

// parsedVec is one .vec file read under the README's rules.
type parsedVec struct {
	name     string
	desc     string
	decoder  string
	msg      []byte
	ok       bool
	rt       bool
	typ      string
	fields   map[string]string
	errStat  uint64
	errCode  uint64
	errID    uint64
	hasErrID bool
	comments int // comment lines before the first key
}

func parseUint(s string, bitSize int) (uint64, error) {
	if strings.HasPrefix(s, "0x") {
		if len(s) == 2 {
			return 0, fmt.Errorf("empty hex number")
		}
		return strconv.ParseUint(s[2:], 16, bitSize)
	}
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("bad decimal %q", s)
	}
	return strconv.ParseUint(s, 10, bitSize)
}

func parseHexBytes(s string) ([]byte, error) {
	s = strings.Replace(s, " ", "", -1)
	return hex.DecodeString(s)
}

// parseVec is a small, strict reader of proto_spec/testdata/README.md.
func parseVec(name string, data []byte) (*parsedVec, error) {
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("not UTF-8")
	}
	if bytes.IndexByte(data, '\r') >= 0 {
		return nil, fmt.Errorf("carriage return in file")
	}
	known := map[string]bool{
		"description": true, "decoder": true, "hex": true, "result": true, "roundtrip": true, "type": true,
		"error.status": true, "error.code": true, "error.request_id": true,
	}
	for _, fs := range fieldsByType {
		for _, f := range fs {
			known[f] = true
		}
	}
	kv := map[string]string{}
	var hexParts []string
	v := &parsedVec{name: name}
	seenKey := false
	for i, line := range strings.Split(string(data), "\n") {
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "#") {
			if !seenKey {
				v.comments++
			}
			continue
		}
		seenKey = true
		colon := strings.IndexByte(line, ':')
		if colon <= 0 {
			return nil, fmt.Errorf("line %d: no key", i+1)
		}
		key, val := line[:colon], line[colon+1:]
		if strings.HasPrefix(val, " ") {
			val = val[1:]
		}
		if !known[key] {
			return nil, fmt.Errorf("line %d: unknown key %q", i+1, key)
		}
		if key == "hex" {
			digits := strings.Replace(val, " ", "", -1)
			if len(digits)%2 != 0 {
				return nil, fmt.Errorf("line %d: odd number of hex digits", i+1)
			}
			hexParts = append(hexParts, val)
			continue
		}
		if _, dup := kv[key]; dup {
			return nil, fmt.Errorf("line %d: key %q repeated", i+1, key)
		}
		kv[key] = val
	}
	take := func(key string) (string, error) {
		s, ok := kv[key]
		if !ok {
			return "", fmt.Errorf("missing key %q", key)
		}
		delete(kv, key)
		return s, nil
	}
	var err error
	if v.desc, err = take("description"); err != nil {
		return nil, err
	}
	if v.desc == "" {
		return nil, fmt.Errorf("empty description")
	}
	if v.decoder, err = take("decoder"); err != nil {
		return nil, err
	}
	if typesByDecoder[v.decoder] == nil {
		return nil, fmt.Errorf("bad decoder %q", v.decoder)
	}
	if len(hexParts) == 0 {
		return nil, fmt.Errorf("missing key \"hex\"")
	}
	if v.msg, err = parseHexBytes(strings.Join(hexParts, "")); err != nil {
		return nil, fmt.Errorf("hex: %v", err)
	}
	result, err := take("result")
	if err != nil {
		return nil, err
	}
	switch result {
	case "ok":
		v.ok = true
	case "error":
	default:
		return nil, fmt.Errorf("bad result %q", result)
	}
	rt, err := take("roundtrip")
	if err != nil {
		return nil, err
	}
	switch rt {
	case "yes":
		v.rt = true
	case "no":
	default:
		return nil, fmt.Errorf("bad roundtrip %q", rt)
	}
	if v.rt && !v.ok {
		return nil, fmt.Errorf("roundtrip: yes on an error vector")
	}
	if v.ok {
		if v.typ, err = take("type"); err != nil {
			return nil, err
		}
		allowed := false
		for _, t := range typesByDecoder[v.decoder] {
			allowed = allowed || t == v.typ
		}
		if !allowed {
			return nil, fmt.Errorf("type %q is not decoded by the %s decoder", v.typ, v.decoder)
		}
		v.fields = map[string]string{}
		for _, f := range fieldsByType[v.typ] {
			s, err := take(f)
			if err != nil {
				return nil, err
			}
			switch {
			case textFields[f]:
			case hexFields[f]:
				if _, err := parseHexBytes(s); err != nil {
					return nil, fmt.Errorf("%s: %v", f, err)
				}
			case f == "seed" && v.typ == "generate_response" && s == "none":
			case f == "cfg_bits":
				if !strings.HasPrefix(s, "0x") {
					return nil, fmt.Errorf("cfg_bits %q is not 0x hex", s)
				}
				if _, err := parseUint(s, 32); err != nil {
					return nil, fmt.Errorf("cfg_bits: %v", err)
				}
			default:
				if _, err := parseUint(s, 64); err != nil {
					return nil, fmt.Errorf("%s: %v", f, err)
				}
			}
			v.fields[f] = s
		}
	} else {
		s, err := take("error.status")
		if err != nil {
			return nil, err
		}
		if v.errStat, err = parseUint(s, 32); err != nil {
			return nil, err
		}
		if s, err = take("error.code"); err != nil {
			return nil, err
		}
		if v.errCode, err = parseUint(s, 32); err != nil {
			return nil, err
		}
		if v.decoder == "request" {
			if s, err = take("error.request_id"); err != nil {
				return nil, err
			}
			if v.errID, err = parseUint(s, 64); err != nil {
				return nil, err
			}
			v.hasErrID = true
		}
	}
	if len(kv) > 0 {
		var rest []string
		for k := range kv {
			rest = append(rest, k)
		}
		sort.Strings(rest)
		return nil, fmt.Errorf("keys that do not belong to this result/type: %v", rest)
	}
	return v, nil
}

func loadVectors(t *testing.T) []*parsedVec {
	t.Helper()
	dir := testdataDir()
	names, err := listVec(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatalf("no vectors in %s", dir)
	}
	var out []*parsedVec
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		v, err := parseVec(n, data)
		if err != nil {
			t.Errorf("%s: %v", n, err)
			continue
		}
		out = append(out, v)
	}
	return out
}

func TestCheckedInVectorsMatchGenerator(t *testing.T) {
	problems, err := check(testdataDir())
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
		if v.comments < 2 {
			t.Errorf("%s: needs the generated note and a comment explaining what it exercises", v.name)
		}
		// Header consistency that holds for every result: ok vector.
		if v.ok {
			if len(v.msg) < headerSize {
				t.Errorf("%s: ok vector shorter than a header", v.name)
				continue
			}
			plen := uint64(v.msg[8])<<24 | uint64(v.msg[9])<<16 | uint64(v.msg[10])<<8 | uint64(v.msg[11])
			if uint64(len(v.msg)) != headerSize+plen {
				t.Errorf("%s: %d bytes but header says 16 + %d", v.name, len(v.msg), plen)
			}
		}
	}
}

func TestParseRejectsBrokenFiles(t *testing.T) {
	base := "description: d\ndecoder: request\nhex: 00\nresult: error\nroundtrip: no\nerror.status: 400\nerror.code: 11\n"
	cases := []struct {
		name string
		text string
		ok   bool
	}{
		{"complete", base + "error.request_id: 0\n", true},
		{"missing request_id", base, false},
		{"unknown key", base + "error.request_id: 0\nerror.msg: x\n", false},
		{"odd hex", base + "error.request_id: 0\nhex: 0\n", false},
		{"ok field on error", base + "error.request_id: 0\nversion: 1\n", false},
		{"duplicate", base + "error.request_id: 0\nerror.code: 11\n", false},
		{"roundtrip yes on error", strings.Replace(base, "roundtrip: no", "roundtrip: yes", 1) + "error.request_id: 0\n", false},
		{"ok missing field", "description: d\ndecoder: request\nhex: 00\nresult: ok\nroundtrip: no\ntype: status_request\nversion: 1\n", false},
		{"ok wrong decoder", "description: d\ndecoder: response\nhex: 00\nresult: ok\nroundtrip: no\ntype: status_request\nversion: 1\nrequest_id: 1\n", false},
		{"empty message", "description: d\ndecoder: response\nhex: 00\nresult: ok\nroundtrip: no\ntype: error\nversion: 1\nrequest_id: 1\nstatus: 400\ncode: 1\nmessage:\n", true},
	}
	for _, c := range cases {
		_, err := parseVec(c.name, []byte(c.text))
		if (err == nil) != c.ok {
			t.Errorf("%s: err = %v, want ok = %v", c.name, err, c.ok)
		}
	}
}

// TestCoverage guards the categories the vectors exist to cover.
func TestCoverage(t *testing.T) {
	vs := loadVectors(t)
	reqCodes := map[uint64]int{}
	respCodes := map[uint64]int{}
	errReplies := map[string]int{}
	okTypes := map[string]int{}
	rt := map[bool]int{}
	for _, v := range vs {
		if v.ok {
			okTypes[v.decoder+"/"+v.typ]++
			rt[v.rt]++
			if v.typ == "error" {
				errReplies[v.fields["code"]]++
			}
			continue
		}
		if v.decoder == "request" {
			reqCodes[v.errCode]++
		} else {
			respCodes[v.errCode]++
		}
	}
	for _, c := range []uint64{1, 2, 3, 4, 5, 6, 7, 11, 12, 13} {
		if reqCodes[c] == 0 {
			t.Errorf("no request vector for error %d", c)
		}
	}
	for _, c := range []uint64{1, 2, 11, 12, 13} {
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
	for _, typ := range []string{"request/generate_request", "request/status_request", "response/generate_response", "response/status_response", "response/error"} {
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
