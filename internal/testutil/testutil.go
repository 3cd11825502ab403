// Package testutil holds the few helpers that unit tests under go/ and the
// integration suites under tests/ both need (Go's internal rule keeps
// tests/internal out of go/, so they live at the module root).
package testutil

import (
	"os"
	"path/filepath"
	"testing"
)

// ShortTempDir creates a short temporary directory (mode 0700) under /tmp
// and removes it when the test ends. Socket paths need it: sun_path is 108
// bytes and Bazel's TEST_TMPDIR is far too long.
func ShortTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "wv")
	if err != nil {
		t.Fatalf("create temporary dir: %v", err)
	}
	// MkdirTemp makes it 0700 already; be explicit (umask-independent).
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatalf("chmod temporary dir: %v", err)
	}
	t.Cleanup(func() {
		// Restore write/search permission anywhere a test removed it, so
		// RemoveAll works for non-root runs too.
		_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
			if err == nil && info.IsDir() && info.Mode()&os.ModeSymlink == 0 {
				_ = os.Chmod(p, 0o700)
			}
			return nil
		})
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove temporary dir %s: %v", dir, err)
		}
	})
	return dir
}
