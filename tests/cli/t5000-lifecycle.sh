#!/bin/sh
# Run lifecycle end to end on a tiny model: start, checkpoints, bit-exact resume
# (also after SIGKILL), fork (polish pivot) with an unbroken .loss.json, the zombie
# arm across a fork, shape-changing patches refused, warm restart, the coherence
# gate's halt, one trainer per run, status and SIGUSR1 checkpoints.
. "$(dirname "$0")/lib.sh"

# --- a tiny corpus: three sources, one tokenizer --------------------------------
tiny_corpus 320 400 prose chat lists
expect "tiny corpus encodes" test -s prose.tok -a -s chat.tok -a -s lists.tok

cat >tiny.json <<JSON
{"model": {"n_layer": 2, "n_head": 2, "n_embd": 32, "vocab_size": 320, "block_size": 32},
 "train": {"total_steps": 60, "batch_size": 4, "seq_len": 16, "seed": 7},
 "optimizer": {"lr": 3e-3},
 "schedule": {"type": "cosine", "warmup_steps": 10},
 "data": {"tokenizer": "$T/tok.bin",
          "sources": {"prose": {"path": "$T/prose.tok"}, "chat": {"path": "$T/chat.tok"},
                      "lists": {"path": "$T/lists.tok", "cap": 0.5}}},
 "bandit": {"pull_min": 2, "pull_max": 5},
 "sampling": {"every": 20, "tokens": 12, "prompts": ["the cat", "what is"]},
 "gate": {"threshold": 0, "patience": 3},
 "checkpoint": {"every": 20, "boundary": 10, "keep_last": 0, "keep_every": 0}}
JSON

logj() { "$RUNS" log "$@" --json | tr -d ' \t\n'; }      # compact JSON, whatever the printer's layout
showj() { "$RUNS" show "$@" --json | tr -d ' \t\n'; }
loss_of() { sed 's/.*"loss":\([^,]*\),.*/\1/' "$1"; }      # the loss column of a .loss.json
steps_of() { sed 's/.*"step":\([0-9]*\),.*/\1/' "$1"; }   # the step column
contiguous() { # 0..N-1 with neither gap nor repeat
    steps_of "$1" | awk '$1 != NR - 1 { bad = 1 } END { exit bad }'
}

expect "init" "$RUNS" init
# --- start, straight through ---------------------------------------------------
expect "start trains to the end" "$RUNS" start --config tiny.json --name straight --quiet
expect_eq "60 loss lines" "$(grep -c '' runs/straight/.loss.json)" 60
expect "steps contiguous" contiguous runs/straight/.loss.json
expect_eq "nodes: start + 3 checkpoints" "$(logj straight | grep -o '"kind":"[a-z]*"' | sort | uniq -c | tr -s ' ' | tr '\n' ';')" \
    ' 3 "kind":"checkpoint"; 1 "kind":"start";'
expect_match "samples written with scores" "$(head -1 runs/straight/.samples.json)" '"score":'
expect_match "status after the run" "$("$RUNS" status straight)" 'not running, step 60/60'

# --- stop at 30, resume: bit-exact ---------------------------------------------
expect "start stops at --steps 30" "$RUNS" start --config tiny.json --name split --steps 30 --quiet
expect "resume to the end" "$RUNS" resume --name split --quiet
expect_eq "resumed losses equal straight losses bit for bit" "$(loss_of runs/split/.loss.json | md5sum)" "$(loss_of runs/straight/.loss.json | md5sum)"

