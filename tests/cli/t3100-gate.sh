#!/bin/sh
# runs gate --backtest: replay a samples log through the coherence gate (seed 002's back-test).
. "$(dirname "$0")/lib.sh"

good='The Fourier transform decomposes signals into frequency components, allowing analysis of signal characteristics.'
good2='Rain falls on the quiet town while children run home from school, laughing under bright umbrellas.'
{
    # healthy samples, then v1's collapse from step 80000 (recorded scores are stale on purpose)
    for s in 20000 40000 60000; do
        printf '{"step": %d, "prompt": "Explain.", "text": "%s", "score": 12.5}\n' "$s" "$good"
        printf '{"step": %d, "prompt": "Rain.", "text": "%s", "score": 90}\n' "$s" "$good2"
    done
    printf '\n'
    printf '{"step": 80000, "prompt": "Explain.", "text": "region region region region region region region", "score": 95}\n'
    printf '{"step": 80000, "prompt": "Rain.", "text": "%s"}\n' "$good2"
    printf '{"step": 100000, "prompt": "Explain.", "text": "'"'''''"' '"'''''"' '"''"' '"'''"' '"''"' '"'''"'", "score": null}\n'
    printf '{"step": 100000, "prompt": "Rain.", "text": "games, games, games, games, games, games"}\n'
    printf '{"step": 120000, "prompt": "Explain.", "text": "Budy Budy Budy Budy Budy Budy Budy Budy Budy"}\n'
    printf '{"step": 120000, "prompt": "Rain.", "text": "region region region region"}\n'
    printf '{"step": 140000, "prompt": "Explain.", "text": "games, games, games"}\n'
    printf '{"step": 140000, "prompt": "Rain.", "text": "Budy Budy Budy Budy"}\n'
} >v1.samples.json

out=$("$RUNS" gate --backtest v1.samples.json); rc=$?
expect_eq "backtest exits 0 when the gate fires" "$rc" "0"
expect_match "reports the firing step" "$out" '^gate \(threshold 30, patience 5\): would have fired at step 140000 \(5 consecutive samples below 30 since step 100000\)$'
expect_match "texts are scored again, not trusted" "$out" '^ +80000 +[0-9]\.[0-9] +95\.0  region region'
expect_match "a missing recorded score shows as -" "$out" '^ +80000 +[0-9.]+ +-  Rain falls'
expect_eq "one line per sample plus header and verdict" "$(echo "$out" | wc -l | tr -d ' ')" "16"
expect_match "healthy English scores high" "$(echo "$out" | sed -n 2p)" '^ +20000 +(9[0-9]|100)\.[0-9] '

out=$("$RUNS" gate --backtest v1.samples.json --patience 7)
expect_match "patience 7: never seven low in a row" "$out" 'would not have fired over 14 samples \(longest run of low scores: 6\)'
out=$("$RUNS" gate --backtest v1.samples.json --threshold 0.5 --patience 2)
expect_match "threshold and patience are honoured" "$out" 'would have fired at step 100000'
out=$("$RUNS" gate --backtest v1.samples.json --patience 0)
expect_match "patience 0: gate off" "$out" '^gate is off'

json=$("$RUNS" gate --backtest v1.samples.json --json)
expect_eq "--json fired_step" "$(printf '%s' "$json" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["fired"], d["fired_step"], d["run_start"], len(d["samples"]), d["samples"][0]["recorded"], d["samples"][7]["recorded"])')" "True 140000 100000 14 12.5 None"
json=$("$RUNS" gate --backtest v1.samples.json --json --patience 9)
expect_eq "--json when it would not fire" "$(printf '%s' "$json" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["fired"], d["fired_step"])')" "False None"
expect_eq "stdin as -" "$("$RUNS" gate --backtest - <v1.samples.json | tail -1)" "$("$RUNS" gate --backtest v1.samples.json | tail -1)"
: >empty.json
expect_match "empty log: would not fire" "$("$RUNS" gate --backtest empty.json)" 'would not have fired over 0 samples'
expect_match "--help" "$("$RUNS" gate --help)" '^usage: runs gate --backtest'

# errors: one line naming file:line
head -3 v1.samples.json >bad.json; echo '{"step": 1, "text": ' >>bad.json
expect_exit 1 "truncated JSON line is an error" "$RUNS" gate --backtest bad.json
expect_match "the error names file:line" "$(cat "$T/.err")" '^runs gate: bad\.json:4: not a JSON object'
printf '{"step": 5, "text": "a b c"}\n{"step": 3, "text": "d e f"}\n' >order.json
expect_exit 1 "steps going backwards is an error" "$RUNS" gate --backtest order.json
expect_match "says which line" "$(cat "$T/.err")" 'order\.json:2: step 3 comes after step 5'
printf '{"step": 5, "text": 7}\n' >type.json
expect_exit 1 "non-string text is an error" "$RUNS" gate --backtest type.json
printf '{"step": -1, "text": "x"}\n' >neg.json
expect_exit 1 "negative step is an error" "$RUNS" gate --backtest neg.json
printf '[1, 2]\n' >arr.json
expect_exit 1 "a line that is not an object is an error" "$RUNS" gate --backtest arr.json
expect_exit 1 "missing file is an error" "$RUNS" gate --backtest nope.json
expect_exit 129 "no --backtest is a usage error" "$RUNS" gate
expect_exit 129 "bad threshold is a usage error" "$RUNS" gate --backtest v1.samples.json --threshold abc
expect_exit 129 "threshold over 100 is a usage error" "$RUNS" gate --backtest v1.samples.json --threshold 101
expect_exit 129 "fractional patience is a usage error" "$RUNS" gate --backtest v1.samples.json --patience 2.5
expect_exit 129 "unknown option is a usage error" "$RUNS" gate --backtest v1.samples.json --frobnicate
done_testing
