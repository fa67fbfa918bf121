#!/bin/sh
# Install what building and testing `runs` needs, and nothing that is already there.
# Usage: scripts/install-deps.sh [extra-package ...]
# Runs apt-get only when a package is missing; as root directly, otherwise via sudo.
set -eu
# python3: some CLI tests parse JSON and write model files with it
pkgs="build-essential pkg-config git libgit2-dev libcjson-dev libssl-dev libcmocka-dev python3 $*"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing$missing" >&2
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null || { echo "install-deps: apt-get update failed; check the network or run as root" >&2; exit 1; }
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
    { echo "install-deps: could not install$missing; install them by hand and retry" >&2; exit 1; }
