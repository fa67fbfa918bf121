#!/bin/sh
# runs lr: the schedule printed per step (contract "STEP LR" in %.17g), ranges, SVG, errors.
. "$(dirname "$0")/lib.sh"

cat >cos.json <<'J'
{"train": {"total_steps": 200000}, "optimizer": {"lr": 3e-4},
 "schedule": {"type": "cosine", "warmup_steps": 2000, "min_lr_factor": 0.1}}
J
out=$("$RUNS" lr --config cos.json --steps 0,1000,1999,200000 --exact)
expect_eq "warmup and cosine end points (seed 000)" "$out" "0 1.4999999999999999e-07
1000 0.00015014999999999996
1999 0.00029999999999999997
200000 2.9999999999999997e-05"

out=$("$RUNS" lr --config cos.json --steps 0:6000:2000,101000 --exact)
expect_eq "ranges A:B:STEP include B; items mix" "$(echo "$out" | cut -d' ' -f1 | tr '\n' ' ')" "0 2000 4000 6000 101000 "
expect_eq "cosine half way is (P + αP)/2" "$(echo "$out" | tail -1)" "101000 0.000165"
expect_eq "A:B means step 1" "$("$RUNS" lr --config cos.json --steps 3:5 | wc -l | tr -d ' ')" "3"
expect_eq "no --steps: 0..T in ten parts" "$("$RUNS" lr --config cos.json | wc -l | tr -d ' ')" "11"

# A config holding only the sections lr needs, with other sections broken in value, still works.
cat >wsd.json <<'J'
{"train": {"total_steps": 1000}, "optimizer": {"lr": 0.001},
 "schedule": {"type": "wsd", "warmup_steps": 0, "min_lr_factor": 0.0, "stable_ratio": 0.8}}
J
out=$("$RUNS" lr --config wsd.json --steps 799,800,900,1000 --exact)
expect_eq "wsd: stable then linear to αP" "$out" "799 0.001
800 0.001
900 0.00050000000000000001
1000 0"

cat >stage.json <<'J'
{"train": {"total_steps": 1200}, "optimizer": {"lr": 0.001},
 "schedule": {"type": "cosine", "warmup_steps": 0, "min_lr_factor": 0.1,
              "stage_start": 1000, "stage_type": "linear"}}
J
out=$("$RUNS" lr --config stage.json --steps 1000,1100,1200 --exact)
expect_eq "mid-training stage continues from the previous stage's end, linear to 0" "$out" "1000 0.0001
1100 5.0000000000000002e-05
1200 0"

expect "--svg writes a chart" "$RUNS" lr --config cos.json --steps 0 --svg lr.svg
expect_match "the SVG is an svg document" "$(head -c 200 lr.svg)" "^<svg xmlns="
expect_eq "the SVG draws one curve" "$(grep -o "<path" lr.svg | wc -l | tr -d " ")" "1"
expect_match "the SVG marks the warmup end" "$(cat lr.svg)" 'warmup end'
expect_eq "--svg alone prints nothing" "$("$RUNS" lr --config cos.json --svg only.svg | wc -c | tr -d ' ')" "0"
expect_match "--help prints usage" "$("$RUNS" lr --help)" '^usage: runs lr'

expect_exit 129 "no --config is a usage error" "$RUNS" lr --steps 1
expect_exit 129 "bad step list is a usage error" "$RUNS" lr --config cos.json --steps 1,x
expect_exit 129 "reversed range is a usage error" "$RUNS" lr --config cos.json --steps 5:1
expect_exit 129 "negative step is a usage error" "$RUNS" lr --config cos.json --steps -3
expect_exit 129 "unknown option is a usage error" "$RUNS" lr --config cos.json --bogus
expect_exit 1 "missing config file is an error" "$RUNS" lr --config nope.json --steps 1
echo '{"optimizer": {"lr": -1}}' >neg.json
expect_exit 1 "negative lr is refused" "$RUNS" lr --config neg.json --steps 1
echo '{"optimizer": {"lr": 1e-3},' >trunc.json
expect_exit 1 "malformed JSON is refused" "$RUNS" lr --config trunc.json --steps 1
expect_exit 1 "unwritable --svg is an error" "$RUNS" lr --config cos.json --steps 0 --svg /nonexistent/dir/x.svg
done_testing
