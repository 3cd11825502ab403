// Package vecfile reads the shared protocol test vectors,
// proto_spec/testdata/*.vec (format: proto_spec/testdata/README.md).
//
// It is the one Go reader of that format: go/protocol's vector test, the
// generator's checks (tools/vecgen) and the socket and cross-language tests
// all use it. It does not import go/protocol, so go/protocol's own tests can
// import it.
//
// The reader is strict, so that a typo in a vector cannot silently drop a
// check. Beyond the README's rules (unknown keys, a `type` missing one of its
// fields), it rejects:
//   - a repeated key (other than `hex`), and a key that does not belong to
//     the vector's result or type (an ok field on an error vector,
//     `error.request_id` on a response-decoder vector, which the README
//     defines for the request decoder only);
//   - a file without `description` (or with an empty one), `decoder`, `hex`,
//     `result` or `roundtrip`, and `roundtrip: yes` on an error vector;
//   - a `type` its `decoder` does not produce;
//   - one of a pair of optional fields without the other (status_response_v2's
//     `generations` and `generation_us`: both or neither);
//   - values with anything around them: a value is exactly the rest of the
//     line after the colon and one space, so "width: 64 " is an error;
//   - integers that are not plain decimal (no sign, no leading zero) or
//     `0x` + hex digits, or that overflow their wire field (version is 16
//     bits, width 32, ...); `cfg_bits` must be written in `0x` hex;
//     `error.status` must be 400 or 500;
//   - hex that is not pairs of hex digits with optional spaces (an odd digit
//     count on any one `hex` line is an error, even if the next line would
//     complete the byte);
//   - carriage returns, NUL bytes, invalid UTF-8, and non-empty lines with no
//     key before a colon.
//   - a `versions` value that is not MIN..MAX with 1 <= MIN <= MAX, and an ok
//     vector of a version-2 type (or status_response_v2) whose version is
//     not 2, or a status_response whose version is not 1.
package vecfile

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Vector is one parsed .vec file.
type Vector struct {
	Name        string // file name, e.g. "req_ok_status.vec"
	Description string
	Decoder     string // "request" or "response"
	// VersionMin and VersionMax are the protocol versions the decoder under
	// test serves (`versions: 1..2`); a file without the key is for a
	// version-1-only decoder (1..1).
	VersionMin, VersionMax uint16
	Bytes                  []byte // every `hex` line, concatenated (non-nil)
	Result                 string // "ok" or "error"
	Roundtrip              bool   // re-encoding the decoded value gives back Bytes exactly
	// LeadingComments counts the `#` lines before the first key (the
	// generator writes its note and a comment saying what the vector
	// exercises there).
	LeadingComments int

	// Result "ok": the decoded message type and its fields (read them with
	// Uint, Hex and String; FieldNames lists them, Has says whether an
	// optional one is there).
	Type   string
	fields map[string]string

	// Result "error".
	ErrStatus uint32 // 400 or 500
	ErrCode   uint32 // SPEC.md section 6
	// ErrRequestID is the request_id the daemon's error reply echoes;
	// HasErrRequestID says whether the vector gives it (always for the
	// request decoder, never for the response decoder).
	ErrRequestID    uint64
	HasErrRequestID bool
}

// OK reports whether the vector's result is "ok".
func (v *Vector) OK() bool { return v.Result == "ok" }

type kind int

const (
	kindUint16 kind = iota + 1
	kindUint32
	kindUint64
	kindCfgBits    // 32 bits, written 0x...
	kindSeedOrNone // uint64, or "none" (generate_response: no seed extension)
	kindHex        // hex bytes, may be empty
	kindText       // the rest of the line, literally
)

type field struct {
	name string
	kind kind
}