# --- SIGKILL mid-training, resume ------------------------------------------------
# A sample audit every step slows the trainer (about 40 ms a step here) without
# touching its losses (the audit has its own RNG; checked below against the straight
# run), so the 40 steps after the node at step 20 outlast the poll: the 60 plain
# steps took 0.4 s in all once the trainer got faster, and the kill landed after the
# end.
sed 's/"every": 20, "boundary"/"every": 10, "boundary"/; s/"every": 20, "tokens": 12,/"every": 1, "tokens": 120,/' tiny.json >kill.json
expect_match "kill.json audits a sample every step" "$(cat kill.json)" '"sampling": \{"every": 1, "tokens": 120,'
"$RUNS" start --config kill.json --name killed --quiet >/dev/null 2>&1 &
pid=$!
i=0
while [ $i -lt 600 ] && ! logj killed 2>/dev/null | grep -q '"step":20'; do sleep 0.05; i=$((i + 1)); done
# freeze the trainer, note how far it got, then kill it: the kill must land mid-run
# (a trainer that had already finished would make the resume below prove nothing)
kill -STOP $pid 2>/dev/null
at_kill=$(grep -c '' runs/killed/.loss.json)
kill -9 $pid 2>/dev/null; wait $pid; rc=$?
expect_eq "SIGKILL landed on a live trainer (wait says: killed by signal 9)" "$rc" 137
expect "... mid-run: .loss.json at the kill holds $at_kill of 60 steps" test "$at_kill" -lt 60
tip=$(logj killed | grep -o '"step":[0-9]*' | sed 's/.*://' | sort -n | tail -1)
expect "... and the run's tip (step_$tip) is short of step 60" test "${tip:-60}" -lt 60
expect "resume after SIGKILL" "$RUNS" resume --name killed --quiet
expect_eq "the resumed run finishes: 60 loss lines" "$(grep -c '' runs/killed/.loss.json)" 60
expect_match "... and its tip is step 60" "$(logj killed)" '"step":60[,}]'
expect_eq "after SIGKILL + resume: the same losses" "$(loss_of runs/killed/.loss.json | md5sum)" "$(loss_of runs/straight/.loss.json | md5sum)"
expect "no step twice after the crash" contiguous runs/killed/.loss.json
expect "store verifies" "$RUNS" verify

# --- one trainer per run -----------------------------------------------------------
# no periodic checkpoints (every 0) in the long run: the only checkpoint node before
# the SIGTERM can come from SIGUSR1, so a trainer that ignored it fails below
sed 's/"total_steps": 60/"total_steps": 100000/; s/"every": 20, "boundary"/"every": 0, "boundary"/' tiny.json >long.json
expect_match "long.json has no periodic checkpoints" "$(cat long.json)" '"checkpoint": \{"every": 0, "boundary": 10,'
"$RUNS" start --config long.json --name busy --quiet >/dev/null 2>&1 &
pid=$!
i=0
while [ $i -lt 400 ] && [ ! -s runs/busy/.status.json ]; do sleep 0.05; i=$((i + 1)); done
expect_exit 1 "a second trainer on the same run is refused" "$RUNS" resume --name busy --quiet
expect_match "status of a running trainer" "$("$RUNS" status busy)" 'busy: running, step [0-9]+/100000'
expect "runs checkpoint signals the trainer" "$RUNS" checkpoint busy
i=0
while [ $i -lt 400 ] && ! logj busy | grep -q '"kind":"checkpoint"'; do sleep 0.05; i=$((i + 1)); done
expect "the trainer still runs after SIGUSR1" kill -0 $pid
ck=$(logj busy | grep -o '"kind":"checkpoint",[^}]*')      # one node's fields, "step" among them
expect_eq "SIGUSR1 made exactly one checkpoint node" "$(printf '%s\n' "$ck" | grep -c '"kind"')" 1
expect_match "... on a checkpoint.boundary step (a multiple of 10, past the start)" "$ck" '"step":[1-9][0-9]*0(,|$)'
kill -TERM $pid; wait $pid; rc=$?
expect_eq "SIGTERM checkpoints and exits cleanly" "$rc" 0
last=$(tail -1 runs/busy/.loss.json | sed 's/.*"step":\([0-9]*\),.*/\1/')
expect_match "a node at the SIGTERM step" "$(showj busy)" "\"step\":$((last + 1))[,}]"

# --- fork: the polish pivot -----------------------------------------------------
cat >polish.json <<'JSON'
{"data": {"sources": {"lists": {"cap": 0.0}}, "exclude": ["lists"]},
 "train": {"total_steps": 80}}
