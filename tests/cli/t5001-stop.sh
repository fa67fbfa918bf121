#!/bin/sh
# runs stop (SIGUSR2): checkpoint at the next checkpoint.boundary, then exit 0 with
# that node as the tip (the seed's pivot: "checkpoint at the next 100-step boundary,
# then stop"); runs status says the stop is pending and where it will land.
# Also: fork and restart say what they did with the bandit (kept from NODE, or fresh).
. "$(dirname "$0")/lib.sh"

tiny_corpus 300 400 prose
expect "tiny corpus encodes" test -s prose.tok

# no periodic checkpoints (every 0) and no sample audit: the only checkpoint node a
# running trainer makes is the one the stop asks for; a stop that did not wait for
# the boundary (SIGTERM's behaviour) lands off it and fails below
mk() { # mk NAME BOUNDARY
    cat >"$1.json" <<JSON
{"model": {"n_layer": 1, "n_head": 2, "n_embd": 16, "vocab_size": 300, "block_size": 16},
 "train": {"total_steps": 1000000, "batch_size": 2, "seq_len": 8, "seed": 3},
 "schedule": {"warmup_steps": 0},
 "data": {"tokenizer": "$T/tok.bin", "sources": {"prose": {"path": "$T/prose.tok"}}},
 "sampling": {"every": 0},
 "checkpoint": {"every": 0, "boundary": $2, "keep_last": 0, "keep_every": 0}}
JSON
}
logj() { "$RUNS" log "$@" --json | tr -d ' \t\n'; }
lines() { grep -c '' "$1" 2>/dev/null || echo 0; }
# waits for the trainer at most 60 s (a trainer that ignored the stop must fail the
# test, not hang it), then SIGKILLs it; sets rc to its exit code
wait_exit() { i=0; while [ $i -lt 1200 ] && kill -0 "$1" 2>/dev/null; do sleep 0.05; i=$((i + 1)); done
              kill -0 "$1" 2>/dev/null && kill -KILL "$1"; wait "$1"; rc=$?; }
wait_status() { i=0; while [ $i -lt 600 ] && [ ! -s "runs/$1/.status.json" ]; do sleep 0.05; i=$((i + 1)); done; }

expect "init" "$RUNS" init
expect_exit 1 "stopping a run that does not exist is one line, exit 1" "$RUNS" stop nosuch
expect_match "... naming the run, not suggesting to resume it" "$(cat "$T/.err")" "^runs stop: no run named 'nosuch'; .runs ls. lists the runs"
expect_exit 1 "runs checkpoint of a run that does not exist: the same line" "$RUNS" checkpoint nosuch
expect_match "... (it used to suggest \`runs resume nosuch\`)" "$(cat "$T/.err")" "^runs checkpoint: no run named 'nosuch'"
expect_exit 129 "two runs is a usage error" "$RUNS" stop a b
expect_exit 129 "an unknown option is a usage error" "$RUNS" stop --now
expect_match "--help" "$("$RUNS" stop --help)" '^usage: runs stop \[RUN\]'

# --- the stop lands on the first boundary after the signal, exit 0 ---------------
B=50
mk near $B
"$RUNS" start --config near.json --name near --quiet >near.out 2>near.err &
pid=$!
wait_status near
before=$(lines runs/near/.loss.json)
expect "runs stop signals the trainer" "$RUNS" stop near
after=$(lines runs/near/.loss.json)
wait_exit $pid
expect_eq "the trainer exits 0" "$rc" 0
expect_eq "... quietly (stderr empty)" "$(cat near.err)" ""
tip=$(logj near | sed 's/^\[{[^}]*"step":\([0-9]*\)[,}].*/\1/')
expect_match "the tip is a checkpoint" "$(logj near)" '^\[\{[^}]*"kind":"checkpoint"'
expect_eq "the tip is on a boundary" "$((tip % B))" 0
# the signal arrived when between $before and $after steps were done: the first
# boundary at or after that is the tip (no earlier one: it would be before the
# signal; no later one: the trainer would have skipped its boundary)
expect "the tip is not before the signal (tip $tip, $before steps done before it)" test "$tip" -ge "$before"
expect "the tip is the first boundary after it (tip $tip, $after steps done after it)" test "$((tip - B))" -lt "$after"
expect "the run stopped long before total_steps" test "$tip" -lt 1000000
expect_eq "checkpoint nodes: exactly the stop's" "$(logj near | grep -o '"kind":"checkpoint"' | grep -c '')" 1
expect_eq ".loss.json ends at the tip" "$(lines runs/near/.loss.json)" "$tip"
expect_match "status after the stop: not running, no stop pending" "$("$RUNS" status near)" "^near: not running, step $tip/1000000, [^,]*, [^,]*, [^,]*, [^,]* tok/s$"

