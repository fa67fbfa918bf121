#!/bin/sh
# Runs every test: cmocka binaries in $B/tests/, then the CLI scripts in tests/cli/.
# Counts individual test cases (cmocka's summary lines, the scripts' "ok"/"not ok" lines)
# and ends with one line: "N passed, N failed, N skipped" (readers of the older
# "N passed, N failed" line still match its prefix).
# A skip is a TAP line "ok N - ... # SKIP reason", cmocka's "[  SKIPPED ] name", or a
# script that plans nothing ("1..0", with its reason on a "SKIP..." line); each skip's
# reason is printed.
# Usage: tests/run-tests.sh [PATTERN]   (only tests whose file name contains PATTERN)
# Environment: B, the build directory (default build; `make test SAN=1` passes build-san),
# exported as an absolute path together with RUNS ($B/runs) for the CLI scripts.
cd "$(dirname "$0")/.." || exit 1
pattern=${1:-}
B=${B:-build}
case "$B" in /*) ;; *) B=$(pwd)/$B ;; esac
RUNS=${RUNS:-$B/runs}
export B RUNS
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
passed=0 failed=0 skipped=0 broken=""
CMOCKA_MESSAGE_OUTPUT=stdout; export CMOCKA_MESSAGE_OUTPUT
# The CLI scripts train tiny models whose steps are too small to split across
# threads (barrier overhead dominates, badly so on a busy machine); results do not
# depend on the thread count, which test_gpt_model checks with 1 and 2 threads.
CLI_OMP_THREADS=${OMP_NUM_THREADS:-1}
# Under a sanitizer build (make test SAN=1) the unit tests run with LeakSanitizer on:
# they are leak-free, so a leak fails its test. `make test SAN=1` turns leak detection
# off for the suite (ASAN_OPTIONS detect_leaks=0: the CLI exits without freeing on
# error paths); a later option wins, so appending detect_leaks=1 turns it back on for
# the cmocka binaries only. UNIT_ASAN_OPTIONS replaces the whole setting.
UNIT_ASAN_OPTIONS=${UNIT_ASAN_OPTIONS:-${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1}

# TAP: "ok N ... # SKIP why" (case-insensitive directive) is a skip, not a pass.
tap_skip='^ok [0-9]+.*#[[:space:]]*[Ss][Kk][Ii][Pp]'
count() { # $1 = output file; adds its pass/fail/skip counts and prints skip reasons
    s_tap=$(grep -cE "$tap_skip" "$1")
    # cmocka prints "[  SKIPPED ] name" once per test and again in its closing list,
    # after "[  SKIPPED ] N test(s), listed below:"; count the per-test lines only.
    s_cm=$(grep -E '^\[  SKIPPED \] ' "$1" | grep -cvE '^\[  SKIPPED \] [0-9]+ test\(s\), listed below')
    s_listed=$(sed -n 's/^\[  SKIPPED \] \([0-9][0-9]*\) test(s), listed below.*/\1/p' "$1" | head -1)
    [ -n "$s_listed" ] && s_cm=$((s_cm - s_listed))
    s_plan=0
    if grep -qE '^1\.\.0([^0-9]|$)' "$1"; then s_plan=1; fi
    p=$(grep -E '^(\[       OK \]|ok [0-9])' "$1" | grep -cvE "$tap_skip")
    # cmocka names a failed test twice (and may add "[  ERROR   ]" lines): its closing
    # "[  FAILED  ] N test(s), listed below" is the count
    f=$(grep -cE '^not ok [0-9]' "$1")
    f_cm=$(sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test(s).*/\1/p' "$1" | head -1)
    f=$((f + ${f_cm:-0}))
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s_tap + s_cm + s_plan))
    if [ $((s_tap + s_cm + s_plan)) -gt 0 ]; then
        { grep -E "$tap_skip" "$1" | sed 's/^ok [0-9]* *-* */skip: /'
          grep -E '^\[  SKIPPED \] ' "$1" | grep -vE '^\[  SKIPPED \] [0-9]+ test\(s\)' | sort -u |
              sed 's/^\[  SKIPPED \] */skip: /'
          # a "1..0 # SKIP why" plan; and the reasons tests print themselves on
          # "SKIP: why" lines (cmocka's skip() carries none, scripts that plan 1..0 use them)
          grep -E '^1\.\.0[[:space:]]*#' "$1" | sed 's/^1\.\.0[[:space:]]*#[[:space:]]*/skip: /'
          grep -E '^#?[[:space:]]*SKIP' "$1" | sed -E 's/^#*[[:space:]]*SKIP:?[[:space:]]*/skip: /' | sort -u
        } | sed "s/^/    $name: /"
    fi
}

for t in "$B"/tests/test_* tests/cli/t*.sh; do
    [ -e "$t" ] || continue
    case "$t" in *.d|*.o) continue ;; esac
    name=$(basename "$t")
    case "$name" in *"$pattern"*) ;; *) continue ;; esac
    start=$(date +%s)
    case "$t" in
    *.sh) OMP_NUM_THREADS=$CLI_OMP_THREADS timeout 600 "$t" >"$log/$name.out" 2>&1 ;;
    *) ASAN_OPTIONS=$UNIT_ASAN_OPTIONS timeout 600 "$t" >"$log/$name.out" 2>&1 ;;
    esac
    rc=$?
    secs=$(( $(date +%s) - start ))
    if [ $rc -ne 0 ]; then
        echo "FAIL $name (exit $rc, ${secs}s)"
        sed 's/^/    /' "$log/$name.out" | grep -vE '^\s+(\[ RUN|\[       OK|ok [0-9])' | tail -40
        # a crash or exit without a failed case still counts as one failure
        grep -qE '^(\[  FAILED  \] [0-9]+ test|not ok [0-9])' "$log/$name.out" || failed=$((failed + 1))
        broken="$broken $name"
    else
        echo "ok   $name (${secs}s)"
    fi
    count "$log/$name.out"
done
[ -n "$broken" ] && echo "failing:$broken"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
