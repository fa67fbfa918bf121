#!/bin/sh
# Data-parallel training on the CUDA backend (NCCL all-reduce on device buffers,
# runner/dp_nccl.c, cuda/nccl_dist.cu) on the CPU emulation of the CUDA runtime and
# an emulated NCCL over MPI (tests/emu/plugin.sh builds both as the real plugin,
# loaded by build/runs through RUNS_CUDA_LIB). No GPU ran this: it checks the
# runner's protocol, the loader's and plugin's NCCL entries and the fold order, not
# NCCL or a GPU. Skips where the emulator cannot run (not x86-64, no perl), or
# without mpirun or a build with MPI.
#   - mpirun -np 2 x grad_accum 1 on --backend cuda equals 1 rank x grad_accum 2 on
#     the same emulated backend: losses and tensors bit for bit. Exact, not within a
#     tolerance: each rank's gradient is one micro-batch's, a + b is the same float
#     whichever rank adds it, and both divide the sum by 2 (the emulated device's
#     kernels run the same code on every rank);
#   - a 2-rank run stopped at step 2 and resumed on 2 ranks equals the straight one
#     (rank 0 hands weights, m, v, the adam step and the data cursors to rank 1);
#   - 2 ranks x grad_accum 2 (the host fold on each rank, then the all-reduce) against
#     1 rank x 4: losses within 1e-4 relative. Not exact: (g0+g2)+(g1+g3) is not
#     ((g0+g1)+g2)+g3 in floats; the difference is a few ulps of the gradient, and
#     over 4 tiny steps the losses move by far less than 1e-4;
#   - rank 1 without a device: the job fails with one line from rank 0 naming rank 1;
#   - a plugin built without NCCL: mpirun -np 2 --backend cuda fails with exactly one
#     line of runs' (rank 0's; the other rank stops quietly) saying NCCL was not found
#     at build time and what to do.
. "$(dirname "$0")/lib.sh"

checks="2 ranks x 1 = 1 rank x 2: losses bit for bit|2 ranks x 1 = 1 rank x 2: weights, m, v|resumed on 2 ranks = straight|rank 1 without a device|2 ranks x 2 ~ 1 rank x 4: losses within 1e-4|without NCCL: refused|without NCCL: one line naming NCCL and what to do"
why=""
if [ "$(uname -m)" != x86_64 ]; then why="the emulator's fast fiber switch is x86-64 only"
elif ! command -v perl >/dev/null; then why="no perl (the emulator's launch rewrite needs it)"
elif ! command -v mpirun >/dev/null 2>&1 || ! command -v mpicc >/dev/null 2>&1; then why="no mpirun/mpicc"
elif ! grep -q libruns-mpi.so "$RUNS"; then why="this build has no MPI (make deps && make)"
fi
if [ -n "$why" ]; then
    IFS='|'
    # shellcheck disable=SC2086 # split on |
    skip $checks
    done_testing
    exit
fi

B=${B:-$ROOT/build}
E="$B/emu-plugin"
out=$(B="$B" OUT="$E" "$ROOT/tests/emu/plugin.sh" 2>&1)
expect_match "the emulated CUDA plugins build (with and without NCCL)" "$out" '^plugin.sh: OK'

tiny_corpus 300 300 prose lists
for a in 1 2 4; do
    dp_tiny_config a$a.json $a
    # 4 steps, a node at 2 (the sample audit and the node run on the emulated device too)
    sed -i 's/"total_steps": 12/"total_steps": 4/; s/"every": 6, "tokens": 6/"every": 2, "tokens": 4/; s/"checkpoint": {"every": 6, "boundary": 3/"checkpoint": {"every": 2, "boundary": 1/' a$a.json
