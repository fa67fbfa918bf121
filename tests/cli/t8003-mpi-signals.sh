#!/bin/sh
# Signals and failures of a 2-rank job. Checkpoints come only from signals here
# (checkpoint.every 0, boundary 7): `runs checkpoint` (SIGUSR1 to rank 0) and SIGUSR1 to
# rank 1 alone each put a checkpoint at a 7-step boundary mid-run; `runs status` shows
# 2 ranks with per-rank tokens/s (rank 0 gathers them; the pids come from it too);
# SIGTERM to rank 1 alone stops the whole job cleanly (exit 0, a checkpoint at the
# step the loss log ends on); `runs stop` (SIGUSR2) stops a resumed job at a boundary.
# SIGKILL to rank 1 while training (after a periodic node, checkpoint.every 50) ends
# the job without a partial node: the tip is that earlier node, verify passes, and a
# 2-rank resume continues from it bit for bit with a run that never stopped.
# Skips without MPI.
. "$(dirname "$0")/lib.sh"

tiny_corpus 300 300 prose lists
cfg() { # cfg FILE GRAD_ACCUM EVERY BOUNDARY: a run far longer than the test lets it go
    cat >"$1" <<JSON
{"model": {"n_layer": 1, "n_head": 2, "n_embd": 16, "vocab_size": 300, "block_size": 16},
 "train": {"total_steps": 1000000, "batch_size": 2, "seq_len": 8, "seed": 3, "grad_accum": $2},
 "optimizer": {"lr": 1e-4}, "schedule": {"warmup_steps": 2}, "gate": {"loss_spike_steps": 0},
 "data": {"tokenizer": "$T/tok.bin", "sources": {"prose": {"path": "$T/prose.tok"}, "lists": {"path": "$T/lists.tok"}}},
 "bandit": {"pull_min": 2, "pull_max": 3}, "sampling": {"every": 0}, "eval": {"every": 0},
 "checkpoint": {"every": $3, "boundary": $4, "keep_last": 0, "keep_every": 0}}
JSON
}
cfg sig.json 1 0 7
cfg kill.json 1 50 1
cfg kill2.json 2 50 1
mpi="timeout 300 mpirun --allow-run-as-root --oversubscribe"
why=$(mpi_why)
if [ -n "$why" ]; then
    skip "init" "2 ranks train" "status: 2 ranks" "status json" "runs checkpoint" "a checkpoint lands" \
        "at a boundary, mid-run" "USR1 to rank 1" "reaches rank 0" "TERM to rank 1" "the job stops cleanly" \
        "stop checkpoint at the log's end" "verify" "resumed on 2 ranks" "runs stop" "stop at a boundary" \
        "kill: node before" "SIGKILL to rank 1" "kill: job ends" "kill: not cleanly" "kill: tip" "kill: verify" \
        "kill: resume" "kill: unbroken log" "kill: straight run" "kill: bits"
    done_testing
    exit
fi
# wait_until CMD...: polls CMD every 0.2 s for up to 2 minutes (no timing is asserted)
wait_until() { i=0; while ! "$@" >/dev/null 2>&1; do i=$((i + 1)); [ $i -ge 600 ] && return 1; sleep 0.2; done; }
lines() { grep -c '' "$1" 2>/dev/null || echo 0; }
has_lines() { [ "$(lines "$1")" -ge "$2" ]; }
ckpts() { "$RUNS" log "$1" --json | tr -d ' \n' | grep -o '"kind":"checkpoint"[^}]*"step":[0-9]*' | sed 's/.*"step"://'; }
has_ckpts() { [ "$(ckpts "$1" | grep -c '')" -ge "$2" ]; }
tip_step() { "$RUNS" log "$1" --json | tr -d ' \n' | sed 's/^\[{[^}]*"step":\([0-9]*\).*/\1/'; }
tip_kind() { "$RUNS" log "$1" --json | tr -d ' \n' | sed 's/^\[{[^}]*"kind":"\([a-z]*\)".*/\1/'; }
rank1() { tr -d ' \n' <runs/$1/.ranks.json | sed 's/.*"rank":1,"pid":\([0-9]*\).*/\1/'; }
loss_of() { sed 's/.*"loss":\([^,]*\),.*/\1/' "$1"; }

