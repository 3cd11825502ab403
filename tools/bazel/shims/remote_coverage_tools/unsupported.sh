#!/bin/sh
# SHIM: see BUILD.repo. Real coverage tools cannot be downloaded offline.
echo "ERROR: 'bazel coverage' is not supported in this offline setup:" >&2
echo "       @remote_coverage_tools is a stub (see tools/bazel/shims/remote_coverage_tools and docs/BAZEL.md)." >&2
exit 1
