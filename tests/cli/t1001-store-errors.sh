#!/bin/sh
# t1001-store-errors: every bad input to the store commands ends with exactly one
# stderr line and a non-zero exit, and the store still verifies afterwards:
# missing store, unknown node, bad usage, corrupt manifest / bad JSON in the lineage,
# read-only store, full disk.
. "$(dirname "$0")/lib.sh"
SYNTH=$ROOT/tools/runs-synth-commit
S=$T/.runs

expect_exit 1 "log without a store" "$RUNS" log
expect_exit 1 "verify without a store" "$RUNS" --store "$T/nowhere" verify
expect_exit 1 "show without a store" "$RUNS" show step_0
: >"$T/afile"
expect_exit 1 "init onto a file" "$RUNS" init "$T/afile/x"

"$RUNS" init >/dev/null
expect "log on an empty store" "$RUNS" log
expect_eq "log --json on an empty store" "$("$RUNS" log --json)" "[]"
expect_exit 1 "show on an empty store" "$RUNS" show step_0
"$SYNTH" --store "$S" --run main --count 3 >/dev/null

expect_exit 1 "unknown node" "$RUNS" show nosuch
expect_exit 1 "unknown step" "$RUNS" show step_999
expect_exit 1 "unknown run" "$RUNS" show other@step_0
expect_exit 1 "malformed RUN@step" "$RUNS" show main@10
expect_exit 1 "unknown id prefix" "$RUNS" show 0000000
expect_exit 1 "diff with an unknown node" "$RUNS" diff step_0 nosuch
expect_exit 1 "restore unknown node" "$RUNS" restore nosuch --out x
expect_exit 1 "log of an unknown run" "$RUNS" log nosuch
expect_exit 1 "bad tag name" "$RUNS" tag step_0 "bad/name"
expect_exit 1 "tag name like a node" "$RUNS" tag step_0 step_5
expect_exit 129 "show without NODE" "$RUNS" show
expect_exit 129 "log with a bad option" "$RUNS" log --bogus
expect_exit 129 "restore without --out" "$RUNS" restore step_0
expect_exit 129 "diff with one node" "$RUNS" diff step_0
expect_exit 129 "gc --keep-last x" "$RUNS" gc --keep-last x
expect_exit 129 "gc --keep-every -1" "$RUNS" gc --keep-every -1
expect_exit 129 "tag with one argument" "$RUNS" tag step_0
expect_exit 129 "verify with an argument" "$RUNS" verify extra
: >"$T/file"
expect_exit 1 "restore onto a file" "$RUNS" restore step_0 --out "$T/file"
expect "verify after bad inputs" "$RUNS" verify

# a corrupt manifest (bad JSON, then a schema violation) committed behind our back
G="git --git-dir $S/lineage.git"
tip=$($G rev-parse main)
for body in '{"schema": "runs.manifest/1", "kind": ' '{"schema":"runs.manifest/1","kind":"checkpoint","run":"main","step":"x"}'; do
    blob=$(printf '%s' "$body" | $G hash-object -w --stdin)
    tree=$(printf '100644 blob %s\tmanifest.json\n' "$blob" | $G mktree)
    c=$(echo bad | GIT_AUTHOR_NAME=x GIT_AUTHOR_EMAIL=x GIT_COMMITTER_NAME=x GIT_COMMITTER_EMAIL=x $G commit-tree "$tree" -p "$tip")
    $G update-ref refs/heads/bad "$c"
    expect_exit 1 "show of a corrupt manifest" "$RUNS" show bad
    expect_exit 1 "log over a corrupt manifest" "$RUNS" log bad
    expect_exit 1 "gc refuses over a corrupt manifest" "$RUNS" gc
    "$RUNS" verify >/dev/null 2>"$T/verr"; rc=$?
    expect_eq "verify reports the corrupt manifest" "$rc" 1
    expect_match "verify names the node" "$(cat "$T/verr")" "$(echo "$c" | cut -c1-12)"
    $G update-ref -d refs/heads/bad
    expect "verify passes without it" "$RUNS" verify
done

# a missing object
obj=$("$RUNS" show step_10 --json | grep -o '"sha256":"[0-9a-f]*"' | head -1 | sed 's/.*:"\(.*\)"/\1/')
f=$S/objects/$(echo "$obj" | cut -c1-2)/$(echo "$obj" | cut -c3-)
mv "$f" "$T/saved"
expect_exit 1 "restore with a missing object" "$RUNS" restore step_10 --out m
"$RUNS" verify >/dev/null 2>"$T/verr"; rc=$?
expect_eq "verify reports a missing object" "$rc" 1
expect_match "verify names it" "$(cat "$T/verr")" "$obj is missing"
mv "$T/saved" "$f"
expect "verify passes with it back" "$RUNS" verify

# read-only store: as root, drop to nobody; otherwise take write permission away
chmod 755 "$T"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1; then
    AS="setpriv --reuid=65534 --regid=65534 --clear-groups"
else
    AS=""
    chmod -R a-w "$S"
fi
expect_exit 1 "tag on a read-only store" $AS "$RUNS" tag step_0 ro
expect_exit 1 "commit into a read-only store" $AS "$SYNTH" --store "$S" --run main --count 1
expect_exit 1 "gc on a read-only store" $AS "$RUNS" gc
expect "verify on a read-only store" $AS "$RUNS" verify
expect "log on a read-only store" $AS "$RUNS" log
[ -z "$AS" ] && chmod -R u+w "$S"
expect "verify after read-only attempts" "$RUNS" verify

# full disk: a tiny tmpfs when we may mount one, else a file-size limit
mnt=$T/tiny
mkdir -p "$mnt"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=1m tmpfs "$mnt" 2>/dev/null; then
    trap 'umount "$mnt" 2>/dev/null; rm -rf "$T"' EXIT
    "$RUNS" init "$mnt/s" >/dev/null
    expect_exit 1 "commit onto a full disk" "$SYNTH" --store "$mnt/s" --run main --count 20 --elems 16384
    expect "verify the full store" "$RUNS" --store "$mnt/s" verify
    "$SYNTH" --store "$S" --run big --count 1 --elems 262144 >/dev/null
    expect_exit 1 "restore onto a full disk" "$RUNS" restore big --out "$mnt/out"
    expect_match "full disk message" "$(cat "$T/.err")" "No space left"
    umount "$mnt"
else
    "$SYNTH" --store "$S" --run big --count 1 --elems 262144 >/dev/null
    expect_exit 1 "commit over a file-size limit" sh -c "trap '' XFSZ; ulimit -f 512; exec \"$SYNTH\" --store \"$S\" --run main --count 3 --elems 262144"
    expect_exit 1 "restore over a file-size limit" sh -c "trap '' XFSZ; ulimit -f 512; exec \"$RUNS\" restore big --out \"$T/out\""
fi
expect "verify after a full disk" "$RUNS" verify
expect "gc cleans what the failures left" "$RUNS" gc
expect "verify after gc" "$RUNS" verify
done_testing
