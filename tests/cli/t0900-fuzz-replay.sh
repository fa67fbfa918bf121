#!/bin/sh
# The fuzz targets (tests/fuzz/fuzz_*.c) without libFuzzer: every checked-in seed
# (tests/fuzz/corpus/TARGET/) and crash reproducer (tests/fuzz/regress/TARGET/) is fed to
# its target once by $B/fuzz/replay_TARGET, so a fixed finding stays fixed and the
# targets' round-trip properties hold on real files. Under `make test SAN=1` the
# replays run with the sanitizers.
. "$(dirname "$0")/lib.sh"
B=${B:-$ROOT/build}

targets=0
for src in "$ROOT"/tests/fuzz/fuzz_*.c; do
    t=$(basename "$src" .c); t=${t#fuzz_}
    targets=$((targets + 1))
    bin=$B/fuzz/replay_$t
    if [ ! -x "$bin" ]; then not_ok "$t: $bin is built (run make)"; continue; fi
    seeds=0
    for f in "$ROOT/tests/fuzz/corpus/$t"/* "$ROOT/tests/fuzz/regress/$t"/*; do
        [ -f "$f" ] || continue
        case "$f" in */corpus/*) seeds=$((seeds + 1)) ;; esac
        rel=${f#"$ROOT"/tests/fuzz/}
        if out=$("$bin" "$f" 2>&1); then ok "$t $rel"; else not_ok "$t $rel (exit $?)" "$out"; fi
    done
    # a target without seeds would replay nothing and prove nothing
    expect_eq "$t has a seed corpus" "$([ "$seeds" -gt 0 ] && echo yes || echo no)" yes
done
expect_eq "fuzz targets found" "$([ "$targets" -ge 7 ] && echo yes || echo no)" yes
done_testing
