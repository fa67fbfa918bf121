#!/bin/sh
# scripts/study-collapse.sh — the collapse study (docs/collapse-study.md), made with `runs`
# alone and written from what it measured: the seed's broken config (no warmup, no
# gradient clipping, weight decay 0, a high LR) against the fixed one (the demo config),
# with both gates on, and the broken config again with only one gate at a time, so the
# doc can say which gate fires when, on the samples and on the loss; the samples with
# their coherence scores; the held-out loss of every run.
#
#   scripts/study-collapse.sh [--quick] [--dir DIR] [--doc FILE] [--doc-only]
#
#   (full)   the demo model (4×128, configs/demo.json) on the demo corpus (data/*.tok,
#            scripts/build-corpus.sh), the demo's 600-step schedule stopped at step 300;
#            writes docs/collapse-study.md.
#            A few minutes on a shared 2-core machine; run it with nice.
#   --quick  a 2×32 GPT on a tiny synthetic corpus the script writes itself, 150 steps;
#            seconds; writes DIR/collapse-study.md (the test, t3200, checks it).
#   --dir    where the store (DIR/.runs), the run directories and the outputs go
#            (removed first; default /tmp/study-collapse[-quick]).
#   --doc    where the doc goes.   --doc-only  write it again from DIR (nothing is trained).
# RUNS names the binary (default build/runs). Needs python3 (configs, the doc).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/study-tiny-corpus.sh"
RUNS=${RUNS:-$ROOT/build/runs}
QUICK=0 W="" DOC="" DOC_ONLY=0
usage() { echo "usage: scripts/study-collapse.sh [--quick] [--dir DIR] [--doc FILE] [--doc-only]" >&2; exit 129; }
while [ $# -gt 0 ]; do
    case $1 in
    --quick) QUICK=1 ;;
    --dir) [ $# -ge 2 ] || usage; W=$2; shift ;;
    --doc) [ $# -ge 2 ] || usage; DOC=$2; shift ;;
    --doc-only) DOC_ONLY=1 ;;
    -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) usage ;;
    esac
    shift
done
command -v python3 >/dev/null || { echo "study-collapse: python3 is needed (configs, the doc)" >&2; exit 1; }
[ -x "$RUNS" ] || { echo "study-collapse: no runs binary at $RUNS; run make (or set RUNS)" >&2; exit 1; }
if [ $QUICK = 1 ]; then
    W=${W:-/tmp/study-collapse-quick} DOC=${DOC:-$W/collapse-study.md} STEPS=150
else
    W=${W:-/tmp/study-collapse} DOC=${DOC:-$ROOT/docs/collapse-study.md} STEPS=300
    for f in tokenizer.bin chat.tok quotes.tok jargon.tok; do
        [ -s "$ROOT/data/$f" ] || { echo "study-collapse: data/$f is missing; run scripts/build-corpus.sh first (or --quick)" >&2; exit 1; }
    done
