"""Repository rules that fetch Bazel rule sets without touching GitHub.

These machines reach the Go module proxy but not GitHub, mirror.bazel.build
or the BCR. rules_go and bazel-gazelle are published as Go modules, so
`go_module_repository` fetches them with `go mod download`, checks the
module's h1: hash against a value pinned in WORKSPACE, and copies the module
into the external repository. No path into a module cache or temp dir is
written into WORKSPACE.

`debian_bazel_tools_repository` exposes a rule set that Debian installs under
/usr/share/bazel/tools/ (bazel-skylib, bazel-platforms) and fails with a
clear message when the package is missing.
"""

# Where to look for a host `go` when none is on PATH (in order).
_GO_CANDIDATES = [
    "/usr/local/go/bin/go",
    "/usr/lib/go-1.19/bin/go",
]

def _find_go(rctx):
    override = rctx.os.environ.get("WEAVE_HOST_GO", "")
    if override:
        return rctx.path(override)
    go = rctx.which("go")
    if go:
        return go
    for candidate in _GO_CANDIDATES:
        path = rctx.path(candidate)
        if path.exists:
            return path
    fail("go_module_repository(%s): no `go` binary found on PATH nor at %s. " % (
        rctx.name,
        ", ".join(_GO_CANDIDATES),
    ) + "Run ./bazelw (it installs golang-1.19-go) or set WEAVE_HOST_GO.")

def _go_env(rctx):
    env = {
        # Our own settings win over whatever the user's environment says.
        "GO111MODULE": "on",
        "GOFLAGS": "-mod=mod",
        "GOTOOLCHAIN": "local",
        "GOWORK": "off",
    }
    for key in ["GOPROXY", "GONOSUMDB", "GONOSUMCHECK", "GOPRIVATE", "GOSUMDB", "GOMODCACHE", "GOPATH", "HOME"]:
        if key in rctx.os.environ:
            env[key] = rctx.os.environ[key]
    if "HOME" not in env and "GOPATH" not in env and "GOMODCACHE" not in env:
        # `go` refuses to run with neither HOME nor GOPATH set.
        env["GOPATH"] = str(rctx.path(".go"))
    return env

def _json_string_field(text, field):
    """Returns the value of the first `"field": "value"` in `go ... -json` output."""
    marker = "\"%s\": \"" % field
    start = text.find(marker)
    if start < 0:
        return None
    start += len(marker)
    end = text.find("\"", start)
    if end < 0:
        return None
    return text[start:end]

def _run(rctx, args, env, what, timeout = 600, working_directory = ""):
    result = rctx.execute(args, environment = env, timeout = timeout, working_directory = working_directory, quiet = True)
    if result.return_code != 0:
        fail("go_module_repository(%s): %s failed (exit %d):\n%s\n%s" % (
            rctx.name,
            what,
            result.return_code,
            result.stdout,
            result.stderr,
        ))
    return result

def _go_module_repository_impl(rctx):
    go = _find_go(rctx)
    env = _go_env(rctx)
    mod = "%s@%s" % (rctx.attr.module, rctx.attr.version)

    # Run in an empty scratch dir so no surrounding go.mod is picked up.
    scratch = rctx.path(".download")
    rctx.file(".download/.keep", "")
    result = _run(rctx, [go, "mod", "download", "-json", mod], env, "`go mod download -json %s`" % mod, working_directory = str(scratch))
    err = _json_string_field(result.stdout, "Error")
    if err:
        fail("go_module_repository(%s): go mod download %s: %s" % (rctx.name, mod, err))
    module_dir = _json_string_field(result.stdout, "Dir")
    got_sum = _json_string_field(result.stdout, "Sum")
    if not module_dir or not got_sum:
        fail("go_module_repository(%s): unexpected output from go mod download:\n%s" % (rctx.name, result.stdout))
    if got_sum != rctx.attr.sum:
        fail(("go_module_repository(%s): CHECKSUM MISMATCH for %s\n" +
              "  pinned in WORKSPACE: %s\n" +
              "  downloaded:          %s\n" +
              "Refusing to use this module. If the new version is intended, update `sum`.") % (
            rctx.name,
            mod,
            rctx.attr.sum,
            got_sum,
        ))
    rctx.delete(scratch)

    # Copy (not symlink) the module: files in the module cache are read-only
    # and we patch / vendor in place.
    _run(rctx, ["cp", "-R", module_dir + "/.", "."], env, "copying %s" % module_dir)
    _run(rctx, ["chmod", "-R", "u+w", "."], env, "chmod")

    for patch in rctx.attr.patches:
        rctx.patch(patch, strip = 1)

    if rctx.attr.vendor:
        # go_repository_tools builds gazelle in GOPATH mode and needs vendor/.
        _run(rctx, [go, "mod", "vendor"], env, "`go mod vendor` in %s" % mod, timeout = 1200)

    # Files that must not leak into the repository.
    for name in [".download", ".go"]:
        if rctx.path(name).exists:
            rctx.delete(name)

go_module_repository = repository_rule(
    implementation = _go_module_repository_impl,
    doc = "Fetches a Go module that contains a Bazel rule set via the Go module proxy.",
    attrs = {
        "module": attr.string(mandatory = True, doc = "Module path, e.g. github.com/bazelbuild/rules_go"),
        "version": attr.string(mandatory = True, doc = "Module version, e.g. v0.34.0"),
        "sum": attr.string(mandatory = True, doc = "Expected h1: hash of the module zip (go.sum format)"),
        "patches": attr.label_list(doc = "Patch files applied with strip=1 after copying"),
        "vendor": attr.bool(default = False, doc = "Run `go mod vendor` in the copied module"),
    },
    # No `environ`: the content is fixed by module@version and the pinned sum,
    # so a different PATH or GOPROXY must not trigger a re-fetch (which would
    # rebuild everything that depends on rules_go).
)

_DEBIAN_TOOLS = "/usr/share/bazel/tools"

def _debian_bazel_tools_repository_impl(rctx):
    src = rctx.path("%s/%s" % (_DEBIAN_TOOLS, rctx.attr.subdir))
    if not src.exists:
        fail(("%s: %s does not exist. Install the Debian package `%s` " +
              "(./bazelw does this on first use: apt-get install %s).") % (
            rctx.name,
            src,
            rctx.attr.package,
            rctx.attr.package,
        ))
    for child in src.readdir():
        rctx.symlink(child, child.basename)

debian_bazel_tools_repository = repository_rule(
    implementation = _debian_bazel_tools_repository_impl,
    doc = "Exposes a rule set installed by a Debian package under /usr/share/bazel/tools.",
    attrs = {
        "subdir": attr.string(mandatory = True, doc = "Directory under /usr/share/bazel/tools"),
        "package": attr.string(mandatory = True, doc = "Debian package that provides it"),
    },
    local = True,
)
