#!/bin/sh
# The library never prints: only the CLI (runner/main.c, runner/cli_*.c,
# runner/cmd_*.c) writes to stdout or stderr. Everything else the Makefile puts in
# libruns.a reports through return codes, the error module (common/error.h) and
# callbacks (session events: runner/session.h; progress: common/progress.h).
# The library also returns no CLI usage code (RUNS_EUSAGE names a flag; the CLI
# decides what is a usage error). Hits are named file:line.
. "$(dirname "$0")/lib.sh"

# the library's sources, as the Makefile's LIB_C/CU_SRC (plus cuda/ subfolders and headers)
lib=$(cd "$ROOT" && find common store manifests cuda tools runner -maxdepth 2 \
        \( -name '*.c' -o -name '*.cu' -o -name '*.cuh' -o -name '*.h' \) -not -path 'tools/cli/*' 2>/dev/null |
      grep -vE '^runner/(main|cli|cli_[^/]*|cmd_[^/]*)\.[ch]$' | sort)
scan() { # $1 = grep -E pattern; prints file:line: for each hit, skipping comment lines
    (cd "$ROOT" && grep -nE -- "$1" $lib 2>/dev/null) | grep -vE '^[^:]+:[0-9]+:\s*(/?\*|//)'
}

# a stdio write: printf/puts/putchar/perror anywhere; fprintf, fputs, fputc, putc,
# fwrite, vfprintf, fflush naming stdout or stderr; write() on fd 1 or 2
stdio='(^|[^a-z_.>])(printf|vprintf|puts|putchar|perror)\(|(fprintf|vfprintf|fflush)\((stdout|stderr)|(fputs|fputc|putc|fwrite)\([^;]*(stdout|stderr)\)|[^a-z_]write\((1|2|STDOUT_FILENO|STDERR_FILENO),'

# allow-list, one reason each:
#  common/progress.c — THE progress sink (common/progress.h): draws on stderr only
#  when stderr is a terminal and RUNS_NO_PROGRESS is unset; scripts see nothing.
allowed='^common/progress\.c:'

expect_match "the scan sees the library's sources (session rooms among them)" \
    "$(echo "$lib" | grep -cE '^(runner/loop\.c|store/publish\.c|common/error\.c)$')" '^3$'
expect_match "the pattern catches the allowed progress sink (so it can catch others)" \
    "$(scan "$stdio" | grep -c '^common/progress\.c:')" '^[1-9]'
hits=$(scan "$stdio" | grep -vE "$allowed")
expect_eq "no stdio writes in library files (print from the CLI, or pass an event)" "$hits" ""
# allow-list for usage codes:
#  common/error.[ch] — defines the code and maps it to exit 129.
#  runner/optparse.[ch] — the table-driven option parser the cmd_*.c files call:
#  its errors are usage errors by definition (it only ever sees argv). It sits in
#  the library because its name is not cli_*; it prints nothing (checked above).
hits=$(scan 'RUNS_EUSAGE' | grep -vE '^(common/error|runner/optparse)\.[ch]:')
expect_eq "no library file returns a CLI usage code" "$hits" ""

# ---- the CLI prints what the session reports (runner/cli_events.c) ----------------
# Every other test runs --quiet; these lines pin the progress text, so a command
# that forgets to install the printer, or a printer that drifts, is caught here.
tiny_corpus 300 200 prose
cat >tiny.json <<JSON
{"model": {"n_layer": 1, "n_head": 2, "n_embd": 16, "vocab_size": 300, "block_size": 16},
 "train": {"total_steps": 20, "batch_size": 2, "seq_len": 8, "seed": 7},
 "optimizer": {"lr": 3e-3}, "schedule": {"type": "cosine", "warmup_steps": 2},
 "data": {"tokenizer": "$T/tok.bin", "sources": {"prose": {"path": "$T/prose.tok"}}},
 "sampling": {"every": 10, "tokens": 8, "prompts": ["the cat"]},
 "gate": {"threshold": 0, "patience": 3},
 "checkpoint": {"every": 10, "keep_last": 0, "keep_every": 0}}
JSON
"$RUNS" init >/dev/null
out=$("$RUNS" start --config tiny.json --name ev --steps 10 2>err.txt)
expect_eq "start: nothing on stderr" "$(cat err.txt)" ""
expect_match "start: the start node first" "$(echo "$out" | sed -n 1p)" '^  node [0-9a-f]{12}  start ev@step_0$'
expect_match "start: the training line" "$(echo "$out" | sed -n 2p)" \
    '^training ev from step 0 to 10 \(cpu, [0-9]+ params, batch 2 x 8\)$'
expect_match "start: a step line per step (20 steps / 40)" "$(echo "$out" | grep -c '^step ')" '^10$'
expect_match "start: the step line's layout" "$(echo "$out" | grep '^step ' | tail -1)" \
    '^step     10/20  loss [0-9]\.[0-9]{4} \(ema [0-9]\.[0-9]{4}\)  lr [0-9]\.[0-9]{3}e-0[0-9]  \|g\| [0-9]+\.[0-9]{3}  prose +[0-9]+ tok/s$'
expect_match "start: the sample line" "$(echo "$out" | grep -a '^  sample')" '^  sample @10 \(score [0-9]+\): the cat'
expect_match "start: the checkpoint node" "$(echo "$out" | grep '^  node' | tail -1)" '^  node [0-9a-f]{12}  checkpoint ev@step_10$'
expect_match "start: done last" "$(echo "$out" | tail -1)" '^done: ev at step 10, loss ema [0-9]\.[0-9]{4}$'
out=$("$RUNS" resume --name ev --no-train 2>&1)
expect_match "resume: the resuming line" "$out" '^resuming ev from [0-9a-f]{12} \(step 10\)$'
echo '{"train": {"total_steps": 30}}' >p.json
out=$("$RUNS" fork ev@step_10 --config p.json --name evf --no-train 2>&1)
expect_match "fork: the node, then the change list" "$out" \
    '^  node [0-9a-f]{12}  fork evf@step_10
fork evf from [0-9a-f]{12} at step 10; train.total_steps: 20 -> 30$'
echo "x" >>prose.tok
"$RUNS" resume --name evf --allow-data-change --no-train >out.txt 2>err.txt
expect_match "a warning goes to stderr as 'runs: warning:'" "$(head -1 err.txt)" \
    '^runs: warning: data file .*prose.tok changed since the node'
expect_eq "... and not to stdout" "$(grep -c warning out.txt)" 0

# main.c decides which store every command opens: a path it cannot hold is "no store",
# never a silently truncated path (gcc's format-truncation warning found it)
if command -v gcc >/dev/null 2>&1 && pkg-config --exists libgit2 libcjson 2>/dev/null; then
    expect "runner/main.c builds without truncation warnings" gcc -std=gnu11 -O2 -Wall -DRUNS_VERSION=\"t\" \
        -Wformat-truncation=1 -Werror -I"$ROOT" $(pkg-config --cflags libgit2 libcjson) -c "$ROOT/runner/main.c" \
        -o "$T/main.o"
else
    n=$((n + 1)); echo "ok $n - main.c warnings # SKIP no gcc or pkg-config here"
fi

done_testing
