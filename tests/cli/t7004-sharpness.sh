#!/bin/sh
# runs sharpness on a real (tiny) trained model: the text trace ± standard error, the
# --json record, the node's git note, `runs log` showing it (text and --json), the
# same seed giving the same bits, bad input; then `runs report` on the same lineage
# carries the real sample texts, their coherence scores and the sharpness cell.
. "$(dirname "$0")/lib.sh"

# --- a tiny corpus (as in t5000): prose trains, chat is the held-out source ------
tiny_corpus 300 400 prose chat
expect "tiny corpus encodes" test -s prose.tok -a -s chat.tok

cat >tiny.json <<JSON
{"model": {"n_layer": 1, "n_head": 2, "n_embd": 16, "vocab_size": 300, "block_size": 16},
 "train": {"total_steps": 40, "batch_size": 4, "seq_len": 16, "seed": 3, "backend": "cpu"},
 "optimizer": {"lr": 3e-3},
 "schedule": {"type": "cosine", "warmup_steps": 5},
 "data": {"tokenizer": "$T/tok.bin", "heldout": "chat",
          "sources": {"prose": {"path": "$T/prose.tok"}, "chat": {"path": "$T/chat.tok"}}},
 "sampling": {"every": 20, "tokens": 10, "prompts": ["the cat", "what is"]},
 "gate": {"threshold": 0, "patience": 3},
 "checkpoint": {"every": 20, "boundary": 10, "keep_last": 0, "keep_every": 0}}
JSON
compact() { tr -d ' \t\n'; }
jfield() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p"; }      # a scalar from compact JSON

expect "init" "$RUNS" init
expect "a tiny run with sampling on" "$RUNS" start --config tiny.json --name tiny --quiet
id=$("$RUNS" log tiny --json | compact | sed 's/^\[{"id":"\([0-9a-f]*\)".*/\1/')
expect_match "the tip is a node id" "$id" '^[0-9a-f]{40}$'

# --- the text output: trace ± standard error ------------------------------------
out=$("$RUNS" sharpness tiny@step_40 --samples 6 --batches 2 2>err.txt); rc=$?
expect_eq "sharpness exits 0" "$rc" 0
expect_match "trace with a standard error" "$out" '^tiny@step_40 \([0-9a-f]{12}\): tr\(H\) = -?[0-9.]+(e[-+][0-9]+)? ± [0-9.]+(e[-+][0-9]+)? \(standard error; K=6, eps=0.001\)'
expect_match "held-out loss and source" "$out" 'loss [0-9.]+ on 2 batches of 4×16 from chat \(held out\) \(cpu\)'
expect_match "says where it was recorded" "$out" "git notes --ref runs show $id"

# --- the note ------------------------------------------------------------------------
note=$(git --git-dir "$RUNS_STORE/lineage.git" notes --ref runs show "$id" 2>&1 | compact)
expect_match "the node's git note holds the record" "$note" '"sharpness":\{[^}]*"samples":6[,}]'
expect_match "... with trace, stderr, source, batches" "$note" '"batch_size":4.*"batches":2.*"heldout":true.*"source":"chat".*"stderr":[0-9.e+-]+.*"trace":'
tr_text=$(printf '%s\n' "$out" | sed -n '1s/.*tr(H) = \([^ ]*\) ±.*/\1/p')
tr_note=$(printf '%s\n' "$note" | sed 's/.*"trace":\([^,}]*\).*/\1/')
expect_eq "the printed trace is the stored one (to the printed digits)" "$(printf '%.6g' "$tr_note")" "$tr_text"

# --- --json -------------------------------------------------------------------------
"$RUNS" sharpness tiny@step_40 --samples 6 --batches 2 --json >s.json 2>err.txt
expect_eq "--json exits 0 and prints nothing on stderr" "$?:$(cat err.txt)" "0:"
if command -v python3 >/dev/null; then
    expect_eq "--json output parses, with the expected keys" \
        "$(python3 -c 'import json,sys; j=json.load(open("s.json")); print(sorted(k for k in ("trace","stderr","samples","eps","id","step","source","heldout","recorded") if k in j), j["samples"], j["step"], j["recorded"], j["stderr"] >= 0)')" \
        "['eps', 'heldout', 'id', 'recorded', 'samples', 'source', 'stderr', 'step', 'trace'] 6 40 True True"
