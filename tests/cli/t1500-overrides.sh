#!/bin/sh
# t1500-overrides: `-S path=value` on start and fork (applied after --config; JSON
# values, else strings), a mistyped key refused with a "did you mean", a missing '='
# as a usage error, a shape change through -S refused on fork like a patch file; a
# fork with neither --config nor -S (the same config on a new run); and a mistyped
# command answered with the command meant.
. "$(dirname "$0")/lib.sh"

tiny_corpus 300 200 prose
cat >tiny.json <<JSON
{"model": {"n_layer": 1, "n_head": 2, "n_embd": 16, "vocab_size": 300, "block_size": 16},
 "train": {"total_steps": 10, "batch_size": 2, "seq_len": 16, "seed": 7},
 "optimizer": {"lr": 3e-3},
 "schedule": {"type": "cosine", "warmup_steps": 2},
 "data": {"tokenizer": "$T/tok.bin", "sources": {"prose": {"path": "$T/prose.tok"}}},
 "checkpoint": {"every": 5, "boundary": 5, "keep_last": 0, "keep_every": 0}}
JSON
cfg() { "$RUNS" show "$1" --json | python3 -c 'import json,sys; c=json.load(sys.stdin)["config"]; print(json.dumps(eval("c"+sys.argv[1]), sort_keys=True))' "$2"; }
expect "init" "$RUNS" init

# --- start -S ------------------------------------------------------------------------
expect "start with -S overrides" "$RUNS" start --config tiny.json --name base --no-train --quiet \
    -S optimizer.lr=1e-3 -S train.total_steps=20 -S 'data.exclude=["x"]' --set train.backend=cpu
expect_eq "start: -S number wins over --config" "$(cfg base '["optimizer"]["lr"]')" "0.001"
expect_eq "start: -S integer" "$(cfg base '["train"]["total_steps"]')" "20"
expect_eq "start: -S JSON array" "$(cfg base '["data"]["exclude"]')" '["x"]'
expect_eq "start: -S bare word is a string" "$(cfg base '["train"]["backend"]')" '"cpu"'
expect_eq "start: keys -S leaves alone keep --config's value" "$(cfg base '["model"]["n_embd"]')" "16"

expect_exit 1 "start: an unknown key is refused" "$RUNS" start --config tiny.json --name bad -S optimizer.lrr=1 --no-train
expect_eq "... on one line" "$(grep -c '' "$T/.err")" 1
expect_match "... naming the key and the one meant" "$(cat "$T/.err")" \
    "^runs start: -S optimizer.lrr=1: unknown config key 'optimizer.lrr' \(did you mean \"lr\"\?\)"
expect_exit 1 "start: an unknown section is refused" "$RUNS" start --config tiny.json --name bad -S optimiser.lr=1 --no-train
expect_match "... with a suggestion" "$(cat "$T/.err")" "did you mean \"optimizer\"\?"
expect_exit 129 "start: -S without '=' is a usage error" "$RUNS" start --config tiny.json --name bad -S optimizer.lr
expect_eq "... on one line" "$(grep -c '' "$T/.err")" 1
expect_match "... saying what is expected" "$(cat "$T/.err")" "^runs start: -S optimizer.lr: expected PATH=VALUE .*\(usage: "
expect_exit 1 "start: a -S value out of range is refused by config validation" \
    "$RUNS" start --config tiny.json --name bad -S train.total_steps=-3 --no-train
expect_match "... naming the key" "$(cat "$T/.err")" "train.total_steps"
expect_exit 1 "start: the refused run left no run behind" "$RUNS" show bad

# --- fork -S and fork without a patch ------------------------------------------------
expect "fork with only -S" "$RUNS" fork base@step_0 --name fs -S optimizer.lr=5e-4 --no-train --quiet
expect_eq "fork: -S value in the node's config" "$(cfg fs '["optimizer"]["lr"]')" "0.0005"
expect "fork -S on a source named by the user" "$RUNS" fork base@step_0 --name fsrc -S data.sources.prose.cap=0.5 --no-train --quiet
expect_eq "fork: the source's cap set" "$(cfg fsrc '["data"]["sources"]["prose"]["cap"]')" "0.5"
expect_eq "fork: the source keeps its path" "$(cfg fsrc '["data"]["sources"]["prose"]["path"]')" "\"$T/prose.tok\""
echo '{"optimizer": {"lr": 2e-3}, "train": {"seed": 9}}' >patch.json
expect "fork with --config and -S" "$RUNS" fork base@step_0 --name fcs --config patch.json -S optimizer.lr=7e-4 --no-train --quiet
expect_eq "fork: -S applies after --config" "$(cfg fcs '["optimizer"]["lr"]')" "0.0007"
expect_eq "fork: the rest of the patch still applies" "$(cfg fcs '["train"]["seed"]')" "9"
expect_exit 1 "fork: -S changing the model's shape is refused" "$RUNS" fork base@step_0 --name fshape -S model.n_layer=2 --no-train --quiet
expect_match "... like a patch file is" "$(cat "$T/.err")" "shape|n_layer"
expect_exit 1 "fork: an unknown -S key is refused" "$RUNS" fork base@step_0 --name fbad -S optimizer.betas1=0.9 --no-train
expect_match "... with a suggestion" "$(cat "$T/.err")" "unknown config key 'optimizer.betas1'"
expect "fork with neither --config nor -S" "$RUNS" fork base@step_0 --name same --no-train --quiet
expect_eq "fork: no patch keeps the parent's config" "$(cfg same '')" "$(cfg base '')"
expect_match "runs log shows the patchless fork" "$("$RUNS" log same)" "same"
expect "fork with no patch and no --name" "$RUNS" fork base@step_0 --no-train --quiet
expect "... is named PARENTRUN-fork" "$RUNS" show base-fork

# --- restart -S: the LR spike over the overrides ------------------------------------------
expect "restart with -S" "$RUNS" restart base@step_0 --peak-lr 0.02 -S optimizer.weight_decay=0.05 --name rs --no-train --quiet
expect_eq "restart: the node is a restart" "$("$RUNS" show rs --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["kind"])')" "restart"
expect_eq "restart: -S applied" "$(cfg rs '["optimizer"]["weight_decay"]')" "0.05"
expect_eq "restart: the spike is still its schedule" "$(cfg rs '["schedule"]["restart_lr"]')" "0.02"
expect_exit 1 "restart: -S that changes the model shape" "$RUNS" restart base@step_0 --peak-lr 0.02 -S model.n_layer=3 --name rs2 --no-train
expect_match "... a shape change is refused as for a fork" "$(cat "$T/.err")" "model"
expect_exit 129 "restart: a malformed -S is a usage line" "$RUNS" restart base@step_0 --peak-lr 0.02 -S schedule --name rs3 --no-train

# --- a mistyped command -----------------------------------------------------------------
expect_exit 129 "runs lgo" "$RUNS" lgo
expect_eq "... one line naming the command meant" "$(cat "$T/.err")" "runs: unknown command 'lgo' (did you mean \"log\"?)"
expect_exit 129 "runs xyzzy" "$RUNS" xyzzy
expect_match "... nothing close: not a command" "$(cat "$T/.err")" "'xyzzy' is not a command"

done_testing
