#!/bin/sh
# Start-up: the CUDA backend (cuBLAS, the CUDA runtime: ~540 MB of libraries) is a
# shared object, libruns-cuda.so, loaded only when --backend cuda|auto or a GPU check
# asks (cuda/cuda_loader.c). Checked here: `runs` links none of it; commands that never
# ask for CUDA work; asking for CUDA where it cannot be had is one clear line and exit 1
# (never a crash); --backend auto falls back to the CPU; each way the loader can fail
# (RUNS_CUDA_LIB missing, not a shared object, not a runs backend) names its cause.
# Likewise `runs` links no libmpi: the MPI transport, libruns-mpi.so, is loaded only under
# mpirun/srun (runner/dp.c), and failing to load it there is one line naming the cause.
# libgit2 (with the 15 libraries it needs) and libcrypto are not linked either: the store
# loads them on first use (common/lazylib.h), so `runs --help`, `runs lr` and a cached
# `runs log` load neither, and a command that reads a manifest loads libgit2 then
# (checked with glibc's LD_DEBUG).
# How fast a start is: build/bench/bench_startup (no timing assertions here).
. "$(dirname "$0")/lib.sh"
B=${B:-$ROOT/build}

# --- what `runs` links ---------------------------------------------------------------
if command -v ldd >/dev/null 2>&1 && libs=$(ldd "$RUNS" 2>&1); then
    if printf '%s\n' "$libs" | grep -qE 'libcublas|libcudart|libcuda\.'; then
        not_ok "runs links no CUDA library (ldd $RUNS)" "$(printf '%s\n' "$libs" | grep -E 'libcu')"
    else
        ok "runs links no CUDA library (ldd $RUNS)"
    fi
    # libmpi (with open-rte, open-pal, hwloc, libevent) cost every start 16-20 ms: it is
    # linked into the MPI transport libruns-mpi.so alone, loaded only under mpirun/srun
    if printf '%s\n' "$libs" | grep -q 'libmpi'; then
        not_ok "runs links no libmpi (ldd $RUNS)" "$(printf '%s\n' "$libs" | grep 'libmpi')"
    else
        ok "runs links no libmpi (ldd $RUNS)"
    fi
    for lib in libgit2 libcrypto; do
        if printf '%s\n' "$libs" | grep -q "$lib\\."; then
            not_ok "runs links no $lib (loaded on first use)" "$(printf '%s\n' "$libs" | grep "$lib")"
        else
            ok "runs links no $lib (loaded on first use)"
        fi
    done
    if [ -f "$B/libruns-mpi.so" ]; then
        expect_match "the MPI transport .so is the one that links libmpi" "$(ldd "$B/libruns-mpi.so" 2>&1)" 'libmpi'
    fi
    if [ -f "$B/libruns-cuda.so" ]; then
        expect_match "the backend .so is the one that links cuBLAS" "$(ldd "$B/libruns-cuda.so" 2>&1)" 'libcublas'
    fi
else
    echo "# SKIP: ldd not found (or cannot read $RUNS): linked libraries not checked"
fi

# --- commands that never ask for CUDA ---------------------------------------------------
expect_match "runs --help" "$("$RUNS" --help 2>&1)" '^usage: runs'
cat >cos.json <<'J'
{"train": {"total_steps": 1000}, "optimizer": {"lr": 3e-4},
 "schedule": {"type": "cosine", "warmup_steps": 100, "min_lr_factor": 0.1}}
J
expect_eq "runs lr --steps 0 --exact" "$("$RUNS" lr --config cos.json --steps 0 --exact 2>&1)" "0 2.9999999999999997e-06"

# what the loader actually loads (glibc: LD_DEBUG=files names every library it maps)
loads() { LD_DEBUG=files "$@" 2>&1 >/dev/null | grep -oE 'file=[^ ]+' | sed 's/^file=//' | sort -u; }
if loads "$RUNS" --help | grep -q 'libc\.so'; then
    ld_debug=1
    expect_eq "runs --help loads neither libgit2 nor libcrypto" "$(loads "$RUNS" --help | grep -E 'libgit2|libcrypto')" ""
    expect_eq "runs lr loads neither libgit2 nor libcrypto" \
        "$(loads "$RUNS" lr --config cos.json --steps 0 | grep -E 'libgit2|libcrypto')" ""
else
    ld_debug=0
    why="the dynamic loader does not answer LD_DEBUG=files (not glibc)"
    skip "runs --help loads neither libgit2 nor libcrypto" "runs lr loads neither libgit2 nor libcrypto"
fi

# --- asking for CUDA ----------------------------------------------------------------------
tiny_corpus 280 200 prose
expect "tiny corpus encodes" test -s prose.tok
cat >tiny.json <<JSON
{"model": {"n_layer": 1, "n_head": 2, "n_embd": 16, "vocab_size": 280, "block_size": 16},
 "train": {"total_steps": 4, "batch_size": 2, "seq_len": 16, "seed": 3, "backend": "cpu"},
 "optimizer": {"lr": 3e-3},
 "schedule": {"type": "cosine", "warmup_steps": 1},
 "data": {"tokenizer": "$T/tok.bin", "sources": {"prose": {"path": "$T/prose.tok"}}},
 "checkpoint": {"every": 4, "boundary": 4, "keep_last": 0, "keep_every": 0}}
JSON
expect "init" "$RUNS" init

