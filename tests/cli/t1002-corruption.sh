#!/bin/sh
# t1002-corruption: the "never lose a node" trial. A small real store (tiny model, a
# run with 3 checkpoints, a fork, a tag, gc thinning so `thinned` exists) is copied,
# one random byte of one file is flipped (deterministic seed), and `runs verify --all`
# must exit non-zero, for every kind of file the store holds; `runs gc --keep-last 1`
# on a store whose lineage (a commit or a ref) is damaged must delete nothing; and
# `runs verify --repair` puts a damaged ref back from the ref journal.
# Prints a table: kind, trials, detected.
. "$(dirname "$0")/lib.sh"
S=$T/.runs
G="git --git-dir $S/lineage.git"
TRIALS=3

# --- the pristine store ----------------------------------------------------------
tiny_corpus 300 200 prose
cat >tiny.json <<JSON
{"model": {"n_layer": 1, "n_head": 2, "n_embd": 16, "vocab_size": 300, "block_size": 16},
 "train": {"total_steps": 30, "batch_size": 2, "seq_len": 8, "seed": 7},
 "optimizer": {"lr": 3e-3},
 "schedule": {"type": "cosine", "warmup_steps": 5},
 "data": {"tokenizer": "$T/tok.bin", "sources": {"prose": {"path": "$T/prose.tok"}}},
 "checkpoint": {"every": 10, "boundary": 10, "keep_last": 0, "keep_every": 0}}
JSON
echo '{"train": {"total_steps": 40}, "optimizer": {"lr": 1e-3}}' >polish.json
expect "init" "$RUNS" init
expect "start main (3 checkpoints)" "$RUNS" start --config tiny.json --name main --quiet
expect "fork polish from main@step_20" "$RUNS" fork main@step_20 --config polish.json --name polish --quiet
expect "tag main@step_30" "$RUNS" tag main@step_30 best
expect "gc thins" "$RUNS" gc --keep-last 1
expect "the thinned list exists" test -s "$S/thinned"
expect_match "the thinned list carries its checksum" "$(tail -1 "$S/thinned")" '^# sha256 [0-9a-f]{64}$'
expect_match "every ref move is journalled" "$(cat "$S/lineage.git/runs-reflog")" \
    '^0{40} [0-9a-f]{40} [0-9]+ refs/tags/best$'
expect "the pristine store verifies" "$RUNS" verify --all
cp -a "$S" "$T/pristine"
cp runs/main/.loss.json "$T/main.loss"

# --- the files of each kind --------------------------------------------------------
obj() { echo "$S/objects/$(echo "$1" | cut -c1-2)/$(echo "$1" | cut -c3-)"; }
fields() { # fields NAME: the object names a key holds in every node's manifest
    for id in $($G rev-list --all); do $G show "$id:manifest.json"; done |
        grep -o "\"$1\":\\(\\[[^]]*\\]\\|\"[0-9a-f]*\"\\)" | grep -o '[0-9a-f]\{64\}' | sort -u
}
: >kinds.txt
for h in $(fields sha256); do f=$(obj "$h"); [ -f "$f" ] && echo "tensor $f"; done >>kinds.txt
for h in $(fields loss_log) $(fields archived); do echo "losslog/archive $(obj "$h")"; done >>kinds.txt
$G cat-file --batch-all-objects --batch-check='%(objecttype) %(objectname)' | while read -r type id; do
    echo "$type $S/lineage.git/objects/$(echo "$id" | cut -c1-2)/$(echo "$id" | cut -c3-)"
done | sed 's/^blob /manifest-blob /' >>kinds.txt
find "$S/lineage.git/refs/heads" -type f | sed 's/^/refs-heads /' >>kinds.txt
find "$S/lineage.git/refs/tags" -type f | sed 's/^/refs-tags /' >>kinds.txt
echo "HEAD $S/lineage.git/HEAD" >>kinds.txt
echo "thinned $S/thinned" >>kinds.txt
echo "run-loss.json $T/runs/main/.loss.json" >>kinds.txt
echo "run-loss.json $T/runs/polish/.loss.json" >>kinds.txt
cp runs/polish/.loss.json "$T/polish.loss"

# flip FILE SEED: xor one byte (offset and value from SEED) with a non-zero value
flip() {
    python3 - "$1" "$2" <<'PY'
import random, sys
path, seed = sys.argv[1], int(sys.argv[2])
data = bytearray(open(path, "rb").read())
rng = random.Random(seed)
off = rng.randrange(len(data))
data[off] ^= rng.randrange(1, 256)
open(path, "wb").write(bytes(data))
print(off)
PY
}
listing() { (cd "$1" && find . -type f ! -path './locks/*' | sort); }

restore_store() {
    rm -rf "$S" && cp -a "$T/pristine" "$S"
    cp "$T/main.loss" runs/main/.loss.json
    cp "$T/polish.loss" runs/polish/.loss.json
}

