#!/usr/bin/env bash
# Fails if gazelle would change any BUILD file of a Go package (prints the
# diff). Fix a failure with: ./bazelw run //:gazelle
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
if ! ./bazelw run //:gazelle -- -mode=diff; then
  echo >&2
  echo "check_build_files: Go BUILD files are not what gazelle generates. Run:" >&2
  echo "  ./bazelw run //:gazelle" >&2
  exit 1
fi
echo "check_build_files: BUILD files are gazelle-clean"