// fieldsByType is the README's table of decoded fields, in its order, with
// each field's wire width.
var fieldsByType = map[string][]field{
	"generate_request": {
		{"version", kindUint16}, {"request_id", kindUint64}, {"model_id", kindUint32},
		{"width", kindUint32}, {"height", kindUint32}, {"steps", kindUint32},
		{"cfg_bits", kindCfgBits}, {"seed", kindUint64},
		{"clip_l_hex", kindHex}, {"clip_g_hex", kindHex}, {"t5_hex", kindHex},
	},
	"status_request": {
		{"version", kindUint16}, {"request_id", kindUint64},
	},
	"generate_response": {
		{"version", kindUint16}, {"request_id", kindUint64}, {"status", kindUint32},
		{"generation_time_ms", kindUint32}, {"width", kindUint32}, {"height", kindUint32},
		{"channels", kindUint32}, {"image_hex", kindHex}, {"seed", kindSeedOrNone},
	},
	"status_response": {
		{"version", kindUint16}, {"request_id", kindUint64}, {"status", kindUint32},
		{"version_min", kindUint16}, {"version_max", kindUint16}, {"uptime_ms", kindUint64},
		{"requests_served", kindUint64}, {"connections_open", kindUint32},
		{"max_connections", kindUint32}, {"queue_depth", kindUint32},
		{"backend", kindText}, {"daemon_version", kindText},
	},
	"error": {
		{"version", kindUint16}, {"request_id", kindUint64}, {"status", kindUint32},
		{"code", kindUint32}, {"message", kindText},
	},
	// Version 2 (SPEC section 11).
	"generate_request_options": {
		{"version", kindUint16}, {"request_id", kindUint64}, {"flags", kindUint32},
		{"model_id", kindUint32}, {"width", kindUint32}, {"height", kindUint32},
		{"steps", kindUint32}, {"cfg_bits", kindCfgBits}, {"seed", kindUint64},
		{"clip_l_hex", kindHex}, {"clip_g_hex", kindHex}, {"t5_hex", kindHex},
	},
	"shm_generate_response": {
		{"version", kindUint16}, {"request_id", kindUint64}, {"status", kindUint32},
		{"generation_time_ms", kindUint32}, {"width", kindUint32}, {"height", kindUint32},
		{"channels", kindUint32}, {"image_size", kindUint64}, {"seed", kindUint64},
	},
	"queued": {
		{"version", kindUint16}, {"request_id", kindUint64}, {"position", kindUint32},
		{"queue_depth", kindUint32},
	},
	"progress": {
		{"version", kindUint16}, {"request_id", kindUint64}, {"step", kindUint32},
		{"steps", kindUint32}, {"elapsed_ms", kindUint32},
	},
	"heartbeat": {
		{"version", kindUint16}, {"request_id", kindUint64}, {"phase", kindUint32},
		{"elapsed_ms", kindUint32},
	},
	"status_response_v2": {
		{"version", kindUint16}, {"request_id", kindUint64}, {"status", kindUint32},
		{"version_min", kindUint16}, {"version_max", kindUint16}, {"uptime_ms", kindUint64},
		{"requests_served", kindUint64}, {"connections_open", kindUint32},
		{"max_connections", kindUint32}, {"queue_depth", kindUint32},
		{"backend", kindText}, {"daemon_version", kindText},
		{"daemon_pid", kindUint32}, {"features", kindUint32}, {"backend_state", kindUint16},
		{"worker_pid", kindUint32}, {"worker_restarts", kindUint32}, {"jobs_running", kindUint32},
		{"last_crash", kindText},
	},
}

// optionalFieldsByType is the README's fields that a vector of the type
// lists only when the message carries them, in groups that come together
// (a vector lists all of a group or none of it). An absent group means the
// decoder must report the fields absent.
var optionalFieldsByType = map[string][][]field{
	// SPEC 11.6: the pair after last_crash.
	"status_response_v2": {{{"generations", kindUint64}, {"generation_us", kindUint64}}},
}

// typeVersion is the header version a type's ok vector must carry when the
// type belongs to one version only (the version-2 types, and the two
// shapes of the status response); 0 means any.
var typeVersion = map[string]uint16{
	"status_response":          1,
	"generate_request_options": 2,
	"shm_generate_response":    2,
	"queued":                   2,
	"progress":                 2,
	"heartbeat":                2,
	"status_response_v2":       2,
}

