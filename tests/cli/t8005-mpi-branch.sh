#!/bin/sh
# fork and restart on another rank count than the node's keep its global batch as resume
# does (issue 14): a 2-rank node forked on 1 rank with no patch scales train.grad_accum
# 1 -> 2 and continues bit-identically to the run that never changed its rank count; a
# restart does the same; a patch that sets the batch wins (no scaling); a rank count that
# cannot share a step's micro-batches is refused with one line and no run; under mpirun
# only rank 0 prints (--quiet: the new run's name once). Skips without MPI.
. "$(dirname "$0")/lib.sh"

tiny_corpus 300 300 prose lists
for a in 1 2; do dp_tiny_config a$a.json $a; done
loss_of() { sed 's/.*"loss":\([^,]*\),.*/\1/' "$1"; }
tensors() { "$RUNS" show "$1" --json | tr -d ' \n' | grep -o '"sha256":"[0-9a-f]*"' | md5sum; }
tip_json() { "$RUNS" show "$1" --json | tr -d ' \n'; }
mpi="mpirun --allow-run-as-root --oversubscribe"

why=$(mpi_why)
if [ -n "$why" ]; then
    skip "init" "1 x 2 straight" "2 x 1 to step 6" "fork 2 -> 1" "fork says it" "fork losses" "fork tensors" \
        "fork records grad_accum 2" "restart 2 -> 1" "restart says it" "restart records grad_accum 2" \
        "patch wins" "patch: no scaling line" "3 ranks refused" "refusal line" "no run made" "quiet name once" \
        "quiet: nothing else"
    done_testing
    exit
fi
expect "init" "$RUNS" init
expect "1 rank x 2, straight" "$RUNS" start --config a2.json --name base --quiet
expect "2 ranks x 1 stop at step 6" $mpi -np 2 "$RUNS" start --config a1.json --name two --steps 6 --quiet

# the 2-rank node forked on 1 rank, no patch: grad_accum 1 -> 2, the same bits as base
"$RUNS" fork two@step_6 --name f1 --keep-bandit >out.txt 2>err.txt; rc=$?
expect_eq "the 2-rank node forks on 1 rank" "$rc" 0
expect_match "fork 2 -> 1 rank: says how it keeps the batch" "$(cat err.txt)" \
    'forking on 1 rank: train.grad_accum 1 -> 2 keeps the global batch of 32 tokens'
expect_eq "fork 2 -> 1 rank: losses bit for bit with the 1 x 2 run" \
    "$(loss_of runs/f1/.loss.json | md5sum)" "$(loss_of runs/base/.loss.json | md5sum)"
expect_eq "fork 2 -> 1 rank: weights, m, v" "$(tensors f1)" "$(tensors base)"
expect_match "fork 2 -> 1 rank: the tip records grad_accum 2 and the same global batch" "$(tip_json f1)" \
    '"batch_tokens":32.*"grad_accum":2'

# a restart goes the same way (no training: the node is what it records)
"$RUNS" restart two@step_6 --peak-lr 0.001 --name r1 --no-train >out.txt 2>err.txt; rc=$?
expect_eq "the 2-rank node restarts on 1 rank" "$rc" 0
expect_match "restart 2 -> 1 rank: says how it keeps the batch" "$(cat err.txt)" \
    'restarting on 1 rank: train.grad_accum 1 -> 2 keeps the global batch of 32 tokens'
expect_match "restart 2 -> 1 rank: the restart node records grad_accum 2" "$(tip_json r1)" '"grad_accum":2'

# a patch that sets the batch is the fork's contract: nothing is scaled
"$RUNS" fork two@step_6 -S train.batch_size=4 --name p1 --no-train >out.txt 2>err.txt; rc=$?
expect_match "a patched batch wins: batch 4 x 8 x grad_accum 1 on 1 rank" "$rc $(tip_json p1)" \
    '^0 .*"batch_tokens":32.*"batch_size":4,.*"grad_accum":1,'
expect_eq "a patched batch wins: no scaling line" "$(grep -c 'grad_accum' err.txt)" 0

# 2 micro-batches a step do not split over 3 ranks: one line, from rank 0, no run
timeout 120 $mpi -np 3 "$RUNS" fork two@step_6 --name f3 --quiet >out.txt 2>err.txt; rc=$?
expect_eq "3 ranks are refused (non-zero, no timeout)" "$([ $rc -ne 0 ] && [ $rc -ne 124 ] && echo refused)" refused
expect_eq "one line names the rank counts that work" \
    "$(grep -c 'cannot keep the run.s global batch on 3 ranks: a step is 2 micro-batches.*-np one of 1, 2' err.txt)" 1
expect_eq "the refused fork made no run" "$("$RUNS" log f3 >/dev/null 2>&1 && echo made || echo none)" none

# under mpirun only rank 0 speaks: --quiet prints the new run's name once
$mpi -np 2 "$RUNS" fork two@step_6 --name q --quiet --no-train >out.txt 2>err.txt; rc=$?
expect_eq "mpirun fork --quiet prints the name once" "$rc $(cat out.txt)" "0 q"
expect_eq "mpirun fork --quiet: nothing on stderr" "$(cat err.txt)" ""
done_testing
