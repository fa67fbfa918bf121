#!/bin/sh
# ZeRO-1 under mpirun: each rank holds AdamW m and v of its own tensors only. Rank 0's
# .ranks.json reports the optimizer floats each rank holds (adam_floats, by rank): each
# fewer than 2·n, their sum exactly 2·n (n = the model's parameters, from the node),
# on 2 ranks and on 3; each tensor's weights, m and v objects are written by one rank
# (its owner, from its own memory); the runs stay bit-identical to 1 rank x N·A; and a
# 2-rank node resumes on 1 rank to the straight run's bits. Skips without MPI.
. "$(dirname "$0")/lib.sh"

tiny_corpus 300 300 prose lists
for a in 1 2 6; do dp_tiny_config a$a.json $a; done
loss_of() { sed 's/.*"loss":\([^,]*\),.*/\1/' "$1"; }
norm_of() { sed 's/.*"grad_norm":\([^,]*\),.*/\1/' "$1"; }
tensors() { "$RUNS" show "$1" --json | tr -d ' \n' | grep -o '"sha256":"[0-9a-f]*"' | md5sum; }
# n: the floats of the node's adam_m objects (one per parameter)
params() {
    "$RUNS" show "$1" --json | tr -d ' \n' | grep -o '{[^{}]*"group":"adam_m"[^{}]*}' |
        sed 's/.*"bytes":\([0-9]*\).*/\1/' | awk '{s += $1} END {print s / 4}'
}
# the adam_floats array of a run's .ranks.json, one number a line
adam_floats() { tr -d ' \n' <"runs/$1/.ranks.json" | sed -n 's/.*"adam_floats":\[\([0-9,]*\)\].*/\1/p' | tr ',' '\n'; }
# "ok" when every tensor's three objects (weights, m, v) name the same writer rank
one_writer() {
    "$RUNS" show "$1" --json | tr -d ' \n' | sed -n 's/.*"shards":{[^}]*"rank":\[\([0-9,]*\)\].*/\1/p' | tr ',' '\n' |
        awk '{r[NR] = $1} END {t = NR / 3; for (i = 1; i <= t; i++) if (r[i] != r[i + t] || r[i] != r[i + 2 * t]) bad = 1;
             print (NR > 0 && NR % 3 == 0 && !bad) ? "ok" : "mixed"}'
}
mpi="mpirun --allow-run-as-root --oversubscribe"

why=$(mpi_why)
if [ -n "$why" ]; then
    skip "init" "1 x 2" "1 x 6" \
        "2 x 1" "2 ranks report" "2: each < 2n" "2: sum 2n" "2: one writer" "2: losses" "2: norms" "2: tensors" \
        "3 x 2" "3 ranks report" "3: each < 2n" "3: sum 2n" "3: one writer" "3: losses" "3: norms" "3: tensors" \
        "2 x 1 to step 6" "resume on 1 rank" "resumed losses" "resumed tensors" "nan halts" "halt node" \
        "halt node one writer"
    done_testing
    exit
fi
expect "init" "$RUNS" init
expect "1 rank x 2" "$RUNS" start --config a2.json --name base --quiet
expect "1 rank x 6" "$RUNS" start --config a6.json --name six --quiet
np=$(params base)
for N in 2 3; do
    if [ $N = 2 ]; then cfg=a1.json ref=base; else cfg=a2.json ref=six; fi
    expect "mpirun -np $N, $cfg" $mpi -np $N "$RUNS" start --config $cfg --name z$N --quiet
    expect_eq "$N ranks: .ranks.json has adam_floats for each rank" "$(adam_floats z$N | grep -c .)" $N
    expect_eq "$N ranks: each holds fewer than 2n = $((2 * np)) optimizer floats" \
        "$(adam_floats z$N | awk -v t=$((2 * np)) -v N=$N '$1 >= t || $1 <= 0 {bad = 1} END {print bad || NR != N ? "no" : "yes"}')" yes
    expect_eq "$N ranks: together exactly 2n" "$(adam_floats z$N | awk '{s += $1} END {print s}')" $((2 * np))
    expect_eq "$N ranks: a tensor's weights, m and v come from one rank" "$(one_writer z$N)" ok
    expect_eq "$N ranks = 1 rank ($ref): losses bit for bit" \
        "$(loss_of runs/z$N/.loss.json | md5sum)" "$(loss_of runs/$ref/.loss.json | md5sum)"
    expect_eq "$N ranks = 1 rank ($ref): logged grad norms (rank 0's global norm)" \
        "$(norm_of runs/z$N/.loss.json | md5sum)" "$(norm_of runs/$ref/.loss.json | md5sum)"
    expect_eq "$N ranks = 1 rank ($ref): weights, m, v" "$(tensors z$N)" "$(tensors $ref)"
done
expect "2 ranks stop at --steps 6" $mpi -np 2 "$RUNS" start --config a1.json --name split --steps 6 --quiet
expect "the 2-rank node resumes on 1 rank" "$RUNS" resume --name split --quiet
expect_eq "resumed on 1 rank = straight: losses" "$(loss_of runs/split/.loss.json | md5sum)" "$(loss_of runs/base/.loss.json | md5sum)"
expect_eq "resumed on 1 rank = straight: tensors" "$(tensors split)" "$(tensors base)"
# a non-finite loss: rank 0 lacks the others' m and v, so the ranks keep following until
# the halt node is written by all of them, then stop
sed 's/"schedule": {"warmup_steps": 2}/"optimizer": {"lr": 10, "weight_decay": 10}, "schedule": {"type": "constant", "warmup_steps": 0}/; s/"total_steps": 12/"total_steps": 60/' a1.json >nan1.json
timeout 120 $mpi -np 2 "$RUNS" start --config nan1.json --name nanp --quiet >/dev/null 2>&1; rc=$?
expect_eq "2 ranks: a non-finite loss halts the job (non-zero, no timeout)" "$([ $rc -ne 0 ] && [ $rc -ne 124 ] && echo halted)" halted
expect_match "the halt node is written by both ranks" "$("$RUNS" show nanp --json | tr -d ' \n')" '"kind":"halt".*"shards":{[^}]*"ranks":2|"shards":{[^}]*"ranks":2.*"kind":"halt"'
expect_eq "the halt node: a tensor's weights, m and v come from one rank" "$(one_writer nanp)" ok
done_testing
