#!/bin/sh
# Committed nodes are never lost: resuming a node behind the tip is refused unless
# --rewind, which keeps the old tip under refs/rewound/ (shown by `runs log --all`,
# kept by gc); a node no ref reaches is still found by its id prefix; resume --steps
# below the node's step is refused; an empty stale refs.lock does not wedge writers.
. "$(dirname "$0")/lib.sh"

# --- a tiny corpus and model (as t5000) ---------------------------------------------
tiny_corpus 300 300 prose
expect "tiny corpus encodes" test -s prose.tok

cat >tiny.json <<JSON
{"model": {"n_layer": 1, "n_head": 2, "n_embd": 16, "vocab_size": 300, "block_size": 16},
 "train": {"total_steps": 40, "batch_size": 2, "seq_len": 8, "seed": 7},
 "optimizer": {"lr": 3e-3},
 "schedule": {"type": "cosine", "warmup_steps": 4},
 "data": {"tokenizer": "$T/tok.bin", "sources": {"prose": {"path": "$T/prose.tok"}}},
 "sampling": {"every": 0},
 "gate": {"threshold": 0, "patience": 3},
 "checkpoint": {"every": 10, "boundary": 5, "keep_last": 0, "keep_every": 0}}
JSON

logj() { "$RUNS" log "$@" --json | tr -d ' \t\n'; }
tip_step() { logj main | sed 's/^\[{[^}]*"step":\([0-9]*\).*/\1/'; }
ref() { tr -d '\n' <"$T/.runs/lineage.git/$1" 2>/dev/null; }

expect "init" "$RUNS" init
expect "start main to step 30" "$RUNS" start --config tiny.json --name main --steps 30 --quiet
old_tip=$(ref refs/heads/main)
expect_match "main's tip is a node id" "$old_tip" '^[0-9a-f]{40}$'

# --- 1. resuming behind the tip is refused; the tip does not move ------------------------
expect_exit 1 "resume main@step_10 (tip at 30) is refused" "$RUNS" resume main@step_10 --quiet
expect_match "the refusal says what would be lost and what to do" "$(cat .err)" \
    "main's tip is step_30; resuming step_10 would abandon 20 steps: .*runs fork .*--rewind.*refs/rewound/"
expect_eq "the tip did not move" "$(ref refs/heads/main)" "$old_tip"
expect_exit 129 "--rewind without NODE is a usage error" "$RUNS" resume --rewind --quiet
expect "resuming the tip itself by name still works" "$RUNS" resume main@step_30 --steps 31 --quiet
old_tip=$(ref refs/heads/main)

# --- --rewind keeps the abandoned tip under refs/rewound/main/1 ------------------------
expect "resume main@step_10 --rewind" "$RUNS" resume main@step_10 --rewind --steps 20 --quiet
expect_eq "the old tip is kept as refs/rewound/main/1" "$(ref refs/rewound/main/1)" "$old_tip"
expect_eq "main's tip is the new step 20" "$(tip_step)" 20
expect "the abandoned tip is found by its id prefix" "$RUNS" show "$(echo "$old_tip" | cut -c1-12)"
expect_match "log --all --json lists it, marked rewound" "$(logj --all)" \
    "\{\"id\":\"$old_tip\",[^}]*\"rewound\":true"
expect_match "log --all marks it [rewound] in text" "$("$RUNS" log --all | grep "^$(echo "$old_tip" | cut -c1-10)")" \
    'step_31 .*\[rewound\]'
new_tip=$(ref refs/heads/main)
expect_eq "log --all: the live tip is not marked" "$("$RUNS" log --all | grep "^$(echo "$new_tip" | cut -c1-10)" | grep -c rewound)" 0
second=$(ref refs/heads/main)
expect "a second rewind" "$RUNS" resume main@step_10 --rewind --steps 15 --quiet
expect_eq "it takes refs/rewound/main/2" "$(ref refs/rewound/main/2)" "$second"
expect_eq "refs/rewound/main/1 is never overwritten" "$(ref refs/rewound/main/1)" "$old_tip"
expect "gc" "$RUNS" gc
expect "after gc the rewound tip's manifest is still there" "$RUNS" show "$old_tip" --json
expect "the store verifies" "$RUNS" verify

# --- 2. a node no ref reaches is found by its id prefix ------------------------------------
expect "a start node for run lost" "$RUNS" start --config tiny.json --name lost --no-train --quiet
lost=$(ref refs/heads/lost)
rm -f .runs/lineage.git/refs/heads/lost .runs/lineage.git/refs/tags/lost/step_0
expect_eq "no ref names it any more" "$(grep -rl "$lost" .runs/lineage.git/refs | wc -l)" 0
expect_match "runs show PREFIX finds the unreachable node" \
    "$("$RUNS" show "$(echo "$lost" | cut -c1-10)" --json | tr -d ' \n')" '"run":"lost"'
expect_exit 1 "a prefix matching nothing is still not found" "$RUNS" show 0000000000
# put the refs back: the rest of the script wants an undamaged store
echo "$lost" >.runs/lineage.git/refs/heads/lost
echo "$lost" >.runs/lineage.git/refs/tags/lost/step_0

# --- 3. resume --steps below the current step ----------------------------------------------
expect_exit 1 "resume --steps 5 at step 15 is refused" "$RUNS" resume --name main --steps 5 --quiet
expect_match "it says --steps is the step to stop at" "$(cat .err)" 'step to stop at, not a count; give a step past 15'
expect_exit 1 "resume --steps 15 at step 15 (nothing to do) is refused" "$RUNS" resume --name main --steps 15 --quiet
expect_eq "the tip stayed at 15" "$(tip_step)" 15

# --- 4. an empty, old, unheld refs.lock does not wedge writers -----------------------------
: >.runs/locks/refs.lock
touch -d '2 minutes ago' .runs/locks/refs.lock
"$RUNS" resume --name main --steps 20 --quiet >out.txt 2>err.txt; rc=$?
expect_eq "resume past an empty 2-minute-old lock exits 0" "$rc" 0
expect_match "it says it removed the stale lock" "$(cat err.txt)" 'warning: removed stale lock .*refs.lock \(empty'
expect_eq "and the tip moved to 20" "$(tip_step)" 20
expect "the lock is gone afterwards" test ! -e .runs/locks/refs.lock
echo 999999 >.runs/locks/refs.lock
"$RUNS" tag main@step_20 after-stale 2>err.txt; rc=$?
expect_eq "a lock naming a dead pid is taken as stale (tag)" "$rc" 0
expect_match "... and every command says so, not only resume" "$(cat err.txt)" 'warning: removed stale lock .*refs.lock'
expect "the store still verifies" "$RUNS" verify

done_testing
