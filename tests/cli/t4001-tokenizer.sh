#!/bin/sh
# runs tokenizer: train / encode / decode round trip, documents and special tokens,
# deterministic training, llm.c shard header, usage and input errors.
. "$(dirname "$0")/lib.sh"

i=0
while [ $i -lt 300 ]; do
    echo "Line $i: the quick brown fox jumps over the lazy dog; tokens, merges and shards."
    echo "Caf\303\251 na\303\257ve \342\200\224 a path /usr/share/doc and a URL https://example.org/a/b?c=$i"
    i=$((i + 1))
done >text.txt
printf 'first\\nexample\n\nsecond example with a \\\\ backslash\n' >lines.txt
printf '> what is 2+2? / < 4, of course. / > and 3+3? / < 6.\n> hi / < hello\n' >chat.txt

expect_match "help describes the command" "$("$RUNS" tokenizer --help)" "usage: runs tokenizer train"
out=$("$RUNS" tokenizer train --vocab-size 600 --out tok.bin text.txt)
expect_match "train reports merges" "$out" "trained [0-9]+ merges \(vocab_size 600\)"
expect_eq "tokenizer file header" "$(head -1 tok.bin)" "runs-bpe 1"
"$RUNS" tokenizer train --vocab-size 600 --out tok2.bin text.txt >/dev/null
expect "training is deterministic (byte-identical files)" cmp tok.bin tok2.bin

out=$("$RUNS" tokenizer encode --tokenizer tok.bin --out text.tok text.txt)
expect_match "encode reports documents and tokens" "$out" "encoded 1 documents, [0-9]+ bytes -> [0-9]+ tokens"
expect_eq "shard magic and version (llm.c layout)" "$(od -An -t d4 -N 8 text.tok | tr -s ' ')" " 20240520 1"
ntok=$(od -An -t d4 -j 8 -N 4 text.tok | tr -d ' ')
size=$(wc -c <text.tok | tr -d ' ')
expect_eq "file size is 1024 + 2 * tokens" "$size" "$((1024 + 2 * ntok))"
"$RUNS" tokenizer decode --tokenizer tok.bin text.tok >decoded.txt
{ cat text.txt; printf '<|endoftext|>\n'; } >expected.txt
expect "decode gives the text back, then <|endoftext|>" cmp decoded.txt expected.txt
expect_eq "last token is <|endoftext|> (256)" \
    "$("$RUNS" tokenizer decode --tokenizer tok.bin --ids --start $((ntok - 1)) text.tok)" "256"

out=$("$RUNS" tokenizer encode --tokenizer tok.bin --lines --out lines.tok lines.txt)
expect_match "--lines: each non-empty line is a document" "$out" "encoded 2 documents"
expect_eq "--lines decodes the newline and backslash escapes" "$("$RUNS" tokenizer decode --tokenizer tok.bin lines.tok)" \
"first
example<|endoftext|>
second example with a \\ backslash<|endoftext|>"

"$RUNS" tokenizer encode --tokenizer tok.bin --chat --out chat.tok chat.txt >/dev/null
ids=$("$RUNS" tokenizer decode --tokenizer tok.bin --ids chat.tok)
expect_eq "--chat: turn markers become <|user|> (257) and <|assistant|> (258)" \
    "$(echo "$ids" | tr ' ' '\n' | grep -cE '^(257|258)$')" "6"
expect_match "--chat: decoded text shows the special tokens" \
    "$("$RUNS" tokenizer decode --tokenizer tok.bin chat.tok | head -1)" '^<\|user\|>what is 2\+2\?<\|assistant\|>4, of course\.<\|user\|>and 3\+3\?'

expect_exit 129 "missing --out is a usage error" "$RUNS" tokenizer train --vocab-size 600 text.txt
expect_exit 129 "vocab size below 260 is a usage error" "$RUNS" tokenizer train --vocab-size 10 --out x.bin text.txt
expect_exit 129 "unknown subcommand" "$RUNS" tokenizer frobnicate
expect_exit 1 "missing input file" "$RUNS" tokenizer train --out x.bin nosuch.txt
expect_exit 1 "missing tokenizer file" "$RUNS" tokenizer encode --tokenizer nosuch.bin --out x.tok text.txt
head -c 1100 text.tok >trunc.tok
expect_exit 1 "a truncated shard is refused" "$RUNS" tokenizer decode --tokenizer tok.bin trunc.tok
expect_match "... naming the file" "$(cat "$T/.err")" "trunc.tok"
done_testing
