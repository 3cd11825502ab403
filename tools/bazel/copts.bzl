"""Compiler options shared by the project's own C code.

Load these in c/**/BUILD.bazel instead of using a global --copt, which would
also apply to external C code (and to the cgo parts of Go's stdlib):

    load("//tools/bazel:copts.bzl", "WEAVE_COPTS")
    cc_library(name = "...", srcs = [...], copts = WEAVE_COPTS)
"""

WEAVE_COPTS = [
    "-std=c11",
    "-Wall",
    "-Wextra",
    "-Werror",
]
