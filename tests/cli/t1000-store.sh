#!/bin/sh
# t1000-store: the store commands on a real store of synthetic checkpoints:
# init, log (text, json, graph), show, diff, tag, restore (byte-exact), verify
# (catches a flipped byte), gc (orphans, retention, thinned nodes), git interop.
. "$(dirname "$0")/lib.sh"
SYNTH=$ROOT/tools/runs-synth-commit
S=$T/.runs

out=$("$RUNS" init 2>&1)
expect_match "init prints where" "$out" "Initialized empty runs store in .*\.runs"
expect_exit 1 "init twice refuses" "$RUNS" init

expect "commit 3 nodes to main" "$SYNTH" --store "$S" --run main --count 3
expect "fork polish from main@step_10" "$SYNTH" --store "$S" --run polish --from main@step_10 --count 2 --lr 1e-4

js=$("$RUNS" log --json)
expect_eq "log --json lists main's lineage" "$(printf '%s\n' "$js" | grep -c '"id"')" 3
expect_match "log --json has the contract fields" "$js" '"id":"[0-9a-f]{40}","kind":"checkpoint","loss":[0-9.]+,"parent":"[0-9a-f]{40}","run":"main",("sharpness":null,)?"step":20'
expect_eq "log polish reaches back into main" "$("$RUNS" log polish --json | grep -c '"id"')" 4
expect_eq "log --all lists every node" "$("$RUNS" log --all --json | grep -c '"id"')" 5
g=$("$RUNS" log --graph)
expect_match "graph draws the fork" "$g" '^\|/'
# the fork node may sit in either lane: tips created in the same second are listed
# in either order, and the lanes follow that order
expect_match "graph shows the fork node" "$g" '^(\| )*\* (\| )*[0-9a-f]{10}  fork'
expect_match "text log has columns" "$("$RUNS" log)" '^[0-9a-f]{10}  checkpoint  main +step_20 +loss 5\.0000'

id=$("$RUNS" log --json | sed -n 's/.*"id":"\([0-9a-f]*\)".*"step":10}.*/\1/p')
expect_eq "show --json is the stored manifest" "$("$RUNS" show step_10 --json)" \
    "$(git --git-dir "$S/lineage.git" show "$id:manifest.json")"
expect_match "show resolves an id prefix" "$("$RUNS" show "$(echo "$id" | cut -c1-8)")" "^node +$id"
expect_eq "git log shows the lineage" "$(git --git-dir "$S/lineage.git" log --oneline main | wc -l | tr -d ' ')" 3
expect_match "git commit message" "$(git --git-dir "$S/lineage.git" log -1 --format=%s polish)" '^checkpoint polish step_20$'

d=$("$RUNS" diff main@step_10 polish --json)
expect_match "diff --json: config by dotted path" "$d" '"a":0.0004,"b":0.0001,"path":"config.optimizer.lr"'
expect_match "diff --json: step" "$d" '"a":10,"b":20,"path":"step"'
expect_match "diff --json: changed tensor" "$d" '"path":"tensors.adam_m.wte"'
if printf '%s\n' "$d" | grep -q '"path":"tensors.weights.wte"'; then not_ok "frozen tensor reported changed"; else ok "frozen tensor not reported"; fi
expect_match "diff text summarises tensors" "$("$RUNS" diff main@step_10 polish)" 'tensors.weights: 3 of 4 changed'
expect_eq "diff of a node with itself is empty" "$("$RUNS" diff step_10 step_10 --json)" "[]"

expect "tag a node" "$RUNS" tag step_10 best
expect_exit 1 "tag refuses an existing name" "$RUNS" tag step_20 best
expect_exit 1 "tag refuses a run's name" "$RUNS" tag step_20 polish
expect_eq "tag resolves" "$("$RUNS" show best --json)" "$("$RUNS" show main@step_10 --json)"

expect "restore main@step_10" "$RUNS" restore main@step_10 --out r10
expect "restored bytes are exact" "$SYNTH" --check r10 --run main --step 10
expect_eq "restore writes the manifest" "$(cat r10/manifest.json)" "$("$RUNS" show step_10 --json)"
expect "restore a fork" "$RUNS" restore polish --out rp
expect "fork bytes are exact" "$SYNTH" --check rp --run polish --step 20

expect "verify passes" "$RUNS" verify
obj=$(sed -n 's/.*"sha256":"\([0-9a-f]*\)".*/\1/p' r10/manifest.json | head -1)
obj=$(grep -o '"sha256":"[0-9a-f]*"' r10/manifest.json | sed -n '2s/.*:"\(.*\)"/\1/p')
f=$S/objects/$(echo "$obj" | cut -c1-2)/$(echo "$obj" | cut -c3-)
chmod u+w "$f"
cp "$f" "$T/good"
printf 'X' | dd of="$f" bs=1 seek=100 conv=notrunc 2>/dev/null
"$RUNS" verify >/dev/null 2>"$T/verr"; rc=$?
expect_eq "verify fails on a flipped byte" "$rc" 1
expect_match "verify names the object and its node" "$(cat "$T/verr")" "$obj.*used by main@step_10"
expect_exit 1 "restore catches the flipped byte" "$RUNS" restore main@step_10 --out bad
expect_match "restore names the object" "$(cat "$T/.err")" "$obj is corrupt"
cp "$T/good" "$f"
expect "verify passes again" "$RUNS" verify

# orphans and leftovers are collected
echo leftover >"$S/tmp/x"
echo partial >"$S/objects/ab/.tmp-123456"
expect "more checkpoints" "$SYNTH" --store "$S" --run main --count 5
o=$("$RUNS" gc --dry-run)
expect_match "gc --dry-run reports" "$o" 'would remove 0 of [0-9]+ objects \(0 orphans\) and 2 temp files'
expect "gc" "$RUNS" gc
expect_eq "gc removed the leftovers" "$(ls "$S/tmp" | wc -l | tr -d ' ')" 0

# retention: main has steps 0..70; polish forks at 10 (pinned), best = step_10
o=$("$RUNS" gc --keep-last 2 --keep-every 40)
expect_match "gc thins" "$o" 'thinned 3 checkpoint nodes'
expect_match "gc reports bytes freed" "$o" 'freed [1-9][0-9]* bytes'
expect_match "log marks thinned nodes" "$("$RUNS" log)" 'step_20 .*\[thinned\]'
expect_eq "lineage still complete" "$("$RUNS" log --json | grep -c '"id"')" 8
expect_exit 1 "restore of a thinned node says so" "$RUNS" restore main@step_20 --out t20
expect_match "thinned message" "$(cat "$T/.err")" 'thinned by `runs gc`'
expect "kept: step_40 (multiple of 40)" "$RUNS" restore main@step_40 --out r40
expect "kept: step_60 (last 2)" "$RUNS" restore main@step_60 --out r60
expect "kept: best (tagged fork point)" "$RUNS" restore best --out rb
expect "kept bytes exact" "$SYNTH" --check r40 --run main --step 40
expect "verify passes after gc" "$RUNS" verify
expect "verify --all passes after gc" "$RUNS" verify --all

for c in init log show diff tag restore verify gc; do
    expect_match "$c --help" "$("$RUNS" "$c" --help)" "^usage: runs"
done
done_testing
