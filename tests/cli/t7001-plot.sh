#!/bin/sh
# runs plot: usage errors, an SVG that parses as XML, one chart per --what.
# (Series, events and siblings are checked on a real lineage in tests/unit/test_plot.c.)
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || { echo "SKIP: python3 is needed to write the model file"; echo "1..0"; exit 0; }

expect "init" "$RUNS" init
python3 -c '
import struct
L,NH,C,V,Vp,T = 1,1,4,8,128,4
n = Vp*C + T*C + L*(12*C*C + 13*C) + 2*C
open("m.bin","wb").write(struct.pack("<256i", *([20240326,3,T,V,L,NH,C,Vp] + [0]*248)) + struct.pack("<%df" % n, *([0.01]*n)))'
expect "a run to draw" "$RUNS" import m.bin --run r1
expect "plot all charts" "$RUNS" plot r1 --out all.svg
expect_eq "the SVG is well-formed XML with three charts" \
    "$(python3 -c 'import xml.etree.ElementTree as E; r=E.parse("all.svg").getroot(); print(r.tag, len(r.findall("{http://www.w3.org/2000/svg}svg")))')" \
    "{http://www.w3.org/2000/svg}svg 3"
expect "plot lr only, default run (HEAD)" "$RUNS" plot --out lr.svg --what lr
expect_match "one chart, the LR" "$(grep -c '<svg' lr.svg) $(grep -o 'learning rate' lr.svg | head -1)" "^2 learning rate$"
expect "plot to stdout" sh -c "'$RUNS' plot r1 --out - --what loss | grep -q '</svg>'"
expect_exit 129 "--out is required" "$RUNS" plot r1
expect_exit 129 "--what must name a chart" "$RUNS" plot r1 --out x.svg --what speed
expect_exit 1 "an unknown run" "$RUNS" plot nosuch --out x.svg
expect_match "--help" "$("$RUNS" plot --help)" "^usage: runs plot"
done_testing
