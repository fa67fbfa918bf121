#!/bin/sh
# t1300-log-scale: `runs log` reads what it prints, once. Tags come from one pass over
# the refs (not one pass per printed node, which made the text log quadratic), the
# text, --graph and --json outputs agree on the nodes and their tags, and --graph lists
# in git's topological order: one run's nodes together, not interleaved by time.
. "$(dirname "$0")/lib.sh"
SYNTH=$ROOT/tools/runs-synth-commit
S=$T/.runs
runs() { "$RUNS" "$@"; }

expect "init" runs init
expect "main: 12 nodes" "$SYNTH" --store "$S" --run main --count 12 --elems 8 --tensors 1
# two forks committed in turns, a second apart, so that ordering by commit time
# interleaves them: a time-ordered graph would scatter each fork over the output
expect "fork a" "$SYNTH" --store "$S" --run fa --from main@step_40 --count 2 --elems 8 --tensors 1
sleep 1
expect "fork b" "$SYNTH" --store "$S" --run fb --from main@step_80 --count 2 --elems 8 --tensors 1
sleep 1
expect "fork a again" "$SYNTH" --store "$S" --run fa --count 2 --elems 8 --tensors 1
sleep 1
expect "fork b again" "$SYNTH" --store "$S" --run fb --count 2 --elems 8 --tensors 1

expect "tag one node twice" runs tag main@step_60 best
expect "second tag" runs tag main@step_60 zeta
expect "tag a fork tip" runs tag fa tipa

# --- tags: the right nodes, every name, per-step tags never shown as tags
log=$(runs log)
expect_match "both tags of one node, sorted" "$log" ' main +step_60 +loss [0-9.]+  \(tag: best, zeta\)$'
expect_eq "only that node of main carries tags" "$(printf '%s\n' "$log" | grep -c 'tag:')" 1
all=$(runs log --all)
expect_match "fork tip's tag" "$all" ' fa +step_70 +loss [0-9.]+  \(tag: tipa\)$'
expect_eq "tags in log --all" "$(printf '%s\n' "$all" | grep -c 'tag:')" 2
if printf '%s\n' "$all" | grep -q 'step_[0-9]*,\|tag: main/'; then not_ok "per-step tag shown as a tag"
else ok "per-step tags are not shown as tags"; fi

# --- the same nodes in every form
ids_json=$(runs log --all --json | tr '{' '\n' | sed -n 's/.*"id":"\([0-9a-f]\{10\}\).*/\1/p' | sort)
ids_text=$(printf '%s\n' "$all" | cut -c1-10 | sort)
ids_graph=$(runs log --all --graph | sed -n 's/^[|/ ]*\* [| ]*\([0-9a-f]\{10\}\)  .*/\1/p' | sort)
expect_eq "log --all lists 20 nodes" "$(printf '%s\n' "$ids_json" | wc -l | tr -d ' ')" 20
expect_eq "text and json list the same nodes" "$ids_text" "$ids_json"
expect_eq "graph and json list the same nodes" "$ids_graph" "$ids_json"
expect_eq "graph lines carry the text log's tags" \
    "$(runs log --all --graph | grep -o '(tag: [^)]*)' | sort)" "$(printf '%s\n' "$all" | grep -o '(tag: [^)]*)' | sort)"

# --- --graph: topological, each fork's nodes in one block (runs change at most
# once per fork: main is split at each fork point, like git log --graph)
g=$(runs log --all --graph)
seq=$(printf '%s\n' "$g" | sed -n 's/^[|/ ]*\* [| ]*[0-9a-f]\{10\}  [a-z]* *\([a-z]*\) .*/\1/p' | uniq)
expect_eq "fa's nodes together" "$(printf '%s\n' "$seq" | grep -c '^fa$')" 1
expect_eq "fb's nodes together" "$(printf '%s\n' "$seq" | grep -c '^fb$')" 1
# children before parents: every node's line comes before its parent's
pos=$(printf '%s\n' "$g" | sed -n 's/^[|/ ]*\* [| ]*\([0-9a-f]\{10\}\)  .*/\1/p' | awk '{print $1, NR}')
bad=0
for row in $(runs log --all --json | tr '{' '\n' | sed -n 's/.*"id":"\([0-9a-f]\{10\}\)[^,]*,.*"parent":"\([0-9a-f]\{10\}\).*/\1:\2/p'); do
    c=$(printf '%s\n' "$pos" | awk -v id="${row%%:*}" '$1 == id {print $2}')
    p=$(printf '%s\n' "$pos" | awk -v id="${row##*:}" '$1 == id {print $2}')
    [ "$c" -lt "$p" ] || bad=$((bad + 1))
done
expect_eq "graph lists children before parents" "$bad" 0
expect_eq "graph order is stable" "$(runs log --all --graph)" "$g"

# --- cost per printed node does not grow with the refs: the files the text log opens
# for 2N nodes minus those for N, per added node, stay a small constant (the old log
# re-read every tag ref, one per node, for each node: ~2N opens per node)
if command -v strace >/dev/null 2>&1 && strace -f -o /dev/null true 2>/dev/null; then
    opens() { strace -f -qq -e trace=openat,open -o "$T/.st" "$RUNS" log "$@" >/dev/null 2>&1; grep -c '' "$T/.st"; }
    # naming a node by its full id looks that commit up, not every ref and node
    tagopens() { strace -f -qq -e trace=openat,open -o "$T/.st" "$RUNS" tag "$1" "$2" >/dev/null 2>&1; grep -c '' "$T/.st"; }
    full=$(runs log --json | tr '{' '\n' | sed -n 's/.*"id":"\([0-9a-f]\{40\}\)".*"step":30[,}].*/\1/p')
    o1=$(opens)
    a1=$(tagopens "$full" t_before)
    expect "main: 24 more nodes" "$SYNTH" --store "$S" --run main --count 24 --elems 8 --tensors 1
    o2=$(opens)
    a2=$(tagopens "$full" t_after)
    expect_eq "both full-id tags made" "$(runs log | grep -c 't_after, t_before')" 1
    if [ $((a2 - a1)) -le 8 ]; then ok "tag by full id: $a1 then $a2 opened files (24 nodes more)"
    else not_ok "tag by full id opens files per node: $a1 for 12 nodes, $a2 for 36"; fi
    per=$(( (o2 - o1) / 24 ))
    if [ "$per" -le 12 ]; then ok "log opens $per files per added node (<= 12)"
    else not_ok "log opens $per files per added node (want <= 12; $o1 for 12 nodes, $o2 for 36)"; fi
    # --bulk (the benchmarks' stores) writes lineage.git's objects without fsync: the
    # store turns fsync on when it first opens lineage.git, which undid the tool's
    # setting until the tool opened it first (13 fsyncs per node instead of 7)
    strace -f -qq -y -e trace=fsync,fdatasync -o "$T/.st" "$SYNTH" --store "$S" --run bulk --count 4 \
        --elems 8 --tensors 1 --bulk >/dev/null 2>&1
    expect_eq "--bulk fsyncs no lineage.git object" "$(grep -c 'lineage.git/objects' "$T/.st")" 0
else
    ok "# SKIP strace not usable here"
    ok "# SKIP strace not usable here (--bulk fsyncs)"
fi

done_testing
