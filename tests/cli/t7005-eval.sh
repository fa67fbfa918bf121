#!/bin/sh
# Held-out evaluation on a real (tiny) run: eval on and off train the same bits;
# .eval.json rows {step, val_loss, tokens} at eval.every and at every node; a node's
# metrics.val_loss equals `runs eval NODE --json` to the last bit (%.17g); the
# history stays unbroken across a stop + resume and a fork; runs log (text and
# --json), show and diff carry it; bad input is one line.
. "$(dirname "$0")/lib.sh"

# --- a tiny corpus (as in t7004): prose trains, chat is held out -------------------
tiny_corpus 300 400 prose chat
expect "tiny corpus encodes" test -s prose.tok -a -s chat.tok

config() { # $1 = eval.every
    cat <<JSON
{"model": {"n_layer": 1, "n_head": 2, "n_embd": 16, "vocab_size": 300, "block_size": 16},
 "train": {"total_steps": 40, "batch_size": 4, "seq_len": 16, "seed": 3, "backend": "cpu"},
 "optimizer": {"lr": 3e-3},
 "schedule": {"type": "cosine", "warmup_steps": 5},
 "data": {"tokenizer": "$T/tok.bin", "heldout": "chat",
          "sources": {"prose": {"path": "$T/prose.tok"}, "chat": {"path": "$T/chat.tok"}}},
 "sampling": {"every": 0},
 "eval": {"every": $1, "batches": 3},
 "checkpoint": {"every": 25, "boundary": 5, "keep_last": 0, "keep_every": 0}}
JSON
}
config 10 >on.json
config 0 >off.json
compact() { tr -d ' \t\n'; }
jfield() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p"; }   # a scalar from compact JSON
bits() { awk '{ printf "%.17g\n", $1 }'; }            # a decimal as the double it reads as

expect "init" "$RUNS" init
expect "a run with eval every 10 steps" "$RUNS" start --config on.json --name on --quiet
expect "the same run with eval off" "$RUNS" start --config off.json --name off --quiet

# --- eval does not touch training ---------------------------------------------------
expect "eval on and off: .loss.json is the same, byte for byte" cmp runs/on/.loss.json runs/off/.loss.json
expect_eq "eval on and off: the tips' weights, m and v are the same objects" \
    "$("$RUNS" show on --json | grep -o '"sha256":"[0-9a-f]*"' | md5sum)" "$("$RUNS" show off --json | grep -o '"sha256":"[0-9a-f]*"' | md5sum)"
expect_eq "eval on and off: the tips' loss is the same" \
    "$("$RUNS" show on --json | compact | jfield loss_ema)" "$("$RUNS" show off --json | compact | jfield loss_ema)"

# --- .eval.json -----------------------------------------------------------------------
expect_eq ".eval.json: a row at each eval.every step and at each node (start 0, checkpoint 25, end 40)" \
    "$(sed 's/.*"step":\([0-9]*\),.*/\1/' runs/on/.eval.json | tr '\n' ' ')" "0 10 20 25 30 40 "
expect_match ".eval.json rows are {step, val_loss, tokens} (3 batches x 4 x 16 tokens)" \
    "$(sed -n 2p runs/on/.eval.json)" '^\{"step":10,"val_loss":[0-9]+\.[0-9]+(e[-+][0-9]+)?,"tokens":192\}$'
expect_eq "eval off: .eval.json is empty" "$(wc -c <runs/off/.eval.json | tr -d ' ')" 0
v0=$(sed -n 1p runs/on/.eval.json | jfield val_loss)
v40=$(sed -n 6p runs/on/.eval.json | jfield val_loss)
expect "the held-out loss goes down with training" awk "BEGIN { exit !($v40 < $v0) }"

# --- metrics.val_loss == runs eval, bit for bit --------------------------------------
for node in on@step_25 on; do
    rec=$("$RUNS" show $node --json | compact | sed 's/.*"metrics":{\([^}]*\)}.*/\1/' | jfield val_loss)
    "$RUNS" eval $node --json >e.json 2>err.txt
    expect_eq "runs eval $node --json exits 0, nothing on stderr" "$?:$(cat err.txt)" "0:"
    got=$(compact <e.json | jfield val_loss)
    expect_match "$node records a val_loss" "$rec" '^[0-9]'
    expect_eq "$node: recorded val_loss == runs eval, %.17g" "$(echo "$got" | bits)" "$(echo "$rec" | bits)"
done
expect_eq "the tip's val_loss is the .eval.json row at its step" "$(echo "$v40" | bits)" "$(echo "$got" | bits)"
ej=$(compact <e.json)
expect_match "runs eval --json: node, step, val_loss, batches, tokens" "$ej" \
    '^\{"batches":3,"node":"[0-9a-f]{40}","step":40,"tokens":192,"val_loss":[0-9.e+-]+\}$'
b1=$("$RUNS" eval on --batches 1 --json | compact)
expect_match "--batches 1: one batch, 64 tokens" "$b1" '"batches":1,.*"tokens":64,'
expect_match "the text form names node, loss and batches" "$("$RUNS" eval on)" \
    '^on@step_40 \([0-9a-f]{12}\): val_loss [0-9]+\.[0-9]{6} on 3 held-out batches \(192 tokens, cpu\)$'
off_eval=$("$RUNS" eval off --json | compact | jfield val_loss)
expect_eq "runs eval works on a node trained without eval (old nodes compare)" \
    "$(echo "$off_eval" | bits)" "$(echo "$got" | bits)"

