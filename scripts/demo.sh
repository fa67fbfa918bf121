#!/bin/sh
# scripts/demo.sh — `make demo`: the seed's story in ten minutes on two CPU cores.
#
# 1. builds the demo corpus from text Debian ships (seven sources, BPE tokenizer);
# 2. trains a small GPT (4 layers, 128 wide) with warmup + cosine, checkpointing
#    every 250 steps into a content-addressed store, auditing samples as it goes;
# 3. forks a polish pivot from a mid-run node (new caps and floors, same weights,
#    unbroken loss history), and a warm restart (LR spiked, cosine after);
# 4. shows the lineage, a diff, the schedule, a plot and a report.
# Everything lands in demo/ (removed and rebuilt each time).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
RUNS="$ROOT/build/runs"
STEPS=${DEMO_STEPS:-2000}
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ runs %s\n' "$*"; "$RUNS" "$@"; }

say "1. the demo corpus (data/, built once)"
scripts/build-corpus.sh
sed -n '1,10p' data/corpus-report.txt

rm -rf demo && mkdir -p demo
export RUNS_STORE="$ROOT/demo/.runs"
say "2. a store, and the schedule the config asks for"
run init
run lr --config configs/demo.json --steps 0,50,99,100,1000,1999
say "3. train from scratch: warmup + cosine, checkpoints every 250 steps, sample audits"
run start --config configs/demo.json --name base --dir demo/base --steps "$STEPS"

half=$((STEPS / 2))
say "4. polish pivot: fork base@step_$half with new caps and floors (configs/polish.json)"
cat configs/polish.json
run fork "base@step_$half" --config configs/polish.json --name polish --dir demo/polish --steps "$STEPS"
say "   the polish run's loss history continues the base run's without a gap"
printf 'demo/polish/.loss.json: %s lines, steps %s..%s\n' "$(grep -c '' demo/polish/.loss.json)" \
    "$(head -1 demo/polish/.loss.json | sed 's/.*"step":\([0-9]*\),.*/\1/')" \
    "$(tail -1 demo/polish/.loss.json | sed 's/.*"step":\([0-9]*\),.*/\1/')"

quarter=$((STEPS / 4))
say "5. warm restart from base@step_$quarter: LR back up to 2e-3, cosine to the end (trained to step $half here)"
run restart "base@step_$quarter" --peak-lr 2e-3 --name warm --dir demo/warm --steps "$half"

say "6. the lineage"
run log --graph --all
say "7. what the pivot changed"
run diff "base@step_$half" "polish@step_$half"
say "8. verify every object, then charts and a report"
run verify
run restore "polish@step_$STEPS" --out demo/restored >/dev/null && echo "restored polish@step_$STEPS into demo/restored/ (verified): $(ls demo/restored | tr '\n' ' ')"
if run plot base --out demo/base.svg && run report base --out demo/report.html; then
    echo "open demo/report.html in a browser (charts, nodes, the fork's config diff, samples)"
fi
say "done: the store is demo/.runs (git --git-dir demo/.runs/lineage.git log --graph --all works too)"
