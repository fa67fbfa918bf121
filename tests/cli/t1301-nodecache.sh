#!/bin/sh
# t1301-nodecache: `runs log` lists from STORE/cache/nodes (store/nodecache.h) and says
# exactly what it says without it (RUNS_NO_NODECACHE=1): every form, after new commits
# (the cache is extended), over a damaged cache file (ignored and rewritten; verify
# reports it), over a record that lies under a valid checksum (verify reports it,
# --repair rewrites it), after a run's refs are gone (its nodes are not listed and the
# cache drops them), over a damaged ref file or HEAD (read without libgit2, still named
# as damage), and over a damaged commit (the listing fails as without a cache).
. "$(dirname "$0")/lib.sh"
SYNTH=$ROOT/tools/runs-synth-commit
S=$T/.runs
C=$S/cache/nodes
runs() { "$RUNS" "$@"; }
nocache() { RUNS_NO_NODECACHE=1 "$RUNS" "$@"; }
# same_output DESC ARGS...: the cached and the uncached listing are byte for byte equal
same_output() {
    desc=$1; shift
    a=$("$RUNS" "$@" 2>&1); ra=$?
    b=$(RUNS_NO_NODECACHE=1 "$RUNS" "$@" 2>&1); rb=$?
    expect_eq "$desc" "$ra $a" "$rb $b"
}
records() { python3 -c 'import struct,sys; print(struct.unpack_from("<I", open(sys.argv[1],"rb").read(), 16)[0])' "$1"; }

expect "init" runs init
expect "main: 8 nodes" "$SYNTH" --store "$S" --run main --count 8 --elems 8 --tensors 1
expect "fork fa: 3 nodes" "$SYNTH" --store "$S" --run fa --from main@step_30 --count 3 --elems 8 --tensors 1
expect "tag" runs tag main@step_50 best

expect "RUNS_NO_NODECACHE=1 lists" nocache log --all --json
expect_eq "... and writes no cache" "$(test -e "$C" && echo there || echo none)" none
for args in "log --all --json" "log --all" "log --all --graph" "log" "log --json fa" "log fa"; do
    # shellcheck disable=SC2086
    same_output "cached = uncached: $args" $args
done
expect_eq "the cache holds every node" "$(records "$C")" 11
# shellcheck disable=SC2086
same_output "warm cache = uncached: log --all --json" log --all --json

# --- extended with new commits
expect "main: 3 more" "$SYNTH" --store "$S" --run main --count 3 --elems 8 --tensors 1
same_output "after new commits: log --all --json" log --all --json
same_output "after new commits: log --all --graph" log --all --graph
expect_eq "the cache was extended" "$(records "$C")" 14

# --- concurrent writers: listings rewrite the cache while nodes are committed; each
# writes a whole file, the last rename wins, and what is left is right
rm -f "$C"
for i in 1 2 3 4; do "$RUNS" log --all --json >/dev/null 2>&1 & done
expect "main: 2 more while listings run" "$SYNTH" --store "$S" --run main --count 2 --elems 8 --tensors 1
for i in 1 2 3; do "$RUNS" log fa >/dev/null 2>&1 & done
wait
same_output "after concurrent writers: log --all --json" log --all --json
expect "... and verify finds the cache sound" runs verify
expect_eq "... holding every node" "$(records "$C")" 16

# --- a damaged cache file: verify says so, log ignores it and rewrites it
good=$(runs log --all --json)
python3 -c 'import sys; p=sys.argv[1]; d=bytearray(open(p,"rb").read()); d[200]^=0x5a; open(p,"wb").write(bytes(d))' "$C"
runs verify >/dev/null 2>"$T/verr"; rc=$?
expect_eq "verify: a damaged cache is a problem" "$rc" 1
expect_match "... one line naming cache/nodes" "$(cat "$T/verr")" '^runs verify: .*cache/nodes: checksum mismatch'
expect_eq "... and nothing else" "$(grep -c '' "$T/verr")" 1
expect_eq "log over a damaged cache: the same listing" "$(runs log --all --json)" "$good"
expect "... which rewrote it: verify is clean" runs verify

