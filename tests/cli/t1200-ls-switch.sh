#!/bin/sh
# Where am I and which run is best: `runs ls` (one row per run, the config values
# that differ as columns, --json, --sort, --all for rewound tips), `runs switch`
# (moves the current run; step_N follows it; an unknown run gets one line with a
# suggestion), `runs status` naming the current run, and start/fork/resume saying
# when they move the current run.
. "$(dirname "$0")/lib.sh"

tiny_corpus 300 200 prose
cat >tiny.json <<JSON
{"model": {"n_layer": 1, "n_head": 2, "n_embd": 16, "vocab_size": 300, "block_size": 16},
 "train": {"total_steps": 20, "batch_size": 2, "seq_len": 8, "seed": 7},
 "optimizer": {"lr": 3e-3}, "schedule": {"type": "cosine", "warmup_steps": 2},
 "data": {"tokenizer": "$T/tok.bin", "sources": {"prose": {"path": "$T/prose.tok"}}},
 "sampling": {"every": 10, "tokens": 8, "prompts": ["the cat"]},
 "gate": {"threshold": 0, "patience": 3},
 "checkpoint": {"every": 10, "keep_last": 0, "keep_every": 0}}
JSON
echo '{"optimizer": {"lr": 0.001}}' >lr.json
"$RUNS" init >/dev/null

# ---- commands that make a run say so ---------------------------------------------
out=$("$RUNS" start --config tiny.json --name base 2>&1)
expect_eq "start in an empty store: 'current run: base', once" "$(echo "$out" | grep '^current run')" "current run: base"
out=$("$RUNS" fork base@step_10 --config lr.json --name polish 2>&1)
expect_eq "fork: 'current run: polish (was base)' right after the fork line" \
    "$(echo "$out" | grep -A1 '^fork polish' | tail -1)" "current run: polish (was base)"
out=$("$RUNS" start --config tiny.json --name short --steps 10 --no-train 2>&1)
expect_eq "start --no-train says it too" "$(echo "$out" | grep '^current run')" "current run: short (was polish)"
out=$("$RUNS" resume --name short --no-train 2>&1)
expect_eq "resuming the current run does not claim a move" "$(echo "$out" | grep -c '^current run')" 0
expect_eq "--quiet prints nothing" "$("$RUNS" resume --name base --no-train --quiet 2>&1)" ""
"$RUNS" switch short >/dev/null

# ---- runs ls --json --------------------------------------------------------------
j=$("$RUNS" ls --json | tr -d ' \t')
row() { echo "$j" | grep "\"run\":\"$1\""; }
expect_eq "one object per run" "$(echo "$j" | grep -c '"run":')" 3
expect_match "base: finished at 20, a root (parent null)" "$(row base)" '"parent":null,.*"state":"finished","step":20,'
expect_match "polish: finished, branched from base@step_10" "$(row polish)" '"parent":"base@step_10",.*"state":"finished","step":20,'
expect_match "short: stopped at 0" "$(row short)" '"state":"stopped","step":0,'
expect_match "polish: its config column holds exactly the changed key" "$(row polish)" '"config":\{"optimizer.lr":0.001\}'
expect_match "base: the same key with its own value" "$(row base)" '"config":\{"optimizer.lr":0.003\}'
expect_match "loss, tokens and the update time are there" "$(row base)" \
    '"loss":[0-9.]+,.*"tokens":[1-9][0-9]*,"updated":"[0-9]{4}-[0-9]{2}-[0-9]{2}T'
expect_match "short stopped before any step: no loss yet (null)" "$(row short)" '"loss":null'

# ---- runs ls (text) --------------------------------------------------------------
out=$("$RUNS" ls)
expect_eq "header: the fixed columns and exactly the differing config path" \
    "$(echo "$out" | head -1 | tr -s ' ' | sed 's/^ //')" "RUN STEP STATE PARENT optimizer.lr LOSS VAL_LOSS TOKENS UPDATED"
expect_match "'*' marks the current run" "$(echo "$out" | grep '^\*')" '^\* short +0 +stopped +- +0.003 '
expect_match "polish's row: parent and lr" "$(echo "$out" | grep ' polish ')" '^  polish +20 +finished +base@step_10 +0.001 +[0-9]\.[0-9]{4} '

# a long run name widens its column instead of pushing the others out of line
long=a-run-name-well-past-sixteen-characters
"$RUNS" fork base@step_10 --config lr.json --name $long --no-train --quiet
out=$("$RUNS" ls)
hdr=$(echo "$out" | head -1 | awk '{ print index($0, "STATE") }')
expect_eq "state column lines up under STATE with a ${#long}-character name" \
    "$(echo "$out" | awk 'NR > 1 { s = $0; sub(/^\*/, " ", s); split(s, f, " "); print index(s, " " f[3] " ") + 1 }' | sort -u)" "$hdr"
expect_match "the long name is whole" "$out" "^[* ] $long +10 "