// typesByDecoder: the types each decoder produces (README, `decoder`).
var typesByDecoder = map[string][]string{
	"request": {"generate_request", "status_request", "generate_request_options"},
	"response": {"generate_response", "status_response", "error",
		"shm_generate_response", "queued", "progress", "heartbeat", "status_response_v2"},
}

// knownKeys is every key the format has; anything else is a typo.
var knownKeys = func() map[string]bool {
	k := map[string]bool{
		"description": true, "decoder": true, "versions": true, "hex": true, "result": true, "roundtrip": true,
		"type": true, "error.status": true, "error.code": true, "error.request_id": true,
	}
	for _, fs := range fieldsByType {
		for _, f := range fs {
			k[f.name] = true
		}
	}
	for _, groups := range optionalFieldsByType {
		for _, g := range groups {
			for _, f := range g {
				k[f.name] = true
			}
		}
	}
	return k
}()

// Types returns the README's message types, sorted.
func Types() []string {
	ts := make([]string, 0, len(fieldsByType))
	for t := range fieldsByType {
		ts = append(ts, t)
	}
	sort.Strings(ts)
	return ts
}

// FieldNames returns the fields every vector of type typ lists, in the
// README's order (nil for an unknown type); OptionalFieldNames has the
// others.
func FieldNames(typ string) []string {
	var names []string
	for _, f := range fieldsByType[typ] {
		names = append(names, f.name)
	}
	return names
}

// OptionalFieldNames returns the fields a vector of type typ lists only
// when the message carries them, in the README's order (nil when the type
// has none).
func OptionalFieldNames(typ string) []string {
	var names []string
	for _, g := range optionalFieldsByType[typ] {
		for _, f := range g {
			names = append(names, f.name)
		}
	}
	return names
}

// FieldNames returns the fields v lists: its type's, then the optional
// ones it has (nil for an error vector).
func (v *Vector) FieldNames() []string {
	names := FieldNames(v.Type)
	for _, n := range OptionalFieldNames(v.Type) {
		if v.Has(n) {
			names = append(names, n)
		}
	}
	return names
}

// Has reports whether v lists the field key: always for a field of its
// type, and for an optional one when the message carries it (false for an
// error vector and for a key that is not a field of v's type).
func (v *Vector) Has(key string) bool {
	if !v.OK() {
		return false
	}
	_, ok := v.fields[key]
	return ok
}

func (v *Vector) field(key string) (string, kind, error) {
	if !v.OK() {
		return "", 0, fmt.Errorf("%s: %s: an error vector has no decoded fields", v.Name, key)
	}
	for _, f := range fieldsByType[v.Type] {
		if f.name == key {
			return v.fields[key], f.kind, nil
		}
	}
	for _, g := range optionalFieldsByType[v.Type] {
		for _, f := range g {
			if f.name != key {
				continue
			}
			s, ok := v.fields[key]
			if !ok {
				return "", 0, fmt.Errorf("%s: %s is absent (the message does not carry it; check with Has)", v.Name, key)
			}
			return s, f.kind, nil
		}
	}
	return "", 0, fmt.Errorf("%s: %s is not a field of %s", v.Name, key, v.Type)
}

// String returns a field's value exactly as written (for backend,
// daemon_version and message: the literal text).
func (v *Vector) String(key string) (string, error) {
	s, _, err := v.field(key)
	return s, err
}

// Uint returns an integer field (cfg_bits: the f32's bit pattern). It is an
// error for a hex or text field, and for a generate_response seed written
// "none" (check with String first).
func (v *Vector) Uint(key string) (uint64, error) {
	s, k, err := v.field(key)
	if err != nil {
		return 0, err
	}
	switch k {
	case kindHex, kindText:
		return 0, fmt.Errorf("%s: %s is not an integer field", v.Name, key)
	case kindSeedOrNone:
		if s == "none" {
			return 0, fmt.Errorf("%s: %s is none", v.Name, key)
		}
	}
	return parseUint(s, 64)
}

