package adversarial_test

import (
	"testing"

	"github.com/weave-app/weave/go/protocol/vecfile"
)

// loadRequestVectors returns every proto_spec/testdata vector with
// decoder: request for a version-1-only decoder (no `versions` key) whose
// verdict does not depend on that: the daemon serves versions 1 and 2, so
// the vectors that show a version-2 header refused with error 2 (by a
// version-1-only decoder) are left out; the version-2 exchanges are
// c/daemon:progress_test's. Read by the shared reader (which enforces
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
		if v.Decoder == "request" && v.VersionMax == 1 && !versionTwoHeader(v.Bytes) {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no request vectors among %d files in %s", len(all), dir)
	}
	return out
}

// versionTwoHeader: the message's header says version 2 (bytes 4..5).
func versionTwoHeader(b []byte) bool {
	return len(b) >= 6 && b[4] == 0 && b[5] == 2
}
