#!/bin/sh
# Parallel checkpoint writes of a data-parallel job: at each node every rank writes its
# share of the tensor objects (whole tensors, about 1/N of the bytes each) and rank 0
# commits the node once every rank has reported its objects. The manifest records who
# wrote what ("shards"), and the checkpoint is the one a single rank writes: the same
# tensors array, so export, diff, eval, restore and fork see no difference. A rank that
# cannot write its share (rank 1 under `ulimit -f 0`) means no node: one line from rank
# 0, the tip stays the node before, verify passes. Skips without MPI.
. "$(dirname "$0")/lib.sh"

awk 'BEGIN { srand(1); split("the cat sat on a mat while dogs ran over hills and rivers", w, " ");
             for (i = 0; i < 300; i++) { s = ""; for (j = 0; j < 12; j++) s = s w[int(rand() * 14) + 1] " "; print s "." } }' >prose.txt
awk 'BEGIN { for (i = 0; i < 300; i++) print "- item " i % 7 " list list list" }' >lists.txt
"$RUNS" tokenizer train --vocab-size 300 --out tok.bin prose.txt lists.txt >/dev/null 2>&1
for s in prose lists; do "$RUNS" tokenizer encode --tokenizer tok.bin --out $s.tok $s.txt >/dev/null 2>&1; done
cfg() { # cfg FILE GRAD_ACCUM
    cat >"$1" <<JSON
{"model": {"n_layer": 1, "n_head": 2, "n_embd": 16, "vocab_size": 300, "block_size": 16},
 "train": {"total_steps": 12, "batch_size": 2, "seq_len": 8, "seed": 3, "grad_accum": $2},
 "schedule": {"warmup_steps": 2},
 "data": {"tokenizer": "$T/tok.bin", "sources": {"prose": {"path": "$T/prose.tok"}, "lists": {"path": "$T/lists.tok"}},
          "heldout": "prose"},
 "bandit": {"pull_min": 2, "pull_max": 3},
 "sampling": {"every": 0}, "eval": {"every": 0, "batches": 2},
 "checkpoint": {"every": 6, "boundary": 3, "keep_last": 0, "keep_every": 0}}
JSON
}
cfg a1.json 1
cfg a2.json 2
mpi="timeout 120 mpirun --allow-run-as-root --oversubscribe"
why=$(mpi_why)
if [ -n "$why" ]; then
    skip "init" "1 x 2" "2 x 1" "shards recorded" "both ranks wrote" "the start node has none" "same tensors" \
        "diff" "export" "eval" "restore" "fork on 1 rank" "verify" "keep 1 rank" "keep 2 ranks" "thinned 1" \
        "thinned 2" "failing rank refused" "one line" "tip before" \
        "verify after"
    done_testing
    exit
fi
json() { "$RUNS" show "$1" --json | tr -d ' \n'; }
tensors() { json "$1" | sed 's/.*"tensors":\(\[[^]]*\(\][^]]*\)*\]\).*/\1/' | grep -o '"sha256":"[0-9a-f]*"' | md5sum; }

expect "init" "$RUNS" init
expect "1 rank x 2" "$RUNS" start --config a2.json --name one --quiet
expect "2 ranks x 1" $mpi -np 2 "$RUNS" start --config a1.json --name two --quiet
expect_match "the 2-rank node records who wrote each object" "$(json two)" '"shards":\{"rank":\[[01](,[01])*\],"ranks":2\}'
w=$(json two | sed 's/.*"shards":{"rank":\[\([^]]*\)\].*/\1/' | tr ',' '\n' | sort | uniq -c | wc -l)
expect_eq "both ranks wrote a share" "$w" 2
expect_eq "the start node (before the ranks start) was written by rank 0 alone" \
    "$(json two@step_0 | grep -c '"shards"')" 0
expect_eq "the same tensors array as one rank's: weights, m, v" "$(tensors two)" "$(tensors one)"
expect_eq "runs diff sees no tensor difference" "$("$RUNS" diff one two --json -- tensors)" "[]"
"$RUNS" export one --format safetensors --out one.st >/dev/null 2>&1
"$RUNS" export two --format safetensors --out two.st >/dev/null 2>&1
expect_eq "export: the same weights (metadata aside)" "$(tail -c 4096 two.st | md5sum)" "$(tail -c 4096 one.st | md5sum)"
expect_eq "eval: the same held-out loss" "$("$RUNS" eval two --json | sed 's/.*"val_loss"://')" \
    "$("$RUNS" eval one --json | sed 's/.*"val_loss"://')"
expect "restore reads it (every object re-hashed)" "$RUNS" restore two --out restored.st
expect "fork of the 2-rank node trains on 1 rank" "$RUNS" fork two -S train.total_steps=15 --name fk --quiet
expect "verify passes" "$RUNS" verify

# retention (checkpoint.keep_last) thins the same nodes under 2 ranks as under 1: the
# ranks' writes leave the store to rank 0's gc between nodes
thinned() { grep "^[0-9a-f]* $1 " .runs/thinned 2>/dev/null | awk '{print $3}' | sort -n | tr '\n' ' '; }
expect "1 rank x 2, keep_last 1" "$RUNS" start --config a2.json --name keep1 -S checkpoint.keep_last=1 -S train.total_steps=24 --quiet
expect "2 ranks x 1, keep_last 1" $mpi -np 2 "$RUNS" start --config a1.json --name keep2 -S checkpoint.keep_last=1 -S train.total_steps=24 --quiet
expect_match "1 rank: older checkpoints thinned" "$(thinned keep1)" '^6 12 18 $'
expect_eq "2 ranks: the same ones" "$(thinned keep2)" "$(thinned keep1)"

# rank 1 cannot write (file size limit 0, SIGXFSZ ignored: EFBIG): no node. TCP between
# the ranks: Open MPI's shared-memory transport needs a file of its own
$mpi --mca btl self,tcp -np 1 "$RUNS" start --config a1.json --name bad --quiet : \
    -np 1 sh -c "trap '' XFSZ; ulimit -f 0; exec '$RUNS' start --config a1.json --name bad --quiet" >out.txt 2>err.txt
rc=$?
expect_eq "a rank that cannot write its share fails the job (non-zero, no timeout)" \
    "$([ $rc -ne 0 ] && [ $rc -ne 124 ] && echo failed)" failed
expect_eq "rank 0 says so in one line" "$(grep -c 'rank 1 could not write its share of the checkpoint: .*no node was committed' err.txt)" 1
expect_eq "the tip stays the node before (the start node, step 0)" "$(json bad | sed 's/.*"kind":"\([a-z]*\)".*/\1/') $(json bad | grep -o '"step":[0-9]*' | tail -1)" "start \"step\":0"
expect "verify passes" "$RUNS" verify
done_testing