# --- log, show, diff ----------------------------------------------------------------------
log=$("$RUNS" log on)
expect_match "log: the tip shows its val loss" "$(printf '%s\n' "$log" | sed -n 1p)" 'step_40 +loss [0-9.]+  val [0-9]+\.[0-9]{4}'
expect_eq "log: eval off shows no val column" "$("$RUNS" log off | grep -c ' val ')" 0
lj=$("$RUNS" log on --json | compact)
expect_match "log --json: rows carry val_loss" "$lj" "\"step\":40,\"val_loss\":$got\}"
expect_eq "log --json: null where none (eval off: 3 nodes)" \
    "$("$RUNS" log off --json | compact | grep -o '"val_loss":null' | wc -l | tr -d ' ')" 3
expect_match "show: metrics hold val_loss" "$("$RUNS" show on)" '^  val_loss +[0-9]+\.[0-9]{4}$'
expect_match "show: the eval rows since the parent (steps 30, 40)" "$("$RUNS" show on)" \
    'eval_log +\[\{"step":30,"tokens":192,"val_loss":[0-9.e+-]+\},\{"step":40,"tokens":192,"val_loss":[0-9.e+-]+\}\]'
dj=$("$RUNS" diff on@step_25 on --json | compact)
expect_match "diff --json: metrics.val_loss is a difference" "$dj" '\{"a":[0-9.e+-]+,"b":[0-9.e+-]+,"path":"metrics.val_loss"\}'
expect_match "diff (text) lists it" "$("$RUNS" diff on@step_25 on)" 'metrics.val_loss'

# --- unbroken across stop + resume and a fork -------------------------------------------------
"$RUNS" start --config on.json --name sr --steps 20 --quiet >/dev/null 2>&1
printf '{"step":999,"val_loss":1,"tokens":1}\n' >>runs/sr/.eval.json   # junk a crash might leave
expect "resume the stopped run" "$RUNS" resume sr --quiet
expect "stop + resume: .eval.json is the uninterrupted run's, byte for byte" cmp runs/on/.eval.json runs/sr/.eval.json
echo '{"optimizer": {"lr": 0.01}}' >hot.json
expect "fork from step_25 with a higher lr" "$RUNS" fork on@step_25 --config hot.json --name fk --quiet
expect_eq "fork: .eval.json continues the lineage (steps strictly increase)" \
    "$(sed 's/.*"step":\([0-9]*\),.*/\1/' runs/fk/.eval.json | tr '\n' ' ')" "0 10 20 25 30 40 "
expect_eq "fork: rows up to the fork point are the parent's" \
    "$(head -4 runs/fk/.eval.json)" "$(head -4 runs/on/.eval.json)"
fn=$("$RUNS" log fk --json | compact | sed 's/.*{\("id":"[0-9a-f]*","kind":"fork"[^}]*\)}.*/\1/' | jfield val_loss)
expect_eq "the fork node's val_loss (its weights = step_25's) is step_25's" \
    "$(echo "$fn" | bits)" "$(sed -n 4p runs/on/.eval.json | jfield val_loss | bits)"
expect_eq "fork tip: recorded == runs eval" \
    "$("$RUNS" show fk --json | compact | sed 's/.*"metrics":{\([^}]*\)}.*/\1/' | jfield val_loss | bits)" \
    "$("$RUNS" eval fk --json | compact | jfield val_loss | bits)"
expect "the fork changed the held-out curve after step 25" sh -c "! cmp -s runs/on/.eval.json runs/fk/.eval.json"

# --- plot and report -----------------------------------------------------------------------
expect "plot the fork" "$RUNS" plot fk --out p.svg
expect_match "plot: the held-out loss is its own series" "$(cat p.svg)" '>fk \(held-out\)</text>'
expect_match "plot: ... and the sibling's, from the fork point" "$(cat p.svg)" '>on \(held-out, from step 25\)</text>'
expect_eq "plot: the main held-out series has a point per .eval.json row (6)" \
    "$(grep 'class="series"' p.svg | grep 'stroke-dasharray' | head -1 | grep -o '[ML][0-9]' | wc -l | tr -d ' ')" 6
expect "report of the run" "$RUNS" report on --out r.html
expect_match "report: the node table has a held-out loss column" "$(cat r.html)" '<th>loss EMA</th><th>held-out loss</th>'
expect_match "report: the tip's held-out loss" "$(cat r.html)" "<td class=\"val\">$(printf '%.4f' "$v40")</td>"

# --- no held-out source: eval is off, runs eval says why ---------------------------------------
sed 's/"heldout": "chat",//' on.json >noho.json
expect "a run without data.heldout" "$RUNS" start --config noho.json --name noho --quiet
expect_eq "without data.heldout nothing is evaluated" "$(wc -c <runs/noho/.eval.json | tr -d ' ')" 0
expect_exit 1 "runs eval on a node without data.heldout: one line" "$RUNS" eval noho
expect_match "... naming data.heldout" "$(cat .err)" 'data\.heldout'
expect_exit 1 "runs eval on an unknown node" "$RUNS" eval nosuch@step_5
expect_exit 129 "runs eval --batches 0" "$RUNS" eval on --batches 0
expect_exit 129 "runs eval without a node" "$RUNS" eval
expect_exit 129 "runs eval with an unknown option" "$RUNS" eval on --nope
sed 's/"batches": 3/"batches": 0/' on.json >bad.json
expect_exit 1 "eval.batches 0 in a config" "$RUNS" start --config bad.json --name bad --quiet
expect_match "... names the key" "$(cat .err)" 'eval\.batches'
expect_match "runs eval --help" "$("$RUNS" eval --help)" '^usage: runs eval NODE'

done_testing
