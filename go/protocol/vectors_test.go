package protocol

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// vector is one parsed proto_spec/testdata/*.vec file (format:
// proto_spec/testdata/README.md).
type vector struct {
	name      string
	decoder   string // "request" or "response"
	msg       []byte
	ok        bool
	roundtrip bool
	// result: error
	errStatus    uint32
	errCode      ErrorCode
	errRequestID uint64
	hasRequestID bool
	// result: ok
	typ    string
	fields map[string]string
}

// vectorFields lists, per decoded type, every field a vector must give.
var vectorFields = map[string][]string{
	"generate_request":  {"version", "request_id", "model_id", "width", "height", "steps", "cfg_bits", "seed", "clip_l_hex", "clip_g_hex", "t5_hex"},
	"status_request":    {"version", "request_id"},
	"generate_response": {"version", "request_id", "status", "generation_time_ms", "width", "height", "channels", "image_hex", "seed"},
	"status_response":   {"version", "request_id", "status", "version_min", "version_max", "uptime_ms", "requests_served", "connections_open", "max_connections", "queue_depth", "backend", "daemon_version"},
	"error":             {"version", "request_id", "status", "code", "message"},
}

// literalKeys are taken as the rest of the line after ": ", untrimmed.
var literalKeys = map[string]bool{"backend": true, "daemon_version": true, "message": true, "description": true}

// vectorDir locates proto_spec/testdata: in Bazel's runfiles when run by
// `bazel test`, else relative to this package's directory.
// WEAVE_VECTOR_DIR overrides both (e.g. to try a freshly generated set:
// go run ./tools/vecgen -out /tmp/vec && WEAVE_VECTOR_DIR=/tmp/vec go test).
func vectorDir(tb testing.TB) string {
	if dir := os.Getenv("WEAVE_VECTOR_DIR"); dir != "" {
		return dir
	}
	if srcdir := os.Getenv("TEST_SRCDIR"); srcdir != "" {
		return filepath.Join(srcdir, os.Getenv("TEST_WORKSPACE"), "proto_spec", "testdata")
	}
	return filepath.Join("..", "..", "proto_spec", "testdata")
}

func vectorFiles(tb testing.TB) []string {
	files, err := filepath.Glob(filepath.Join(vectorDir(tb), "*.vec"))
	if err != nil {
		tb.Fatalf("glob vectors: %v", err)
	}
	sort.Strings(files)
	return files
}

func parseUint(s string, bits int) (uint64, error) {
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		return strconv.ParseUint(s[2:], 16, bits)
	}
	return strconv.ParseUint(s, 10, bits)
}

func parseHex(s string) ([]byte, error) {
	return hex.DecodeString(strings.ReplaceAll(s, " ", ""))
}

// parseVector parses a .vec file strictly: unknown keys, repeated keys
// (other than hex), keys that do not belong to the result/type and missing
// required keys are errors.
func parseVector(name string, data []byte) (*vector, error) {
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("not UTF-8")
	}
	kv := map[string]string{}
	var hexParts []string
	for i, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		colon := strings.IndexByte(line, ':')
		if colon < 0 {
			return nil, fmt.Errorf("line %d: no ':' in %q", i+1, line)
		}
		key, val := line[:colon], line[colon+1:]
		if strings.HasPrefix(val, " ") {
			val = val[1:]
		}
		if key != strings.TrimSpace(key) || key == "" {
			return nil, fmt.Errorf("line %d: bad key %q", i+1, key)
		}
		if !literalKeys[key] {
			val = strings.TrimSpace(val)
		}
		if key == "hex" {
			hexParts = append(hexParts, val)
			continue
		}
		if _, dup := kv[key]; dup {
			return nil, fmt.Errorf("line %d: key %q repeated", i+1, key)
		}
		kv[key] = val
	}
	take := func(key string) (string, error) {
		v, ok := kv[key]
		if !ok {
			return "", fmt.Errorf("missing key %q", key)
		}
		delete(kv, key)
		return v, nil
	}
	v := &vector{name: name}
	delete(kv, "description")
	var err error
	if v.decoder, err = take("decoder"); err != nil {
		return nil, err
	}
	if v.decoder != "request" && v.decoder != "response" {
		return nil, fmt.Errorf("decoder %q is neither request nor response", v.decoder)
	}
	if len(hexParts) == 0 {
		return nil, fmt.Errorf("missing key \"hex\"")
	}
	if v.msg, err = parseHex(strings.Join(hexParts, "")); err != nil {
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
		return nil, fmt.Errorf("result %q is neither ok nor error", result)
	}
	if rt, present := kv["roundtrip"]; present || v.ok {
		if rt, err = take("roundtrip"); err != nil {
			return nil, err
		}
		switch rt {
		case "yes":
			v.roundtrip = true
		case "no":
		default:
			return nil, fmt.Errorf("roundtrip %q is neither yes nor no", rt)
		}
		if v.roundtrip && !v.ok {
			return nil, fmt.Errorf("roundtrip: yes on an error vector")
		}
	}
	if !v.ok {
		s, err := take("error.status")
		if err != nil {
			return nil, err
		}
		n, err := parseUint(s, 32)
		if err != nil {
			return nil, fmt.Errorf("error.status: %v", err)
		}
		v.errStatus = uint32(n)
		if s, err = take("error.code"); err != nil {
			return nil, err
		}
		if n, err = parseUint(s, 32); err != nil {
			return nil, fmt.Errorf("error.code: %v", err)
		}
		v.errCode = ErrorCode(n)
		// Required for the request decoder, optional for the response one.
		if _, present := kv["error.request_id"]; present || v.decoder == "request" {
			if s, err = take("error.request_id"); err != nil {
				return nil, err
			}
			if v.errRequestID, err = parseUint(s, 64); err != nil {
				return nil, fmt.Errorf("error.request_id: %v", err)
			}
			v.hasRequestID = true
		}
	} else {
		if v.typ, err = take("type"); err != nil {
			return nil, err
		}
		fields, known := vectorFields[v.typ]
		if !known {
			return nil, fmt.Errorf("unknown type %q", v.typ)
		}
		v.fields = map[string]string{}
		for _, f := range fields {
			if v.fields[f], err = take(f); err != nil {
				return nil, err
			}
		}
	}
	if len(kv) != 0 {
		var keys []string
		for k := range kv {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return nil, fmt.Errorf("unknown or misplaced keys %q", keys)
	}
	return v, nil
}

