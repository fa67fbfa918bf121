#!/bin/sh
# runs report: one self-contained HTML page, rendered by headless Chromium.
# (Fork config diffs, gate events and sharpness cells are checked in tests/unit/test_plot.c,
# which also renders its page in Chromium when present.)
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || { echo "SKIP: python3 is needed to write the model file"; echo "1..0"; exit 0; }

expect "init" "$RUNS" init
python3 -c '
import struct
L,NH,C,V,Vp,T = 1,1,4,8,128,4
n = Vp*C + T*C + L*(12*C*C + 13*C) + 2*C
open("m.bin","wb").write(struct.pack("<256i", *([20240326,3,T,V,L,NH,C,Vp] + [0]*248)) + struct.pack("<%df" % n, *([0.01]*n)))'
expect "a run to report on" "$RUNS" import m.bin --run rep
id=$(git --git-dir .runs/lineage.git rev-parse rep)
expect "report" "$RUNS" report rep --out r.html
expect_eq "nothing external: no script, no URL" "$(grep -cE '<script|https?://' r.html)" "0"
expect_exit 129 "--out is required" "$RUNS" report rep
expect_exit 1 "an unknown run" "$RUNS" report nosuch --out x.html
expect_match "--help" "$("$RUNS" report --help)" "^usage: runs report"

"$ROOT/scripts/install-deps.sh" chromium >/dev/null 2>&1 || true
if ! command -v chromium >/dev/null; then
    echo "SKIP: chromium is not installed and could not be installed; page not rendered"
    done_testing; exit $?
fi
dom=$(timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
      --disable-component-update --disable-sync --no-first-run --user-data-dir="$(mktemp -d)" \
      --dump-dom "file://$T/r.html" 2>/dev/null)
expect_match "chromium renders the node id" "$dom" "$(printf %.12s "$id")"
expect_match "chromium renders the charts" "$dom" "<svg"
expect_match "chromium renders the node table" "$dom" "<td>import</td>"
done_testing
