package wire

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestStandardLibraryOnly: wire imports nothing but the standard library (in
// particular not go/protocol), so the vectors built with it stay an
// independent statement of the format. (The other direction, go/protocol
// not importing wire, is the go_library's visibility in BUILD.bazel.) Under
// Bazel the sources come from the test's data.
func TestStandardLibraryOnly(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		n++
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if strings.Contains(strings.SplitN(path, "/", 2)[0], ".") {
				t.Errorf("%s imports %s: internal/wire must use only the standard library", name, path)
			}
		}
	}
	if n == 0 {
		t.Fatal("no source files found in the working directory (under Bazel: the go_test's data)")
	}
}
