#!/bin/sh
# t1400-show-diff: `runs show` reads like `git show` (header, a fork's config changes,
# metrics, bandit table, tensors summarised; --tensors, --config) and `runs diff` comes in
# sections (config, metrics, data, bandit, tensors) with one spelling for a missing side,
# "… and N more" where a list is cut, --all, --stat and a -- PATH... filter. A tiny store:
# a base run and a fork that changes the lr and a data source's cap.
. "$(dirname "$0")/lib.sh"

tiny_corpus 300 300 prose lists
cat >tiny.json <<JSON
{"model": {"n_layer": 1, "n_head": 2, "n_embd": 16, "vocab_size": 300, "block_size": 16},
 "train": {"total_steps": 20, "batch_size": 2, "seq_len": 16, "seed": 7},
 "optimizer": {"lr": 3e-3},
 "schedule": {"type": "cosine", "warmup_steps": 4},
 "data": {"tokenizer": "$T/tok.bin",
          "sources": {"prose": {"path": "$T/prose.tok"}, "lists": {"path": "$T/lists.tok", "cap": 0.5}}},
 "bandit": {"pull_min": 2, "pull_max": 5},
 "checkpoint": {"every": 10, "boundary": 5, "keep_last": 0, "keep_every": 0}}
JSON
echo '{"optimizer": {"lr": 1e-3}, "data": {"sources": {"lists": {"cap": 0.2}}}}' >patch.json
expect "init" "$RUNS" init
expect "base run" "$RUNS" start --config tiny.json --name base --quiet
expect "fork base@step_10 changing lr and a cap" "$RUNS" fork base@step_10 --config patch.json --name fk --quiet

# --- show ------------------------------------------------------------------------------------
out=$("$RUNS" show fk@step_10)
expect_match "show: id first" "$out" '^node +[0-9a-f]{40}$'
expect_match "show: run@step" "$out" '^run +fk@step_10( |$)'
expect_match "show: parent by id and name" "$out" '^parent +[0-9a-f]{40} \(base@step_10\)$'
expect_match "show: date" "$out" '^date +[0-9]{4}-[0-9]{2}-[0-9]{2}T'
expect_match "show: backend and code version" "$out" '^backend +cpu, code '
expect_match "show: a fork's changes, with where it came from" "$out" '^changes \(fork from base; bandit fresh\)$'
expect_match "show: ... the lr change" "$out" '^  optimizer\.lr: 0\.003 -> 0\.001$'
expect_match "show: ... the cap change" "$out" '^  data\.sources\.lists\.cap: 0\.5 -> 0\.2$'
expect_eq "show: the changes are runs log's" \
    "$(printf '%s\n' "$out" | sed -n '/^changes/,/^$/p' | grep -c ' -> ')" 2
expect_match "show: loss EMA on its own line" "$out" '^  loss_ema +[0-9]+\.[0-9]{4}$'
expect_match "show: the bandit as a table" "$out" '^  arm +pulls +reward +cap +floor +state$'
expect_match "show: ... a row per arm with its cap (a fresh bandit: no reward yet)" "$out" '^  lists +0 +- +0\.20 +0\.00 +active$'
expect_match "show: ... the tip's arms have pulls and a mean reward" "$("$RUNS" show fk)" \
    '^  prose +[1-9][0-9]* +[0-9]+\.[0-9]{4} +1\.00 +0\.00 +active$'
expect_match "show: tensors summarised" "$out" '^tensors +48, [0-9.]+ kB'
expect_match "show: ... per group: count, dtype, bytes" "$out" '^  adam_v +16 +f32 +[0-9.]+ kB$'
expect_match "show: data fingerprints kept" "$out" "^data +$T/lists.tok +[0-9]+ bytes +sha256 [0-9a-f]{16}\$"
expect_eq "show: no tensor rows without --tensors" "$(printf '%s\n' "$out" | grep -c 'h\.0\.mlp')" 0
n=$(printf '%s\n' "$out" | grep -c '')
if [ "$n" -le 40 ]; then ok "show: $n lines (was 150 on this store)"; else not_ok "show: $n lines, want <= 40"; fi
expect_eq "show: no line over 160 characters (the bandit was one long line)" \
    "$(printf '%s\n' "$out" | awk 'length > 160' | wc -l | tr -d ' ')" 0
expect_eq "show --tensors lists every tensor" "$("$RUNS" show fk@step_10 --tensors | grep -cE '^  (weights|adam_m|adam_v) .* f32 +[0-9a-f]{12}$')" 48
cfg=$("$RUNS" show fk --config)
expect_match "show --config: 2-space indent" "$cfg" '^  "optimizer": \{$'
expect_eq "show --config: no tabs" "$(printf '%s\n' "$cfg" | grep -c "$(printf '\t')")" 0
expect_eq "show --config is the node's effective config" \
    "$(printf '%s\n' "$cfg" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin), sort_keys=True))')" \
    "$("$RUNS" show fk --json | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["config"], sort_keys=True))')"
