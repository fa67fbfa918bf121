#!/bin/sh
# scripts/study-sharpness.sh — the sharpness study (docs/sharpness-study.md), made with
# `runs` alone and written from what it measured: for each training seed, one warmed-up
# node is forked into a cosine (α = 0), a WSD (α = 0) and a WSO (constant LR) branch with
# the same bandit state; the trace of the Hessian (Hutchinson, `runs sharpness`) and the
# held-out loss (the node's val_loss, which `runs eval` reproduces) are read at every
# checkpoint node; the doc reports mean ± standard error across seeds.
#
#   scripts/study-sharpness.sh [--quick] [--dir DIR] [--doc FILE] [--seeds "S1 S2 S3"] [--resume]
#
#   (full)   the 2×64 GPT on the demo corpus (data/*.tok, scripts/build-corpus.sh), 1200
#            steps per branch, 3 seeds; writes docs/sharpness-study.md. ~15-30 minutes on a
#            shared 2-core machine; run it with nice.
#   --quick  a 1×16 GPT on a tiny synthetic corpus the script writes itself, 20 steps;
#            seconds; writes DIR/sharpness-study.md (the test, t3200, checks it).
#   --dir    where the store (DIR/.runs), the run directories and the measurements go
#            (removed first; default /tmp/study-sharpness[-quick]).
#   --doc    where the doc goes.
#   --doc-only  write the doc again from DIR's measurements (nothing is trained).
#   --resume    keep DIR and the seeds it finished; train and measure only the others
#               (more seeds for a finished study: --resume --seeds "OLD... NEW...").
# RUNS names the binary (default build/runs). Needs python3 (configs, statistics, doc).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/study-tiny-corpus.sh"
RUNS=${RUNS:-$ROOT/build/runs}
QUICK=0 W="" DOC="" SEEDS="" DOC_ONLY=0 RESUME=0
usage() { echo "usage: scripts/study-sharpness.sh [--quick] [--dir DIR] [--doc FILE] [--seeds \"S1 S2 ...\"] [--doc-only] [--resume]" >&2; exit 129; }
while [ $# -gt 0 ]; do
    case $1 in
    --quick) QUICK=1 ;;
    --dir) [ $# -ge 2 ] || usage; W=$2; shift ;;
    --doc) [ $# -ge 2 ] || usage; DOC=$2; shift ;;
    --seeds) [ $# -ge 2 ] || usage; SEEDS=$2; shift ;;
    --doc-only) DOC_ONLY=1 ;;
    --resume) RESUME=1 ;;
    -h | --help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) usage ;;
    esac
    shift
done
command -v python3 >/dev/null || { echo "study-sharpness: python3 is needed (configs, statistics, the doc)" >&2; exit 1; }
[ -x "$RUNS" ] || { echo "study-sharpness: no runs binary at $RUNS; run make (or set RUNS)" >&2; exit 1; }

SEEDS_GIVEN=$SEEDS
if [ $QUICK = 1 ]; then
    W=${W:-/tmp/study-sharpness-quick} DOC=${DOC:-$W/sharpness-study.md} SEEDS=${SEEDS:-"1 2 3"}
    END=20 FORK=10 EVERY=10 K=4 NB=1 WARMUP=4 EVAL_BATCHES=1 EPS=0.02
else
    W=${W:-/tmp/study-sharpness} DOC=${DOC:-$ROOT/docs/sharpness-study.md} SEEDS=${SEEDS:-"1337 1338 1339"}
    # EPS: the finite-difference step. At runs sharpness's default (1e-3) this model's
    # estimate is fp32 round-off: one node gave -2577 ± 610 at 3e-4, -523 ± 163 at 1e-3,
    # 138 ± 30 at 1e-2, 114 ± 20 at 3e-2, 80 ± 3 at 1e-1 (the curvature's own error);
    # 2e-2 sits on the plateau, and the study checks it again at EPS/2 and 2·EPS
    END=1200 FORK=200 EVERY=200 K=30 NB=2 WARMUP=40 EVAL_BATCHES=4 EPS=0.02
    for f in tokenizer.bin chat.tok quotes.tok jargon.tok; do
        [ -s "$ROOT/data/$f" ] || { echo "study-sharpness: data/$f is missing; run scripts/build-corpus.sh first (or --quick)" >&2; exit 1; }
    done
