#!/bin/bash
# tests/crash/crash.sh — writers killed with SIGKILL at random moments during 100+
# commits; afterwards the store verifies and every ref-reachable node restores
# byte-exact. Run through tests/cli/t1900-crash.sh (which gives lib.sh's helpers).
# Env: CRASH_NODES (default 120) nodes to reach, CRASH_KILLS (default 40) kills to
# land, CRASH_SECONDS (default 120) time budget, CRASH_SEED (default 4242).
# A kill counts only when it landed on a live writer (its wait status is 137: killed
# by signal 9 mid-run), not when the writer had already exited on its own.
SYNTH=$ROOT/tools/runs-synth-commit
S=$T/.runs
want=${CRASH_NODES:-120}
budget=${CRASH_SECONDS:-120}
RANDOM=${CRASH_SEED:-4242}
"$RUNS" init >/dev/null
start=$SECONDS
kills=0 rounds=0 nodes=0 early=0
minkills=${CRASH_KILLS:-40}
while { [ "$nodes" -lt "$want" ] || [ "$kills" -lt "$minkills" ]; } && [ $((SECONDS - start)) -lt "$budget" ]; do
    rounds=$((rounds + 1))
    # mostly main; sometimes a fork run from a random main node, sometimes two
    # writers at once (they contend for the refs lock)
    run=main from=()
    if [ $((RANDOM % 4)) -eq 0 ] && [ "$nodes" -gt 3 ]; then
        run=f$((RANDOM % 5))
        "$RUNS" show main >/dev/null 2>&1 && from=(--from main)
    fi
    "$SYNTH" --store "$S" --run "$run" "${from[@]}" --count 1000 --tensors 3 --elems 2048 >/dev/null 2>&1 &
    p1=$!
    p2=
    if [ $((RANDOM % 3)) -eq 0 ]; then
        "$SYNTH" --store "$S" --run w2 --count 1000 --tensors 2 --elems 1024 >/dev/null 2>&1 &
        p2=$!
    fi
    # 0..80 ms, in 1 ms steps: lands in every phase of a commit (one takes ~15 ms
    # on a quiet machine); when few kills leave a node behind (a loaded machine,
    # slow commits), writers get up to 0.5 s so the store still grows
    window=80
    [ "$rounds" -gt 20 ] && [ $((nodes * 3)) -lt "$rounds" ] && window=500
    ms=$((RANDOM % window))
    sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
    kill -9 $p1 $p2 2>/dev/null
    wait $p1 2>/dev/null; st=$?
    [ -n "$p2" ] && wait $p2 2>/dev/null
    [ "$st" -eq 137 ] && kills=$((kills + 1))
    [ "$st" -eq 137 ] || early=$((early + 1))
    nodes=$(git --git-dir "$S/lineage.git" rev-list --branches --tags 2>/dev/null | wc -l)
done
echo "# $rounds rounds, $kills kills ($early writers had exited before their kill), $nodes nodes in $((SECONDS - start))s"
expect "reached $want nodes" test "$nodes" -ge "$want"
expect "killed writers $minkills times" test "$kills" -ge "$minkills"
expect "verify after the crashes" "$RUNS" verify
expect "verify --all after the crashes" "$RUNS" verify --all

# every node, through the library's verified load (what a resume does)
o=$("$SYNTH" --check-store --store "$S" --tensors 3 --elems 2048 --special w2=2:1024 2>&1)
expect_match "every committed node loads byte-exact" "$o" "^$nodes nodes, 0 bad$"
# and a sample through `runs restore` (each call pays the CLI's start-up)
# (fields may follow "step": match its end or the next field)
"$RUNS" log --all --json | sed -n 's/.*"id":"\([0-9a-f]*\)".*"run":"\([^"]*\)",.*"step":\([0-9]*\)[,}].*/\1 \2 \3/p' >"$T/nodes"
expect_eq "every node listed for sampling" "$(grep -c '' "$T/nodes")" "$nodes"
bad=0 tried=0
while read -r id run step; do
    [ $((RANDOM % 8)) -eq 0 ] || continue
    tried=$((tried + 1))
    rm -rf "$T/r"
    case $run in w2) t=2 e=1024 ;; *) t=3 e=2048 ;; esac
    if ! "$RUNS" restore "$id" --out "$T/r" >/dev/null 2>"$T/rerr" ||
        ! "$SYNTH" --check "$T/r" --run "$run" --step "$step" --tensors $t --elems $e 2>/dev/null; then
        bad=$((bad + 1)); echo "# $id ($run@step_$step): $(cat "$T/rerr")"
    fi
done <"$T/nodes"
echo "# restored $tried sampled nodes"
expect "some nodes were sampled" test "$tried" -gt 0
expect_eq "sampled nodes restore byte-exact through runs restore" "$bad" 0
echo "# before gc: $("$RUNS" gc --dry-run | head -1)"; ls "$S/locks" | sed "s/^/# lock: /"
expect "gc collects the crash leftovers" "$RUNS" gc
expect "verify after gc" "$RUNS" verify --all
for run in $("$RUNS" log --all --json | sed -n 's/.*"run":"\([^"]*\)".*/\1/p' | sort -u); do
    rm -rf "$T/r"
    "$RUNS" restore "$run" --out "$T/r" >/dev/null
    step=$(sed -n 's/.*"step":\([0-9]*\).*/\1/p' "$T/r/manifest.json")
    case $run in w2) t=2 e=1024 ;; *) t=3 e=2048 ;; esac
    expect "tip of $run restores byte-exact after gc" "$SYNTH" --check "$T/r" --run "$run" --step "$step" --tensors $t --elems $e
done