# ---- --sort ----------------------------------------------------------------------
names() { "$RUNS" ls --json "$@" | grep -o '"run":"[^"]*"' | sed 's/"run":"//; s/"$//' | tr '\n' ' '; }
expect_eq "default order: by name" "$(names)" "$long base polish short "
expect_eq "--sort step: numeric, ties keep name order" "$(names --sort step)" "short $long base polish "
expect_eq "--sort -step: descending" "$(names --sort -step)" "base polish $long short "
expect_eq "--sort optimizer.lr (a config path)" "$(names --sort optimizer.lr)" "$long polish base short "
expect_eq "--sort loss: runs without a loss last" "$(names --sort loss | awk '{ print $NF }')" "short"
expect_exit 129 "--sort on an unknown key: one line" "$RUNS" ls --sort stpe
expect_match "... with a suggestion" "$(cat "$T/.err")" 'did you mean "step"'

# ---- switch ----------------------------------------------------------------------
expect_eq "switch says where it went (the fork above made $long current)" "$("$RUNS" switch base)" "current run: base (was $long)"
expect_eq "status names the current run first" "$("$RUNS" status | head -1)" "current run: base"
expect_match "step_20 resolves in base" "$("$RUNS" show step_20 --json | tr -d ' \n')" '"run":"base"'
"$RUNS" switch polish >/dev/null
expect_match "after switch polish, step_20 is polish's" "$("$RUNS" show step_20 --json | tr -d ' \n')" '"run":"polish"'
expect_eq "switch to the current run" "$("$RUNS" switch polish)" "current run: polish (unchanged)"
expect_exit 1 "switch to an unknown run: one line" "$RUNS" switch polsh
expect_match "... naming it, with a suggestion" "$(cat "$T/.err")" "no run 'polsh' \\(did you mean \"polish\"\\?\\)"
expect_exit 129 "switch without a run: usage" "$RUNS" switch
expect_eq "a refused switch leaves the current run" "$("$RUNS" status | head -1)" "current run: polish"
out=$("$RUNS" resume --name base --no-train 2>&1)
expect_eq "resume of another run switches and says so" "$(echo "$out" | grep '^current run')" "current run: base (was polish)"

# ---- --all: rewound tips -----------------------------------------------------------
"$RUNS" resume base@step_10 --rewind --no-train --quiet
expect_match "ls: base is back at step 10" "$("$RUNS" ls --json | tr -d ' ' | grep '"run":"base"')" '"step":10,'
expect_eq "ls without --all: no rewound row" "$("$RUNS" ls --json | grep -c rewound)" 0
r=$("$RUNS" ls --all --json | tr -d ' ' | grep '"state":"rewound"')
expect_match "ls --all: the old tip (step 20) as a rewound row from base@step_10" "$r" \
    '"parent":"base@step_10",.*"run":"base","state":"rewound","step":20,'

# ---- halted: the coherence gate stops a fork (scores are below 100 on this model) --
echo '{"gate": {"threshold": 100, "patience": 1}}' >gate.json
expect_exit 2 "a fork the gate halts (exit 2)" "$RUNS" fork base@step_10 --config gate.json --name gated --quiet
r=$("$RUNS" ls --json | tr -d ' ' | grep '"run":"gated"')
expect_match "ls: the halted run is 'halted' (even at total_steps), kind halt" "$r" '"kind":"halt",.*"state":"halted","step":20,'
expect_match "... its differing config keys are the gate's" "$r" '"config":\{"gate.patience":1,"gate.threshold":100,"optimizer.lr":0.003\}'
expect_match "ls text: the halted row" "$("$RUNS" ls)" '^[* ] gated +20 +halted +base@step_10 '

# ---- import makes its run current too (a tiny llm.c file, as in t7003) ------------
if command -v python3 >/dev/null; then
python3 - <<'PY'
import struct, random
L, NH, C, V, Vp, T = 1, 2, 8, 50, 64, 16
random.seed(3)
hdr = [20240326, 3, T, V, L, NH, C, Vp] + [0] * 248
sizes = [Vp*C, T*C, L*C, L*C, L*3*C*C, L*3*C, L*C*C, L*C, L*C, L*C, L*4*C*C, L*4*C, L*4*C*C, L*C, C, C]
vals = [random.uniform(-1, 1) for n in sizes for _ in range(n)]
with open("in.bin", "wb") as f:
    f.write(struct.pack("<256i", *hdr))
    f.write(struct.pack("<%df" % len(vals), *vals))
PY
expect_eq "import: 'current run: imp (was gated)' after the imported line" \
    "$("$RUNS" import in.bin --run imp 2>&1 | sed -n 2p)" "current run: imp (was gated)"
expect_eq "... and status names it" "$("$RUNS" status 2>/dev/null | head -1)" "current run: imp"
fi

# ---- running: a trainer holds the run's lock; after it exits the run is stopped ----
sed 's/"total_steps": 20/"total_steps": 100000/' tiny.json >busy.json
"$RUNS" start --config busy.json --name busy --quiet >/dev/null 2>&1 &
pid=$!
i=0
while [ $i -lt 600 ] && ! "$RUNS" ls --json 2>/dev/null | grep -q '"run": *"busy".*"state": *"running"'; do sleep 0.05; i=$((i + 1)); done
expect_match "ls: a run whose trainer is alive is 'running'" "$("$RUNS" ls --json | tr -d ' ' | grep '"run":"busy"')" '"state":"running"'
kill -TERM $pid; wait $pid
expect_match "... and 'stopped' once it has exited short of total_steps" "$("$RUNS" ls --json | tr -d ' ' | grep '"run":"busy"')" '"state":"stopped"'

done_testing
