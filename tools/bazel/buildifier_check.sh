#!/usr/bin/env bash
# Checks that the project's BUILD / .bzl / WORKSPACE files are formatted by
# buildifier (format only, no lint). With --fix, reformats them instead.
#
# buildifier is built from a pinned module version with the host Go through
# the Go module proxy and cached; it cannot be built under Bazel here
# (buildtools' own BUILD files need rules_proto).
set -euo pipefail
BUILDTOOLS_VERSION="v0.0.0-20250930140053-2eb4fccefb52"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

mode=check
case "${1:-}" in
  "") ;;
  --fix) mode=fix ;;
  *) echo "usage: $0 [--fix]" >&2; exit 2 ;;
esac

host_go() {
  if [ -n "${HOST_GO:-}" ]; then echo "$HOST_GO"; return; fi
  if [ -x /usr/local/go/bin/go ]; then echo /usr/local/go/bin/go; return; fi
  command -v go || { echo "buildifier_check: no host go found" >&2; return 1; }
}

bindir="${XDG_CACHE_HOME:-$HOME/.cache}/weave/buildifier-$BUILDTOOLS_VERSION"
buildifier="$bindir/buildifier"
if [ ! -x "$buildifier" ]; then
  go="$(host_go)"
  echo "buildifier_check: building buildifier $BUILDTOOLS_VERSION with $go" >&2
  mkdir -p "$bindir"
  (cd "$bindir" && GOBIN="$bindir" GOFLAGS= GOWORK=off GO111MODULE=on GOTOOLCHAIN=local \
    "$go" install "github.com/bazelbuild/buildtools/buildifier@$BUILDTOOLS_VERSION")
fi

files=()
while IFS= read -r -d '' f; do files+=("$f"); done < <(
  find . \( -name .git -o -name 'bazel-*' -o -name node_modules \) -prune -o \
    -type f \( -name BUILD -o -name BUILD.bazel -o -name '*.bzl' -o -name WORKSPACE \
    -o -name WORKSPACE.bazel \) -print0 | sort -z)
# Shim BUILD files are named BUILD.repo so they are not packages here.
repo_builds=()
while IFS= read -r -d '' f; do repo_builds+=("$f"); done < <(
  find tools/bazel/shims -type f -name BUILD.repo -print0 | sort -z)

status=0
"$buildifier" -mode="$mode" -lint=off "${files[@]}" || status=$?
if [ "${#repo_builds[@]}" -gt 0 ]; then
  "$buildifier" -mode="$mode" -lint=off -type=build "${repo_builds[@]}" || status=$?
fi
if [ "$status" -ne 0 ]; then
  echo >&2
  echo "buildifier_check: files above are not buildifier-formatted. Fix with:" >&2
  echo "  tools/bazel/buildifier_check.sh --fix" >&2
  exit "$status"
fi
echo "buildifier_check: ${#files[@]} + ${#repo_builds[@]} files OK ($mode)"
