#!/bin/sh
# Issue 13's smaller findings, one block each: runs lr on a patch or a node and its
# rounding, gc --dry-run naming what it would thin, --keep-last 0, forking a thinned
# node, restart --quiet naming its run, exit codes of a signalled run, did-you-mean
# for run names, import --name, tag -f, long run names in log and ls, checkpoint and
# stop refusing options, and the demo's token budget.
. "$(dirname "$0")/lib.sh"
# one thread: a tiny model gains nothing from two, and a busy machine makes them wait
OMP_NUM_THREADS=1
export OMP_NUM_THREADS

# --- a tiny corpus and a tiny run (40 steps, a node every 5) ----------------------
awk 'BEGIN { srand(1); split("the cat sat on a mat while dogs ran over hills and rivers", w, " ");
             for (i = 0; i < 300; i++) { s = ""; for (j = 0; j < 12; j++) s = s w[int(rand() * 14) + 1] " "; print s "." } }' >prose.txt
"$RUNS" tokenizer train --vocab-size 300 --out tok.bin prose.txt >/dev/null 2>&1
"$RUNS" tokenizer encode --tokenizer tok.bin --out prose.tok prose.txt >/dev/null 2>&1
expect "tiny corpus encodes" test -s prose.tok
cat >tiny.json <<JSON
{"model": {"n_layer": 1, "n_head": 2, "n_embd": 16, "vocab_size": 300, "block_size": 16},
 "train": {"total_steps": 40, "batch_size": 2, "seq_len": 8, "seed": 7, "backend": "cpu"},
 "optimizer": {"lr": 3e-3},
 "schedule": {"type": "cosine", "warmup_steps": 4},
 "data": {"tokenizer": "$T/tok.bin", "sources": {"prose": {"path": "$T/prose.tok"}}},
 "sampling": {"every": 0},
 "gate": {"threshold": 0, "patience": 3},
 "checkpoint": {"every": 5, "boundary": 5, "keep_last": 0, "keep_every": 0}}
JSON
"$RUNS" init >/dev/null 2>&1
expect "a 40-step run" "$RUNS" start --config tiny.json --name base --quiet

# --- runs lr: a patch is refused, a node is read, rounding for people ---------------
echo '{"optimizer": {"lr": 1e-3}}' >patch.json
expect_exit 1 "lr on a patch file (no train.total_steps) is refused" "$RUNS" lr --config patch.json
expect_match "... naming the patch and runs lr NODE" "$(cat "$T/.err")" "patch\.json has no train\.total_steps.*runs lr NODE"
expect_eq "lr NODE: the node's effective config (3e-3 peak, warmup 4)" "$("$RUNS" lr base@step_20 --steps 4)" "4 0.003"
expect_eq "... the same as its config file" "$("$RUNS" lr step_20 --steps 0:40:8)" "$("$RUNS" lr --config tiny.json --steps 0:40:8)"
expect_exit 1 "lr of a node that does not exist" "$RUNS" lr nosuch
expect_exit 129 "lr with both --config and NODE" "$RUNS" lr step_20 --config tiny.json
expect_eq "lr rounds to 6 significant digits by default" "$("$RUNS" lr --config tiny.json --steps 0,10)" "0 0.00075
10 0.00279904"
expect_eq "... --exact prints %.17g" "$("$RUNS" lr --config tiny.json --steps 0 --exact)" "0 0.00075000000000000002"
expect_eq "... --json too" "$("$RUNS" lr --config tiny.json --steps 0,3 --json | tr -d ' \n')" \
    '[{"step":0,"lr":0.00075000000000000002},{"step":3,"lr":0.0030000000000000001}]'
expect_exit 129 "--exact with --json is a usage error" "$RUNS" lr --config tiny.json --exact --json

# --- gc --dry-run names the nodes; --keep-last 0 is refused -----------------------
out=$("$RUNS" gc --dry-run --keep-last 2)
expect_eq "gc --dry-run lists each node it would thin, steps ascending" \
    "$(echo "$out" | grep '^would thin base' | cut -d' ' -f4 | tr '\n' ' ')" \
    "step_5 step_10 step_15 step_20 step_25 step_30 "
