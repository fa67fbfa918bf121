# tests/cli/lib.sh — sourced by every CLI test script.
# Gives: $RUNS (the built binary), $ROOT, a fresh scratch dir $T (cwd, removed at exit),
# and TAP-style assertions whose "ok"/"not ok" lines tests/run-tests.sh counts.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=${RUNS:-$ROOT/build/runs}
T=$(mktemp -d "${TMPDIR:-/tmp}/runs-test.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
export RUNS_STORE="$T/.runs"
unset RUNS_JSON_PROGRESS 2>/dev/null || true
n=0 nfail=0

ok()     { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); nfail=$((nfail + 1)); echo "not ok $n - $1"; [ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/#   /'; return 0; }

# expect DESC CMD...: CMD must exit 0
expect() {
    desc=$1; shift
    if out=$("$@" 2>&1); then ok "$desc"; else not_ok "$desc (exit $?)" "$out"; fi
}

# expect_exit CODE DESC CMD...: CMD must exit with CODE and print exactly one line on stderr
expect_exit() {
    code=$1 desc=$2; shift 2
    "$@" >"$T/.out" 2>"$T/.err"; rc=$?
    lines=$(grep -c '' "$T/.err")
    if [ "$rc" -eq "$code" ] && [ "$lines" -eq 1 ]; then ok "$desc"
    else not_ok "$desc (exit $rc, want $code; $lines stderr lines)" "$(cat "$T/.err")"; fi
}

# expect_eq DESC GOT WANT
expect_eq() {
    if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "got:  $2
want: $3"; fi
}

# expect_match DESC TEXT REGEX (grep -E)
expect_match() {
    if printf '%s\n' "$2" | grep -qE -- "$3"; then ok "$1"; else not_ok "$1" "no match for /$3/ in:
$2"; fi
}

done_testing() { echo "1..$n"; [ "$nfail" -eq 0 ]; }
