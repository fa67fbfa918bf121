#!/bin/sh
# The divergence gate (issue 12): the seed's broken config (lr 1.0, no warmup, no
# clipping, no weight decay) on a tiny model is halted by the loss-spike rule
# (exit 2, a halt node, one line naming the rule and its numbers), while the same
# config with the fixes (warmup, clipping, weight decay, a sane lr) finishes
# with exit 0; runs gate --backtest replays the loss rules over a .loss.json.
. "$(dirname "$0")/lib.sh"

awk 'BEGIN { srand(1); split("the cat sat on a mat while dogs ran over hills and rivers", w, " ");
             for (i = 0; i < 400; i++) { s = ""; for (j = 0; j < 12; j++) s = s w[int(rand() * 14) + 1] " "; print s "." } }' >prose.txt
awk 'BEGIN { srand(2); split("what is why how does it work because you can see that", w, " ");
             for (i = 0; i < 400; i++) { q = ""; a = ""; for (j = 0; j < 6; j++) { q = q w[int(rand() * 12) + 1] " "; a = a w[int(rand() * 12) + 1] " " }
             print "> " q "? / < " a "." } }' >chat.txt
"$RUNS" tokenizer train --vocab-size 320 --out tok.bin prose.txt chat.txt >/dev/null 2>&1
for s in prose chat; do "$RUNS" tokenizer encode --tokenizer tok.bin --out $s.tok $s.txt >/dev/null 2>&1; done
expect "tiny corpus encodes" test -s prose.tok -a -s chat.tok

# the sample audit is off: only the loss can stop this run
cat >broken.json <<JSON
{"model": {"n_layer": 2, "n_head": 2, "n_embd": 32, "vocab_size": 320, "block_size": 32},
 "train": {"total_steps": 300, "batch_size": 4, "seq_len": 16, "seed": 7},
 "optimizer": {"lr": 1.0, "grad_clip": 0, "weight_decay": 0},
 "schedule": {"type": "cosine", "warmup_steps": 0},
 "data": {"tokenizer": "$T/tok.bin",
          "sources": {"prose": {"path": "$T/prose.tok"}, "chat": {"path": "$T/chat.tok"}}},
 "bandit": {"pull_min": 2, "pull_max": 5},
 "sampling": {"every": 0},
 "checkpoint": {"every": 100, "boundary": 10, "keep_last": 0, "keep_every": 0}}
JSON
sed 's/"lr": 1.0, "grad_clip": 0, "weight_decay": 0/"lr": 3e-3, "grad_clip": 1.0, "weight_decay": 0.01/;
     s/"warmup_steps": 0/"warmup_steps": 20/' broken.json >fixed.json
expect_match "fixed.json carries the fixes" "$(cat fixed.json)" '"lr": 3e-3, "grad_clip": 1.0, "weight_decay": 0.01'
logj() { "$RUNS" log "$@" --json | tr -d ' \t\n'; }

expect "init" "$RUNS" init
expect_exit 2 "the broken config is halted (exit 2, one line)" "$RUNS" start --config broken.json --name broken --quiet
err=$(cat "$T/.err")
expect_match "the line names the rule and its numbers" "$err" \
    '^runs start: divergence gate \(loss_spike\) halted broken at step [0-9]+: loss EMA [0-9.]+ > 3 × best [0-9.]+ for 50 steps at step [0-9]+;'
halt_step=$(printf '%s' "$err" | sed 's/.* halted broken at step \([0-9]*\):.*/\1/')
at=$(printf '%s' "$err" | sed 's/.* for 50 steps at step \([0-9]*\);.*/\1/')
expect_eq "the halt node follows the step that fired" "$halt_step" "$((at + 1))"
expect_match "halted long before the end (300)" "$halt_step" '^[0-9]{2}$'
expect_match "the tip is a halt node at that step" "$(logj broken)" "^\[\{[^}]*\"kind\":\"halt\",[^}]*\"step\":$halt_step[,}]"
expect_match "the halt node says why" "$("$RUNS" show broken --json | tr -d '\n')" '"note": *"divergence gate: loss EMA [0-9.]+ > 3 × best'
expect_eq ".loss.json ends at the halt" "$(grep -c '' runs/broken/.loss.json)" "$halt_step"
# the numbers in the line are the log's: the EMA is above 3 × its best at the firing step
ema_ok=$(awk -F'"loss":' -v at="$at" '{ split($2, a, ","); x = a[1] + 0; e = NR == 1 ? x : 0.98 * e + 0.02 * x;
          if (NR == 1 || e < b) b = e } NR - 1 == at { print (e > 3 * b) ? "yes" : "no" }' runs/broken/.loss.json)
expect_eq "the log's EMA is over 3 × best at that step" "$ema_ok" "yes"

expect "the same config with the fixes finishes (exit 0)" "$RUNS" start --config fixed.json --name fixed --quiet
expect_match "its tip is the checkpoint at step 300" "$(logj fixed)" '^\[\{[^}]*"kind":"checkpoint",[^}]*"step":300[,}]'

# the rule is the config's: off (loss_spike_steps 0) the broken run goes to the end
sed 's/"sampling": {"every": 0}/"sampling": {"every": 0}, "gate": {"loss_spike_steps": 0}/' broken.json >off.json
expect "loss_spike_steps 0 turns the rule off" "$RUNS" start --config off.json --name off --quiet
expect_eq "... and the run trains all 300 steps" "$(grep -c '' runs/off/.loss.json)" 300
# a factor of 1000 is never reached by this run (its EMA peaks near 20 × best)
sed 's/"sampling": {"every": 0}/"sampling": {"every": 0}, "gate": {"loss_spike_factor": 1000}/' broken.json >lax.json
expect "a factor the run never reaches does not fire" "$RUNS" start --config lax.json --name lax --quiet
printf '{"gate": {"loss_spike_factor": 1}}\n' >badf.json
expect_exit 1 "loss_spike_factor must be above 1" "$RUNS" start --config badf.json --name badf --quiet
expect_match "... says which key" "$(cat "$T/.err")" 'gate\.loss_spike_factor'
done_testing