# No backend to load, whatever the machine: one line naming CUDA, exit 1.
RUNS_CUDA_LIB=$T/missing.so "$RUNS" start --config tiny.json --name c0 --backend cuda --quiet >out.txt 2>err.txt
rc=$?
expect_eq "--backend cuda with no backend to load: exit 1, one stderr line" "$rc:$(grep -c '' err.txt)" "1:1"
expect_match "... which says CUDA" "$(cat err.txt)" 'CUDA|cuda'
# As built: exit 1 with one line where no GPU answers (this machine), 0 where one does.
"$RUNS" start --config tiny.json --name c1 --backend cuda --quiet >out.txt 2>err.txt
rc=$?
if [ $rc -eq 0 ]; then
    ok "--backend cuda as built: a CUDA device answered and trained"
else
    expect_eq "--backend cuda as built, no device: exit 1, one stderr line (no crash)" "$rc:$(grep -c '' err.txt)" "1:1"
fi
RUNS_CUDA_LIB=$T/missing.so expect "--backend auto with no backend to load trains on the CPU" \
    "$RUNS" start --config tiny.json --name a0 --backend auto --quiet
expect_match "... and the run is there" "$("$RUNS" log a0 2>&1)" 'step_4'
# A listing reads the ref files and the node cache itself (store/refs.c, store/nodecache.c)
# and checks the cache's SHA-256 without libcrypto (store/sha256_small.c): once the cache
# holds the run, `runs log` loads neither library. A command that reads a manifest loads
# libgit2 then, when it first opens lineage.git (runs__store_git).
"$RUNS" log --all >/dev/null 2>&1 # the first listing fills STORE/cache/nodes
if [ "$ld_debug" = 1 ]; then
    expect_eq "runs log (cached) loads neither libgit2 nor libcrypto" \
        "$(loads "$RUNS" log a0 | grep -E 'libgit2|libcrypto')" ""
    expect_eq "runs log --all --json (cached) loads neither" \
        "$(loads "$RUNS" log --all --json | grep -E 'libgit2|libcrypto')" ""
    expect_match "runs show loads libgit2 when it reads a manifest" \
        "$(LD_DEBUG=files "$RUNS" show a0@step_4 2>&1 >/dev/null | grep 'file=libgit2')" 'dynamically loaded by'
else
    skip "runs log (cached) loads neither libgit2 nor libcrypto" "runs log --all --json (cached) loads neither" \
        "runs show loads libgit2 when it reads a manifest"
fi
expect_eq "... and lists what the lineage read through libgit2 lists" \
    "$("$RUNS" log --all --json 2>&1)" "$(RUNS_NO_NODECACHE=1 "$RUNS" log --all --json 2>&1)"
expect_match "runs show a0@step_4 reads its manifest" "$("$RUNS" show a0@step_4 2>&1)" 'step_4'

# --- the MPI transport under a launcher (OMPI_COMM_WORLD_SIZE set by hand: no mpirun) -------
# A build with MPI that cannot load libruns-mpi.so refuses in one line naming what, before
# the store is touched; a build without refuses as it always did (t8001 says how).
if grep -q libruns-mpi.so "$RUNS"; then
    expect_exit 1 "under mpirun with RUNS_MPI_LIB missing: one line, exit 1" \
        env OMPI_COMM_WORLD_SIZE=2 RUNS_MPI_LIB="$T/missing.so" "$RUNS" start --config tiny.json --name m0 --quiet
    expect_match "... naming RUNS_MPI_LIB and what to do" "$(cat "$T/.err")" \
        "launched as 2 processes \\(mpirun/srun\\), but RUNS_MPI_LIB=$T/missing.so does not exist"
    echo "not an ELF file" >bogus-mpi.so
    expect_exit 1 "under mpirun with a broken transport: one line, exit 1" \
        env OMPI_COMM_WORLD_SIZE=2 RUNS_MPI_LIB="$T/bogus-mpi.so" "$RUNS" start --config tiny.json --name m0 --quiet
    expect_match "... with dlopen's reason and make deps" "$(cat "$T/.err")" "cannot load the MPI transport $T/bogus-mpi.so: .*make deps"
    expect "... and run m0 never reached the store" test ! -e runs/m0
else
    echo "# SKIP: this build has no MPI: the transport's load errors not checked"
fi

# --- the loader's reasons (the parity test prints them when it skips) ---------------------
P=$B/tests/test_cuda_parity
if [ -x "$P" ]; then
    reason() { RUNS_CUDA_LIB=$1 CMOCKA_MESSAGE_OUTPUT=stdout "$P" 2>&1 | sed -n 's/^SKIP: no CUDA device (parity not run): //p' | head -1; }
    expect_match "RUNS_CUDA_LIB missing: named" "$(reason "$T/missing.so")" "^no CUDA backend: RUNS_CUDA_LIB=$T/missing.so does not exist"
    echo "not an ELF file" >bogus.so
    expect_match "RUNS_CUDA_LIB not a shared object: dlopen's reason" "$(reason "$T/bogus.so")" "^no CUDA backend: cannot load $T/bogus.so: "
    libc=$(ldd "$P" 2>/dev/null | awk '/libc\.so/ { print $3 }')
    if [ -n "$libc" ] && [ -f "$libc" ]; then
        expect_match "RUNS_CUDA_LIB a library without the entry: refused" "$(reason "$libc")" "is not a runs CUDA backend \\(no runs_cuda_plugin_v1\\)"
    fi
    RUNS_CUDA_LIB=$T/bogus.so CMOCKA_MESSAGE_OUTPUT=stdout "$P" >parity.txt 2>&1
    expect_eq "the parity test still passes (skipping) when the backend cannot load" "$?" 0
else
    echo "# SKIP: $P not built: the loader's reasons not checked"
fi
done_testing