func loadVectors(tb testing.TB) []*vector {
	var vs []*vector
	for _, f := range vectorFiles(tb) {
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
		v, err := parseVector(filepath.Base(f), data)
		if err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
		vs = append(vs, v)
	}
	return vs
}

// expected builds the message a result: ok vector describes.
func (v *vector) expected() (Message, uint16, error) {
	var firstErr error
	u := func(key string, bits int) uint64 {
		n, err := parseUint(v.fields[key], bits)
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("%s: %v", key, err)
		}
		return n
	}
	b := func(key string) []byte {
		d, err := parseHex(v.fields[key])
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("%s: %v", key, err)
		}
		return d
	}
	version := uint16(u("version", 16))
	var m Message
	switch v.typ {
	case "generate_request":
		m = &GenerateRequest{
			RequestID: u("request_id", 64),
			ModelID:   uint32(u("model_id", 32)),
			Width:     uint32(u("width", 32)),
			Height:    uint32(u("height", 32)),
			Steps:     uint32(u("steps", 32)),
			CFGScale:  math.Float32frombits(uint32(u("cfg_bits", 32))),
			Seed:      u("seed", 64),
			ClipL:     string(b("clip_l_hex")),
			ClipG:     string(b("clip_g_hex")),
			T5:        string(b("t5_hex")),
		}
	case "status_request":
		m = &StatusRequest{RequestID: u("request_id", 64)}
	case "generate_response":
		r := &GenerateResponse{
			RequestID:        u("request_id", 64),
			Status:           uint32(u("status", 32)),
			GenerationTimeMS: uint32(u("generation_time_ms", 32)),
			Width:            uint32(u("width", 32)),
			Height:           uint32(u("height", 32)),
			Channels:         uint32(u("channels", 32)),
			Pixels:           b("image_hex"),
		}
		if v.fields["seed"] != "none" {
			r.Seed, r.HasSeed = u("seed", 64), true
		}
		m = r
	case "status_response":
		m = &StatusResponse{
			RequestID:       u("request_id", 64),
			Status:          uint32(u("status", 32)),
			VersionMin:      uint16(u("version_min", 16)),
			VersionMax:      uint16(u("version_max", 16)),
			UptimeMS:        u("uptime_ms", 64),
			RequestsServed:  u("requests_served", 64),
			ConnectionsOpen: uint32(u("connections_open", 32)),
			MaxConnections:  uint32(u("max_connections", 32)),
			QueueDepth:      uint32(u("queue_depth", 32)),
			Backend:         v.fields["backend"],
			DaemonVersion:   v.fields["daemon_version"],
		}
	case "error":
		m = &ErrorResponse{
			RequestID: u("request_id", 64),
			Status:    uint32(u("status", 32)),
			Code:      ErrorCode(u("code", 32)),
			Message:   v.fields["message"],
		}
	}
	return m, version, firstErr
}

func (v *vector) decode(msg []byte) (Message, error) {
	if v.decoder == "request" {
		return DecodeRequest(msg)
	}
	return DecodeResponse(msg)
}

