package runfiles

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const rpath = Workspace + "/c/daemon/weave-compute"

func touch(t *testing.T, p string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755))
}

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestFind(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, root string) (Source, string) // source, wanted path ("" = not found)
	}{
		{"RUNFILES_DIR", func(t *testing.T, root string) (Source, string) {
			want := filepath.Join(root, "rf", rpath)
			touch(t, want)
			return Source{Getenv: envOf(map[string]string{"RUNFILES_DIR": filepath.Join(root, "rf")})}, want
		}},
		{"executable.runfiles", func(t *testing.T, root string) (Source, string) {
			exe := filepath.Join(root, "bin", "weave")
			want := filepath.Join(exe+".runfiles", rpath)
			touch(t, want)
			return Source{Getenv: envOf(nil), Executable: exe}, want
		}},
		{"argv0.runfiles", func(t *testing.T, root string) (Source, string) {
			argv0 := filepath.Join(root, "link", "weave")
			want := filepath.Join(argv0+".runfiles", rpath)
			touch(t, want)
			return Source{Getenv: envOf(nil), Executable: filepath.Join(root, "real", "weave"), Argv0: argv0}, want
		}},
		{"TEST_SRCDIR", func(t *testing.T, root string) (Source, string) {
			want := filepath.Join(root, "srcdir", rpath)
			touch(t, want)
			return Source{Getenv: envOf(map[string]string{"TEST_SRCDIR": filepath.Join(root, "srcdir")})}, want
		}},
		{"RUNFILES_MANIFEST_FILE", func(t *testing.T, root string) (Source, string) {
			want := filepath.Join(root, "real", "weave-compute")
			touch(t, want)
			m := filepath.Join(root, "MANIFEST")
			require.NoError(t, os.WriteFile(m, []byte(Workspace+"/other x\n"+rpath+" "+want+"\n"), 0o644))
			return Source{Getenv: envOf(map[string]string{"RUNFILES_MANIFEST_FILE": m})}, want
		}},
		{"executable.runfiles_manifest", func(t *testing.T, root string) (Source, string) {
			exe := filepath.Join(root, "bin", "weave")
			want := filepath.Join(root, "real", "weave-compute")
			touch(t, want)
			require.NoError(t, os.MkdirAll(filepath.Dir(exe), 0o755))
			require.NoError(t, os.WriteFile(exe+".runfiles_manifest", []byte(rpath+" "+want+"\n"), 0o644))
			return Source{Getenv: envOf(nil), Executable: exe}, want
		}},
		{"RUNFILES_DIR wins over the manifest", func(t *testing.T, root string) (Source, string) {
			want := filepath.Join(root, "rf", rpath)
			touch(t, want)
			other := filepath.Join(root, "other")
			touch(t, other)
			m := filepath.Join(root, "MANIFEST")
			require.NoError(t, os.WriteFile(m, []byte(rpath+" "+other+"\n"), 0o644))
			return Source{Getenv: envOf(map[string]string{"RUNFILES_DIR": filepath.Join(root, "rf"), "RUNFILES_MANIFEST_FILE": m})}, want
		}},
		{"manifest entry pointing nowhere", func(t *testing.T, root string) (Source, string) {
			m := filepath.Join(root, "MANIFEST")
			require.NoError(t, os.WriteFile(m, []byte(rpath+" "+filepath.Join(root, "gone")+"\n"), 0o644))
			return Source{Getenv: envOf(map[string]string{"RUNFILES_MANIFEST_FILE": m})}, ""
		}},
		{"a directory is not a runfile", func(t *testing.T, root string) (Source, string) {
			require.NoError(t, os.MkdirAll(filepath.Join(root, "rf", rpath), 0o755))
			return Source{Getenv: envOf(map[string]string{"RUNFILES_DIR": filepath.Join(root, "rf")})}, ""
		}},
		{"nothing", func(t *testing.T, root string) (Source, string) {
			return Source{Getenv: envOf(nil), Executable: filepath.Join(root, "weave")}, ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, want := tt.setup(t, t.TempDir())
			got, ok := src.Find(rpath)
			if want == "" {
				assert.False(t, ok, "found %s", got)
				return
			}
			require.True(t, ok, "candidates: %v", src.Candidates(rpath))
			assert.Equal(t, want, got)
		})
	}
}

func TestRootpath(t *testing.T) {
	root := t.TempDir()
	rf := filepath.Join(root, "rf")
	bin := filepath.Join(rf, rpath)
	touch(t, bin)
	ext := filepath.Join(rf, "other_repo", "tool")
	touch(t, ext)
	abs := filepath.Join(root, "elsewhere", "weave-compute")
	touch(t, abs)
	src := Source{Getenv: envOf(map[string]string{"RUNFILES_DIR": rf})}
	tests := []struct {
		in   string
		want string // "" = not found
	}{
		{"c/daemon/weave-compute", bin},
		{"./c/../c/daemon/weave-compute", bin},
		{"../other_repo/tool", ext},
		{abs, abs},
		{"c/missing", ""},
		{filepath.Join(root, "missing"), ""},
		{"c", ""}, // a directory
	}
	for _, tt := range tests {
		got, ok := src.Rootpath(tt.in)
		if tt.want == "" {
			assert.False(t, ok, "%s: found %s", tt.in, got)
			continue
		}
		require.True(t, ok, "%s: candidates %v", tt.in, src.Candidates(RunfilePath(tt.in)))
		assert.Equal(t, tt.want, got, tt.in)
	}
	assert.Equal(t, Workspace+"/c/daemon/weave-compute", RunfilePath("c/daemon/weave-compute"))
	assert.Equal(t, "other_repo/tool", RunfilePath("../other_repo/tool"))
}

func TestDefault(t *testing.T) {
	t.Setenv("RUNFILES_DIR", "/nonexistent/rf")
	s := Default()
	assert.Equal(t, "/nonexistent/rf", s.Getenv("RUNFILES_DIR"))
	exe, err := os.Executable()
	require.NoError(t, err)
	assert.Equal(t, exe, s.Executable)
	assert.Equal(t, os.Args[0], s.Argv0)
}