id15=$("$RUNS" log base --json | grep '"step":15,' | sed 's/.*"id":"\([0-9a-f]*\)".*/\1/')
expect_match "... with the id prefix" "$out" "^would thin base step_15 $(echo "$id15" | cut -c1-12)\$"
expect_match "... and keeps the count line" "$out" '^would thin 6 checkpoint nodes$'
expect_exit 129 "gc --keep-last 0 is refused (it read as 'no rule')" "$RUNS" gc --keep-last 0
expect_match "... saying why" "$(cat "$T/.err")" "--keep-last 0 would keep no checkpoint"
expect_exit 129 "gc --keep-every 0 likewise" "$RUNS" gc --dry-run --keep-every 0

# --- forking a thinned node names the nearest kept ones -------------------------
expect "gc --keep-last 2 --keep-every 20 thins" "$RUNS" gc --keep-last 2 --keep-every 20
expect_exit 1 "fork of a thinned node fails" "$RUNS" fork base@step_10 --no-train --name f10
expect_match "... naming the nearest kept node before and after" "$(cat "$T/.err")" \
    "thinned by .runs gc.; the nearest kept nodes are base@step_0 \([0-9a-f]{12}\) before it and base@step_20 \([0-9a-f]{12}\) after it"
expect_exit 1 "restart of a thinned node likewise" "$RUNS" restart base@step_25 --peak-lr 1e-3 --no-train
expect_match "... base@step_20 before, base@step_35 after" "$(cat "$T/.err")" "base@step_20 .* before it and base@step_35 .* after it"

# --- did you mean, for run and tag names ------------------------------------------
expect_exit 1 "show of a mistyped run" "$RUNS" show bsae
expect_match "... suggests the run" "$(cat "$T/.err")" 'no node named .bsae. \(did you mean "base"\?\)'
expect_exit 1 "fork of a mistyped RUN@step_N" "$RUNS" fork bse@step_20 --no-train
expect_match "... suggests the run" "$(cat "$T/.err")" 'no run named .bse. \(did you mean "base"\?\)'
expect_exit 1 "log of a mistyped run" "$RUNS" log baze
expect_match "... suggests the run" "$(cat "$T/.err")" '\(did you mean "base"\?\)'
expect_exit 1 "a name nothing resembles gets no suggestion" "$RUNS" show qqqqqqqq
expect_eq "... none" "$(grep -c 'did you mean' "$T/.err")" "0"

# --- tag -f moves a tag, journalled ---------------------------------------------
expect "tag best" "$RUNS" tag base@step_20 best
expect_exit 1 "tagging again refuses" "$RUNS" tag base@step_40 best
expect_match "... and says how to move it" "$(cat "$T/.err")" 'runs tag -f NODE NAME'
out=$("$RUNS" tag -f base@step_40 best)
expect_match "tag -f moves it, saying from where" "$out" '^best -> [0-9a-f]{12} \(moved from [0-9a-f]{12}\)$'
expect_eq "best names step 40 now" "$("$RUNS" show best --json | grep -o '"step": *[0-9]*' | head -1 | tr -d ' ')" '"step":40'
expect_eq "the move is in the ref journal" "$(grep -c ' refs/tags/best$' .runs/lineage.git/runs-reflog)" "2"
expect "verify is content" "$RUNS" verify
expect_exit 1 "tag -f with a run's name is refused" "$RUNS" tag -f base@step_40 base
expect_match "... as a run" "$(cat "$T/.err")" "'base' is a run"
expect "tag -f of a new name creates it" "$RUNS" tag -f base@step_35 fresh
expect_match "tag --help says -f" "$("$RUNS" tag --help)" '-f, --force'

# --- restart/fork --quiet print the name they made up ---------------------------
expect_eq "restart --quiet prints only the run name it made up" \
    "$("$RUNS" restart base@step_35 --peak-lr 1e-3 --quiet --steps 38)" "base-restart35"
