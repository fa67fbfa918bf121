#!/bin/sh
# scripts/bench-summary.sh DIR — the headline lines of the last `make bench`,
# grouped as issue 16's four targets, each under its goal. DIR holds one
# <benchmark>.txt per benchmark (the Makefile's bench target writes them).
# Reads only; a benchmark that did not run says so. Ratios come from the
# benchmarks themselves, each measured against its baseline in the same run.
if [ $# -ne 1 ] || [ ! -d "$1" ]; then
    echo "bench-summary: usage: scripts/bench-summary.sh DIR (the folder of a make bench run's outputs)" >&2
    exit 2
fi
dir=$1

show() { # show FILE PATTERN...: the lines of FILE matching any PATTERN, in file order
    f="$dir/$1.txt"
    shift
    if [ ! -s "$f" ]; then
        echo "  ($(basename "$f" .txt) did not run)"
        return
    fi
    re=$1
    shift
    for p in "$@"; do re="$re|$p"; done
    grep -E -- "$re" "$f" | sed 's/^ */  /'
}

echo "== summary: the four groups (each ratio against a baseline measured in the same run)"
echo "1. metadata — goal: runs log --all --json <= 0.3 s at 10k nodes, <= 3 s at 100k"
show bench_lineage '^ +(1000|10000|100000) .* wall$' 'ratio .*--all --json' ' verify [0-9.]+ s .*gc --dry-run' \
    'load average at the end'
echo "2. trainer — goal: >= 80% of the measured FMA peak on both shapes"
show bench_trainer '^peak ' '^bf16 ' '% of peak' 'per CPU-second: [0-9]' 'paired per CPU-second'
echo "3. busy machine and start-up — goal: 2 threads never lose to 1 under load, quiet speed kept;"
echo "   runs --help, log, lr in a few ms on every build"
show bench_contention 'over 1 thread' '^quiet:' '^final loss'
show bench_startup '^ +runs ' '^ +/bin/true' '^ +ratio '
echo "4. saves — goal: median save ratio >= 0.9 over 5 runs"
show bench_store '^save +ratio median' '^restore ' '^fork ' 'load average at the end'
