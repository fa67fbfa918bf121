#!/bin/sh
# Data provenance: config paths follow the config file (not the working directory),
# nodes fingerprint their data files (size + SHA-256, hashed once and cached), a
# changed file is refused unless --allow-data-change, --data-root finds a moved
# corpus, `runs show` lists the fingerprints, a copied store does not write into the
# original's run directory, and a tokenizer larger than the model is refused.
. "$(dirname "$0")/lib.sh"
export OMP_NUM_THREADS=1

# --- a tiny corpus in b/data, the config beside it in b/ (relative paths) -------
mkdir -p a b/data c p
awk 'BEGIN { srand(1); split("the cat sat on a mat while dogs ran over hills and rivers", w, " ");
             for (i = 0; i < 300; i++) { s = ""; for (j = 0; j < 12; j++) s = s w[int(rand() * 14) + 1] " "; print s "." } }' >b/data/prose.txt
awk 'BEGIN { srand(2); split("what is why how does it work because you can see that", w, " ");
             for (i = 0; i < 300; i++) { q = ""; for (j = 0; j < 6; j++) q = q w[int(rand() * 12) + 1] " "; print "> " q "? / < " q "." } }' >b/data/chat.txt
"$RUNS" tokenizer train --vocab-size 320 --out b/data/tok.bin b/data/prose.txt b/data/chat.txt >/dev/null 2>&1
for s in prose chat; do "$RUNS" tokenizer encode --tokenizer b/data/tok.bin --out b/data/$s.tok b/data/$s.txt >/dev/null 2>&1; done
expect "tiny corpus encodes" test -s b/data/prose.tok -a -s b/data/chat.tok

cat >b/tiny.json <<'JSON'
{"model": {"n_layer": 1, "n_head": 2, "n_embd": 16, "vocab_size": 320, "block_size": 16},
 "train": {"total_steps": 60, "batch_size": 2, "seq_len": 8, "seed": 3},
 "schedule": {"type": "constant", "warmup_steps": 0},
 "data": {"tokenizer": "data/tok.bin",
          "sources": {"prose": {"path": "data/prose.tok"}, "chat": {"path": "./data/chat.tok"}}},
 "sampling": {"every": 10, "tokens": 4, "prompts": ["the cat"]},
 "gate": {"threshold": 0, "patience": 0},
 "checkpoint": {"every": 10, "boundary": 10, "keep_last": 0, "keep_every": 0}}
JSON
showj() { "$RUNS" show "$@" --json | tr -d ' \t\n'; }
sha() { sha256sum "$1" | cut -c1-64; }

expect "init" "$RUNS" init
# --- paths follow the config file -----------------------------------------------
expect "start from dir a with the config in dir b" sh -c "cd a && '$RUNS' start --config ../b/tiny.json --name base --steps 20 --quiet"
m=$(showj base)
expect_match "the node's config holds absolute paths" "$m" "\"tokenizer\":\"$T/b/data/tok.bin\""
expect_match "... for the sources too" "$m" "\"path\":\"$T/b/data/chat.tok\""
expect "resume from a third directory" sh -c "cd c && '$RUNS' resume base --steps 30 --quiet"
expect "sharpness from a third directory" sh -c "cd c && '$RUNS' sharpness base --samples 2 --batches 1 --no-record"

# --- fingerprints ---------------------------------------------------------------------
chat0=$(sha b/data/chat.tok)
m=$(showj base)
expect_match "the node records each data file's size and SHA-256" "$m" \
    "\"data_files\":\\[[^]]*\\{\"bytes\":$(wc -c <b/data/chat.tok),\"path\":\"$T/b/data/chat.tok\",\"sha256\":\"$chat0\"\\}"
expect_match "... the tokenizer's as well" "$m" "\"path\":\"$T/b/data/tok.bin\",\"sha256\":\"$(sha b/data/tok.bin)\""
expect_match "runs show lists the fingerprints" "$("$RUNS" show base)" \
    "^data +$T/b/data/chat.tok +$(wc -c <b/data/chat.tok) bytes +sha256 $(echo "$chat0" | cut -c1-16)\$"
expect_eq "each file hashed once (cached by path, size, mtime)" "$(grep -c '' .runs/cache/data-hashes)" 3
expect "runs verify accepts manifests with data_files" "$RUNS" verify

# --- a changed shard is refused, --allow-data-change goes on ------------------------
off=1100                             # a token's low byte; flipping bit 0 keeps it < 320
b0=$(od -An -tu1 -j$off -N1 b/data/chat.tok | tr -d ' ')
printf "\\$(printf %o $((b0 ^ 1)))" | dd of=b/data/chat.tok bs=1 seek=$off conv=notrunc 2>/dev/null
chat1=$(sha b/data/chat.tok)
expect_exit 1 "resume refuses a changed data file" sh -c "cd c && '$RUNS' resume base --steps 40 --quiet"
err=$(cat "$T/.err")
expect_match "... naming the file" "$err" "$T/b/data/chat.tok"
expect_match "... with both hashes" "$err" "$(echo "$chat0" | cut -c1-12).*$(echo "$chat1" | cut -c1-12)"
expect_match "... and the override" "$err" "--allow-data-change"
expect_exit 1 "sharpness refuses it too" "$RUNS" sharpness base --samples 1 --batches 1 --no-record
expect "--allow-data-change proceeds" "$RUNS" resume base --steps 40 --quiet --allow-data-change
expect_match "the new node records the file as it is now" "$(showj base)" "\"path\":\"$T/b/data/chat.tok\",\"sha256\":\"$chat1\""

