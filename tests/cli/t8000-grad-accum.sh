#!/bin/sh
# train.grad_accum: micro-steps per optimizer step. Checks the effective batch on the
# training line and in the node, config validation, determinism, bit-exact resume with
# grad_accum 2, and that accumulating identical micro-batches equals one step on one
# of them (a shard of one repeated token makes every batch the same).
. "$(dirname "$0")/lib.sh"

tiny_corpus 320 400 prose lists
# one.tok: token 5, 4000 times (llm.c shard: int32 header[256] = magic 20240520, version 1, count)
{ printf '\210\330\064\001\001\000\000\000\240\017\000\000'; head -c 1012 /dev/zero
  i=0; while [ $i -lt 4000 ]; do printf '\005\000'; i=$((i + 1)); done; } >one.tok
expect "tiny corpus encodes" test -s prose.tok -a -s lists.tok -a "$(wc -c <one.tok)" -eq 9024

cfg() { # cfg FILE GRAD_ACCUM STEPS [SOURCES]
    cat >"$1" <<JSON
{"model": {"n_layer": 2, "n_head": 2, "n_embd": 32, "vocab_size": 320, "block_size": 32},
 "train": {"total_steps": $3, "batch_size": 4, "seq_len": 16, "seed": 7, "grad_accum": $2},
 "optimizer": {"lr": 3e-3},
 "schedule": {"type": "cosine", "warmup_steps": 4},
 "data": {"tokenizer": "$T/tok.bin", "sources": ${4:-{\"prose\": {\"path\": \"$T/prose.tok\"\}, \"lists\": {\"path\": \"$T/lists.tok\"\}\}}},
 "bandit": {"pull_min": 2, "pull_max": 5},
 "sampling": {"every": 0}, "eval": {"every": 0},
 "checkpoint": {"every": 10, "boundary": 5, "keep_last": 0, "keep_every": 0}}
JSON
}
loss_of() { sed 's/.*"loss":\([^,]*\),.*/\1/' "$1"; }
expect "init" "$RUNS" init

# --- validation ------------------------------------------------------------------
cfg bad.json 0 20
expect_exit 1 "grad_accum 0 refused" "$RUNS" start --config bad.json --name bad --quiet
expect_match "the message names the key" "$("$RUNS" start --config bad.json --name bad 2>&1)" \
    'train.grad_accum: expected an integer in \[1, 65536\], got 0'

# --- the effective batch: training line, node, tokens ------------------------------
cfg a2.json 2 20
out=$("$RUNS" start --config a2.json --name a2 2>&1)
expect_match "training line shows the effective batch" "$out" \
    'batch 4 x 16 x 2 micro-steps x 1 ranks = 128 tokens a step'
expect_match "node records batch_tokens" "$("$RUNS" show a2 --json | tr -d ' \n')" '"batch_tokens":128'
expect_match "tokens count every micro-batch" "$("$RUNS" show a2 --json | tr -d ' \n')" '"tokens":2560'
cfg a1.json 1 20
expect_match "grad_accum 1 keeps the plain line" "$("$RUNS" start --config a1.json --name a1 2>&1)" \
    'params, batch 4 x 16\)'
expect_match "grad_accum 1 node: batch_tokens 64" "$("$RUNS" show a1 --json | tr -d ' \n')" '"batch_tokens":64'

# --- determinism and bit-exact resume with grad_accum 2 ------------------------------
expect "a second identical run" "$RUNS" start --config a2.json --name a2b --quiet
expect_eq "same config, same losses" "$(loss_of runs/a2b/.loss.json | md5sum)" "$(loss_of runs/a2/.loss.json | md5sum)"
expect "grad_accum 2 differs from 1" test "$(loss_of runs/a2/.loss.json | md5sum)" != "$(loss_of runs/a1/.loss.json | md5sum)"
expect "start stops at --steps 10" "$RUNS" start --config a2.json --name split --steps 10 --quiet
expect "resume to the end" "$RUNS" resume --name split --quiet
expect_eq "resumed losses equal straight losses bit for bit" "$(loss_of runs/split/.loss.json | md5sum)" \
    "$(loss_of runs/a2/.loss.json | md5sum)"
expect_eq "resumed weights equal straight weights" "$("$RUNS" show split --json | tr -d ' \n' | grep -o '"sha256":"[0-9a-f]*"' | md5sum)" \
    "$("$RUNS" show a2 --json | tr -d ' \n' | grep -o '"sha256":"[0-9a-f]*"' | md5sum)"

# --- identical micro-batches: accumulation = one step --------------------------------
one='{"one": {"path": "'$T'/one.tok"}}'
cfg o1.json 1 12 "$one"; cfg o3.json 3 12 "$one"
expect "one-token run, grad_accum 1" "$RUNS" start --config o1.json --name o1 --quiet
expect "one-token run, grad_accum 3" "$RUNS" start --config o3.json --name o3 --quiet
close() { # every loss and grad_norm within 1e-5 (relative) of the other run's: (g+g+g)/3 is g to
          # an ulp, which 12 steps grow to 1.7e-6 at -O1 (SAN=1); a missing /3 is off by far more
    paste -d' ' "$1" "$2" | sed 's/[^ ]*"loss":\([^,]*\),[^ ]*"grad_norm":\([^,]*\),[^ ]*/\1 \2/g' |
        awk '{ for (i = 1; i <= 2; i++) { d = $i - $(i + 2); if (d < 0) d = -d; if (d > 1e-5 * ($i < 0 ? -$i : $i) + 1e-12) bad = 1 } n++ }
             END { exit bad || n != 12 }'
}
expect "grad_accum 3 on identical micro-batches = one step (1e-5)" close runs/o1/.loss.json runs/o3/.loss.json
done_testing