expect_eq "... which is a run" "$("$RUNS" log base-restart35 --json | grep -c '"kind":"restart"')" "1"
expect_eq "fork --quiet likewise" "$("$RUNS" fork base@step_35 --quiet --no-train)" "base-fork"
expect_eq "... and a given name" "$("$RUNS" fork base@step_35 --quiet --no-train --name given)" "given"

# --- exit status of a signalled run: documented (0, with how to tell) -----------
expect_match "runs --help documents the exit status" "$("$RUNS" --help)" '^exit status: 0 ok, 1 error, 2 .*, 129 usage'
expect_match "... and why a signalled stop is 0, and how to tell" "$("$RUNS" --help | tr '\n' ' ')" \
    'SIGINT or SIGTERM exits 0 too.*runs ls.+state \(stopped or finished\)'
expect_match "a run stopped early is 'stopped' in runs ls" "$("$RUNS" ls | grep ' base-restart35 ')" ' 38 +stopped '
expect_match "a run that reached total_steps is 'finished'" "$("$RUNS" ls | grep ' base ')" ' 40 +finished '

# --- import takes --name (and --run, its older spelling) --------------------------
expect "export an llm.c model file" "$RUNS" export base@step_40 --format llmc --out m.bin
expect "import --name" "$RUNS" import m.bin --name imp1
expect "import --run still works" "$RUNS" import m.bin --run imp2
expect_eq "both are runs" "$("$RUNS" log --all --json | grep -c '"kind":"import"')" "2"
expect_exit 129 "import --name and --run disagreeing" "$RUNS" import m.bin --name a1 --run a2
expect_match "import --help says --name" "$("$RUNS" import --help)" '^usage: runs import FILE --name NAME'

# --- a run name longer than 16 characters keeps log's and ls's columns ----------
expect "a fork with a 30-character name" "$RUNS" fork base@step_35 --quiet --no-train --name a-run-name-of-thirty-chars-xyz
cols=$("$RUNS" log --all | awk '{ print index($0, " step_") }' | sort -u | tr '\n' ' ')
expect_match "log --all: the step column starts at one place on every line" "$cols" '^[0-9]+ $'
cols=$("$RUNS" log --all --graph | grep -v '^[|/ ]*$' | sed 's/^[*|/ ]*//' | awk '{ print index($0, " step_") }' | sort -u | tr '\n' ' ')
expect_match "log --graph likewise (after the lanes)" "$cols" '^[0-9]+ $'
expect_match "... the long name whole" "$("$RUNS" log a-run-name-of-thirty-chars-xyz)" ' a-run-name-of-thirty-chars-xyz +step_35 '
cols=$("$RUNS" ls | awk '{ l = substr($0, 3); split(l, f, " "); print index(l, " " f[2] " ") + length(f[2]) }' | sort -u | tr '\n' ' ')
expect_match "ls: the STEP column ends at one place (right-aligned) on every row" "$cols" '^[0-9]+ $'

# --- checkpoint and stop: one piece of code, the same refusals --------------------
expect_exit 129 "checkpoint --bogus is a usage error (it was taken for a run)" "$RUNS" checkpoint --bogus
expect_exit 129 "stop --bogus likewise" "$RUNS" stop --bogus
expect_exit 1 "checkpoint of a run with no trainer" "$RUNS" checkpoint base
expect_match "... says so" "$(cat "$T/.err")" '^runs checkpoint: '

# --- make demo's budget: the base run's tokens (polish and warm add 2/3 of it) -------
# 600 x 8 x 128 tokens took most of the demo's CPU time; 8 x 64 a step keeps the three
# runs near one CPU-minute (scripts/demo.sh's header has the figures)
num() { sed -n "s/.*\"$1\": *\([0-9][0-9]*\).*/\1/p" "$ROOT/configs/demo.json" | head -1; }
tokens=$(($(num total_steps) * $(num batch_size) * $(num seq_len)))
expect "configs/demo.json: at most 600 x 8 x 64 tokens in the base run (got $tokens)" test "$tokens" -le 307200
expect_eq "... still 600 steps (README's session names step_300 and step_600)" "$(num total_steps)" 600

done_testing
