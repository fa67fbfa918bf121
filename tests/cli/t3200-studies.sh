#!/bin/sh
# The two studies (issue 12 item 7) in --quick mode: scripts/study-sharpness.sh and
# scripts/study-collapse.sh train tiny models with the real binary, then write their docs
# from what they measured. Checks each script's exit status and "where the store is" line,
# the docs' sections and tables (numbers, not placeholders), that the numbers are the
# store's (runs eval, runs log), and for the collapse study that the broken config was
# halted with exit 2 and a halt node while the fixed one ran to the end with exit 0.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || { echo "1..0 # SKIP python3 not found (the study scripts need it)"; exit 0; }
S=$ROOT/scripts
num='-?[0-9]+(\.[0-9]+)?'
pmn="$num ± $num"
# has_line DESC TEXT LINE: TEXT has exactly this line
has_line() { if printf '%s\n' "$2" | grep -qxF -- "$3"; then ok "$1"; else not_ok "$1" "no line '$3'"; fi; }

# --- usage ---------------------------------------------------------------------------
"$S/study-sharpness.sh" --bogus >/dev/null 2>err.txt
expect_eq "study-sharpness: an unknown option is a usage error (129)" "$?" 129
expect_match "... with a usage line" "$(cat err.txt)" '^usage: scripts/study-sharpness.sh'
RUNS=$T/nothing "$S/study-collapse.sh" --quick --dir c0 >/dev/null 2>err.txt
expect_eq "study-collapse: no binary is an error (1)" "$?" 1
expect_match "... saying what to do" "$(cat err.txt)" 'no runs binary at .*nothing; run make'

# --- the sharpness study -----------------------------------------------------------------
"$S/study-sharpness.sh" --quick --dir "$T/sharp" >out.txt 2>err.txt
rc=$?
expect_eq "study-sharpness --quick exits 0" "$rc" 0
[ $rc -eq 0 ] || cat err.txt | sed 's/^/#   /'
expect_match "it says where the store is" "$(head -1 out.txt)" "^study-sharpness: store $T/sharp/.runs "
d=$T/sharp/sharpness-study.md
expect "it writes the doc into --dir (docs/ is left alone)" test -s "$d"
doc=$(cat "$d" 2>/dev/null)
for h in '## What was run' '## Sharpness and held-out loss along the branches' '## At the end (step 20), seed by seed' \
    '## The finite-difference step' '## What holds and what does not' '## Caveats' '## Cost'; do
    has_line "sharpness doc: section '$h'" "$doc" "$h"
done
expect_match "the branch table: the fork row, tr(H) and val mean ± SE for each schedule" "$doc" \
    "^\| 10 \(fork\) \| $pmn \| $pmn \| $pmn \| $pmn \| $pmn \| $pmn \|\$"
expect_match "... and the end row" "$doc" "^\| 20 \| $pmn \| $pmn \| $pmn \| $pmn \| $pmn \| $pmn \|\$"
expect_eq "the end table has a row per seed" "$(printf '%s\n' "$doc" | grep -cE "^\| [123] \| $pmn \| $pmn \| $pmn \| $num \| $num \| $num \| $num \| $num \|\$")" 3
expect_match "... and the mean ± SE row" "$doc" "^\| mean ± SE \| $pmn \| $pmn \| $pmn \| $pmn \| $pmn \| $pmn \| $pmn \| $pmn \|\$"
expect_eq "five claims, each with a verdict" \
    "$(printf '%s\n' "$doc" | grep -cE '^\| .* \| [0-9]+ of 3 seeds \| mean .*, 95% interval \[.*\] \| \*\*(holds|not shown|reversed|smaller than 2×)\*\* \|$')" 5
expect_match "the ε check has three rows" "$(printf '%s\n' "$doc" | grep -cE "^\| [0-9.e-]+ \| $pmn \|\$")" '^3$'
# WSD and WSO are one run until WSD decays: the bit-exact trainer makes that checkable
expect_match "WSD and WSO are identical before the decay" "$doc" 'their traces are identical to the last bit'
expect_match "no placeholder or NaN in the doc" "$(printf '%s\n' "$doc" | grep -ciE 'nan|todo|xxx' || true)" '^0$'
# the doc's held-out loss is the store's: the first seed's cosine tip, by runs eval
v=$(RUNS_STORE=$T/sharp/.runs "$RUNS" eval cosine-1@step_20 --json | python3 -c 'import json,sys; print("%.3f" % json.load(sys.stdin)["val_loss"])')
expect_match "the seed-1 row carries runs eval's val_loss of cosine-1@step_20" "$doc" "^\| 1 \| .* \| $v \| $num \| $num \|\$"
expect_eq "the store holds 3 seeds × 4 runs" "$(RUNS_STORE=$T/sharp/.runs "$RUNS" ls --json | grep -o '"run": *"[a-z]*-[0-9]"' | wc -l | tr -d ' ')" 12
"$S/study-sharpness.sh" --quick --dir "$T/sharp" --doc "$T/again.md" --doc-only >/dev/null 2>&1
expect_eq "--doc-only writes the same doc from the same measurements" "$(cmp "$d" "$T/again.md" && echo same)" same

