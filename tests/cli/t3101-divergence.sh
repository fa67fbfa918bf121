#!/bin/sh
# The divergence gate (issue 12): the seed's broken config (lr 1.0, no warmup, no
# clipping, no weight decay) on a tiny model is halted by the loss-spike rule
# (exit 2, a halt node, one line naming the rule and its numbers), while the same
# config with the fixes (warmup, clipping, weight decay, a sane lr) finishes
# with exit 0; runs gate --backtest replays the loss rules over a .loss.json.
. "$(dirname "$0")/lib.sh"

tiny_corpus 320 400 prose chat
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

# --- a non-finite loss halts at once -----------------------------------------------
# lr 10 with weight decay 10 scales every matrix by (1 - 100) a step: the weights
# overflow float within a few steps and the loss turns NaN, deterministically
sed 's/"lr": 1.0, "grad_clip": 0, "weight_decay": 0/"lr": 10, "grad_clip": 0, "weight_decay": 10/' broken.json >nan.json
expect_exit 2 "a NaN loss is halted (exit 2, one line)" "$RUNS" start --config nan.json --name nan --quiet
err2=$(cat "$T/.err")
expect_match "the line names the rule" "$err2" \
    '^runs start: divergence gate \(nonfinite_loss\) halted nan at step [0-9]+: non-finite loss \(nan\) at step [0-9]+;'
nstep=$(printf '%s' "$err2" | sed 's/.* halted nan at step \([0-9]*\):.*/\1/')
expect_match "... before the spike rule could (50 steps)" "$nstep" '^[0-9]$|^[1-4][0-9]$'
expect_match "the tip is a halt node at the step that produced the NaN (no update made)" "$(logj nan)" \
    "^\[\{[^}]*\"kind\":\"halt\",[^}]*\"step\":$nstep[,}]"
expect_eq ".loss.json has no line for the NaN step (valid JSON throughout)" "$(grep -c '' runs/nan/.loss.json)" "$nstep"
expect "... every line parses" python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' runs/nan/.loss.json
expect_eq "the halt node's metrics hold the last finite loss, that of the last log line" \
    "$("$RUNS" show nan --json | python3 -c 'import json,math,sys; x=json.load(sys.stdin)["metrics"]["loss"]; print(math.isfinite(x), "%.5e" % x)')" \
    "$(tail -1 runs/nan/.loss.json | python3 -c 'import json,sys; print(True, "%.5e" % json.loads(sys.stdin.read())["loss"])')"

# --- runs gate --backtest over a .loss.json: the same rules, the same step -------
jq_() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
bt=$("$RUNS" gate --backtest runs/broken/.loss.json --json)
expect_eq "backtest of the halted run: fired at the step the run halted on, by the same rule" \
    "$(printf '%s' "$bt" | jq_ 'd["fired"], d["fired_step"], d["rule"], d["log"], d["records"], d["samples"]')" \
    "True $at loss_spike loss $halt_step []"
expect_eq "... run_start is 49 steps before (50 consecutive)" "$(printf '%s' "$bt" | jq_ 'd["fired_step"] - d["run_start"]')" 49
expect_eq "... and the message is the run's" "$(printf '%s' "$bt" | jq_ 'd["message"]')" \
    "$(printf '%s' "$err" | sed 's/.*halted broken at step [0-9]*: \(.*\); read .loss.json.*/\1/')"
out=$("$RUNS" gate --backtest runs/broken/.loss.json)
expect_match "text: names the rule and the numbers" "$out" \
    "^divergence gate \(loss_spike_factor 3, loss_spike_steps 50, grace 0\): would have fired at step $at \(loss_spike\): loss EMA [0-9.]+ > 3 × best"
out=$("$RUNS" gate --backtest runs/fixed/.loss.json)
expect_match "the fixed run's log would not fire" "$out" 'would not have fired over 300 steps$'
expect_match "... its EMA never rose above its best by much" "$out" 'highest EMA/best 1(\.0[0-9]*)?$'
expect_match "the off run's log fires with the defaults" "$("$RUNS" gate --backtest runs/off/.loss.json)" 'would have fired at step [0-9]+ \(loss_spike\)'
expect_match "--grace moves the first judged step" "$("$RUNS" gate --backtest runs/off/.loss.json --grace 200 --loss-spike-steps 5)" \
    'would have fired at step 204 \(loss_spike\)'
expect_match "--loss-spike-steps 0: spike rule off" "$("$RUNS" gate --backtest runs/off/.loss.json --loss-spike-steps 0)" \
    'would not have fired over 300 steps \(spike rule off'
expect_match "--loss-spike-factor" "$("$RUNS" gate --backtest runs/off/.loss.json --loss-spike-factor 1000)" 'would not have fired'
# a non-finite value is written as null in JSON: it fires at once
head -5 runs/fixed/.loss.json >nan.json
printf '{"step":5,"loss":null,"lr":0.001,"grad_norm":1,"source":"prose"}\n' >>nan.json
tail -n +7 runs/fixed/.loss.json | head -3 | sed 's/"step":\([0-9]*\)/"step":\1/' >>nan.json
expect_eq "a null loss fires nonfinite_loss at its step" \
    "$("$RUNS" gate --backtest nan.json --json | jq_ 'd["rule"], d["fired_step"], d["run_start"]')" "nonfinite_loss 5 5"
printf '{"step":0,"loss":5,"grad_norm":1}\n{"step":1,"loss":5,"grad_norm":null}\n' >gnan.json
expect_match "a null grad_norm fires nonfinite_grad_norm" "$("$RUNS" gate --backtest gnan.json)" \
    'would have fired at step 1 \(nonfinite_grad_norm\): non-finite gradient norm \(nan\) at step 1'
printf '{"step":0,"loss":5}\n{"step":1,"text":"a b c"}\n' >mixed.json
expect_exit 1 "a samples record in a loss log is an error" "$RUNS" gate --backtest mixed.json
expect_match "... naming file:line" "$(cat "$T/.err")" '^runs gate: mixed\.json:2: a samples record in a loss log'
printf '{"step":3,"loss":5}\n{"step":3,"loss":5}\n' >dup.json
expect_exit 1 "a repeated step in a loss log is an error" "$RUNS" gate --backtest dup.json
printf '{"step":3,"loss":"x"}\n' >str.json
expect_exit 1 "a loss that is a string is an error" "$RUNS" gate --backtest str.json
printf '{"step":3,"foo":1}\n' >neither.json
expect_exit 1 "a record with neither text nor loss is an error" "$RUNS" gate --backtest neither.json
expect_exit 129 "--loss-spike-factor 1 is a usage error" "$RUNS" gate --backtest nan.json --loss-spike-factor 1
done_testing