# --- a record that lies under a valid checksum: only verify can tell; --repair mends it
python3 - "$C" <<'PY'
import hashlib, struct, sys
p = sys.argv[1]
d = bytearray(open(p, "rb").read())
body = len(d) - 64
off = 32 + 56  # the first record's metrics.loss
struct.pack_into("<d", d, off, struct.unpack_from("<d", d, off)[0] + 1.0)
d[body:] = hashlib.sha256(bytes(d[:body])).hexdigest().encode()
open(p, "wb").write(bytes(d))
PY
runs verify >/dev/null 2>"$T/verr"; rc=$?
expect_eq "verify: a record that disagrees with its commit is a problem" "$rc" 1
expect_match "... named as damage of the cache, not the lineage" "$(cat "$T/verr")" \
    'cache/nodes: the record of node [0-9a-f]{12} disagrees with its commit \(loss\).*lineage is not touched'
expect_match "verify --repair rewrites it" "$(runs verify --repair 2>&1)" 'repaired cache/nodes'
expect "... and verify is clean" runs verify
expect_eq "log after the repair" "$(runs log --all --json)" "$good"

# --- a run whose refs are gone: its nodes are not listed although cached, and pruned
rm -rf "$S/lineage.git/refs/heads/fa" "$S/lineage.git/refs/tags/fa"
expect_eq "fa's nodes are not listed" "$(runs log --all | grep -c ' fa ')" 0
same_output "without fa: log --all --json" log --all --json
expect_eq "the rewrite dropped their records" "$(records "$C")" 13

# --- the refs and HEAD are read from their files (store/refs.c: a cached listing never
# loads libgit2); a damaged one is an error naming the file, never a shorter listing
runs log --all >/dev/null
tip=$(cat "$S/lineage.git/refs/heads/main")
printf 'not a ref\n' >"$S/lineage.git/refs/heads/main"
expect_exit 1 "log main over a damaged branch ref fails" runs log main
expect_match "... naming the file, its bytes and what to run" "$(cat "$T/.err")" \
    'lineage.git/refs/heads/main is damaged: it holds "not a ref\\x0a", not 40 hex digits and a newline; run `runs verify --all`'
expect_exit 1 "... and so does log (HEAD names main)" runs log
expect_exit 1 "... and show main" runs show main
printf '%s\n' "$tip" >"$S/lineage.git/refs/heads/main"
cp "$S/lineage.git/HEAD" "$T/HEAD.good"
printf '%s\n' "$tip" >"$S/lineage.git/HEAD"
expect_exit 1 "log with a detached HEAD fails" runs log
expect_match "... saying HEAD names no run" "$(cat "$T/.err")" "HEAD of .*lineage.git does not name a run: it holds \"$tip\\\\x0a\""
printf 'ref: refs/heads/../../x\n' >"$S/lineage.git/HEAD"
expect_exit 1 "log with HEAD naming no valid run fails" runs log
expect_match "... saying so" "$(cat "$T/.err")" "HEAD of .*lineage.git names '../../x', which is not a run name"
cp "$T/HEAD.good" "$S/lineage.git/HEAD"
mkdir -p "$S/lineage.git/refs/tags/main"
expect_eq "show main is the run's tip, refs/tags/main/ being a directory (of per-step tags)" \
    "$(runs show main 2>&1 | head -1)" "node         $tip"
expect_exit 1 "show of a name that is only a directory under refs/tags: not found" runs show nosuch
mkdir -p "$S/lineage.git/refs/tags/nosuch"
expect_exit 1 "... with the directory there too" runs show nosuch
expect_match "... as no node of that name" "$(cat "$T/.err")" "no node named 'nosuch'"
rmdir "$S/lineage.git/refs/tags/nosuch"

# --- a damaged commit fails the listing, cache or not
mid=$(runs log main --json | tr -d ' \n' | sed 's/.*"id":"\([0-9a-f]*\)","kind":"checkpoint"[^}]*"step":40[,}].*/\1/')
f=$S/lineage.git/objects/$(echo "$mid" | cut -c1-2)/$(echo "$mid" | cut -c3-)
chmod u+w "$f"
python3 -c 'import sys; p=sys.argv[1]; d=bytearray(open(p,"rb").read()); d[len(d)//2]^=0x21; open(p,"wb").write(bytes(d))' "$f"
expect_exit 1 "log --all over a damaged commit fails, although the cache has it" runs log --all
expect_exit 1 "... and so does log" runs log
done_testing
