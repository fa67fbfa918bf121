#!/bin/sh
# make install DESTDIR=... PREFIX=...: the CLI and the tools land in PREFIX/bin and work
# from there (no build tree on the path); the CUDA backend, where it was built, lands in
# PREFIX/lib/runs/, the directory cuda/cuda_loader.c searches beside an installed program;
# so does the MPI transport libruns-mpi.so, where mpicc was found (runner/dp.c).
. "$(dirname "$0")/lib.sh"

# the plain build's binaries are what install copies (under SAN=1 $RUNS is build-san's)
expect "make install DESTDIR PREFIX=/usr" make -C "$ROOT" --no-print-directory -s install SAN= FUZZ= DESTDIR="$T/root" PREFIX=/usr
bin="$T/root/usr/bin"
expect "bin/runs installed, executable" test -x "$bin/runs"
for t in "$ROOT"/tools/cli/*.c; do
    name=$(basename "$t" .c)
    expect "tool $name installed" test -x "$bin/$name"
done
expect_match "installed runs --help" "$("$bin/runs" --help 2>&1)" '^usage: runs '
expect_match "installed filter-dataset --help" "$("$bin/filter-dataset" --help 2>&1)" 'usage'
# a tiny command against a store, from a directory with no build tree
mkdir -p elsewhere && cd elsewhere || exit 1
expect "installed runs init" "$bin/runs" init "$T/st"
expect_match "installed runs lr prints a schedule" \
    "$(echo '{"train": {"total_steps": 10}, "schedule": {"type": "cosine", "warmup_steps": 2}}' >c.json;
       "$bin/runs" lr --config c.json --steps 0,5 2>&1)" '^5[^0-9]'
cd "$T" || exit 1
if [ -e "$ROOT/build/libruns-cuda.so" ]; then
    expect "CUDA backend in PREFIX/lib/runs" test -s "$T/root/usr/lib/runs/libruns-cuda.so"
else
    expect "no CUDA backend built: none installed" test ! -e "$T/root/usr/lib/runs/libruns-cuda.so"
fi
# the MPI transport likewise (runner/dp.c looks in ../lib/runs/ under mpirun/srun)
if [ -e "$ROOT/build/libruns-mpi.so" ]; then
    expect "MPI transport in PREFIX/lib/runs" test -s "$T/root/usr/lib/runs/libruns-mpi.so"
else
    expect "no MPI transport built: none installed" test ! -e "$T/root/usr/lib/runs/libruns-mpi.so"
fi
# PREFIX alone (no DESTDIR) is the install root
expect "make install PREFIX=DIR" make -C "$ROOT" --no-print-directory -s install PREFIX="$T/p2"
expect "... bin/runs there" test -x "$T/p2/bin/runs"
done_testing