// Hex returns a *_hex field's bytes (non-nil, possibly empty).
func (v *Vector) Hex(key string) ([]byte, error) {
	s, k, err := v.field(key)
	if err != nil {
		return nil, err
	}
	if k != kindHex {
		return nil, fmt.Errorf("%s: %s is not a hex field", v.Name, key)
	}
	return parseHex(s)
}

// parseUint reads a README integer: decimal without sign or leading zeros,
// or 0x followed by hex digits; it must fit in bits.
func parseUint(s string, bits int) (uint64, error) {
	if strings.HasPrefix(s, "0x") {
		if len(s) == 2 {
			return 0, fmt.Errorf("%q: no digits after 0x", s)
		}
		n, err := strconv.ParseUint(s[2:], 16, bits)
		if err != nil {
			return 0, fmt.Errorf("%q is not a %d-bit 0x hex integer", s, bits)
		}
		return n, nil
	}
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("%q is not a decimal integer (empty, or leading zero)", s)
	}
	n, err := strconv.ParseUint(s, 10, bits)
	if err != nil {
		return 0, fmt.Errorf("%q is not a %d-bit decimal integer", s, bits)
	}
	return n, nil
}

// parseVersions reads `versions`: "MIN..MAX", two README integers with
// 1 <= MIN <= MAX <= 65535.
func parseVersions(s string) (uint16, uint16, error) {
	parts := strings.Split(s, "..")
	if len(parts) != 2 {
		return 0, 0, fmt.Errorf("versions %q is not MIN..MAX", s)
	}
	lo, err := parseUint(parts[0], 16)
	if err != nil {
		return 0, 0, fmt.Errorf("versions: %v", err)
	}
	hi, err := parseUint(parts[1], 16)
	if err != nil {
		return 0, 0, fmt.Errorf("versions: %v", err)
	}
	if lo < 1 || lo > hi {
		return 0, 0, fmt.Errorf("versions %q: want 1 <= MIN <= MAX", s)
	}
	return uint16(lo), uint16(hi), nil
}

// parseHex reads hex digit pairs; spaces between digits are allowed. The
// result is non-nil even when empty.
func parseHex(s string) ([]byte, error) {
	digits := strings.Replace(s, " ", "", -1)
	if len(digits)%2 != 0 {
		return nil, fmt.Errorf("odd number of hex digits in %q", s)
	}
	b := make([]byte, len(digits)/2)
	if _, err := hex.Decode(b, []byte(digits)); err != nil {
		return nil, fmt.Errorf("bad hex %q: %v", s, err)
	}
	return b, nil
}

func checkValue(f field, s string) error {
	var err error
	switch f.kind {
	case kindUint16:
		_, err = parseUint(s, 16)
	case kindUint32:
		_, err = parseUint(s, 32)
	case kindUint64:
		_, err = parseUint(s, 64)
	case kindSeedOrNone:
		if s != "none" {
			_, err = parseUint(s, 64)
		}
	case kindCfgBits:
		if !strings.HasPrefix(s, "0x") {
			return fmt.Errorf("%s: %q is not written 0x...", f.name, s)
		}
		_, err = parseUint(s, 32)
	case kindHex:
		_, err = parseHex(s)
	case kindText:
	}
	if err != nil {
		return fmt.Errorf("%s: %v", f.name, err)
	}
	return nil
}

// Parse reads one .vec file; name (the file name) is used in errors and
// kept as Vector.Name.
func Parse(name string, data []byte) (*Vector, error) {
	v, err := parse(name, data)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	return v, nil
}