JSON
expect "fork straight@step_40 --keep-bandit" "$RUNS" fork straight@step_40 --config polish.json --name polish --keep-bandit --quiet
expect_eq "fork's loss log: 80 lines" "$(grep -c '' runs/polish/.loss.json)" 80
expect "fork's loss log: no gap, no repeated step" contiguous runs/polish/.loss.json
expect_eq "history up to the fork node is the parent's" "$(head -40 runs/polish/.loss.json | md5sum)" "$(head -40 runs/straight/.loss.json | md5sum)"
expect_eq "zombie arm: 'lists' never pulled after the fork" "$(tail -n +41 runs/polish/.loss.json | grep -c '"source":"lists"')" 0
"$RUNS" fork straight@step_40 --config polish.json --name polish2 --keep-bandit --no-train >out.txt 2>err.txt
expect_match "dropping the stale arm is warned about" "$(cat err.txt)" 'lists'
fork=$(showj polish2@step_40)
expect_match "fork node kind" "$fork" '"kind":"fork"'
expect_match "fork archives samples and state" "$fork" '"archived":\{"samples":"[0-9a-f]{64}","state":"[0-9a-f]{64}"\}'
expect_match "fork records the config change" "$fork" '"path":"data.sources.lists.cap"'
expect_match "log shows what the fork changed" "$("$RUNS" log polish2)" 'fork .*changed: .*data.sources.lists.cap 0.5->0'
expect_match "diff shows the cap change" "$("$RUNS" diff straight@step_40 polish2@step_40)" 'data.sources.lists.cap'
echo '{"model": {"n_layer": 3}}' >shape.json
expect_exit 1 "a patch that changes the model's shape is refused" "$RUNS" fork straight@step_40 --config shape.json --name bad --quiet
expect_match "... and says why" "$(cat "$T/.err")" 'model.n_layer'

# --- warm restart -------------------------------------------------------------------
expect "restart straight@step_20 --peak-lr 0.01" "$RUNS" restart straight@step_20 --peak-lr 0.01 --name warm --quiet
expect_match "restart node recorded" "$(showj warm@step_20)" '"kind":"restart"'
expect_match "LR spiked to the new peak at the restart step" "$(sed -n 21p runs/warm/.loss.json)" '"lr":0.01[,0]'
expect "restart's loss log contiguous" contiguous runs/warm/.loss.json

# --- the coherence gate ---------------------------------------------------------------
sed 's/"threshold": 0, "patience": 3/"threshold": 100, "patience": 2/; s/"every": 20, "tokens"/"every": 10, "tokens"/' tiny.json >gate.json
"$RUNS" start --config gate.json --name gated --quiet >/dev/null 2>err.txt; rc=$?
expect_eq "the gate halts with exit 2" "$rc" 2
expect_match "... saying why in one line" "$(cat err.txt)" 'coherence gate halted gated at step 10'
expect_match "a halt node at step 10" "$(logj gated)" '"kind":"halt",[^}]*"step":10[,}]'
expect_match "backtest finds the same step" "$("$RUNS" gate --backtest runs/gated/.samples.json --threshold 100 --patience 2)" 'would have fired at step 10 '
# --- bad input: one line, non-zero exit, nothing half-made ------------------------
expect_exit 1 "missing config file" "$RUNS" start --config nope.json --name x1
echo '{"train": {"totl_steps": 3}}' >typo.json
expect_exit 1 "unknown config key" "$RUNS" start --config typo.json --name x2
expect_match "... with a suggestion" "$(cat "$T/.err")" 'did you mean "total_steps"'
sed 's|"path": "[^"]*/chat.tok"|"path": "/nonexistent/chat.tok"|' tiny.json >nodata.json
expect_exit 1 "a missing token shard" "$RUNS" start --config nodata.json --name x3
expect_eq "... leaves no run directory behind" "$(ls -d runs/x1 runs/x2 runs/x3 2>/dev/null)" ""
expect_exit 1 "unknown node" "$RUNS" fork straight@step_999 --config polish.json --name x4
expect_exit 129 "fork with a malformed -S" "$RUNS" fork straight@step_40 -S optimizer.lr --no-train
expect_exit 1 "restart into an existing run" "$RUNS" restart straight@step_20 --peak-lr 0.01 --name warm
expect "store verifies at the end" "$RUNS" verify
done_testing
