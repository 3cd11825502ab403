#!/usr/bin/env bash
# Fails if deps.bzl has drifted from go.mod/go.sum: regenerates the
# go_dependencies macro in a temporary copy with gazelle's update-repos and
# diffs it against the checked-in deps.bzl. Fix a failure with:
#   ./bazelw run //:gazelle -- update-repos -from_file=go.mod -to_macro=deps.bzl%go_dependencies -prune
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/weave-deps.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
cp WORKSPACE go.mod go.sum deps.bzl "$tmp/"
./bazelw run //:gazelle -- update-repos -repo_root="$tmp" -from_file="$tmp/go.mod" \
  -to_macro=deps.bzl%go_dependencies -prune
if ! diff -u deps.bzl "$tmp/deps.bzl"; then
  echo >&2
  echo "check_deps: deps.bzl is out of date with go.mod. Regenerate it with:" >&2
  echo "  ./bazelw run //:gazelle -- update-repos -from_file=go.mod -to_macro=deps.bzl%go_dependencies -prune" >&2
  exit 1
fi
echo "check_deps: deps.bzl matches go.mod"
