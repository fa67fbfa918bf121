#!/bin/sh
# One way to write a file (store/publish.c) and one way to read a JSON Lines log
# (store/jsonl.c): the tree holds no other writer, a failed write leaves the old
# file and no temp, and a torn last log line is a warning, not an error.
. "$(dirname "$0")/lib.sh"

# ---- the tree: no writer outside the publish module and the append-only logs ----
src=$(cd "$ROOT" && find common store runner tools manifests cuda \( -name '*.c' -o -name '*.cu' -o -name '*.h' \) \
      -not -path 'tools/cli/*' 2>/dev/null; cd "$ROOT" && find tools/cli -name '*.c' 2>/dev/null)
scan() { # $1 = grep -E pattern; prints file:line for each hit, skipping comment lines
    (cd "$ROOT" && grep -nE -- "$1" $src 2>/dev/null) | grep -vE '^[^:]+:[0-9]+:\s*(/?\*|//)'
}
expect_match "the scan sees the sources (readers are there)" "$(scan 'fopen\([^;]*"rb?"' | wc -l)" '^[1-9]'
hits=$(scan 'fopen\([^;]*"[wa][b+]?"')
expect_eq "no fopen for writing (\"w\", \"wb\", \"a\"...) anywhere: write through store/publish.h" "$hits" ""
hits=$(scan '\.tmp[".%]|"%s\.tmp')
expect_eq "no fixed or pid-named .tmp files" "$hits" ""
hits=$(scan 'O_TRUNC|[^a-z_]creat\(')
expect_eq "no file truncated in place" "$hits" ""
hits=$(scan '[^a-z_](rename|mkstemp|mkostemp|fdopen)\(' |
       grep -vE '^(store/publish\.c|store/object_put\.c|store/store\.c|store/jsonl\.c):')
expect_eq "rename/mkstemp/fdopen only in publish, objects, locks and the log module" "$hits" ""
hits=$(scan 'O_APPEND' | grep -vE '^(store/jsonl\.c|store/reflog\.c):')
expect_eq "append only for the JSON Lines logs and the ref journal" "$hits" ""

# ---- a failed write leaves the old file and no temp ----
cat >cos.json <<'J'
{"train": {"total_steps": 200000}, "optimizer": {"lr": 3e-4},
 "schedule": {"type": "cosine", "warmup_steps": 2000, "min_lr_factor": 0.1}}
J
echo "old chart" >lr.svg
# the SVG is ~19 KB; a 1-block file size limit makes its write fail half way (EFBIG)
( trap '' XFSZ; ulimit -f 1; exec "$RUNS" lr --config cos.json --svg lr.svg ) >"$T/.out" 2>"$T/.err"
expect_eq "lr --svg: a failed write exits 1" "$?" "1"
expect_match "lr --svg: one line naming the step and the file" "$(cat "$T/.err")" '^runs lr: write .*lr\.svg: File too large$'
expect_eq "lr --svg: the old file is untouched" "$(cat lr.svg)" "old chart"
expect_eq "lr --svg: no temp file is left" "$(ls -A | grep -c '^\.tmp')" "0"
expect "lr --svg: a write that succeeds replaces it" "$RUNS" lr --config cos.json --svg lr.svg
expect_match "lr --svg: the new chart is there" "$(head -c 100 lr.svg)" '^<svg xmlns='
expect_eq "lr --svg: mode 0644" "$(stat -c %a lr.svg)" "644"
expect_exit 1 "lr --svg into a missing directory fails" "$RUNS" lr --config cos.json --svg no/such/dir/lr.svg
expect_match "and says where" "$(cat "$T/.err")" 'no/such/dir'

# ---- JSON Lines: a torn last line is skipped with a warning; a bad middle line is an error ----
printf '{"step": 1, "prompt": "p", "text": "the cat sat on the mat and looked at the dog"}\n' >torn.json
printf '{"step": 2, "prompt": "p", "text": "the dog sat' >>torn.json
"$RUNS" gate --backtest torn.json >"$T/.out" 2>"$T/.err"
expect_eq "gate: a torn last line (crash leftover) is no error" "$?" "0"
expect_match "gate: it is counted out" "$(cat "$T/.out")" 'over 1 samples'
expect_match "gate: and a warning says so" "$(cat "$T/.err")" '^runs gate: warning: torn\.json: the last line is torn'
printf '{"step": 1, "text": "a"}\n{"step": 2, "te\n{"step": 3, "text": "c"}\n' >mid.json
expect_exit 1 "gate: a bad middle line is corruption" "$RUNS" gate --backtest mid.json
expect_match "gate: named by file and line" "$(cat "$T/.err")" '^runs gate: mid\.json:2: not a JSON object'

done_testing
