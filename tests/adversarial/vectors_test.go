package adversarial_test

import (
	"testing"

	"github.com/weave-app/weave/go/protocol/vecfile"
)

// loadRequestVectors returns every proto_spec/testdata vector with
// decoder: request for a version-1-only decoder (no `versions` key: the
// daemon does not serve version 2 yet, and answers a version-2 header with
// error 2), read by the shared reader (which enforces
// proto_spec/testdata/README.md). It fails the test when the directory holds
// no vector at all, when any file does not parse, and when none is a request
// vector.
func loadRequestVectors(t *testing.T) []*vecfile.Vector {
	t.Helper()
	dir, err := vecfile.Dir()
	if err != nil {
		t.Fatal(err)
	}
	all, err := vecfile.Load(dir)
	if err != nil {
		t.Fatalf("parse vectors: %v", err)
	}
	var out []*vecfile.Vector
	for _, v := range all {
		if v.Decoder == "request" && v.VersionMax == 1 {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no request vectors among %d files in %s", len(all), dir)
	}
	return out
}
