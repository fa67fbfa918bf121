#!/bin/sh
# Resume on a different rank count: a node written by N ranks continues on M ranks with
# train.grad_accum scaled to keep the node's global batch, bit-identical on the CPU to
# the run that never changed its rank count (2 ranks -> 1, 1 -> 2, 3 ranks x 2 -> 2
# ranks x 3); a rank count that cannot share a step's micro-batches is refused with one
# line naming the counts that can, and the other ranks stop with rank 0 instead of
# waiting for it. Skips without MPI (build or mpirun).
. "$(dirname "$0")/lib.sh"

tiny_corpus 300 300 prose lists
for a in 1 2 6; do dp_tiny_config a$a.json $a; done
loss_of() { sed 's/.*"loss":\([^,]*\),.*/\1/' "$1"; }
tensors() { "$RUNS" show "$1" --json | tr -d ' \n' | grep -o '"sha256":"[0-9a-f]*"' | md5sum; }
mpi="mpirun --allow-run-as-root --oversubscribe"

why=$(mpi_why)
if [ -n "$why" ]; then
    skip "init" "1 x 2 straight" "1 x 6 straight" "2 x 1 to step 6" "2 -> 1 ranks" "2 -> 1 losses" "2 -> 1 tensors" \
        "2 -> 1 line" "1 x 2 to step 6" "1 -> 2 ranks" "1 -> 2 losses" "1 -> 2 tensors" "3 x 2 to step 6" \
        "4 ranks refused" "refusal line" "refusal leaves the tip" "3 -> 2 ranks" "3 -> 2 losses" "3 -> 2 tensors" \
        "3 -> 2 records grad_accum 3"
    done_testing
    exit
fi
expect "init" "$RUNS" init
expect "1 rank x 2, straight" "$RUNS" start --config a2.json --name base --quiet
expect "1 rank x 6, straight" "$RUNS" start --config a6.json --name six --quiet

# 2 ranks x 1 for 6 steps, then 1 rank: grad_accum becomes 2
expect "2 ranks x 1 stop at step 6" $mpi -np 2 "$RUNS" start --config a1.json --name down --steps 6 --quiet
"$RUNS" resume --name down >out.txt 2>err.txt; rc=$?
expect_eq "the 2-rank node resumes on 1 rank" "$rc" 0
expect_eq "2 -> 1 rank: losses bit for bit with the straight run" "$(loss_of runs/down/.loss.json | md5sum)" "$(loss_of runs/base/.loss.json | md5sum)"
expect_eq "2 -> 1 rank: weights, m, v" "$(tensors down)" "$(tensors base)"
expect_match "2 -> 1 rank: says how it keeps the batch" "$(cat err.txt)" 'resuming on 1 rank: train.grad_accum 1 -> 2 keeps the global batch of 32 tokens'

# 1 rank x 2 for 6 steps, then 2 ranks: grad_accum becomes 1
expect "1 rank x 2 stop at step 6" "$RUNS" start --config a2.json --name up --steps 6 --quiet
expect "the 1-rank node resumes on 2 ranks" $mpi -np 2 "$RUNS" resume --name up --quiet
expect_eq "1 -> 2 ranks: losses" "$(loss_of runs/up/.loss.json | md5sum)" "$(loss_of runs/base/.loss.json | md5sum)"
expect_eq "1 -> 2 ranks: weights, m, v" "$(tensors up)" "$(tensors base)"

# 3 ranks x 2 for 6 steps: 6 micro-batches a step do not split over 4 ranks (one line,
# from rank 0, and no hang), then 2 ranks x 3 continue
expect "3 ranks x 2 stop at step 6" $mpi -np 3 "$RUNS" start --config a2.json --name three --steps 6 --quiet
tip=$("$RUNS" log three --json | tr -d ' \n' | sed 's/^\[{[^}]*"step":\([0-9]*\).*/\1/')
timeout 120 $mpi -np 4 "$RUNS" resume --name three --quiet >out.txt 2>err.txt; rc=$?
expect_eq "4 ranks are refused (non-zero, no timeout)" "$([ $rc -ne 0 ] && [ $rc -ne 124 ] && echo refused)" refused
expect_eq "one line, from rank 0, names the rank counts that work" \
    "$(grep -c 'cannot keep the run.s global batch on 4 ranks: a step is 6 micro-batches.*-np one of 1, 2, 3, 6' err.txt)" 1
expect_eq "the refused resume left the tip at step 6" \
    "$("$RUNS" log three --json | tr -d ' \n' | sed 's/^\[{[^}]*"step":\([0-9]*\).*/\1/') $tip" "6 6"
expect "the 3-rank node resumes on 2 ranks" $mpi -np 2 "$RUNS" resume --name three --quiet
expect_eq "3 -> 2 ranks: losses = 1 rank x 6" "$(loss_of runs/three/.loss.json | md5sum)" "$(loss_of runs/six/.loss.json | md5sum)"
expect_eq "3 -> 2 ranks: weights, m, v" "$(tensors three)" "$(tensors six)"
expect_match "3 -> 2 ranks: the tip records grad_accum 3 and the same global batch" \
    "$("$RUNS" show three --json | tr -d ' \n')" '"batch_tokens":96.*"grad_accum":3'
done_testing
