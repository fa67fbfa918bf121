#!/bin/sh
# scripts/demo.sh — `make demo`: the seed's story in a few minutes on two CPU cores
# (`make demo-long`, DEMO_LONG=1: the same at full length, configs/demo-long.json).
#
# 1. builds the demo corpus from text Debian ships (seven sources, each through the
#    filter, BPE tokenizer; built once into data/);
# 2. trains a small GPT (4 layers, 128 wide, 8 x 64 tokens a step: the three runs are
#    about one CPU-minute in all, the corpus about another) with warmup + cosine,
#    checkpointing into a content-addressed store, auditing samples and the held-out
#    loss as it goes;
# 3. forks a polish pivot from the middle node (new caps and floors, same weights,
#    unbroken loss history), and a warm restart (LR spiked, cosine after);
# 4. shows the lineage, the run table, a diff, a plot and a report.
# Everything lands in demo/ (removed and rebuilt each time); the store is demo/.runs,
# so README's session works after `export RUNS_STORE=$PWD/demo/.runs`.
#
# For tests: DEMO_WORKDIR (default: the repository) holds configs/ and receives demo/;
# DEMO_CORPUS=0 skips step 1 (the config then names its own data); RUNS is the binary.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-$ROOT/build/runs}
cd "${DEMO_WORKDIR:-$ROOT}"
if [ "${DEMO_LONG:-0}" = 1 ]; then CONFIG=configs/demo-long.json; else CONFIG=configs/demo.json; fi
# the numbers the story needs, from the config itself (one key per name in these files)
num() { sed -n "s/.*\"$1\": *\([0-9][0-9]*\).*/\1/p" "$CONFIG" | head -1; }
STEPS=$(num total_steps)
EVERY=$(sed -n 's/.*"checkpoint": *{"every": *\([0-9][0-9]*\).*/\1/p' "$CONFIG" | head -1)
[ -n "$STEPS" ] && [ -n "$EVERY" ] || { echo "demo: cannot read total_steps and checkpoint.every from $CONFIG" >&2; exit 1; }
HALF=$((STEPS / 2 / EVERY * EVERY))     # the pivot: a checkpoint node mid-run
THIRD=$((STEPS / 3 / EVERY * EVERY))    # the warm restart's origin
t0=$(date +%s)
say() { printf '\n\033[1m== %s\033[0m  (%ss)\n' "$*" "$(( $(date +%s) - t0 ))"; }
run() { printf '$ runs %s\n' "$*"; "$RUNS" "$@"; }

if [ "${DEMO_CORPUS:-1}" != 0 ]; then
    say "1. the demo corpus (data/, built once; every source through the filter)"
    RUNS="$RUNS" "$ROOT/scripts/build-corpus.sh"
fi

rm -rf demo && mkdir -p demo
RUNS_STORE="$PWD/demo/.runs"
export RUNS_STORE
say "2. a store (demo/.runs: export RUNS_STORE=\$PWD/demo/.runs to use it), the schedule"
run init
run lr --config "$CONFIG" --steps "0,$((STEPS / 20)),$HALF,$((STEPS - 1))"
say "3. train from scratch: $STEPS steps, warmup + cosine, a node every $EVERY steps, sample audits"
run start --config "$CONFIG" --name base --dir demo/base

say "4. polish pivot: fork base@step_$HALF with new caps and floors (configs/polish.json)"
cat configs/polish.json
run fork "base@step_$HALF" --config configs/polish.json --name polish --dir demo/polish
say "   the polish run's loss history continues the base run's without a gap"
printf 'demo/polish/.loss.json: %s lines, steps %s..%s\n' "$(grep -c '' demo/polish/.loss.json)" \
    "$(head -1 demo/polish/.loss.json | sed 's/.*"step":\([0-9]*\),.*/\1/')" \
    "$(tail -1 demo/polish/.loss.json | sed 's/.*"step":\([0-9]*\),.*/\1/')"

say "5. warm restart from base@step_$THIRD: LR back up to 2e-3, cosine after (trained to step $HALF here)"
run restart "base@step_$THIRD" --peak-lr 2e-3 --name warm --dir demo/warm --steps "$HALF"

say "6. the lineage and the run table"
run log --graph --all
run ls
say "7. what the pivot changed"
run diff "base@step_$HALF" "polish@step_$HALF"
say "8. verify every object, then charts and a report"
run verify
if run plot base --out demo/base.svg && run report base --out demo/report.html; then
    echo "open demo/report.html in a browser (charts, nodes, the fork's config diff, samples)"
fi
say "done: the store is demo/.runs; try README's session: export PATH=\$PWD/build:\$PATH RUNS_STORE=\$PWD/demo/.runs"