expect_exit 129 "show --json --config is a usage error" "$RUNS" show fk --json --config
expect "sharpness on base (recorded in the note)" "$RUNS" sharpness base --samples 2 --batches 1
expect_match "show: sharpness from the note" "$("$RUNS" show base)" '^  sharpness +[0-9.e+-]+ '
expect_eq "show of a run started from scratch has no changes section" "$("$RUNS" show base | grep -c '^changes')" 0
tip=$("$RUNS" show fk)
expect_match "show of a fork's tip: what its run changed, and where" "$tip" '^changes \(fork from base at fk@step_10; bandit fresh\)$'
expect_match "... the lr change" "$tip" '^  optimizer\.lr: 0\.003 -> 0\.001$'

# a fork written without its changes recorded (synthetic, like older stores): show
# computes them against the parent's config
SYN=$T/syn/.runs
mkdir syn && expect "a synthetic store" "$RUNS" --store "$SYN" init
expect "synthetic main" "$ROOT/tools/runs-synth-commit" --store "$SYN" --run main --count 2
expect "synthetic fork with another lr" "$ROOT/tools/runs-synth-commit" --store "$SYN" --run polish --from main@step_10 --count 1 --lr 1e-4 --kind fork
so=$("$RUNS" --store "$SYN" show polish@step_10)
expect_match "show: an unrecorded fork's changes come from its parent's config" "$so" '^  optimizer\.lr: 0\.0004 -> 0\.0001$'
expect_eq "show: no bandit table without a bandit" "$(printf '%s\n' "$so" | grep -c '^bandit')" 0

# --- diff ------------------------------------------------------------------------------------
d=$("$RUNS" diff base fk)
order=$(printf '%s\n' "$d" | sed -n 's/^\(config\|metrics\|data\|bandit\|tensors\) ([0-9]*)$/\1/p' | tr '\n' ' ')
expect_eq "diff: sections in a fixed order" "$order" "config metrics data bandit tensors "
expect_match "diff: config first, by dotted path" "$(printf '%s\n' "$d" | sed -n '/^config (/{n;p;}')" \
    '^  config\.data\.sources\.lists\.cap: 0\.5 -> 0\.2$'
expect_match "diff: tensors per group" "$d" '^  tensors\.weights: 16 of 16 changed$'
expect_match "diff: a cut list says so" "$d" '^    … and 36 more \(--all lists them\)$'
expect_match "diff: the cut bandit list says so" "$d" '^  … and [0-9]+ more \(--all lists them\)$'
listed=$(printf '%s\n' "$d" | grep -c '^    adam_\|^    weights\.')
expect_eq "diff: 12 tensor names listed" "$listed" 12
da=$("$RUNS" diff base fk --all)
expect_eq "diff --all: every changed tensor" "$(printf '%s\n' "$da" | grep -c '^    adam_\|^    weights\.')" 48
expect_eq "diff --all: nothing cut" "$(printf '%s\n' "$da" | grep -c '… and')" 0
d0=$("$RUNS" diff base@step_0 fk)
expect_match "diff: a missing side reads (absent)" "$d0" '^  metrics\.loss: \(absent\) -> [0-9.]+$'
expect_eq "diff: (none) is gone" "$(printf '%s\n' "$d0" | grep -c '(none)')" 0
expect_match "diff --json: a missing side is null" "$("$RUNS" diff base@step_0 fk --json | tr -d ' \n')" \
    '\{"a":null,"b":[0-9.]+,"path":"metrics.loss"\}'
st=$("$RUNS" diff base fk --stat)
expect_match "diff --stat: config count" "$st" '^config +2$'
expect_match "diff --stat: tensors count" "$st" '^tensors +48$'
expect_eq "diff --stat: no values" "$(printf '%s\n' "$st" | grep -c ' -> ')" 0
expect_match "diff --stat --json" "$("$RUNS" diff base fk --stat --json | tr -d ' \t\n')" '"config":2,.*"tensors":48'
f=$("$RUNS" diff base fk -- optimizer data.sources)
expect_eq "diff -- optimizer data.sources: only those" "$(printf '%s\n' "$f" | grep ' -> ')" \
    "  config.data.sources.lists.cap: 0.5 -> 0.2
  config.optimizer.lr: 0.003 -> 0.001"
expect_eq "diff --json -- optimizer.lr: one entry" "$("$RUNS" diff base fk --json -- optimizer.lr | tr -d ' \n')" \
    '[{"a":0.003,"b":0.001,"path":"config.optimizer.lr"}]'
expect_eq "diff -- metrics: only metrics" "$("$RUNS" diff base fk --json -- metrics | tr -d ' \n' | grep -o '"path":"[a-z]*' | sort -u)" '"path":"metrics'
expect_match "diff -- a path with no differences" "$("$RUNS" diff base fk -- model)" '^no differences under the given paths$'
expect_exit 129 "diff with -- and no PATH" "$RUNS" diff base fk --
expect_eq "diff of a node with itself" "$("$RUNS" diff fk fk | tail -1)" "no differences"
done_testing
