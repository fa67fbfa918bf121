#!/bin/sh
# Install what building and testing `runs` needs, and nothing that is already there.
# Usage: scripts/install-deps.sh [extra-package ...]
# Runs apt-get only when a package is missing; as root directly, otherwise via sudo.
set -eu
# python3: some CLI tests parse JSON and write model files with it
# openmpi-bin, libopenmpi-dev: mpirun for t8001 (and the data-parallel build to come)
# clang, libclang-rt-dev (libFuzzer and the sanitizer runtimes, only a recommendation of
# clang's, which --no-install-recommends skips), libomp-dev (clang's OpenMP): `make fuzz`
# chromium: t7002 and t7006 lay the plots and the report out in headless Chromium
pkgs="build-essential pkg-config git libgit2-dev libcjson-dev libssl-dev libcmocka-dev python3
      clang libclang-rt-dev libomp-dev openmpi-bin libopenmpi-dev chromium $*"
missing=""
for p in $pkgs; do
    # each package once, even when an argument repeats one of ours
    case " $missing " in *" $p "*) continue ;; esac
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing$missing" >&2
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# Another apt or dpkg (unattended upgrades, a parallel `make test`) may hold the lock:
# wait for it for up to 10 minutes instead of failing at once.
lock="-o DPkg::Lock::Timeout=600"
# shellcheck disable=SC2086 # $lock is a word list
$SUDO apt-get $lock update -qq >/dev/null || { echo "install-deps: apt-get update failed; check the network or run as root" >&2; exit 1; }
# shellcheck disable=SC2086
$SUDO apt-get $lock install -y -qq --no-install-recommends $missing >/dev/null ||
    { echo "install-deps: could not install$missing; install them by hand and retry" >&2; exit 1; }
