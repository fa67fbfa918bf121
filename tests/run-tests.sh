#!/bin/sh
# Runs every test: cmocka binaries in build/tests/, then the CLI scripts in tests/cli/.
# Counts individual test cases (cmocka's summary lines, the scripts' "ok"/"not ok" lines)
# and ends with one line: "N passed, N failed".
# Usage: tests/run-tests.sh [PATTERN]   (only tests whose file name contains PATTERN)
cd "$(dirname "$0")/.." || exit 1
pattern=${1:-}
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
passed=0 failed=0 broken=""
CMOCKA_MESSAGE_OUTPUT=stdout; export CMOCKA_MESSAGE_OUTPUT
# The CLI scripts train tiny models whose steps are too small to split across
# threads (barrier overhead dominates, badly so on a busy machine); results do not
# depend on the thread count, which test_gpt_model checks with 1 and 2 threads.
CLI_OMP_THREADS=${OMP_NUM_THREADS:-1}

count() { # $1 = output file; adds its pass/fail counts
    p=$(grep -cE '^(\[       OK \]|ok [0-9])' "$1"); f=$(grep -cE '^(\[  FAILED  \] [^0-9]|\[  ERROR   \]|not ok [0-9])' "$1")
    passed=$((passed + p)); failed=$((failed + f))
}

for t in build/tests/test_* tests/cli/t*.sh; do
    [ -e "$t" ] || continue
    case "$t" in *.d|*.o) continue ;; esac
    case "$t" in *"$pattern"*) ;; *) continue ;; esac
    name=$(basename "$t")
    start=$(date +%s)
    case "$t" in
    *.sh) OMP_NUM_THREADS=$CLI_OMP_THREADS timeout 600 "$t" >"$log/$name.out" 2>&1 ;;
    *) timeout 600 "$t" >"$log/$name.out" 2>&1 ;;
    esac
    rc=$?
    count "$log/$name.out"
    secs=$(( $(date +%s) - start ))
    if [ $rc -ne 0 ]; then
        echo "FAIL $name (exit $rc, ${secs}s)"
        sed 's/^/    /' "$log/$name.out" | grep -vE '^\s+(\[ RUN|\[       OK|ok [0-9])' | tail -40
        # a crash or exit without a failed case still counts as one failure
        grep -qE '^(\[  FAILED  \] [^0-9]|\[  ERROR   \]|not ok [0-9])' "$log/$name.out" || failed=$((failed + 1))
        broken="$broken $name"
    else
        echo "ok   $name (${secs}s)"
    fi
done
[ -n "$broken" ] && echo "failing:$broken"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
