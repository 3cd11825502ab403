#!/usr/bin/env bash
# Installs the Debian packages the offline Bazel build needs, if missing.
# Used by ./bazelw (on every call; a no-op once everything is installed) and
# by .ci/run. Safe to run by hand: tools/bazel/bootstrap.sh
#
#   bazel-bootstrap   Bazel 4.2.3, the newest Bazel reachable offline
#   golang-1.19-go    Go SDK for rules_go 0.34 (/usr/lib/go-1.19, has pkg/*.a)
#   bazel-skylib      @bazel_skylib  (/usr/share/bazel/tools/skylib)
#   bazel-platforms   @platforms     (/usr/share/bazel/tools/platforms)
#   clang, libclang-rt-14-dev   libFuzzer / sanitizer runtimes for clang
#   util-linux        setpriv: integration tests connect as another user
#   systemd           systemd-socket-activate, systemd-analyze: activation test
#   zsh, fish         weave completion zsh|fish: the scripts parse, fish completes
set -euo pipefail

WEAVE_DEBIAN_PACKAGES=(
  bazel-bootstrap
  golang-1.19-go
  bazel-skylib
  bazel-platforms
  clang
  libclang-rt-14-dev
  util-linux
  systemd
  zsh
  fish
)

_weave_pkg_installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

weave_bootstrap() {
  if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "bootstrap: this is not a Debian/Ubuntu system (no dpkg-query)." >&2
    echo "bootstrap: install by other means: ${WEAVE_DEBIAN_PACKAGES[*]}" >&2
    return 1
  fi
  local missing=() pkg
  for pkg in "${WEAVE_DEBIAN_PACKAGES[@]}"; do
    _weave_pkg_installed "$pkg" || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0

  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      echo "bootstrap: missing Debian packages: ${missing[*]}" >&2
      echo "bootstrap: not root and no sudo; please run as root:" >&2
      echo "    apt-get update && apt-get install -y ${missing[*]}" >&2
      return 1
    fi
  fi
  echo "bootstrap: installing missing Debian packages: ${missing[*]}" >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
  for pkg in "${missing[@]}"; do
    if ! _weave_pkg_installed "$pkg"; then
      echo "bootstrap: $pkg is still not installed" >&2
      return 1
    fi
  done
  echo "bootstrap: done" >&2
}

# Executed (not sourced): run it.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  weave_bootstrap
fi
