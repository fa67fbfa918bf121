#!/bin/sh
# The training commands re-execute once with a short OpenMP spin (runner/omp_env.h).
# Seen through libgomp's own documented OMP_DISPLAY_ENV=verbose: each process start
# prints its settings on stderr, GOMP_SPINCOUNT included, so a re-exec prints them
# twice, the second time with runs' spin count. `runs start` on a tiny config trains
# with it, and exactly once more (no loop); a user's OMP_WAIT_POLICY or GOMP_SPINCOUNT,
# the marker RUNS_OMP_ENV and OMP_NUM_THREADS=1 mean no re-exec; `runs log`,
# `runs --help` and `runs start --help` do not re-exec.
. "$(dirname "$0")/lib.sh"

spin=$(sed -n 's/^#define RUNS_OMP_SPINCOUNT "\([0-9]*\)".*/\1/p' "$ROOT/runner/omp_env.h")
expect_match "runner/omp_env.h names a spin count" "$spin" '^[0-9]+$'

# starts [VAR=VALUE...] CMD...: runs CMD under env; sets $rc to its status and $got
# to how many times libgomp started (its displays), then the last GOMP_SPINCOUNT shown
starts() {
    env OMP_DISPLAY_ENV=verbose "$@" >out.txt 2>err.txt
    rc=$?
    got="$(grep -c 'OPENMP DISPLAY ENVIRONMENT BEGIN' err.txt) $(sed -n "s/^ *GOMP_SPINCOUNT = '\([0-9]*\)'.*/\1/p" err.txt | tail -1)"
}

export OMP_NUM_THREADS=2
unset OMP_WAIT_POLICY GOMP_SPINCOUNT RUNS_OMP_ENV 2>/dev/null || true

starts "$RUNS" --version
if [ "${got% *}" != 1 ]; then
    ok "# SKIP this libgomp does not print OMP_DISPLAY_ENV=verbose as expected"
    done_testing
    exit
fi
default=${got#* }
expect_match "libgomp's default spin count is shown" "$default" '^[0-9]+$'

tiny_corpus 300 200 prose chat
expect "tiny corpus encodes" test -s prose.tok -a -s chat.tok
cat >tiny.json <<JSON
{"model": {"n_layer": 1, "n_head": 2, "n_embd": 16, "vocab_size": 300, "block_size": 16},
 "train": {"total_steps": 4, "batch_size": 2, "seq_len": 16, "seed": 3, "backend": "cpu"},
 "optimizer": {"lr": 3e-3},
 "schedule": {"type": "cosine", "warmup_steps": 1},
 "data": {"tokenizer": "$T/tok.bin", "heldout": "chat",
          "sources": {"prose": {"path": "$T/prose.tok"}, "chat": {"path": "$T/chat.tok"}}},
 "sampling": {"every": 0},
 "checkpoint": {"every": 4, "boundary": 2, "keep_last": 0, "keep_every": 0}}
JSON
expect "init" "$RUNS" init

# --- the training commands -----------------------------------------------------------
starts "$RUNS" start --config tiny.json --name a --quiet
expect_eq "runs start trains (exit 0)" "$rc" 0
expect_eq "runs start: libgomp started twice, the trainer with spin $spin" "$got" "2 $spin"
expect_match "runs start: the run finished" "$("$RUNS" ls 2>&1)" 'a .*finished'
starts "$RUNS" --store "$RUNS_STORE" eval a --batches 1
expect_eq "runs --store DIR eval (argv kept across the re-exec): exit 0" "$rc" 0
expect_eq "runs eval: re-executed once with spin $spin" "$got" "2 $spin"

# --- the user's choice is kept, and the marker stops a second re-exec -----------------
starts GOMP_SPINCOUNT=5000 "$RUNS" start --config tiny.json --name b --quiet
expect_eq "GOMP_SPINCOUNT=5000 set by the user: one start, their spin (exit $rc)" "$got" "1 5000"
starts OMP_WAIT_POLICY=active "$RUNS" start --config tiny.json --name c --quiet
expect_eq "OMP_WAIT_POLICY set by the user: no re-exec (exit $rc)" "${got% *}" 1
starts RUNS_OMP_ENV=1 "$RUNS" start --config tiny.json --name d --quiet
expect_eq "RUNS_OMP_ENV already set: no re-exec, libgomp's default (exit $rc)" "$got" "1 $default"
starts OMP_NUM_THREADS=1 "$RUNS" start --config tiny.json --name e --quiet
expect_eq "OMP_NUM_THREADS=1: no re-exec (exit $rc)" "$got" "1 $default"

# --- a user's binding survives the re-exec -------------------------------------------
# libgomp binds the initial thread to the first place when asked to bind, and exec keeps
# that one-CPU mask: the re-executed trainer computed its places from it and ran every
# thread on one core. Both starts must show the same places (on one CPU they are one
# place either way; the check bites on two or more).
places() { sed -n "s/^ *OMP_PLACES = '\(.*\)'.*/\1/p" err.txt; }
for bind in OMP_PROC_BIND=true OMP_PLACES=cores; do
    starts "$bind" "$RUNS" start --config tiny.json --name "p$(printf %s "$bind" | tr -dc a-z | cut -c1-8)" --quiet
    expect_eq "$bind: re-executed once (exit $rc)" "${got% *}" 2
    expect_eq "$bind: the trainer's OpenMP places are the user's ($(places | head -1))" "$(places | tail -1)" \
        "$(places | head -1)"
done

# --- commands that do not train --------------------------------------------------------
starts "$RUNS" log a
expect_eq "runs log: exit 0" "$rc" 0
expect_eq "runs log: no re-exec" "$got" "1 $default"
starts "$RUNS" --help
expect_eq "runs --help: no re-exec (exit $rc)" "$got" "1 $default"
starts "$RUNS" start --help
expect_eq "runs start --help: no re-exec (exit $rc)" "$got" "1 $default"

done_testing