# --- fork: the patch's paths follow the patch file -----------------------------------
cp b/data/prose.tok p/prose2.tok
echo '{"data": {"sources": {"prose": {"path": "prose2.tok"}}}}' >p/patch.json
expect "fork with a patch in another directory" sh -c "cd a && '$RUNS' fork base --config ../p/patch.json --name forked --no-train --quiet"
expect_match "the fork's path is relative to the patch file" "$(showj forked)" "\"path\":\"$T/p/prose2.tok\""

# --- a moved corpus: --data-root --------------------------------------------------------
mv b/data moved
expect_exit 1 "resume refuses when the data is gone" "$RUNS" resume base --steps 50 --quiet
expect_match "... suggesting --data-root" "$(cat "$T/.err")" "chat.tok.*--data-root"
expect "--data-root finds the moved corpus" sh -c "cd c && '$RUNS' resume base --steps 50 --quiet --data-root ../moved"
expect_match "the node names the new place" "$(showj base)" "\"tokenizer\":\"$T/moved/tok.bin\""
expect "restart with --data-root" "$RUNS" restart base@step_40 --peak-lr 0.01 --name warm --no-train --quiet --data-root "$T/moved"
cp moved/chat.tok moved/chat.bak
printf 'x' >>moved/chat.tok
expect_exit 1 "--data-root still checks the hashes" "$RUNS" resume base --quiet --data-root "$T/moved"
expect_match "... naming the file" "$(cat "$T/.err")" "moved/chat.tok.*changed"
mv moved/chat.bak moved/chat.tok

# --- a copied store must not write into the original's run directories ---------------
mkdir -p proj
P=$T/proj/.runs
expect "init a second store" "$RUNS" --store "$P" init
sed "s|\"data/|\"$T/moved/|; s|\"./data/|\"$T/moved/|; s|\"data/|\"$T/moved/|" b/tiny.json >moved.json
expect "a run with its directory outside the store's tree" "$RUNS" --store "$P" start --config moved.json --name out --dir "$T/outside/out" --steps 10 --quiet
expect "a run in the default directory" "$RUNS" --store "$P" start --config moved.json --name inside --steps 10 --quiet
expect_eq "the default directory is recorded relative to the store" "$(cat proj/.runs/rundirs/inside)" "runs/inside"
cp -r proj copy
before=$(md5sum <outside/out/.loss.json)
expect_exit 1 "resuming in the copy refuses the original's directory" "$RUNS" --store "$T/copy/.runs" resume out --steps 20 --quiet
expect_match "... naming both stores and suggesting --dir" "$(cat "$T/.err")" "belongs to the store at $T/proj/.runs.*--dir"
expect_eq "... and leaves the original's run directory alone" "$(md5sum <outside/out/.loss.json)" "$before"
expect "--dir gives the copy's run its own directory" "$RUNS" --store "$T/copy/.runs" resume out --steps 20 --quiet --dir "$T/copydir"
expect_eq "the copy trained there" "$(grep -c '' copydir/.loss.json)" 20
before=$(md5sum <proj/runs/inside/.loss.json)
expect "a copied tree resumes in its own copy of the directory" "$RUNS" --store "$T/copy/.runs" resume inside --steps 20 --quiet
expect_eq "... which holds the continuation" "$(grep -c '' copy/runs/inside/.loss.json)" 20
expect_eq "... while the original's is untouched" "$(md5sum <proj/runs/inside/.loss.json)" "$before"
expect "the original store still resumes its own run" "$RUNS" --store "$P" resume out --steps 20 --quiet

# --- a tokenizer larger than the model ------------------------------------------------
awk 'BEGIN { for (i = 0; i < 200; i++) print "QXJZ#%QXJZ#%" }' >odd.txt
"$RUNS" tokenizer encode --tokenizer moved/tok.bin --out odd.tok odd.txt >/dev/null 2>&1
cat >small.json <<JSON
{"model": {"n_layer": 1, "n_head": 2, "n_embd": 16, "vocab_size": 300, "block_size": 16},
 "train": {"total_steps": 4, "batch_size": 2, "seq_len": 8}, "schedule": {"warmup_steps": 0},
 "data": {"tokenizer": "moved/tok.bin", "sources": {"odd": {"path": "odd.tok"}}},
 "sampling": {"every": 0}}
JSON
expect_exit 1 "a tokenizer whose vocab exceeds model.vocab_size is refused" "$RUNS" start --config small.json --name small --quiet
expect_match "... saying both sizes" "$(cat "$T/.err")" "vocabulary of 320 tokens, more than model.vocab_size 300"
done_testing