# --- a pending stop shows in runs status -------------------------------------------
mk far 100000
# 200000 steps: a progress line every 5000 steps (total/40), the boundary far off
sed 's/"total_steps": 1000000/"total_steps": 200000/' far.json >far2.json
"$RUNS" start --config far2.json --name far >far.out 2>&1 &
pid=$!
wait_status far
expect_match "no stop pending before runs stop" "$("$RUNS" status far)" '^far: running, step [0-9]+/200000, [^,]*, [^,]*, [^,]*, [0-9]+ tok/s(, ETA [0-9]+m[0-9]+s)?$'
expect "runs stop (the current run)" "$RUNS" stop
i=0
while [ $i -lt 600 ] && ! grep -q '"stop_at"' runs/far/.status.json; do sleep 0.05; i=$((i + 1)); done
expect_match "runs status says a stop is pending, at the boundary" "$("$RUNS" status far)" \
    '^far: running, step [0-9]+/200000, .*, stop pending at step 100000$'
expect_match "runs status --json carries stop_at" "$("$RUNS" status far --json | tr -d ' \n')" '"stop_at":100000'
# let the trainer pass its next progress line (stdout is a file: read it after exit)
s0=$("$RUNS" status far --json | tr -d ' \n' | sed 's/.*"step":\([0-9]*\).*/\1/')
i=0
while [ $i -lt 1200 ] && [ "$("$RUNS" status far --json | tr -d ' \n' | sed 's/.*"step":\([0-9]*\).*/\1/')" -lt $((s0 + 5000)) ]; do
    sleep 0.05; i=$((i + 1)); done
expect "the trainer is still running (the boundary is far)" kill -0 $pid
kill -TERM $pid; wait $pid; rc=$?
expect_eq "SIGTERM still stops it at once, exit 0" "$rc" 0
expect_match "the progress line says the stop is pending" "$(cat far.out)" \
    '^step +[0-9]+/200000  loss .* tok/s  \(stop pending at step 100000\)$'
expect "... with a checkpoint off the boundary" test "$(logj far | sed 's/^\[{[^}]*"step":\([0-9]*\)[,}].*/\1/')" -lt 100000

# --- fork and restart say what they do with the bandit ----------------------------
pulls() { "$RUNS" show "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["bandit"]["total_pulls"])'; }
expect "the stopped run's bandit has pulls" test "$(pulls near)" -gt 0
out=$("$RUNS" restart near --peak-lr 1e-3 --name rk --keep-bandit --no-train)
expect_match "restart --keep-bandit: 'bandit: kept (from NODE)'" "$out" '^bandit: kept \(from near\)$'
expect_eq "... and the restart node holds NODE's bandit state" "$(pulls rk)" "$(pulls near)"
out=$("$RUNS" restart near --peak-lr 1e-3 --name rf --no-train)
expect_match "restart without it: 'bandit: fresh'" "$out" '^bandit: fresh$'
expect_eq "... and the restart node's bandit has no pulls" "$(pulls rf)" 0
printf '{"optimizer": {"lr": 1e-3}}\n' >p.json
out=$("$RUNS" fork near --config p.json --name fk --keep-bandit --no-train)
expect_match "fork --keep-bandit: 'bandit: kept (from NODE)'" "$out" '^bandit: kept \(from near\)$'
expect_eq "... state kept" "$(pulls fk)" "$(pulls near)"
out=$("$RUNS" fork near --config p.json --name ff --no-train)
expect_match "fork without it: 'bandit: fresh'" "$out" '^bandit: fresh$'
expect_eq "... state fresh" "$(pulls ff)" 0
expect_match "restart --help names --keep-bandit" "$("$RUNS" restart --help)" 'keep-bandit'
done_testing
