#!/bin/sh
# t1302-packrefs: a training session's end moves its per-step tags into
# lineage.git/packed-refs (store/packrefs.c, invariant 11); every command still finds
# them (log, resolve, restore, fork, verify), a killed session's loose tags are packed
# by `runs gc`, and a damaged packed-refs is reported, never rewritten.
. "$(dirname "$0")/lib.sh"
S=$T/.runs
G=$S/lineage.git
loose() { find "$G/refs/tags/$1" -type f -name 'step_*' 2>/dev/null | wc -l | tr -d ' '; }
packed() { grep -c " refs/tags/$1/step_" "$G/packed-refs" 2>/dev/null || echo 0; }

tiny_corpus 300 300 prose lists
expect "tiny corpus encodes" test -s prose.tok -a -s lists.tok
dp_tiny_config c.json 1
expect "init" "$RUNS" init
expect "start: 12 steps, nodes at 6 and 12" "$RUNS" start --config c.json --name a --quiet
expect_eq "no loose step tags after the session" "$(loose a)" 0
expect_eq "packed-refs holds the run's step tags" "$(packed a)" 3
expect_eq "its lines are sorted" "$(grep -v '^#' "$G/packed-refs" | sort -c -k2 2>&1 && echo sorted)" sorted
expect_eq "the branch ref stays loose" "$(test -f "$G/refs/heads/a" && echo loose)" loose

# every reader finds the packed tags
expect_match "log lists the nodes" "$("$RUNS" log a)" 'step_6'
expect "a@step_6 resolves" "$RUNS" show a@step_6
expect "restore a@step_6" "$RUNS" restore a@step_6 --out "$T/r6"
expect "verify: sound" "$RUNS" verify --all
uncached=$(RUNS_NO_NODECACHE=1 "$RUNS" log --all --json)
expect_eq "cached = uncached listing" "$("$RUNS" log --all --json)" "$uncached"

# a fork's session packs its own tags; the parent's packed lines are kept
expect "fork b from a@step_6" "$RUNS" fork a@step_6 --name b --quiet -S train.total_steps=12
expect_eq "b: no loose step tags" "$(loose b)" 0
expect_eq "b's tags packed" "$(packed b)" 2
expect_eq "a's tags still packed" "$(packed a)" 3
expect "verify after the fork: sound" "$RUNS" verify --all

# nodes committed by something that never reaches a session's end (a trainer killed
# with SIGKILL; here runs-synth-commit, which commits as the trainer does): their step
# tags stay loose until `runs gc` packs them
expect "3 nodes committed outside a session" "$ROOT/tools/runs-synth-commit" --store "$S" --run c --count 3 \
    --elems 8 --tensors 1
expect_eq "c's step tags are loose" "$(loose c)" 3
out=$("$RUNS" gc 2>&1)
expect_match "gc packs them" "$out" 'packed 3 step tags into lineage.git/packed-refs'
expect_eq "... and they are no longer loose" "$(loose c)" 0
expect "c@step_20 resolves" "$RUNS" show c@step_20
expect "verify after gc: sound" "$RUNS" verify --all
expect_eq "cached = uncached listing after gc" "$("$RUNS" log --all --json)" \
    "$(RUNS_NO_NODECACHE=1 "$RUNS" log --all --json)"

# a damaged packed-refs: one clear line, non-zero, and the file is left as it was
cp "$G/packed-refs" "$T/packed.before"
printf 'garbage\n' >>"$G/packed-refs"
"$RUNS" log --all >/dev/null 2>"$T/err"; rc=$?
expect_eq "log over a damaged packed-refs fails" "$rc" 1
expect_match "... naming the line" "$(cat "$T/err")" 'packed-refs line [0-9]*: damaged'
"$RUNS" verify --all >/dev/null 2>"$T/verr"; rc=$?
expect_eq "verify reports it" "$rc" 1
expect_match "... as packed-refs damage" "$(cat "$T/verr")" 'packed-refs line [0-9]*: damaged'
"$RUNS" gc >/dev/null 2>"$T/gerr"; rc=$?
expect_eq "gc refuses (exit 1)" "$rc" 1
expect_match "... naming the line" "$(cat "$T/gerr")" 'packed-refs line [0-9]*: damaged'
expect_eq "... saying once what to run" "$(grep -o 'runs verify --all' "$T/gerr" | wc -l)" 1
expect_eq "gc leaves it as it was" "$(cmp "$G/packed-refs" "$T/packed.before" >/dev/null 2>&1 || echo changed)" changed
expect_eq "... byte for byte (the garbage line included)" "$(tail -1 "$G/packed-refs")" garbage
done_testing
