#!/bin/sh
# tests/fuzz/run.sh — `make fuzz`: runs each libFuzzer target ($B/fuzz/fuzz_TARGET) for
# FUZZ_SECONDS, starting from the checked-in seeds in tests/fuzz/corpus/TARGET/ (read
# only: new inputs go to $B/fuzz/work/TARGET/), and prints the executions per target.
# A crash or violated property leaves its input in $B/fuzz/crash/TARGET/; copy it to
# tests/fuzz/regress/TARGET/ with the fix so `make test` replays it from then on.
# Usage: tests/fuzz/run.sh TARGET...   Environment: B (default build-fuzz), FUZZ_SECONDS (60).
cd "$(dirname "$0")/../.." || exit 1
B=${B:-build-fuzz}
secs=${FUZZ_SECONDS:-60}
# The loaders' targets write files and their writers fsync; on tmpfs that costs nothing,
# on a disk it costs most of each execution.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then TMPDIR=/dev/shm; export TMPDIR; fi
status=0
printf '%-14s %12s %10s  %s\n' target executions exec/s result
for t in "$@"; do
    bin=$B/fuzz/fuzz_$t
    [ -x "$bin" ] || { echo "fuzz: $bin missing; run make fuzz" >&2; exit 1; }
    mkdir -p "$B/fuzz/work/$t" "$B/fuzz/crash/$t"
    log=$B/fuzz/$t.log
    case $t in json | config | manifest | merge_patch) dict=tests/fuzz/dict/json.dict ;;
    *) dict=tests/fuzz/dict/$t.dict ;; esac
    if [ -f "$dict" ]; then dictopt=-dict=$dict; else dictopt=; fi
    # Inputs past 64 KiB only slow the loaders' targets down (a tiny llm.c model or
    # shard is a few KiB); -rss_limit_mb keeps a runaway allocation a finding.
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
        "$bin" -max_total_time="$secs" -print_final_stats=1 -max_len=65536 -rss_limit_mb=2048 $dictopt \
        -artifact_prefix="$B/fuzz/crash/$t/" "$B/fuzz/work/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    if [ $rc -eq 0 ]; then res=ok; else res="FAILED (exit $rc; $log, input in $B/fuzz/crash/$t/)"; status=1; fi
    printf '%-14s %12s %10s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "$res"
done
exit $status
