#!/bin/sh
# The run's JSON Lines logs (.loss.json, .samples.json) under store/jsonl.h's policy:
# a torn last line (a crash mid-append) is cut and the run resumes with whole lines;
# a damaged line in the middle stops resume with the file and line named, and the
# log is left as it was.
. "$(dirname "$0")/lib.sh"

tiny_corpus 300 300 prose
expect "tiny corpus encodes" test -s prose.tok

cat >tiny.json <<JSON
{"model": {"n_layer": 1, "n_head": 2, "n_embd": 16, "vocab_size": 300, "block_size": 16},
 "train": {"total_steps": 20, "batch_size": 2, "seq_len": 8, "seed": 3},
 "optimizer": {"lr": 3e-3},
 "schedule": {"type": "cosine", "warmup_steps": 2},
 "data": {"tokenizer": "$T/tok.bin", "sources": {"prose": {"path": "$T/prose.tok"}}},
 "sampling": {"every": 5, "tokens": 6, "prompts": ["the cat"]},
 "gate": {"threshold": 0, "patience": 3},
 "checkpoint": {"every": 5, "boundary": 5, "keep_last": 0, "keep_every": 0}}
JSON
# (sample texts may hold partial UTF-8 from byte tokens: read bytes, replace those)
all_parse() { python3 -c 'import json,sys
for n, l in enumerate(open(sys.argv[1], "rb"), 1):
    assert l.endswith(b"\n"), n
    json.loads(l.decode("utf-8", "replace"))' "$1"; }

expect "init" "$RUNS" init
expect "start stops at --steps 10" "$RUNS" start --config tiny.json --name a --steps 10 --quiet
# a crash mid-append leaves half a line at the end of each log
printf '{"step":10,"loss":5.1' >>runs/a/.loss.json
printf '{"step":10,"prompt":"the' >>runs/a/.samples.json
expect "resume after torn log tails" "$RUNS" resume --name a --quiet
expect_eq "20 loss lines, steps 0..19" "$(sed 's/.*"step":\([0-9]*\),.*/\1/' runs/a/.loss.json | tr '\n' ' ')" \
    "0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 "
expect "every .loss.json line is whole JSON" all_parse runs/a/.loss.json
expect "every .samples.json line is whole JSON" all_parse runs/a/.samples.json
expect_eq "one sample line per audit (5 10 15 20)" "$(grep -c '' runs/a/.samples.json)" "4"

expect "start b stops at --steps 10" "$RUNS" start --config tiny.json --name b --steps 10 --quiet
# damage in the middle is not a crash: resume must not drop it silently
sed -i '1s/.*/{"step":5,"prompt":"the cat","te/' runs/b/.samples.json
cp runs/b/.samples.json damaged.json
expect_exit 1 "resume refuses a damaged .samples.json" "$RUNS" resume --name b --quiet
expect_match "naming file and line" "$(cat "$T/.err")" 'runs/b/\.samples\.json:1: not a JSON object'
expect_eq "the damaged log is left as it was" "$(cmp -s damaged.json runs/b/.samples.json && echo same)" "same"

done_testing
