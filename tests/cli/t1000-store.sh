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

# (fields after "step" may follow: match its end or the next field)
id=$("$RUNS" log --json | sed -n 's/.*"id":"\([0-9a-f]*\)".*"step":10[,}].*/\1/p')
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

# best tags main@step_20, which is no fork point (polish forks at step_10): gc's
# retention below tells tag-pinning from fork-pinning
expect "tag a node" "$RUNS" tag main@step_20 best
expect_exit 1 "tag refuses an existing name" "$RUNS" tag step_10 best
expect_exit 1 "tag refuses a run's name" "$RUNS" tag step_20 polish
expect_eq "tag resolves" "$("$RUNS" show best --json)" "$("$RUNS" show main@step_20 --json)"

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
# gc counts the nodes it reads on a terminal (12 s at 100k nodes), and only there
expect_eq "gc --dry-run draws nothing on a pipe" "$("$RUNS" gc --dry-run 2>&1 >/dev/null)" ""
if command -v script >/dev/null 2>&1; then
    tty_out=$(cd "$T" && RUNS_BIN="$RUNS" script -qec '"$RUNS_BIN" gc --dry-run' /dev/null | tr '\r' '\n')
    expect_match "gc --dry-run on a terminal counts the nodes it reads" "$tty_out" \
        '^gc: reading nodes +100% +[0-9]+/[0-9]+$'
else
    why="no script(1) to give gc a terminal (util-linux)"
    skip "gc --dry-run on a terminal counts the nodes it reads"
fi
expect "gc" "$RUNS" gc
expect_eq "gc removed the leftovers" "$(ls "$S/tmp" | wc -l | tr -d ' ')" 0

# retention: main has steps 0..70. Outside keep-last 2 (60, 70) and keep-every 40
# (0, 40) only pins keep a node: step_10 is only a fork point (polish forks there,
# no tag), step_20 only tagged (best, one child in its own run), step_30 and step_50
# neither, so exactly those two are thinned. A gc that ignored tags would thin
# step_20 too, one that ignored fork points step_10.
o=$("$RUNS" gc --keep-last 2 --keep-every 40)
expect_match "gc thins the two unpinned nodes" "$o" 'thinned 2 checkpoint nodes'
expect_match "gc reports bytes freed" "$o" 'freed [1-9][0-9]* bytes'
lg=$("$RUNS" log)
expect_match "log marks thinned nodes" "$lg" 'main +step_30 .*\[thinned\]'
expect_match "... step_50 too" "$lg" 'main +step_50 .*\[thinned\]'
expect_eq "... and no other" "$(printf '%s\n' "$lg" | grep -c '\[thinned\]')" 2
expect_eq "lineage still complete" "$("$RUNS" log --json | grep -c '"id"')" 8
expect_exit 1 "restore of a thinned node (neither tagged nor a fork point) says so" "$RUNS" restore main@step_30 --out t30
expect_match "thinned message" "$(cat "$T/.err")" 'thinned by `runs gc`'
expect "kept: step_40 (multiple of 40)" "$RUNS" restore main@step_40 --out r40
expect "kept: step_60 (last 2)" "$RUNS" restore main@step_60 --out r60
expect "kept: step_10 (a fork point, not tagged)" "$RUNS" restore main@step_10 --out rf
expect "kept: best = step_20 (tagged, not a fork point)" "$RUNS" restore best --out rb
expect "tagged bytes exact" "$SYNTH" --check rb --run main --step 20
expect "fork-point bytes exact" "$SYNTH" --check rf --run main --step 10
expect "kept bytes exact" "$SYNTH" --check r40 --run main --step 40
expect "verify passes after gc" "$RUNS" verify
expect "verify --all passes after gc" "$RUNS" verify --all

for c in init log show diff tag restore verify gc; do
    expect_match "$c --help" "$("$RUNS" "$c" --help)" "^usage: runs"
done
done_testing
