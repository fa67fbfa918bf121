#!/bin/sh
# The CUDA backend's kernels on the CPU emulation of the CUDA runtime and cuBLAS
# (tests/emu/run.sh, also `make test-emu`), judged by the CUDA parity test: on a
# machine without a GPU this is what keeps the kernels' logic, barriers, launch
# shapes and GEMM arguments honest. It proves nothing about the GPU itself (see
# tests/emu/run.sh). The fast fiber switch is x86-64 only; elsewhere the portable
# one takes minutes per run, too slow for `make test`, so the check is skipped there.
. "$(dirname "$0")/lib.sh"

if [ "$(uname -m)" != x86_64 ]; then
    echo "SKIP: the emulator's fast fiber switch is x86-64 only (run make test-emu by hand)"
    echo "1..0"
    exit 0
fi
B=${B:-$ROOT/build}
out=$(B="$B" "$ROOT/tests/emu/run.sh" 2>&1)
rc=$?
if [ $rc -eq 0 ]; then ok "CUDA parity test on the CPU emulator"; else not_ok "CUDA parity test on the CPU emulator (exit $rc)" "$out"; fi
expect_match "every parity case ran, in order and reversed" "$out" "^test-emu: PASS"
done_testing
