// Package runfiles finds files of a Bazel runfiles tree (the `data` of a
// go_binary or go_test) without depending on rules_go's runfiles library.
// It is the one resolver of the repository: the weave CLI finds the daemon
// with it, the bench its C binaries, and the tests the binaries their BUILD
// file names (env = {"WEAVE_COMPUTE_BIN": "$(rootpath //c/daemon:weave-compute)"},
// resolved with Rootpath).
//
// Lookup order for Find:
//  1. directories: $RUNFILES_DIR, <executable>.runfiles, <argv0>.runfiles,
//     $TEST_SRCDIR;
//  2. manifests: $RUNFILES_MANIFEST_FILE, <executable>.runfiles_manifest,
//     <executable>.runfiles/MANIFEST (lines "RPATH REALPATH").
//
// The first candidate that names an existing regular file wins.
package runfiles

import (
	"bufio"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Workspace is the workspace name declared in WORKSPACE; runfiles of this
// repository live under it.
const Workspace = "com_github_weave_app_weave"

// Source describes where to look: the environment and the executable.
type Source struct {
	Getenv     func(string) string // required
	Executable string              // os.Executable(); may be empty
	Argv0      string              // os.Args[0]; may be empty
}

// Default is the Source of this process: its environment, os.Executable()
// and os.Args[0].
func Default() Source {
	exe, _ := os.Executable()
	argv0 := ""
	if len(os.Args) > 0 {
		argv0 = os.Args[0]
	}
	return Source{Getenv: os.Getenv, Executable: exe, Argv0: argv0}
}

// RunfilePath is the runfiles path of p, a path as Bazel's $(rootpath ...)
// writes it: relative to the main workspace ("c/daemon/weave-compute" is
// "com_github_weave_app_weave/c/daemon/weave-compute"; "../repo/file", an external
// repository's file, is "repo/file").
func RunfilePath(p string) string {
	return path.Clean(Workspace + "/" + filepath.ToSlash(p))
}

// Rootpath resolves p, a $(rootpath ...) value (see RunfilePath) or an
// absolute path, to the real path of an existing regular file.
func (s Source) Rootpath(p string) (string, bool) {
	if filepath.IsAbs(p) {
		return p, isRegular(p)
	}
	return s.Find(RunfilePath(p))
}

// Find returns the real path of the runfile rpath (e.g.
// "com_github_weave_app_weave/c/daemon/weave-compute") and true, or "" and false.
func (s Source) Find(rpath string) (string, bool) {
	for _, dir := range s.dirs() {
		p := filepath.Join(dir, filepath.FromSlash(rpath))
		if isRegular(p) {
			return p, true
		}
	}
	for _, m := range s.manifests() {
		if p, ok := lookupManifest(m, rpath); ok && isRegular(p) {
			return p, true
		}
	}
	return "", false
}

// Candidates lists every path Find would look at for rpath, in order
// (manifests as "MANIFEST#rpath"); for error messages.
func (s Source) Candidates(rpath string) []string {
	var out []string
	for _, dir := range s.dirs() {
		out = append(out, filepath.Join(dir, filepath.FromSlash(rpath)))
	}
	for _, m := range s.manifests() {
		out = append(out, m+"#"+rpath)
	}
	return out
}

func (s Source) dirs() []string {
	var out []string
	add := func(p string) {
		if p == "" {
			return
		}
		for _, q := range out {
			if q == p {
				return
			}
		}
		out = append(out, p)
	}
	add(s.Getenv("RUNFILES_DIR"))
	if s.Executable != "" {
		add(s.Executable + ".runfiles")
	}
	if s.Argv0 != "" && strings.ContainsRune(s.Argv0, filepath.Separator) {
		if abs, err := filepath.Abs(s.Argv0); err == nil {
			add(abs + ".runfiles")
		}
	}
	add(s.Getenv("TEST_SRCDIR"))
	return out
}

func (s Source) manifests() []string {
	var out []string
	if m := s.Getenv("RUNFILES_MANIFEST_FILE"); m != "" {
		out = append(out, m)
	}
	if s.Executable != "" {
		out = append(out, s.Executable+".runfiles_manifest", filepath.Join(s.Executable+".runfiles", "MANIFEST"))
	}
	return out
}

// lookupManifest returns the real path the manifest maps rpath to.
func lookupManifest(manifest, rpath string) (string, bool) {
	f, err := os.Open(manifest)
	if err != nil {
		return "", false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		i := strings.IndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if line[:i] == rpath {
			return line[i+1:], true
		}
	}
	return "", false
}

func isRegular(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}