fi
case $W in /*) ;; *) W=$(pwd)/$W ;; esac
export RUNS_STORE="$W/.runs" RUNS_NO_PROGRESS=1
# results do not depend on the thread count; tiny steps split badly on a busy machine
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

if [ $DOC_ONLY = 0 ]; then
rm -rf "$W"
mkdir -p "$W/out"
echo "study-collapse: store $RUNS_STORE (export RUNS_STORE=$RUNS_STORE to look at it with runs)"
t0=$(date +%s)
load0=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")
if [ $QUICK = 1 ]; then
    # the tiny corpus the CLI tests use: prose trains, chat's tail is held out
    study_tiny_corpus "$W/data" 320
fi

# fixed.json: the demo config (warmup, clipping at 1, weight decay 0.01, lr 2e-3) with
# sample audits and the held-out eval every 20 steps (10 in --quick); broken.json: the same with
# the seed's v1 settings (lr 1.0, no warmup, no clipping, no weight decay). Each config runs
# with both gates, then with one gate at a time (gate.patience 0: no sample gate;
# gate.loss_spike_steps 0: no loss-spike rule), so a run one gate stops still shows what the
# other would have done, and how far it gets.
QUICK=$QUICK STEPS=$STEPS ROOT=$ROOT W=$W python3 - <<'PY'
import json, os
e = os.environ
quick, W, root, steps = e["QUICK"] == "1", e["W"], e["ROOT"], int(e["STEPS"])
if quick:
    c = {"model": {"n_layer": 2, "n_head": 2, "n_embd": 32, "vocab_size": 320, "block_size": 32},
         "train": {"batch_size": 4, "seq_len": 16, "seed": 7},
         "optimizer": {"lr": 3e-3, "grad_clip": 1.0, "weight_decay": 0.01},
         "schedule": {"type": "cosine", "warmup_steps": 20},
         "data": {"tokenizer": W + "/data/tok.bin", "heldout": "chat",
                  "sources": {"prose": {"path": W + "/data/prose.tok"}, "chat": {"path": W + "/data/chat.tok"}}},
         "bandit": {"pull_min": 2, "pull_max": 5},
         "sampling": {"tokens": 24, "temperature": 0.8, "seed": 42, "prompts": ["the cat", "> what is"]},
         "checkpoint": {"every": 50, "boundary": 10, "keep_last": 0, "keep_every": 0}}
else:
    c = json.load(open(root + "/configs/demo.json"))
    d = c["data"]
    d["tokenizer"] = root + "/" + d["tokenizer"]
    for s in d["sources"].values():
        s["path"] = root + "/" + s["path"]
c["train"]["backend"] = "cpu"
if quick:
    c["train"]["total_steps"] = steps
c["sampling"]["every"] = 20 if not quick else 10
c["gate"] = {"threshold": 30, "patience": 5, "loss_spike_factor": 3, "loss_spike_steps": 50}
c["eval"] = {"every": c["sampling"]["every"], "batches": 4 if not quick else 2}
json.dump(c, open(W + "/fixed.json", "w"), indent=1)
b = json.loads(json.dumps(c))
b["optimizer"].update({"lr": 1.0, "grad_clip": 0, "weight_decay": 0})
b["schedule"]["warmup_steps"] = 0
json.dump(b, open(W + "/broken.json", "w"), indent=1)
for name, x in (("fixed", c), ("broken", b)):  # the divergence gate's grace: the warmup
    open(W + "/" + name + ".json.grace", "w").write("%d\n" % x["schedule"]["warmup_steps"])
PY

# RUN CONFIG [-S ...]: train, keep the exit status and the one stderr line
train() {
    name=$1 cfg=$2; shift 2
    set +e
    "$RUNS" start --config "$W/$cfg" --name "$name" --dir "$W/runs/$name" --steps $STEPS --quiet "$@" \
        >"$W/out/$name.stdout" 2>"$W/out/$name.stderr"
    echo $? >"$W/out/$name.rc"
    set -e
    echo "study-collapse: $name: exit $(cat "$W/out/$name.rc") ($(( $(date +%s) - t0 ))s)"
    "$RUNS" log "$name" --json >"$W/out/$name.log.json"
    "$RUNS" show "$name" --json >"$W/out/$name.tip.json"
    "$RUNS" eval "$name" --json >"$W/out/$name.eval.json"
    # both gates replayed over both logs, whatever stopped the run
    "$RUNS" gate --backtest "$W/runs/$name/.samples.json" --json >"$W/out/$name.bt-samples.json"
    "$RUNS" gate --backtest "$W/runs/$name/.loss.json" --grace "$(cat "$W/$cfg.grace")" --json >"$W/out/$name.bt-loss.json"
}
"$RUNS" init >/dev/null
train broken broken.json
train broken-loss-gate-only broken.json -S gate.patience=0
train broken-sample-gate-only broken.json -S gate.loss_spike_steps=0
train fixed fixed.json
train fixed-loss-gate-only fixed.json -S gate.patience=0
t1=$(date +%s)
load1=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")
{ echo "SECS=$((t1 - t0))"; echo "LOAD0='$load0'"; echo "LOAD1='$load1'"
  echo "COMMIT=${STUDY_COMMIT:-$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)}"; } >"$W/meta.env"
fi
[ -s "$W/meta.env" ] || { echo "study-collapse: no finished study in $W" >&2; exit 1; }
. "$W/meta.env"

mkdir -p "$(dirname "$DOC")"
QUICK=$QUICK STEPS=$STEPS W="$W" SECS=$SECS LOAD0="$LOAD0" LOAD1="$LOAD1" COMMIT="$COMMIT" \
    python3 "$ROOT/scripts/study-collapse-doc.py" >"$DOC.tmp"
mv "$DOC.tmp" "$DOC"
echo "study-collapse: wrote $DOC (measured in ${SECS}s; store $RUNS_STORE)"