printf '%-16s %6s %8s\n' kind trials detected >table.txt
seed=1
for kind in tensor losslog/archive commit tree manifest-blob refs-heads refs-tags HEAD thinned run-loss.json; do
    files=$(awk -v k="$kind" '$1 == k { print $2 }' kinds.txt)
    nf=$(printf '%s\n' "$files" | grep -c .)
    if [ "$nf" -eq 0 ]; then not_ok "no file of kind $kind in the store"; continue; fi
    det=0
    i=0
    while [ $i -lt $TRIALS ]; do
        i=$((i + 1))
        seed=$((seed + 1))
        restore_store
        f=$(printf '%s\n' "$files" | sed -n "$(( (seed * 7) % nf + 1 ))p")
        chmod u+w "$f"
        off=$(flip "$f" "$seed")
        "$RUNS" verify --all >"$T/vout" 2>"$T/verr"; rc=$?
        if [ $rc -ne 0 ] && [ -s "$T/verr" ]; then
            det=$((det + 1))
            ok "$kind: a flip in ${f#$T/} at byte $off is reported"
        else
            not_ok "$kind: a flip in ${f#$T/} at byte $off went unnoticed (exit $rc)" "$(cat "$T/vout" "$T/verr")"
        fi
        case $kind in commit | refs-heads | refs-tags)
            before=$(listing "$S")
            "$RUNS" gc --keep-last 1 >/dev/null 2>"$T/gerr"; grc=$?
            expect_eq "$kind: gc --keep-last 1 over a damaged lineage deletes nothing" "$(listing "$S")" "$before"
            expect_eq "$kind: ... and fails (exit 1, one line)" "$grc $(grep -c '' "$T/gerr")" "1 1"
            expect_match "$kind: ... saying what to run" "$(cat "$T/gerr")" 'runs verify --all'
        esac
    done
    printf '%-16s %6s %8s\n' "$kind" "$TRIALS" "$det" >>table.txt
done
restore_store
cat table.txt | sed 's/^/# /'

# --- a damaged lineage is reported, not a shorter list ------------------------------
mid=$("$RUNS" log main --json | tr -d ' \n' | sed 's/.*"id":"\([0-9a-f]*\)","kind":"checkpoint"[^}]*"step":10[,}].*/\1/')
f=$S/lineage.git/objects/$(echo "$mid" | cut -c1-2)/$(echo "$mid" | cut -c3-)
chmod u+w "$f"
flip "$f" 99 >/dev/null
expect_exit 1 "log --all over a damaged commit fails" "$RUNS" log --all
expect_match "... naming it" "$(cat "$T/.err")" 'lineage|commit|object'
"$RUNS" verify --all >/dev/null 2>"$T/verr"
expect_match "verify names the damaged commit" "$(cat "$T/verr")" "$mid"
restore_store

# --- HEAD: what is valid ----------------------------------------------------------
# valid: exactly "ref: refs/heads/<run>\n", <run> a valid run name, and (once the
# journal has a HEAD line) the value the journal last set. The run need not have nodes.
printf 'ref: refs/heads/nosuch\n' >"$S/lineage.git/HEAD"
"$RUNS" verify >/dev/null 2>"$T/verr"; rc=$?
expect_eq "HEAD moved behind the journal's back is damage" "$rc" 1
expect_match "... named so" "$(cat "$T/verr")" '^runs verify: HEAD: holds ref:refs/heads/nosuch, but the ref journal'
restore_store
expect "a fresh store's HEAD names a run without nodes: valid" \
    sh -c "RUNS_STORE='$T/fresh' '$RUNS' init && RUNS_STORE='$T/fresh' '$RUNS' verify --all"
printf 'ref: refs/heads/main\n' >"$S/lineage.git/HEAD"
expect "HEAD naming a run, as journalled: valid" "$RUNS" verify --all

# --- verify --repair ---------------------------------------------------------------
tip=$(cat "$S/lineage.git/refs/heads/main")
printf 'X' | dd of="$S/lineage.git/refs/heads/main" bs=1 seek=5 conv=notrunc 2>/dev/null
"$RUNS" verify >/dev/null 2>"$T/verr"; rc=$?
expect_eq "verify without --repair reports the ref" "$rc" 1
expect_match "... and suggests --repair" "$(cat "$T/verr")" 'runs verify --repair'
expect_eq "... and changes nothing" "$(cut -c6 "$S/lineage.git/refs/heads/main")" "X"
out=$("$RUNS" verify --repair 2>&1); rc=$?
expect_eq "verify --repair exits 0" "$rc" 0
expect_match "... says what it did" "$out" "^repaired refs/heads/main: .* -> $tip$"
expect_eq "the ref holds its journalled value again" "$(cat "$S/lineage.git/refs/heads/main")" "$tip"
rm "$S/lineage.git/refs/tags/best"
"$RUNS" verify >/dev/null 2>"$T/verr"; rc=$?
expect_eq "a lost tag is reported" "$rc" 1
expect_match "... as missing" "$(cat "$T/verr")" 'refs/tags/best: missing'
expect "verify --repair puts a lost tag back" "$RUNS" verify --repair
expect_eq "... to its node" "$("$RUNS" show best --json | tr -d ' \n' | sed 's/.*"step":\([0-9]*\).*/\1/')" 30
expect "the repaired store verifies" "$RUNS" verify --all
done_testing
