#!/bin/sh
# Launched as several processes (mpirun -np N, srun): this build trains on one
# process only, so every rank refuses with one line before touching the store;
# mpirun -np 1 trains as usual. The launcher is seen through its environment
# (OMPI_COMM_WORLD_SIZE, PMI_SIZE), which the first checks set by hand; the mpirun
# checks skip where mpirun is absent.
. "$(dirname "$0")/lib.sh"

awk 'BEGIN { srand(1); split("the cat sat on a mat while dogs ran over hills and rivers", w, " ");
             for (i = 0; i < 300; i++) { s = ""; for (j = 0; j < 12; j++) s = s w[int(rand() * 14) + 1] " "; print s "." } }' >prose.txt
"$RUNS" tokenizer train --vocab-size 300 --out tok.bin prose.txt >/dev/null 2>&1
"$RUNS" tokenizer encode --tokenizer tok.bin --out prose.tok prose.txt >/dev/null 2>&1
cat >tiny.json <<JSON
{"model": {"n_layer": 1, "n_head": 2, "n_embd": 16, "vocab_size": 300, "block_size": 16},
 "train": {"total_steps": 6, "batch_size": 2, "seq_len": 8, "seed": 3},
 "schedule": {"warmup_steps": 2},
 "data": {"tokenizer": "$T/tok.bin", "sources": {"prose": {"path": "$T/prose.tok"}}},
 "sampling": {"every": 0}, "eval": {"every": 0},
 "checkpoint": {"every": 3, "boundary": 3, "keep_last": 0, "keep_every": 0}}
JSON
echo '{"optimizer": {"lr": 1e-3}}' >patch.json
expect "init" "$RUNS" init
expect "a one-process run to branch from" "$RUNS" start --config tiny.json --name base --quiet

refused='launched as 2 processes \(mpirun/srun\), but this build trains on one process only'
for cmd in "start --config tiny.json --name two" "resume --name base" "fork base --config patch.json --name two" \
           "restart base --peak-lr 1e-3 --name two"; do
    verb=${cmd%% *}
    expect_exit 1 "$verb under OMPI_COMM_WORLD_SIZE=2 refuses with one line" env OMPI_COMM_WORLD_SIZE=2 "$RUNS" $cmd --quiet
    expect_match "$verb: the line says why and what to do" "$(cat "$T/.err")" "$refused.*run without mpirun"
done
expect_exit 1 "PMI_SIZE=2 (srun, MPICH) refuses too" env PMI_SIZE=2 "$RUNS" start --config tiny.json --name two --quiet
expect "nothing of run 'two' reached the store" test ! -e runs/two
expect_eq "base still has its 6 steps" "$(grep -c '' runs/base/.loss.json)" 6
expect "OMPI_COMM_WORLD_SIZE=1 trains" env OMPI_COMM_WORLD_SIZE=1 "$RUNS" start --config tiny.json --name one --quiet

if command -v mpirun >/dev/null 2>&1; then
    mpi="mpirun --allow-run-as-root --oversubscribe"
    expect "mpirun -np 1 trains" $mpi -np 1 "$RUNS" start --config tiny.json --name np1 --quiet
    expect_eq "mpirun -np 1: 6 loss lines" "$(grep -c '' runs/np1/.loss.json 2>/dev/null)" 6
    mout=$($mpi -np 2 "$RUNS" start --config tiny.json --name np2 --quiet 2>&1); rc=$?
    expect "mpirun -np 2 fails" test "$rc" -ne 0
    expect_eq "each of the 2 ranks says why" "$(printf '%s\n' "$mout" | grep -cE "$refused")" 2
    expect "mpirun -np 2 left no run behind" test ! -e runs/np2
else
    for d in "mpirun -np 1 trains" "mpirun -np 1: 6 loss lines" "mpirun -np 2 fails" "each of the 2 ranks says why" \
             "mpirun -np 2 left no run behind"; do
        n=$((n + 1)); echo "ok $n - $d # SKIP no mpirun"
    done
fi
done_testing
