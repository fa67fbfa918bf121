#!/bin/sh
# Data-parallel training under mpirun. In a build with MPI: N ranks x grad_accum A give
# bit-identical losses and tensors to 1 rank x grad_accum N*A (N = 2 and 3, with
# --oversubscribe), the node records the global batch, and a 2-rank run stopped and
# resumed on 2 ranks equals the straight one. In a build without MPI: every rank
# refuses with one line before touching the store (the launcher is seen through
# OMPI_COMM_WORLD_SIZE / PMI_SIZE, set by hand here). mpirun checks skip without mpirun.
. "$(dirname "$0")/lib.sh"

tiny_corpus 300 300 prose lists
for a in 1 2 6; do dp_tiny_config a$a.json $a; done
echo '{"optimizer": {"lr": 1e-3}}' >patch.json
loss_of() { sed 's/.*"loss":\([^,]*\),.*/\1/' "$1"; }
tensors() { "$RUNS" show "$1" --json | tr -d ' \n' | grep -o '"sha256":"[0-9a-f]*"' | md5sum; }
expect "init" "$RUNS" init
expect "a one-process run to compare with" "$RUNS" start --config a2.json --name base --quiet
has_mpi=0
grep -q libruns-mpi.so "$RUNS" && has_mpi=1
mpi="mpirun --allow-run-as-root --oversubscribe"

if [ $has_mpi = 0 ]; then
    refused='launched as 2 processes \(mpirun/srun\), but this build trains on one process only \(built without MPI\)'
    for cmd in "start --config a1.json --name two" "resume --name base" "fork base --config patch.json --name two" \
               "restart base --peak-lr 1e-3 --name two"; do
        verb=${cmd%% *}
        expect_exit 1 "$verb under OMPI_COMM_WORLD_SIZE=2 refuses with one line" env OMPI_COMM_WORLD_SIZE=2 "$RUNS" $cmd --quiet
        expect_match "$verb: the line says why and what to do" "$(cat "$T/.err")" "$refused.*make deps"
    done
    expect_exit 1 "PMI_SIZE=2 (srun, MPICH) refuses too" env PMI_SIZE=2 "$RUNS" start --config a1.json --name two --quiet
    expect "nothing of run 'two' reached the store" test ! -e runs/two
    expect "OMPI_COMM_WORLD_SIZE=1 trains" env OMPI_COMM_WORLD_SIZE=1 "$RUNS" start --config a1.json --name one --quiet
    if command -v mpirun >/dev/null 2>&1; then
        mout=$($mpi -np 2 "$RUNS" start --config a1.json --name np2 --quiet 2>&1); rc=$?
        expect "mpirun -np 2 fails" test "$rc" -ne 0
        expect_eq "each of the 2 ranks says why" "$(printf '%s\n' "$mout" | grep -cE "$refused")" 2
        expect "mpirun -np 2 left no run behind" test ! -e runs/np2
    else
        why="no mpirun"; skip "mpirun -np 2 fails" "each of the 2 ranks says why" "mpirun -np 2 left no run behind"
    fi
elif command -v mpirun >/dev/null 2>&1; then
    expect "mpirun -np 2, grad_accum 1" $mpi -np 2 "$RUNS" start --config a1.json --name np2 --quiet
    expect_eq "2 ranks x 1 = 1 rank x 2: losses bit for bit" "$(loss_of runs/np2/.loss.json | md5sum)" "$(loss_of runs/base/.loss.json | md5sum)"
    expect_eq "2 ranks x 1 = 1 rank x 2: weights, m, v" "$(tensors np2)" "$(tensors base)"
    expect_match "the node records the global batch" "$("$RUNS" show np2 --json | tr -d ' \n')" '"batch_tokens":32'
    expect "one rank, grad_accum 6" "$RUNS" start --config a6.json --name six --quiet
    out=$($mpi -np 3 "$RUNS" start --config a2.json --name np3 2>&1)
    expect_match "3 ranks: the training line counts them" "$out" 'batch 2 x 8 x 2 micro-steps x 3 ranks = 96 tokens a step'
    expect_eq "3 ranks x 2 = 1 rank x 6: losses bit for bit" "$(loss_of runs/np3/.loss.json | md5sum)" "$(loss_of runs/six/.loss.json | md5sum)"
    expect_eq "3 ranks x 2 = 1 rank x 6: weights, m, v" "$(tensors np3)" "$(tensors six)"
    expect "2 ranks stop at --steps 6" $mpi -np 2 "$RUNS" start --config a1.json --name split --steps 6 --quiet
    expect "2 ranks resume" $mpi -np 2 "$RUNS" resume --name split --quiet
    expect_eq "resumed on 2 ranks = straight: losses" "$(loss_of runs/split/.loss.json | md5sum)" "$(loss_of runs/base/.loss.json | md5sum)"
    expect_eq "resumed on 2 ranks = straight: tensors" "$(tensors split)" "$(tensors base)"
    # a non-finite loss on 2 ranks: rank 0 halts, the other rank stops with it (no hang)
    sed 's/"schedule": {"warmup_steps": 2}/"optimizer": {"lr": 10, "weight_decay": 10}, "schedule": {"type": "constant", "warmup_steps": 0}/' a1.json >nan1.json
    sed 's/"schedule": {"warmup_steps": 2}/"optimizer": {"lr": 10, "weight_decay": 10}, "schedule": {"type": "constant", "warmup_steps": 0}/' a2.json >nan2.json
    sed -i 's/"total_steps": 12/"total_steps": 60/' nan1.json nan2.json
    timeout 120 $mpi -np 2 "$RUNS" start --config nan1.json --name nanp --quiet >/dev/null 2>&1; rc=$?
    expect_eq "2 ranks: the divergence gate halts the job (non-zero, no timeout)" "$([ $rc -ne 0 ] && [ $rc -ne 124 ] && echo halted)" halted
    "$RUNS" start --config nan2.json --name nan1 --quiet >/dev/null 2>&1
    expect "the halt comes where 1 rank x 2 halts" test -s runs/nanp/.loss.json -a "$(loss_of runs/nanp/.loss.json | md5sum)" = "$(loss_of runs/nan1/.loss.json | md5sum)"
else
    why="no mpirun"; skip "mpirun -np 2" "2 = 1 x 2 losses" "2 = 1 x 2 tensors" "batch_tokens" "grad_accum 6" \
        "3 ranks line" "3 = 1 x 6 losses" "3 = 1 x 6 tensors" "stop" "resume" "resumed losses" "resumed tensors" \
        "2 ranks halt" "halt where 1 x 2 halts"
fi
done_testing
