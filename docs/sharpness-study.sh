#!/bin/sh
# docs/sharpness-study.sh — the cosine (α = 0) vs WSO sharpness study of
# docs/sharpness-study.md, made with `runs` itself on the CPU.
#
#   sh docs/sharpness-study.sh [WORKDIR]        (from the repository root; default /tmp/sharp-study)
#   TABLE_ONLY=1 sh docs/sharpness-study.sh [WORKDIR]   (reprint the table of a finished study)
#
# One warmed-up node (the demo model, 300 steps at constant LR after a 60-step warmup)
# is forked into a cosine branch (to 0 at step 1500) and a WSO branch (constant LR),
# both trained to step 1500 with the same bandit state at the fork; the trace of the
# Hessian is measured on the held-out tail of data/jargon.tok every 300 steps.
# Needs: make, scripts/build-corpus.sh (data/*.tok), jq. ~6 minutes on 2 cores.
set -eu
RUNS=${RUNS:-build/runs}
W=${1:-/tmp/sharp-study}
K=${K:-50}          # Rademacher vectors per measurement (the paper's 50)
NB=${NB:-2}         # held-out batches of 8×128 tokens
END=1500            # both branches stop here
FORK=300            # the warmed-up node
EVERY=300           # measure at these steps
export RUNS_STORE="$W/.runs" RUNS_NO_PROGRESS=1
if [ -z "${TABLE_ONLY:-}" ]; then
rm -rf "$W"
mkdir -p "$W"

# The demo config, with: a constant LR after warmup (wso) up to the fork, a horizon
# of END steps, nodes every EVERY steps (all kept), samples rarely, gate off (a halt
# would end a branch early; this is a schedule study, not a gate demo).
jq --argjson total $END --argjson every $EVERY '
  .train.total_steps = $total | .train.backend = "cpu"
  | .schedule = {"type": "wso", "warmup_steps": 60, "min_lr_factor": 1}
  | .sampling.every = $every | .gate.threshold = 0
  | .checkpoint = {"every": $every, "boundary": $every, "keep_last": 0, "keep_every": 0}' \
  configs/demo.json >"$W/base.json"
echo '{"schedule": {"type": "cosine", "min_lr_factor": 0}}' >"$W/cosine.json"
echo '{"schedule": {"type": "wso", "min_lr_factor": 1}}' >"$W/wso.json"

"$RUNS" init
"$RUNS" start --config "$W/base.json" --name warm --dir "$W/runs/warm" --steps $FORK --quiet
"$RUNS" fork warm@step_$FORK --config "$W/cosine.json" --name cosine --dir "$W/runs/cosine" --keep-bandit --quiet
"$RUNS" fork warm@step_$FORK --config "$W/wso.json" --name wso --dir "$W/runs/wso" --keep-bandit --quiet

# Sharpness at the fork node and along both branches (same held-out batches, same
# Rademacher seed everywhere, so differences are not sampling noise in the data).
"$RUNS" sharpness warm@step_$FORK --samples $K --batches $NB --json >"$W/sharp-warm-$FORK.json"
for run in cosine wso; do
    s=$((FORK + EVERY))
    while [ $s -le $END ]; do
        "$RUNS" sharpness $run@step_$s --samples $K --batches $NB --json >"$W/sharp-$run-$s.json"
        s=$((s + EVERY))
    done
done
fi

# The table: step, then per branch the training-loss EMA at the node (metrics.loss_ema),
# the LR of the node's last step, the held-out loss at θ (the mean over the measured
# batches), tr(H) ± its standard error over the K Rademacher vectors.
lr_at() { sed -n "$(($2))p" "$W/runs/$1/.loss.json" | jq -r '.lr'; }   # line s = step s-1
ema_at() { "$RUNS" show "$1" --json | jq -r '.metrics.loss_ema'; }
row() { # RUN STEP FILE
    printf ' %.4f | %.2e | %.4f | %.1f ± %.1f |' "$(ema_at $1@step_$2)" "$(lr_at $1 $2)" \
        "$(jq -r .loss "$3")" "$(jq -r .trace "$3")" "$(jq -r .stderr "$3")"
}
echo
echo "| step | cosine train loss (EMA) | cosine LR | cosine held-out loss | cosine tr(H) ± SE | WSO train loss (EMA) | WSO LR | WSO held-out loss | WSO tr(H) ± SE |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '| %d (fork) |' $FORK; row warm $FORK "$W/sharp-warm-$FORK.json"; row warm $FORK "$W/sharp-warm-$FORK.json"; echo
s=$((FORK + EVERY))
while [ $s -le $END ]; do
    printf '| %d |' $s; row cosine $s "$W/sharp-cosine-$s.json"; row wso $s "$W/sharp-wso-$s.json"; echo
    s=$((s + EVERY))
done
