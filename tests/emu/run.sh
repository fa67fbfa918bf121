#!/bin/sh
# tests/emu/run.sh — `make test-emu`: the CUDA backend's kernels on a CPU emulation
# of the CUDA runtime and cuBLAS, judged by the CUDA parity test
# (tests/unit/test_cuda_parity.c) against the CPU reference. For machines without
# a GPU (about 15 s: two compiles, three runs); `make test` runs it through
# tests/cli/t6000-cuda-emu.sh on x86-64.
#
# What it does NOT prove (details at the top of tests/emu/include/cuda_runtime.h):
# the hardware memory model (threads never run at once), real cuBLAS, nvcc's
# compilation and math, stream ordering, or anything about speed. A pass says the
# kernels' logic, barriers, launch shapes and GEMM arguments agree with the CPU
# reference; run the parity test on a GPU before trusting the backend.
#
# Steps, all outputs under $B/emu/ (the source tree is not touched):
#   1. copy cuda/*.cu[h] to $B/emu/src/cuda/, rewriting each launch
#      `k<<<grid, block, shmem, stream>>>(args)` into `emu_launch(k, grid, block, shmem, stream)(args)`;
#   2. compile that backend as C++ against tests/emu/include/ (g++), plus tests/emu/emu.cpp;
#   3. copy $B/libruns.a (from `make`), swap its CUDA entry points (cuda_loader.o,
#      which would dlopen the nvcc-built libruns-cuda.so) for those two, so the
#      emulated backend is linked in directly;
#   4. link the parity test against it and run it three times: on the emulated device
#      with blocks and threads in order, then in reverse order (every parity case must
#      run and pass: a skip fails here), then with EMU_NO_DEVICE=1 (the no-device case
#      must run and pass).
# Ends with one line, "test-emu: PASS ..." or "test-emu: FAIL ...", exit 0 or 1.
#
# Environment: B (build dir, default build), CC, CXX, PKGS (pkg-config packages the
# library links; the Makefile passes all four).
cd "$(dirname "$0")/../.." || exit 1
B=${B:-build}
CC=${CC:-cc}
CXX=${CXX:-g++}
PKGS=${PKGS:-libgit2 libcjson libcrypto}
E=$B/emu

fail() {
    echo "test-emu: FAIL ($*)"
    exit 1
}

[ -f "$B/libruns.a" ] || fail "$B/libruns.a missing: run make first"
command -v perl >/dev/null || fail "perl not found (it rewrites the kernel launches)"

rm -rf "$E"
mkdir -p "$E/src/cuda" || fail "cannot create $E"
# A kernel name may carry template arguments (k<32><<<...); /s: a launch may span lines.
for f in cuda/*.cuh cuda/*.cu; do
    perl -0pe 's/(\w+(?:<[^<>;()]*>)?)<<<(.*?)>>>\(/emu_launch($1, $2)(/gs' "$f" >"$E/src/$f" ||
        fail "rewriting $f"
done
if grep -n '<<<' "$E"/src/cuda/* >&2; then fail "launches left unrewritten (above)"; fi

# -I$E/src first: the backend's #include "cuda/x.cuh" must find the rewritten copies.
CXXFLAGS_EMU="-std=c++17 -O2 -g -Wall -Wno-unused-function -Wno-unused-parameter"
echo "test-emu: compiling the CUDA backend for the CPU emulator ($E/)"
# shellcheck disable=SC2086 # $CXXFLAGS_EMU is a word list
$CXX $CXXFLAGS_EMU -Itests/emu/include -I"$E/src" -I. -x c++ -c "$E/src/cuda/cuda_backend.cu" \
    -o "$E/cuda_backend.o" || fail "compiling the emulated backend"
# shellcheck disable=SC2086
$CXX $CXXFLAGS_EMU -Itests/emu/include -c tests/emu/emu.cpp -o "$E/emu.o" || fail "compiling tests/emu/emu.cpp"

cp "$B/libruns.a" "$E/libruns.a" || fail "copying $B/libruns.a"
for o in cuda_loader.o cuda_backend.o cuda_absent.o; do
    if ar t "$E/libruns.a" | grep -qx "$o"; then ar d "$E/libruns.a" "$o" || fail "ar d $o"; fi
done
ar rcs "$E/libruns.a" "$E/cuda_backend.o" "$E/emu.o" || fail "ar rcs"

# shellcheck disable=SC2046,SC2086 # the pkg-config output and $PKGS are word lists
$CC -std=gnu11 -O2 -g -fopenmp -I. -o "$E/test_cuda_parity" tests/unit/test_cuda_parity.c "$E/libruns.a" \
    $(pkg-config --libs $PKGS) -lcmocka -lm -lpthread -fopenmp -lstdc++ || fail "linking the parity test"

# One run of the parity test on the emulated device; $1 names it, the rest are
# environment settings for it. Sets $ran (cases passed) and $secs.
parity() {
    name=$1
    shift
    log="$E/parity-$name.log"
    start=$(date +%s)
    env "$@" CMOCKA_MESSAGE_OUTPUT=stdout EMU_STATS=1 "$E/test_cuda_parity" >"$log" 2>&1
    rc=$?
    secs=$(($(date +%s) - start))
    [ $rc -eq 0 ] || { cat "$log"; fail "parity test under emulation ($name), exit $rc; log: $log"; }
    # cmocka counts a skipped case as passed: on the emulated device every case but
    # the no-device one must have run
    if grep '^\[  SKIPPED \] test_' "$log" | grep -qv test_absent_device_fails_cleanly; then
        cat "$log"
        fail "parity cases skipped on the emulated device ($name)"
    fi
    ran=$(grep -c '^\[       OK \]' "$log")
    [ "$ran" -gt 0 ] || { cat "$log"; fail "no parity case ran under emulation ($name)"; }
    echo "test-emu: $name: $ran parity cases passed in ${secs}s; $(grep '^EMU: ' "$log")"
}

# Blocks and threads in order, then both reversed: kernels whose results depend on
# the order in which blocks or threads run (a missing barrier, a block reading
# another block's output) tend to fail one of the two.
unset EMU_REV_BLOCKS EMU_REV_THREADS EMU_NO_DEVICE
echo "test-emu: running the parity test on the emulated device"
parity in-order
parity reversed EMU_REV_BLOCKS=1 EMU_REV_THREADS=1

log="$E/no-device.log"
CMOCKA_MESSAGE_OUTPUT=stdout EMU_NO_DEVICE=1 "$E/test_cuda_parity" >"$log" 2>&1 ||
    { cat "$log"; fail "parity test with no device; log: $log"; }
grep -q '^\[       OK \] test_absent_device_fails_cleanly' "$log" ||
    { cat "$log"; fail "the no-device case did not run; log: $log"; }

echo "test-emu: PASS (CUDA parity test on the CPU emulator: $ran cases, blocks/threads in order and reversed; no-device case OK)"