fi
SCHEDULES="cosine wsd wso"
case $W in /*) ;; *) W=$(pwd)/$W ;; esac
export RUNS_STORE="$W/.runs" RUNS_NO_PROGRESS=1
if [ $DOC_ONLY = 0 ]; then
secs0=0 load0=""
if [ $RESUME = 1 ] && [ -s "$W/meta.env" ]; then
    # a finished part: its time and starting load carry into the doc's cost line
    secs0=$(sed -n 's/^SECS=//p' "$W/meta.env") load0=$(sed -n "s/^LOAD0='\(.*\)'\$/\1/p" "$W/meta.env")
fi
[ $RESUME = 1 ] || rm -rf "$W"
mkdir -p "$W/m"
# tiny steps do not split across threads well, least of all on a busy machine;
# results do not depend on the thread count
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
echo "study-sharpness: store $RUNS_STORE (export RUNS_STORE=$RUNS_STORE to look at it with runs)"
t0=$(date +%s)
load0=${load0:-$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")}

if [ $QUICK = 1 ]; then
    # the tiny corpus the CLI tests use: prose trains, chat's tail is held out
    study_tiny_corpus "$W/data" 300
fi

# The base config: the warm-up trunk of every seed (WSO: warmup, then the peak LR). Nodes,
# held-out evals and measurements every EVERY steps, all nodes kept; no sample audits (the
# sample gate is not what this studies; the divergence gate stays on, and a halt fails the study).
QUICK=$QUICK END=$END EVERY=$EVERY WARMUP=$WARMUP EVAL_BATCHES=$EVAL_BATCHES ROOT=$ROOT W=$W python3 - <<'PY'
import json, os
e = os.environ
quick, W, root = e["QUICK"] == "1", e["W"], e["ROOT"]
end, every = int(e["END"]), int(e["EVERY"])
if quick:
    c = {"model": {"n_layer": 1, "n_head": 2, "n_embd": 16, "vocab_size": 300, "block_size": 16},
         "train": {"batch_size": 4, "seq_len": 16},
         "optimizer": {"lr": 3e-3},
         "data": {"tokenizer": W + "/data/tok.bin", "heldout": "chat",
                  "sources": {"prose": {"path": W + "/data/prose.tok"}, "chat": {"path": W + "/data/chat.tok"}}}}
else:
    c = json.load(open(root + "/configs/demo.json"))
    # the demo's data, optimizer and bandit; a 2-layer, 64-wide model (0.36M parameters,
    # most of them the 4096×64 embedding) so that 3 seeds × 3 branches fit a shared CPU
    c["model"] = {"n_layer": 2, "n_head": 2, "n_embd": 64, "vocab_size": 4096, "block_size": 64}
    c["train"]["seq_len"] = 64
    d = c["data"]
    d["tokenizer"] = root + "/" + d["tokenizer"]
    for s in d["sources"].values():
        s["path"] = root + "/" + s["path"]
c["train"].update({"total_steps": end, "backend": "cpu"})
c["schedule"] = {"type": "wso", "warmup_steps": int(e["WARMUP"]), "min_lr_factor": 1}
c["sampling"] = {"every": 0}
c["eval"] = {"every": every, "batches": int(e["EVAL_BATCHES"])}
c["checkpoint"] = {"every": every, "boundary": every, "keep_last": 0, "keep_every": 0}
json.dump(c, open(W + "/base.json", "w"), indent=1)
for name, sch in (("cosine", {"type": "cosine", "min_lr_factor": 0}),
                  ("wsd", {"type": "wsd", "min_lr_factor": 0, "stable_ratio": 0.8}),
                  ("wso", {"type": "wso", "min_lr_factor": 1})):
    json.dump({"schedule": sch}, open(W + "/" + name + ".json", "w"))
PY

[ -d "$RUNS_STORE" ] || "$RUNS" init >/dev/null
# each measured node leaves two files, m/SEED-SCHEDULE-STEP.json (runs sharpness) and
# .node.json (runs show); measurements.tsv is made from them once, at the end
measure() { # SEED SCHEDULE NODE STEP
    "$RUNS" sharpness "$3" --samples $K --batches $NB --eps $EPS --json >"$W/m/$1-$2-$4.json"
    "$RUNS" show "$3" --json >"$W/m/$1-$2-$4.node.json"
}
for seed in $SEEDS; do
    if [ -s "$W/m/$seed-wso-$END.node.json" ]; then
        echo "study-sharpness: seed $seed: measured already (--resume)"
        continue
    fi
    echo "study-sharpness: seed $seed: warm-up to step $FORK, then $SCHEDULES to step $END ($(( $(date +%s) - t0 ))s)"
    "$RUNS" start --config "$W/base.json" -S train.seed=$seed --name warm-$seed --dir "$W/runs/warm-$seed" --steps $FORK --quiet
    measure $seed fork warm-$seed@step_$FORK $FORK
    for sch in $SCHEDULES; do
        "$RUNS" fork warm-$seed@step_$FORK --config "$W/$sch.json" --name $sch-$seed --dir "$W/runs/$sch-$seed" \
            --keep-bandit --quiet >/dev/null
        s=$((FORK + EVERY))
        while [ $s -le $END ]; do
            measure $seed $sch $sch-$seed@step_$s $s
            s=$((s + EVERY))
        done
    done
done
# is EPS on the plateau between round-off (small ε) and curvature error (large ε)? the first
# seed's cosine end node again at EPS/2 and 2·EPS (not recorded in its note)
first=${SEEDS%% *}
for eps in $(awk -v e=$EPS 'BEGIN { print e / 2, e * 2 }'); do
    [ -s "$W/m/eps-$eps.json" ] && continue
    "$RUNS" sharpness cosine-$first@step_$END --samples $K --batches $NB --eps $eps --no-record --json >"$W/m/eps-$eps.json"
done
# one line per measured node: seed schedule step trace trace_se heldout_loss val_loss loss_ema lr;
# one per ε of the check: eps trace trace_se
SEEDS="$SEEDS" SCHEDULES="$SCHEDULES" FORK=$FORK END=$END EVERY=$EVERY EPS=$EPS W=$W python3 - <<'PY'
import json, os
e = os.environ
W, fork, end, every = e["W"], int(e["FORK"]), int(e["END"]), int(e["EVERY"])
with open(W + "/measurements.tsv", "w") as out:
    for seed in e["SEEDS"].split():
        for sch, steps in [("fork", [fork])] + [(c, range(fork + every, end + 1, every)) for c in e["SCHEDULES"].split()]:
            for step in steps:
                f = f"{W}/m/{seed}-{sch}-{step}"
                s, n = json.load(open(f + ".json")), json.load(open(f + ".node.json"))
                m = n["metrics"]
                assert n["step"] == step and s["step"] == step, (f, n["step"], s["step"])
                print(seed, sch, step, *(repr(x) for x in (s["trace"], s["stderr"], s["loss"], m["val_loss"],
                      m["loss_ema"], m["lr"])), sep="\t", file=out)
first = e["SEEDS"].split()[0]
with open(W + "/eps.tsv", "w") as out:
    eps = float(e["EPS"])
    for x, f in ((eps / 2, None), (eps, f"{W}/m/{first}-cosine-{end}.json"), (eps * 2, None)):
        s = json.load(open(f or f"{W}/m/eps-{x:g}.json"))
        assert abs(s["eps"] - x) < 1e-12 * x, (s["eps"], x)
        print(repr(x), repr(s["trace"]), repr(s["stderr"]), sep="\t", file=out)
PY
t1=$(date +%s)
load1=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")
# what the doc says about the run itself
{ echo "SECS=$((secs0 + t1 - t0))"; echo "LOAD0='$load0'"; echo "LOAD1='$load1'"; echo "SEEDS='$SEEDS'"
  echo "COMMIT=${STUDY_COMMIT:-$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)}"; } >"$W/meta.env"
fi
[ -s "$W/measurements.tsv" ] && [ -s "$W/meta.env" ] || { echo "study-sharpness: no measurements in $W" >&2; exit 1; }
. "$W/meta.env"
SEEDS=${SEEDS_GIVEN:-$SEEDS}    # --doc-only: the seeds the study measured

# the doc, from measurements.tsv and nothing typed by hand
mkdir -p "$(dirname "$DOC")"
QUICK=$QUICK END=$END FORK=$FORK EVERY=$EVERY K=$K NB=$NB EPS=$EPS WARMUP=$WARMUP EVAL_BATCHES=$EVAL_BATCHES \
    SEEDS="$SEEDS" W="$W" SECS=$SECS LOAD0="$LOAD0" LOAD1="$LOAD1" COMMIT="$COMMIT" \
    python3 "$ROOT/scripts/study-sharpness-doc.py" "$W/measurements.tsv" >"$DOC.tmp"
mv "$DOC.tmp" "$DOC"
echo "study-sharpness: wrote $DOC (measured in ${SECS}s; store $RUNS_STORE)"