func parse(name string, data []byte) (*Vector, error) {
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("not UTF-8")
	}
	if bytes.IndexByte(data, '\r') >= 0 {
		return nil, fmt.Errorf("carriage return in file")
	}
	if bytes.IndexByte(data, 0) >= 0 {
		return nil, fmt.Errorf("NUL byte in file")
	}
	v := &Vector{Name: name}
	kv := map[string]string{}
	var hexParts [][]byte
	seenKey := false
	for i, line := range strings.Split(string(data), "\n") {
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "#") {
			if !seenKey {
				v.LeadingComments++
			}
			continue
		}
		seenKey = true
		colon := strings.IndexByte(line, ':')
		if colon <= 0 {
			return nil, fmt.Errorf("line %d: not \"key: value\": %q", i+1, line)
		}
		key, val := line[:colon], line[colon+1:]
		val = strings.TrimPrefix(val, " ")
		if !knownKeys[key] {
			return nil, fmt.Errorf("line %d: unknown key %q", i+1, key)
		}
		if key == "hex" {
			b, err := parseHex(val)
			if err != nil {
				return nil, fmt.Errorf("line %d: hex: %v", i+1, err)
			}
			hexParts = append(hexParts, b)
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
	if v.Description, err = take("description"); err != nil {
		return nil, err
	}
	if v.Description == "" {
		return nil, fmt.Errorf("empty description")
	}
	if v.Decoder, err = take("decoder"); err != nil {
		return nil, err
	}
	if typesByDecoder[v.Decoder] == nil {
		return nil, fmt.Errorf("decoder %q is neither request nor response", v.Decoder)
	}
	v.VersionMin, v.VersionMax = 1, 1
	if s, ok := kv["versions"]; ok {
		delete(kv, "versions")
		if v.VersionMin, v.VersionMax, err = parseVersions(s); err != nil {
			return nil, err
		}
	}
	if len(hexParts) == 0 {
		return nil, fmt.Errorf("missing key \"hex\"")
	}
	v.Bytes = append([]byte{}, bytes.Join(hexParts, nil)...) // non-nil when empty
	if v.Result, err = take("result"); err != nil {
		return nil, err
	}
	if v.Result != "ok" && v.Result != "error" {
		return nil, fmt.Errorf("result %q is neither ok nor error", v.Result)
	}
	rt, err := take("roundtrip")
	if err != nil {
		return nil, err
	}
	switch rt {
	case "yes":
		v.Roundtrip = true
	case "no":
	default:
		return nil, fmt.Errorf("roundtrip %q is neither yes nor no", rt)
	}
	if v.Roundtrip && !v.OK() {
		return nil, fmt.Errorf("roundtrip: yes on an error vector")
	}

	if v.OK() {
		if v.Type, err = take("type"); err != nil {
			return nil, err
		}
		fields, known := fieldsByType[v.Type]
		if !known {
			return nil, fmt.Errorf("unknown type %q", v.Type)
		}
		allowed := false
		for _, t := range typesByDecoder[v.Decoder] {
			allowed = allowed || t == v.Type
		}
		if !allowed {
			return nil, fmt.Errorf("type %q is not produced by the %s decoder", v.Type, v.Decoder)
		}
		v.fields = map[string]string{}
		for _, f := range fields {
			s, err := take(f.name)
			if err != nil {
				return nil, err
			}
			if err := checkValue(f, s); err != nil {
				return nil, err
			}
			v.fields[f.name] = s
		}
		for _, g := range optionalFieldsByType[v.Type] {
			var have, missing []string
			for _, f := range g {
				if _, ok := kv[f.name]; ok {
					have = append(have, f.name)
				} else {
					missing = append(missing, f.name)
				}
			}
			if len(have) == 0 {
				continue
			}
			if len(missing) > 0 {
				return nil, fmt.Errorf("%s without %s: a %s lists %s both or neither",
					strings.Join(have, " and "), strings.Join(missing, " and "), v.Type, groupNames(g))
			}
			for _, f := range g {
				s, _ := take(f.name)
				if err := checkValue(f, s); err != nil {
					return nil, err
				}
				v.fields[f.name] = s
			}
		}
		ver, _ := parseUint(v.fields["version"], 16)
		if want := typeVersion[v.Type]; want != 0 && ver != uint64(want) {
			return nil, fmt.Errorf("type %s needs version %d, not %d", v.Type, want, ver)
		}
	} else {
		s, err := take("error.status")
		if err != nil {
			return nil, err
		}
		n, err := parseUint(s, 32)
		if err != nil {
			return nil, fmt.Errorf("error.status: %v", err)
		}
		if n != 400 && n != 500 {
			return nil, fmt.Errorf("error.status %d is neither 400 nor 500", n)
		}
		v.ErrStatus = uint32(n)
		if s, err = take("error.code"); err != nil {
			return nil, err
		}
		if n, err = parseUint(s, 32); err != nil {
			return nil, fmt.Errorf("error.code: %v", err)
		}
		v.ErrCode = uint32(n)
		// The request decoder's error reply echoes a request_id; the
		// response decoder's failure has none to give.
		if v.Decoder == "request" {
			if s, err = take("error.request_id"); err != nil {
				return nil, err
			}
			if v.ErrRequestID, err = parseUint(s, 64); err != nil {
				return nil, fmt.Errorf("error.request_id: %v", err)
			}
			v.HasErrRequestID = true
		}
	}
	if len(kv) != 0 {
		rest := make([]string, 0, len(kv))
		for k := range kv {
			rest = append(rest, k)
		}
		sort.Strings(rest)
		return nil, fmt.Errorf("keys that do not belong to this result/type: %q", rest)
	}
	return v, nil
}