# --- the collapse study -------------------------------------------------------------------
"$S/study-collapse.sh" --quick --dir "$T/coll" >out.txt 2>err.txt
rc=$?
expect_eq "study-collapse --quick exits 0" "$rc" 0
[ $rc -eq 0 ] || cat err.txt | sed 's/^/#   /'
expect_match "it says where the store is" "$(head -1 out.txt)" "^study-collapse: store $T/coll/.runs "
d=$T/coll/collapse-study.md
doc=$(cat "$d" 2>/dev/null)
for h in '## What was run' '## Outcome' '## Which gate fires when' '## Samples and their coherence scores' \
    '## Held-out loss' '## What it shows' '## Cost'; do
    has_line "collapse doc: section '$h'" "$doc" "$h"
done
for k in optimizer.grad_clip optimizer.lr optimizer.weight_decay schedule.warmup_steps; do
    expect_match "the config table shows $k" "$doc" "^\| \`$k\` \| $num \| $num \|\$"
done
expect_match "outcome: the broken config halted with exit 2 at a halt node, by a named gate" "$doc" \
    "^\| \`broken\` \| 2 \| halt @ step [0-9]+ \| (sample gate|divergence gate \([a-z_]+\)) \| $num \| $num \|\$"
expect_match "outcome: the fixed config ran to the end with exit 0" "$doc" \
    "^\| \`fixed\` \| 0 \| checkpoint @ step 150 \| nothing \(stopped at step 150\) \| $num \| $num \|\$"
expect_match "with the sample gate off the fixed config runs to the end too" "$doc" \
    "^\| \`fixed-loss-gate-only\` \| 0 \| checkpoint @ step 150 \| nothing \(stopped at step 150\) \|"
expect_match "each gate alone halts the broken config too (exit 2)" \
    "$(printf '%s\n' "$doc" | grep -cE '^\| `broken-(loss|sample)-gate-only` \| 2 \| halt @ step [0-9]+ \|')" '^2$'
expect_match "the divergence gate alone fires by its loss rule" "$doc" \
    '^\| `broken-loss-gate-only` \| 2 \| halt @ step [0-9]+ \| divergence gate \((loss_spike|nonfinite_loss|nonfinite_grad_norm)\) \|'
expect_match "the backtest table: the fixed run's logs fire neither gate" "$doc" \
    "^\| \`fixed\` \| 150 \| [—0-9]+ \| does not fire \| does not fire \| $num \|\$"
expect_match "samples come with scores" "$(printf '%s\n' "$doc" | grep -cE '^\| [0-9]+ \| `[^`]*` \| `[^`]*` \| [0-9]+ \|$')" '^[1-9][0-9]*$'
expect_match "the held-out loss table starts at step 0 for all five runs" "$doc" "^\| 0 \| $num \| $num \| $num \| $num \| $num \|\$"
expect_match "runs eval agrees with the recorded val_loss" "$doc" 'equals the `val_loss` the run recorded in that node.s metrics bit for bit'
# the doc's outcome is the store's
export RUNS_STORE=$T/coll/.runs
tip=$("$RUNS" log broken --json | tr -d ' \n' | sed 's/^\[{//; s/}.*//')
expect_match "the store: broken's tip is a halt node" "$tip" '"kind":"halt"'
hs=$(printf '%s' "$tip" | sed 's/.*"step":\([0-9]*\).*/\1/')
expect_match "... at the step the doc names" "$doc" "^\| \`broken\` \| 2 \| halt @ step $hs \|"
expect_match "the store: fixed's tip is the checkpoint at step 150" "$("$RUNS" log fixed --json | tr -d ' \n')" \
    '^\[\{[^}]*"kind":"checkpoint",[^}]*"step":150[,}]'
v=$("$RUNS" eval fixed --json | python3 -c 'import json,sys; print("%.4g" % json.load(sys.stdin)["val_loss"])')
expect_match "the fixed run's val loss in the doc is runs eval's" "$doc" "^\| \`fixed\` \| 0 \| .* \| $v \|\$"
done_testing