done
loss_of() { sed 's/.*"loss":\([^,]*\),.*/\1/' "$1"; }
tensors() { "$RUNS" show "$1" --json | tr -d ' \n' | grep -o '"sha256":"[0-9a-f]*"' | md5sum; }
mpi="mpirun --allow-run-as-root --oversubscribe -x OMP_NUM_THREADS=1 -x RUNS_STORE -x RUNS_CUDA_LIB"
export OMP_NUM_THREADS=1
export RUNS_CUDA_LIB="$E/libruns-cuda-nccl.so"
expect "init" "$RUNS" init
expect "1 rank x grad_accum 2 on the emulated CUDA backend" "$RUNS" start --config a2.json --backend cuda --name one --quiet
expect "mpirun -np 2 x grad_accum 1 on the emulated CUDA backend + NCCL" $mpi -np 2 "$RUNS" start --config a1.json \
    --backend cuda --name two --quiet
expect_eq "2 ranks x 1 = 1 rank x 2: losses bit for bit" "$(loss_of runs/two/.loss.json | md5sum)" "$(loss_of runs/one/.loss.json | md5sum)"
expect_eq "2 ranks x 1 = 1 rank x 2: weights, m, v" "$(tensors two)" "$(tensors one)"
expect_match "the 2-rank node records the global batch" "$("$RUNS" show two --json | tr -d ' \n')" '"batch_tokens":32'
expect "2 ranks stop at --steps 2" $mpi -np 2 "$RUNS" start --config a1.json --backend cuda --name split --steps 2 --quiet
expect "2 ranks resume (weights, m, v, adam step and cursors handed to rank 1)" $mpi -np 2 "$RUNS" resume --name split \
    --backend cuda --quiet
expect_eq "resumed on 2 ranks = straight: losses" "$(loss_of runs/split/.loss.json | md5sum)" "$(loss_of runs/two/.loss.json | md5sum)"
expect_eq "resumed on 2 ranks = straight: tensors" "$(tensors split)" "$(tensors two)"

expect "1 rank x grad_accum 4" "$RUNS" start --config a4.json --backend cuda --name four --quiet
expect "mpirun -np 2 x grad_accum 2" $mpi -np 2 "$RUNS" start --config a2.json --backend cuda --name twotwo --quiet
diff=$(paste -d' ' runs/twotwo/.loss.json runs/four/.loss.json |
    awk '{ a = $0; sub(/.*"loss":/, "", a); sub(/,.*/, "", a); b = $0; sub(/^.*\{"step".*\{"step"/, "", b);
           sub(/.*"loss":/, "", b); sub(/,.*/, "", b); d = (a - b) / b; if (d < 0) d = -d; if (d > m) m = d; n++ }
         END { if (n == 4 && m < 1e-4) print "close"; else print n " lines, max relative difference " m }')
expect_eq "2 ranks x 2 ~ 1 rank x 4: losses within 1e-4" "$diff" close

# rank 1 without a device (EMU_NO_DEVICE for it alone): rank 0 says which rank failed and
# why, in one line, and neither waits for the other
timeout 120 $mpi -np 1 "$RUNS" start --config a1.json --backend cuda --name nodev --quiet : \
    -np 1 -x EMU_NO_DEVICE=1 "$RUNS" start --config a1.json --backend cuda --name nodev --quiet >"$T/.out" 2>"$T/.err"
rc=$?
expect_eq "rank 1 without a device: the job fails (no hang)" "$([ $rc -ne 0 ] && [ $rc -ne 124 ] && echo failed)" failed
expect_eq "rank 1 without a device: one line from rank 0 naming rank 1 and the cause" \
    "$(grep -c '^runs start: rank 1: creating the model on the CUDA backend: .*no CUDA-capable device' "$T/.err") $(grep -c '^runs' "$T/.err")" "1 1"

export RUNS_CUDA_LIB="$E/libruns-cuda-nonccl.so"
$mpi -np 2 "$RUNS" start --config a1.json --backend cuda --name nonccl --quiet >"$T/.out" 2>"$T/.err"
rc=$?
expect "without NCCL: refused" test "$rc" -ne 0
# mpirun adds its own banner about the failed process; runs' lines start with "runs "
expect_eq "without NCCL: one line naming NCCL and what to do" \
    "$(grep -c '^runs start: 2 ranks on --backend cuda: .*needs NCCL, and libruns-cuda.so was built without it (nccl.h was not found at build time); install NCCL.*or use --backend cpu' "$T/.err") $(grep -c '^runs' "$T/.err")" "1 1"
done_testing