// groupNames is "a and b" for an optional group.
func groupNames(g []field) string {
	names := make([]string, len(g))
	for i, f := range g {
		names[i] = f.name
	}
	return strings.Join(names, " and ")
}

// List returns the names (not paths) of the *.vec files in dir, sorted.
func List(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".vec") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// Load parses every *.vec file in dir, sorted by name. It fails when dir
// holds no vector, and when any file does not parse (naming every such
// file).
func Load(dir string) ([]*Vector, error) {
	names, err := List(dir)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no *.vec files in %s", dir)
	}
	var vs []*Vector
	var bad []string
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			bad = append(bad, err.Error())
			continue
		}
		v, err := Parse(n, data)
		if err != nil {
			bad = append(bad, err.Error())
			continue
		}
		vs = append(vs, v)
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("%d of %d vectors in %s do not follow its README.md:\n%s",
			len(bad), len(names), dir, strings.Join(bad, "\n"))
	}
	return vs, nil
}

// EnvDir names the environment variable that overrides Dir, e.g. to try a
// freshly generated set:
//
//	go run ./tools/vecgen -out /tmp/vec && WEAVE_VECTOR_DIR=/tmp/vec go test ./go/protocol
const EnvDir = "WEAVE_VECTOR_DIR"

// Dir locates proto_spec/testdata: $WEAVE_VECTOR_DIR when set; under
// `bazel test`, in the runfiles ($TEST_SRCDIR/$TEST_WORKSPACE; the test needs
// data = ["//proto_spec:testdata"]); otherwise (host `go test`) below the
// nearest directory above the working directory that holds go.mod. The
// directory must exist.
func Dir() (string, error) {
	if dir := os.Getenv(EnvDir); dir != "" {
		return dir, isDir(dir, EnvDir+" is set, but")
	}
	if srcdir := os.Getenv("TEST_SRCDIR"); srcdir != "" {
		ws := os.Getenv("TEST_WORKSPACE")
		if ws == "" {
			return "", fmt.Errorf("TEST_SRCDIR is set but TEST_WORKSPACE is not")
		}
		dir := filepath.Join(srcdir, ws, "proto_spec", "testdata")
		return dir, isDir(dir, "under Bazel (add data = [\"//proto_spec:testdata\"] to the test), but")
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			dir := filepath.Join(d, "proto_spec", "testdata")
			return dir, isDir(dir, "go.mod is in "+d+", but")
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("vector directory not found: not under Bazel, %s not set, and no go.mod above %s", EnvDir, wd)
		}
		d = parent
	}
}

func isDir(dir, context string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("%s %v", context, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("%s %s is not a directory", context, dir)
	}
	return nil
}

// LoadDefault is Load(Dir()).
func LoadDefault() ([]*Vector, error) {
	dir, err := Dir()
	if err != nil {
		return nil, err
	}
	return Load(dir)
}
