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

# skip DESC...: one "ok N - DESC # SKIP $why" line per check a script cannot run here,
# so the counts stay those of a full run and each skip says why.
skip() { for d in "$@"; do n=$((n + 1)); echo "ok $n - $d # SKIP $why"; done; }

# mpi_why: why the data-parallel tests cannot run here ("" when they can): a build
# without the MPI plugin, or no mpirun on PATH.
mpi_why() {
    if ! grep -q libruns-mpi.so "$RUNS"; then echo "this build has no MPI (make deps, then rebuild)"
    elif ! command -v mpirun >/dev/null 2>&1; then echo "no mpirun (make deps)"
    fi
}

# tiny_corpus VOCAB LINES SOURCE...: the tiny corpus most training tests use. Writes
# SOURCE.txt for each SOURCE (prose: seeded word salad; chat: seeded "> q? / < a."
# lines; lists: "- item" lines), LINES lines each, trains tok.bin (VOCAB tokens) on
# them in the order given and encodes each into SOURCE.tok, all in the current
# directory. The bytes are those the scripts wrote by hand before. The caller checks
# the .tok files (expect "tiny corpus encodes" test -s prose.tok ...).
tiny_corpus() {
    _tc_vocab=$1 _tc_lines=$2
    shift 2
    _tc_txt=""
    for _tc_s in "$@"; do
        case $_tc_s in
        prose)
            awk -v n="$_tc_lines" 'BEGIN { srand(1); split("the cat sat on a mat while dogs ran over hills and rivers", w, " ");
                for (i = 0; i < n; i++) { s = ""; for (j = 0; j < 12; j++) s = s w[int(rand() * 14) + 1] " "; print s "." } }' >prose.txt ;;
        chat)
            awk -v n="$_tc_lines" 'BEGIN { srand(2); split("what is why how does it work because you can see that", w, " ");
                for (i = 0; i < n; i++) { q = ""; a = ""; for (j = 0; j < 6; j++) { q = q w[int(rand() * 12) + 1] " "; a = a w[int(rand() * 12) + 1] " " }
                print "> " q "? / < " a "." } }' >chat.txt ;;
        lists)
            awk -v n="$_tc_lines" 'BEGIN { for (i = 0; i < n; i++) print "- item " i % 7 " list list list" }' >lists.txt ;;
        *)
            echo "tiny_corpus: unknown source $_tc_s (prose, chat or lists)" >&2
            return 1 ;;
        esac
        _tc_txt="$_tc_txt $_tc_s.txt"
    done
    # shellcheck disable=SC2086 # the file names are ours, without spaces
    "$RUNS" tokenizer train --vocab-size "$_tc_vocab" --out tok.bin $_tc_txt >/dev/null 2>&1
    for _tc_s in "$@"; do
        "$RUNS" tokenizer encode --tokenizer tok.bin --out "$_tc_s.tok" "$_tc_s.txt" >/dev/null 2>&1
    done
}

# dp_tiny_config FILE GRAD_ACCUM: the tiny 12-step config the data-parallel tests
# (t8001, t8002, t8005) train, with train.grad_accum GRAD_ACCUM, over the prose and
# lists sources of `tiny_corpus 300 300 prose lists` in $T.
dp_tiny_config() {
    cat >"$1" <<JSON
{"model": {"n_layer": 1, "n_head": 2, "n_embd": 16, "vocab_size": 300, "block_size": 16},
 "train": {"total_steps": 12, "batch_size": 2, "seq_len": 8, "seed": 3, "grad_accum": $2},
 "schedule": {"warmup_steps": 2},
 "data": {"tokenizer": "$T/tok.bin", "sources": {"prose": {"path": "$T/prose.tok"}, "lists": {"path": "$T/lists.tok"}}},
 "bandit": {"pull_min": 2, "pull_max": 3},
 "sampling": {"every": 6, "tokens": 6, "prompts": ["the cat"]}, "eval": {"every": 0},
 "checkpoint": {"every": 6, "boundary": 3, "keep_last": 0, "keep_every": 0}}
JSON
}
