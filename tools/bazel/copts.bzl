"""Compiler and linker options shared by the project's own C code.

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

# For the C binaries whose footprint is measured (the daemon, and the bench's
# floor programs, so the comparison stays fair). Bazel's auto-configured C++
# toolchain links every cc_binary with `-Wl,-no-as-needed -lstdc++ -lm`; a
# binary's linkopts land after that switch and before those libraries, so
# --as-needed drops the ones nothing references (libstdc++ and libm cost
# the daemon ~1.2 MB of resident pages). A binary that does use libm keeps it.
WEAVE_LINKOPTS = [
    "-Wl,--as-needed",
]
