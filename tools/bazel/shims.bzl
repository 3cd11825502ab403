"""`shim_repository`: turns a directory under tools/bazel/shims/ into an
external repository.

Shim directories keep their BUILD files as `BUILD.repo` so that they are not
packages of the main repository (and `//...` / gazelle leave them alone);
this rule copies the tree into the external repository and renames every
`BUILD.repo` to `BUILD.bazel`. Why each shim exists is written at the top of
its files.
"""

def _shim_repository_impl(rctx):
    root = rctx.path(rctx.attr.marker).dirname

    # `path.is_dir` does not exist in Bazel 4, so list the files with find(1).
    result = rctx.execute(["find", ".", "-type", "f"], working_directory = str(root))
    if result.return_code != 0:
        fail("shim_repository(%s): cannot list %s: %s" % (rctx.name, root, result.stderr))
    for rel in sorted(result.stdout.splitlines()):
        rel = rel[2:] if rel.startswith("./") else rel
        src = rctx.path("%s/%s" % (root, rel))
        if src.basename == "BUILD.repo":
            rctx.file(rel[:-len("BUILD.repo")] + "BUILD.bazel", rctx.read(src), executable = False)
        else:
            rctx.symlink(src, rel)
    rctx.file("WORKSPACE", "workspace(name = \"%s\")\n" % rctx.name)

shim_repository = repository_rule(
    implementation = _shim_repository_impl,
    doc = "A local repository made from tools/bazel/shims/<name>/ (BUILD.repo -> BUILD.bazel).",
    attrs = {
        "marker": attr.label(
            mandatory = True,
            allow_single_file = True,
            doc = "The top-level BUILD.repo of the shim directory.",
        ),
    },
    local = True,
)
