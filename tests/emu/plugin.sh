#!/bin/sh
# tests/emu/plugin.sh — builds the CUDA backend on the CPU emulator (tests/emu/run.sh
# says what that proves and what not) as the real plugin, so the ordinary build/runs
# loads it through cuda/cuda_loader.c (RUNS_CUDA_LIB=...): the loader, the plugin
# table and the runner's CUDA paths run as they would on a GPU machine. Two of them:
#   $OUT/libruns-cuda-nccl.so    with NCCL (tests/emu/include/nccl.h over MPI,
#                                tests/emu/nccl_emu.cpp), as where nccl.h is found
#   $OUT/libruns-cuda-nonccl.so  without, as where it is not
# Rebuilt only when a source changed (a stamp in $OUT). Used by
# tests/cli/t6001-cuda-nccl-emu.sh. Environment: B (build dir, default build),
# OUT (default $B/emu-plugin), CC, CXX, MPICC (its --showme flags build the emulated
# NCCL). Ends with "plugin.sh: OK" or "plugin.sh: FAIL (why)", exit 0 or 1.
cd "$(dirname "$0")/../.." || exit 1
B=${B:-build}
OUT=${OUT:-$B/emu-plugin}
CC=${CC:-cc}
CXX=${CXX:-g++}
MPICC=${MPICC:-mpicc}

fail() {
    echo "plugin.sh: FAIL ($*)"
    exit 1
}
command -v perl >/dev/null || fail "perl not found (it rewrites the kernel launches)"
mpi_c=$($MPICC --showme:compile 2>/dev/null) || fail "$MPICC --showme:compile failed (Open MPI's mpicc is needed)"
mpi_l=$($MPICC --showme:link 2>/dev/null) || fail "$MPICC --showme:link failed"

# A rebuild takes half a minute on a busy 2-core machine: skip it when nothing it is
# made from changed (the stamp lists their checksums and the compilers' versions).
stamp=$( (cat cuda/*.cu cuda/*.cuh cuda/*.h cuda/dl/* tests/emu/emu.cpp tests/emu/nccl_emu.cpp \
    tests/emu/include/* tests/emu/plugin.sh; $CXX --version; $CC --version; echo "$mpi_c $mpi_l") | md5sum)
if [ -f "$OUT/libruns-cuda-nccl.so" ] && [ -f "$OUT/libruns-cuda-nonccl.so" ] &&
    [ "$(cat "$OUT/stamp" 2>/dev/null)" = "$stamp" ]; then
    echo "plugin.sh: OK ($OUT/libruns-cuda-nccl.so, $OUT/libruns-cuda-nonccl.so: up to date)"
    exit 0
fi
# built aside and moved in whole, so a concurrent user never sees half a directory
FINAL=$OUT
OUT=$FINAL.tmp.$$
trap 'rm -rf "$OUT"' EXIT
rm -rf "$OUT"
mkdir -p "$OUT/src/cuda" || fail "cannot create $OUT"
# the launch rewrite of tests/emu/run.sh
for f in cuda/*.cuh cuda/*.cu; do
    perl -0pe 's/(\w+(?:<[^<>;()]*>)?)<<<(.*?)>>>\(/emu_launch($1, $2)(/gs' "$f" >"$OUT/src/$f" || fail "rewriting $f"
done
if grep -n '<<<' "$OUT"/src/cuda/* >&2; then fail "launches left unrewritten (above)"; fi

X="-std=c++17 -O2 -g -fPIC -Wall -Wno-unused-function -Wno-unused-parameter -Itests/emu/include -I$OUT/src -I."
# shellcheck disable=SC2086 # word lists
{
    $CXX $X -x c++ -c "$OUT/src/cuda/cuda_backend.cu" -o "$OUT/cuda_backend.o" || fail "compiling the backend"
    $CXX $X -c tests/emu/emu.cpp -o "$OUT/emu.o" || fail "compiling tests/emu/emu.cpp"
    $CXX $X -x c++ -c "$OUT/src/cuda/nccl_dist.cu" -o "$OUT/nonccl.o" || fail "compiling nccl_dist.cu without NCCL"
    $CXX $X -DRUNS_HAVE_NCCL=1 -x c++ -c "$OUT/src/cuda/nccl_dist.cu" -o "$OUT/nccl.o" ||
        fail "compiling nccl_dist.cu with the emulated NCCL"
    $CXX $X -DOMPI_SKIP_MPICXX -DMPICH_SKIP_MPICXX $mpi_c -c tests/emu/nccl_emu.cpp -o "$OUT/nccl_emu.o" || fail "compiling tests/emu/nccl_emu.cpp"
    $CC -std=gnu11 -O2 -g -fPIC -I. -c cuda/dl/cuda_plugin.c -o "$OUT/cuda_plugin.o" || fail "compiling the plugin entry"
    # as the Makefile links the real one: --no-undefined, the one exported entry
    $CXX -shared -Wl,--no-undefined -Wl,--version-script=cuda/dl/cuda_plugin.map -o "$OUT/libruns-cuda-nccl.so" \
        "$OUT/cuda_plugin.o" "$OUT/cuda_backend.o" "$OUT/nccl.o" "$OUT/nccl_emu.o" "$OUT/emu.o" $mpi_l -lm ||
        fail "linking libruns-cuda-nccl.so"
    $CXX -shared -Wl,--no-undefined -Wl,--version-script=cuda/dl/cuda_plugin.map -o "$OUT/libruns-cuda-nonccl.so" \
        "$OUT/cuda_plugin.o" "$OUT/cuda_backend.o" "$OUT/nonccl.o" "$OUT/emu.o" -lm ||
        fail "linking libruns-cuda-nonccl.so"
}
echo "$stamp" >"$OUT/stamp" || fail "writing $OUT/stamp"
rm -rf "$FINAL" && mv "$OUT" "$FINAL" || fail "moving $OUT to $FINAL"
echo "plugin.sh: OK ($FINAL/libruns-cuda-nccl.so, $FINAL/libruns-cuda-nonccl.so)"