fi
sj=$(compact <s.json)
expect_match "--json names the node" "$sj" "\"id\":\"$id\""
expect_eq "same seed, same data: the same trace bit for bit" "$(printf '%s' "$sj" | jfield trace)" "$tr_note"
"$RUNS" sharpness tiny@step_40 --samples 6 --batches 2 --seed 9 --no-record --json >s9.json
expect_match "another seed gives another estimate" "$(compact <s9.json | jfield trace)" "^-?[0-9]"
expect_eq "... and --no-record leaves the note alone" \
    "$(git --git-dir "$RUNS_STORE/lineage.git" notes --ref runs show "$id" | compact | sed 's/.*"trace":\([^,}]*\).*/\1/')" "$tr_note"
expect_match "--no-record says recorded: false" "$(compact <s9.json)" '"recorded":false'

# --- runs log shows it ----------------------------------------------------------------
log=$("$RUNS" log tiny)
expect_match "log: the measured node has a sharp column" "$(printf '%s\n' "$log" | grep "^$(printf %.10s "$id")")" 'step_40 +loss [0-9.]+  sharp -?[0-9.e+-]+±[0-9.e+-]+'
expect_eq "log: only that node has one" "$(printf '%s\n' "$log" | grep -c ' sharp ')" 1
lj=$("$RUNS" log tiny --json | compact)
# (the JSON printer sorts keys)
expect_match "log --json: the contract keys and sharpness" "$lj" "^\[\{\"id\":\"$id\",\"kind\":\"checkpoint\",\"loss\":[0-9.e+-]+,\"parent\":\"[0-9a-f]{40}\",\"run\":\"tiny\",\"sharpness\":\{[^}]*\"trace\":$tr_note\},\"step\":40,\"val_loss\":(null|[0-9.e+-]+)\}"
expect_eq "log --json: null where not measured" "$(printf '%s' "$lj" | grep -o '"sharpness":null' | wc -l | tr -d ' ')" 2
expect_match "log --all --json too" "$("$RUNS" log --all --json | compact)" '"sharpness":\{'

# --- bad input: one stderr line, exit 1 (error) or 129 (usage) --------------------------
expect_exit 1 "an unknown node" "$RUNS" sharpness nosuch@step_5 --samples 2
expect_exit 129 "--samples 0" "$RUNS" sharpness tiny@step_40 --samples 0
expect_exit 129 "--samples not a number" "$RUNS" sharpness tiny@step_40 --samples many
expect_exit 129 "--eps not a number" "$RUNS" sharpness tiny@step_40 --eps abc
expect_exit 129 "--eps 0" "$RUNS" sharpness tiny@step_40 --eps 0
expect_exit 129 "--eps negative" "$RUNS" sharpness tiny@step_40 --eps -1e-3
expect_exit 129 "no NODE" "$RUNS" sharpness --samples 2
expect_exit 129 "an unknown option" "$RUNS" sharpness tiny@step_40 --frobnicate
expect_exit 1 "an unknown --source" "$RUNS" sharpness tiny@step_40 --samples 2 --source nosuch
expect_exit 129 "--seq-len beyond block_size" "$RUNS" sharpness tiny@step_40 --samples 2 --seq-len 64
expect_match "--help" "$("$RUNS" sharpness --help)" '^usage: runs sharpness NODE'

# --- the report: real samples with their coherence scores, and the sharpness ------------
expect "report" "$RUNS" report tiny --out r.html
expect_eq "samples on the run: 2 prompts × 2 audits" "$(grep -c '' runs/tiny/.samples.json)" 4
html_esc() { sed 's/&/\&amp;/g; s/</\&lt;/g; s/>/\&gt;/g; s/"/\&quot;/g; s/'"'"'/\&#39;/g'; }
i=0
while IFS= read -r line; do
    i=$((i + 1))
    text=$(printf '%s\n' "$line" | python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["text"])' 2>/dev/null) || continue
    score=$(printf '%s\n' "$line" | sed 's/.*"score":\([^,}]*\).*/\1/')
    esc=$(printf '%s' "$text" | html_esc)
    expect "report: sample $i's text is on the page" grep -qF -- "<td class=\"text\">$esc</td>" r.html
    expect "report: ... with its coherence score" grep -qF -- "$esc</td><td class=\"score\">$(printf '%.1f' "$score")</td>" r.html
done <runs/tiny/.samples.json
expect_match "report: the sample table's header" "$(cat r.html)" '<th>text</th><th>coherence</th>'
expect_match "report: 4 samples counted" "$(cat r.html)" '<p>4 samples, [0-9]+ under the gate threshold'
expect_match "report: the sharpness cell of the measured node" "$(cat r.html)" "<td>$(printf '%.4g' "$tr_note") ± [0-9.e+-]+ <span class=\"small\">\(K=6\)</span></td>"
done_testing
