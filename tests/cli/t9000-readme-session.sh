#!/bin/sh
# README's "What a session looks like" runs as written after `make demo`: the block
# between <!-- session:begin --> and <!-- session:end --> is read from README.md (so
# README and this test cannot drift) and each command line runs in turn, from a
# directory laid out like the repository after `make demo`.
#
# Substitutions, so the test stays small (seconds, not minutes):
#  - the demo store is made by scripts/demo.sh itself (DEMO_WORKDIR=$T, DEMO_CORPUS=0),
#    not by `make demo`, and README's `make demo` line is skipped;
#  - data/ is a tiny corpus with the demo's seven source names, not the Debian one;
#  - configs/demo.json is the repository's with a tiny model (1 layer, 32 wide,
#    vocab 320, batch 2 x 16), the CPU backend, 8-token samples and the coherence
#    gate's threshold at 0 (a tiny model's samples must not halt the story); its
#    steps, schedule and checkpoint cadence are the repository's, so README's node
#    names (base@step_300, polish@step_600) are checked against the real demo's;
#  - configs/polish.json is the repository's, unchanged; build/runs is $RUNS.
. "$(dirname "$0")/lib.sh"
# one thread: a tiny model gains nothing from two, and a busy machine makes them wait
OMP_NUM_THREADS=1
export OMP_NUM_THREADS

# --- a tiny corpus under the demo's source names ---------------------------------
mkdir -p data configs build
i=0
for s in chat quotes jargon dictionary manpages changelogs headers; do
    i=$((i + 1))
    awk -v seed=$i -v s=$s 'BEGIN { srand(seed); split("the cat sat on a mat while dogs ran over hills and rivers what is why", w, " ");
        for (k = 0; k < 300; k++) { line = (s == "chat") ? "> what is " w[int(rand() * 16) + 1] "? / < " : "";
            for (j = 0; j < 10; j++) line = line w[int(rand() * 16) + 1] " "; print line s "." } }' >data/$s.txt
done
"$RUNS" tokenizer train --vocab-size 320 --lines --out data/tokenizer.bin data/*.txt >/dev/null 2>&1
for s in chat quotes jargon dictionary manpages changelogs headers; do
    "$RUNS" tokenizer encode --tokenizer data/tokenizer.bin --lines --out data/$s.tok data/$s.txt >/dev/null 2>&1
done
expect "tiny corpus encodes" test -s data/headers.tok

python3 - "$ROOT/configs/demo.json" configs/demo.json <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["model"] = {"n_layer": 1, "n_head": 2, "n_embd": 32, "vocab_size": 320, "block_size": 32}
c["train"].update({"batch_size": 2, "seq_len": 16, "backend": "cpu"})
c["data"]["tokenizer"] = "../data/tokenizer.bin"
for name, src in c["data"]["sources"].items():
    src["path"] = "../data/%s.tok" % name
c["sampling"]["tokens"] = 8
c["gate"]["threshold"] = 0
# one line per section, as demo.sh reads total_steps and checkpoint.every with sed
open(sys.argv[2], "w").write("{\n" + ",\n".join('"%s": %s' % (k, json.dumps(v)) for k, v in c.items()) + "\n}\n")
PY
cp "$ROOT/configs/polish.json" configs/polish.json
ln -s "$RUNS" build/runs
expect "tiny demo config written" test -s configs/demo.json

# --- the demo, by its own script --------------------------------------------------
DEMO_WORKDIR="$T" DEMO_CORPUS=0 RUNS="$RUNS" sh "$ROOT/scripts/demo.sh" >demo.out 2>&1
expect_eq "scripts/demo.sh runs to the end" "$?" 0
expect "... store in demo/.runs" test -d demo/.runs
expect_match "... step lines carry an ETA while steps remain" "$(grep '^step ' demo.out | head -1)" \
    '^step +[0-9]+/[0-9]+  loss .* tok/s  eta [0-9]+m[0-9]{2}s$'
expect_match "... the last step line has none" "$(grep '^step ' demo.out | grep -E '^step +600/600' | head -1)" 'tok/s$'

# --- README's session, line by line ----------------------------------------------
awk '/<!-- session:begin -->/ { on = 1; next } /<!-- session:end -->/ { on = 0 } on' "$ROOT/README.md" |
    grep -v '^```' | grep -v '^ *$' >session.txt
expect_match "README has a session block of 10+ commands" "$(grep -c '^runs ' session.txt)" '^[1-9][0-9]+$'
expect_match "... starting with make demo" "$(head -1 session.txt)" '^make demo'
unset RUNS_STORE
while IFS= read -r line; do
    case "$line" in
    "make demo"*) continue ;;   # done above by scripts/demo.sh
    export\ *) eval "$line"; ok "README: $line" ;;
    *) expect "README: $line" sh -c "$line" </dev/null ;;
    esac
done <session.txt
expect_eq "README's PATH finds the build's runs" "$(command -v runs)" "$T/build/runs"
expect_eq "README's RUNS_STORE is the demo's" "${RUNS_STORE:-}" "$T/demo/.runs"
expect "the README fork trained to step 400" test -s demo/polish2/.loss.json
expect "the restore landed" test -d demo/ckpt
done_testing