expect "init" "$RUNS" init
($mpi -np 2 "$RUNS" start --config sig.json --name sig --quiet >sig.out 2>&1; echo $? >sig.rc) &
expect "2 ranks train (the loss log shows steps)" wait_until has_lines runs/sig/.loss.json 20
wait_until test -s runs/sig/.ranks.json
st=$("$RUNS" status sig 2>&1)
expect_match "runs status: 2 ranks, tokens/s of each" "$st" 'ranks: 2, [1-9][0-9]* tok/s in all \(rank 0 [1-9][0-9]* tok/s, busy [0-9]+%; rank 1 [1-9][0-9]* tok/s.*\), all-reduce [0-9]+% of the step'
expect_match "runs status --json: per_rank from rank 0" "$("$RUNS" status sig --json)" '"per_rank":\[\{"busy":[0-9.]+,"host":"[^"]+","pid":[0-9]+,"rank":0,"tokens_per_s":[1-9]'
expect "runs checkpoint (SIGUSR1 to rank 0)" "$RUNS" checkpoint sig
expect "a checkpoint lands" wait_until has_ckpts sig 1
s1=$(ckpts sig | head -1)
expect_eq "mid-run, at a 7-step boundary (no periodic checkpoints here)" "$([ "$s1" -gt 0 ] && [ $((s1 % 7)) -eq 0 ] && echo yes)" yes
r1=$(rank1 sig)
expect "SIGUSR1 to rank 1 alone" kill -USR1 "$r1"
expect "reaches rank 0: a second checkpoint lands" wait_until has_ckpts sig 2
expect "SIGTERM to rank 1 alone" kill -TERM "$r1"
wait_until test -s sig.rc
expect_eq "the whole job stops cleanly (exit 0)" "$(cat sig.rc)" 0
expect_eq "its checkpoint is at the step the loss log ends on" "$(tip_kind sig) $(tip_step sig)" "checkpoint $(lines runs/sig/.loss.json)"
expect "verify passes" "$RUNS" verify
rm -f sig.rc
($mpi -np 2 "$RUNS" resume --name sig --quiet >sig.out 2>&1; echo $? >sig.rc) &
before=$(tip_step sig)
expect "resumed on 2 ranks" wait_until has_lines runs/sig/.loss.json $((before + 20))
expect "runs stop (SIGUSR2 to rank 0)" "$RUNS" stop sig
wait_until test -s sig.rc
expect_eq "runs stop: the job exits 0 at a 7-step boundary checkpoint" \
    "$(cat sig.rc) $(tip_kind sig) $(($(tip_step sig) % 7))" "0 checkpoint 0"

# SIGKILL to rank 1 mid-run
($mpi -np 2 "$RUNS" start --config kill.json --name kill --quiet >kill.out 2>&1; echo $? >kill.rc) &
expect "a periodic node lands before the kill" wait_until has_ckpts kill 1
wait_until test -s runs/kill/.ranks.json
had=$(tip_step kill)
expect "SIGKILL to rank 1" kill -KILL "$(rank1 kill)"
expect "the job ends" wait_until test -s kill.rc
expect_eq "not cleanly" "$([ "$(cat kill.rc)" -ne 0 ] && [ "$(cat kill.rc)" -ne 124 ] && echo failed)" failed
tip=$(tip_step kill)
expect_eq "the tip is a whole periodic node from before the kill (no partial node)" \
    "$(tip_kind kill) $([ "$tip" -ge "$had" ] && [ $((tip % 50)) -eq 0 ] && echo periodic)" "checkpoint periodic"
expect "verify passes after the kill" "$RUNS" verify
stop=$((tip + 9))
expect "2 ranks resume from the tip" $mpi -np 2 "$RUNS" resume --name kill --steps $stop --quiet
expect_eq "the resumed log is unbroken up to --steps" "$(lines runs/kill/.loss.json)" "$stop"
expect "one rank x 2, never stopped" "$RUNS" start --config kill2.json --name straight --steps $stop --quiet
expect_eq "killed and resumed = never stopped: losses bit for bit" \
    "$(loss_of runs/kill/.loss.json | md5sum)" "$(loss_of runs/straight/.loss.json | md5sum)"
done_testing