// normalize makes decoded and expected messages comparable with
// assert.Equal (Pixels: empty and nil are the same image).
func normalize(m Message) Message {
	if r, ok := m.(*GenerateResponse); ok && len(r.Pixels) == 0 {
		c := *r
		c.Pixels = nil
		return &c
	}
	return m
}

func TestVectors(t *testing.T) {
	files := vectorFiles(t)
	require.NotEmpty(t, files, "no *.vec files in %s", vectorDir(t))
	for _, f := range files {
		f := f
		t.Run(strings.TrimSuffix(filepath.Base(f), ".vec"), func(t *testing.T) {
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			v, err := parseVector(filepath.Base(f), data)
			require.NoError(t, err, "vector file does not follow testdata/README.md")
			checkVector(t, v)
		})
	}
}

func checkVector(t *testing.T, v *vector) {
	got, err := v.decode(v.msg)
	if !v.ok {
		require.Error(t, err, "decoded %#v, want error code %d", got, v.errCode)
		var pe *Error
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, v.errCode, pe.Code, "error code (%v)", err)
		assert.Equal(t, v.errStatus, pe.Status(), "error status (%v)", err)
		if v.hasRequestID {
			assert.Equal(t, v.errRequestID, pe.RequestID, "error request_id (%v)", err)
		}
		assert.ErrorIs(t, err, Sentinel(v.errCode))
		return
	}
	require.NoError(t, err)
	want, version, err := v.expected()
	require.NoError(t, err, "vector fields")
	h, err := DecodeHeader(v.msg)
	require.NoError(t, err)
	assert.Equal(t, version, h.Version, "version")
	assert.Equal(t, want.MsgType(), got.MsgType(), "type")
	assert.Equal(t, normalize(want), normalize(got))

	// ReadMessage frames the same message (ignoring trailing bytes).
	rd := bytes.NewReader(v.msg)
	framed, err := ReadMessage(rd, 0)
	require.NoError(t, err, "ReadMessage")
	assert.Equal(t, v.msg[:h.MessageSize()], framed)
	again, err := v.decode(framed)
	require.NoError(t, err)
	assert.Equal(t, normalize(got), normalize(again))

	enc, err := Encode(got)
	require.NoError(t, err, "re-encode")
	if v.roundtrip {
		assert.Equal(t, hex.EncodeToString(v.msg), hex.EncodeToString(enc), "re-encoding differs")
	} else {
		// Still a fixed point: what we encode decodes to the same value.
		back, err := v.decode(enc)
		require.NoError(t, err, "decode re-encoded")
		assert.Equal(t, normalize(got), normalize(back))
	}
}

func TestParseVectorStrict(t *testing.T) {
	base := "decoder: request\nhex: 5745 5645\nresult: error\nerror.status: 400\nerror.code: 11\nerror.request_id: 0\n"
	tests := []struct {
		name, text string
		ok         bool
	}{
		{"valid", base, true},
		{"comments and blanks", "# c\n\n" + base + "description: x\n", true},
		{"unknown key", base + "error.cod: 11\n", false},
		{"missing required", strings.Replace(base, "error.code: 11\n", "", 1), false},
		{"missing request_id", strings.Replace(base, "error.request_id: 0\n", "", 1), false},
		{"duplicate key", base + "error.code: 11\n", false},
		{"bad hex", strings.Replace(base, "5745", "57G5", 1), false},
		{"ok fields on error", base + "type: status_request\n", false},
		{"ok missing field", "decoder: request\nhex: 00\nresult: ok\nroundtrip: no\ntype: status_request\nversion: 1\n", false},
		{"ok complete", "decoder: request\nhex: 00\nresult: ok\nroundtrip: no\ntype: status_request\nversion: 1\nrequest_id: 0x10\n", true},
		{"ok without roundtrip", "decoder: request\nhex: 00\nresult: ok\ntype: status_request\nversion: 1\nrequest_id: 0x10\n", false},
		{"bad decoder", strings.Replace(base, "request", "both", 1), false},
		{"no colon", base + "garbage\n", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseVector(tc.name, []byte(tc.text))
			if tc.ok {
				assert.NoError(t, err)
			} else {
				assert.Error(t, err)
			}
		})
	}
	v, err := parseVector("x", []byte("decoder: response\nhex: 01 02\nhex: 0304\nresult: ok\nroundtrip: yes\ntype: error\nversion: 1\nrequest_id: 7\nstatus: 400\ncode: 5\nmessage:  two spaces \n"))
	require.NoError(t, err)
	assert.Equal(t, []byte{1, 2, 3, 4}, v.msg)
	assert.Equal(t, " two spaces ", v.fields["message"])
}
