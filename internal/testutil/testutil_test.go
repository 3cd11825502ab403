package testutil

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestShortTempDir(t *testing.T) {
	var dir string
	t.Run("inner", func(t *testing.T) {
		dir = ShortTempDir(t)
		st, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o700 || !st.IsDir() {
			t.Fatalf("mode %v, want a 0700 directory", st.Mode())
		}
		// Room for a socket path: sun_path holds 108 bytes.
		if len(filepath.Join(dir, "weave", "weave.sock")) > 60 || !strings.HasPrefix(dir, "/tmp/") {
			t.Fatalf("path %q is not short", dir)
		}
		// A subdirectory a test made unwritable is still removed.
		sub := filepath.Join(dir, "locked")
		if err := os.Mkdir(sub, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(sub, "f"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(sub, 0); err != nil {
			t.Fatal(err)
		}
	})
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("%s still exists after the test: %v", dir, err)
	}
}
