#!/bin/sh
# scripts/demo.sh — the store on a synthetic checkpoint (until the trainer demo
# replaces it): init, commit nodes, fork, log, diff, tag, restore, verify, gc.
# Runs in a scratch directory; leaves nothing behind.
set -e
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=$ROOT/build/runs
SYNTH=$ROOT/tools/runs-synth-commit
D=$(mktemp -d "${TMPDIR:-/tmp}/runs-demo.XXXXXX")
trap 'rm -rf "$D"' EXIT
cd "$D"
export RUNS_STORE="$D/.runs"
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { say "$*"; "$@"; }

run "$RUNS" init
say "runs-synth-commit --run main --count 5   # 5 synthetic checkpoints (4 tensors x weights/adam_m/adam_v)"
"$SYNTH" --run main --count 5 --elems 65536
say "runs-synth-commit --run polish --from main@step_20 --count 3 --lr 1e-4   # a polish pivot"
"$SYNTH" --run polish --from main@step_20 --count 3 --lr 1e-4 --elems 65536
run "$RUNS" log
run "$RUNS" log --graph
run "$RUNS" show polish@step_20
run "$RUNS" diff main@step_20 polish@step_30
run "$RUNS" tag main@step_20 pivot
run "$RUNS" restore pivot --out restored
run ls restored restored/weights
say "runs-synth-commit --check restored --run main --step 20   # byte-exact?"
"$SYNTH" --check restored --run main --step 20 --elems 65536 && echo "restored bytes are exact"
run "$RUNS" verify
say "flip one byte of a stored object, then verify again"
obj=$(grep -o '"sha256":"[0-9a-f]*"' restored/manifest.json | sed -n '2s/.*:"\(.*\)"/\1/p')
f=.runs/objects/$(echo "$obj" | cut -c1-2)/$(echo "$obj" | cut -c3-)
chmod u+w "$f"; cp "$f" good.bin
printf 'X' | dd of="$f" bs=1 seek=7 conv=notrunc 2>/dev/null
"$RUNS" verify || echo "(exit $?: corruption found and named)"
cp good.bin "$f"; chmod 0444 "$f"
run "$RUNS" verify
run "$RUNS" gc --dry-run --keep-last 2
run "$RUNS" gc --keep-last 2
run "$RUNS" log main
run "$RUNS" verify
say "git --git-dir .runs/lineage.git log --oneline --graph --all"
git --git-dir .runs/lineage.git log --oneline --graph --all
