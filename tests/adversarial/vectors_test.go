package adversarial_test

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/weave-app/weave/tests/internal/daemontest"
)

// vector is one proto_spec/testdata/*.vec file (format:
// proto_spec/testdata/README.md). Only what the socket test needs is
// interpreted; the rest is kept as raw key/values.
type vector struct {
	Name    string
	Decoder string // "request" or "response"
	Bytes   []byte
	Result  string // "ok" or "error"
	Fields  map[string]string
}

func (v *vector) uint(key string) (uint64, error) {
	s, ok := v.Fields[key]
	if !ok {
		return 0, fmt.Errorf("%s: missing %s", v.Name, key)
	}
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		return strconv.ParseUint(s[2:], 16, 64)
	}
	return strconv.ParseUint(s, 10, 64)
}

func parseVector(path string) (*vector, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	v := &vector{Name: filepath.Base(path), Fields: map[string]string{}}
	var hexs strings.Builder
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	ln := 0
	for sc.Scan() {
		ln++
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.Index(line, ":")
		if i < 0 {
			return nil, fmt.Errorf("%s:%d: no key", path, ln)
		}
		key := strings.TrimSpace(line[:i])
		val := line[i+1:]
		if strings.HasPrefix(val, " ") {
			val = val[1:]
		}
		switch key {
		case "hex":
			hexs.WriteString(strings.Join(strings.Fields(val), ""))
		case "decoder":
			v.Decoder = strings.TrimSpace(val)
		case "result":
			v.Result = strings.TrimSpace(val)
		default:
			v.Fields[key] = strings.TrimSpace(val)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	b, err := hex.DecodeString(hexs.String())
	if err != nil {
		return nil, fmt.Errorf("%s: hex: %v", path, err)
	}
	v.Bytes = b
	if v.Decoder != "request" && v.Decoder != "response" {
		return nil, fmt.Errorf("%s: decoder %q", path, v.Decoder)
	}
	if v.Result != "ok" && v.Result != "error" {
		return nil, fmt.Errorf("%s: result %q", path, v.Result)
	}
	return v, nil
}

// loadRequestVectors returns every vector with decoder: request. It fails
// the test when the directory holds no vector at all.
func loadRequestVectors(t *testing.T) []*vector {
	t.Helper()
	dir := daemontest.DataPath(t, "proto_spec/testdata")
	paths, err := filepath.Glob(filepath.Join(dir, "*.vec"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(paths)
	if len(paths) == 0 {
		t.Fatalf("no *.vec files in %s", dir)
	}
	var out []*vector
	for _, p := range paths {
		v, err := parseVector(p)
		if err != nil {
			t.Fatalf("parse vector: %v", err)
		}
		if v.Decoder == "request" {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no request vectors among %d files in %s", len(paths), dir)
	}
	return out
}
