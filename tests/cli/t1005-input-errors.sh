#!/bin/sh
# t1005-input-errors: bad arguments and inputs end with exactly one stderr line that
# names the problem: refused options named as typed (`-zzz` used to be reported as
# the command's own name), --store after the command, control bytes in echoed names
# escaped, names starting with '-', non-finite or absurd learning rates, unbounded and
# non-regular config files, and restore into a non-empty directory (--force).
. "$(dirname "$0")/lib.sh"
SYNTH=$ROOT/tools/runs-synth-commit
S=$T/.runs
"$RUNS" init >/dev/null
"$SYNTH" --store "$S" --run main --count 3 >/dev/null

# --- refused options are named as the user typed them ---------------------------
for c in show log diff export restore sharpness gc verify; do
    expect_exit 129 "$c -zzz: usage error" "$RUNS" $c -zzz
    expect_match "$c -zzz names -z, not the command" "$(cat "$T/.err")" "unknown option '-z'"
done
expect_exit 129 "show --bogus" "$RUNS" show --bogus step_0
expect_match "show --bogus is named" "$(cat "$T/.err")" "unknown option '--bogus'"
expect_exit 129 "log --all -zz after a valid option" "$RUNS" log --all -zz
expect_match "the refused letter is named, not --all" "$(cat "$T/.err")" "unknown option '-z'"
expect_exit 129 "restore --out without a value" "$RUNS" restore step_0 --out
expect_match "--out needs a value" "$(cat "$T/.err")" "'--out' needs a value"
expect_exit 129 "export -o without a value" "$RUNS" export step_0 -o
expect_match "-o needs a value" "$(cat "$T/.err")" "'-o' needs a value"
expect_exit 129 "show --json=1" "$RUNS" show --json=1 step_0
expect_match "--json takes no value" "$(cat "$T/.err")" "'--json' takes no value"

# --- one option parser: a refused number reads the same in every command, and
# --help lists each command's options from the table it parses with --------------
expect_exit 129 "gc --keep-last x" "$RUNS" gc --keep-last x
expect_match "gc names the option, the range and the value" "$(cat "$T/.err")" \
    "^runs gc: --keep-last: expected an integer >= 0, got 'x' \(usage: "
expect_exit 129 "sharpness --samples 0" "$RUNS" sharpness step_0 --samples 0
expect_match "sharpness says it the same way" "$(cat "$T/.err")" \
    "^runs sharpness: --samples: expected an integer in \[1, 1000000\], got '0' \(usage: "
expect_exit 129 "gate --patience 1.5" "$RUNS" gate --backtest x --patience 1.5
expect_match "gate too" "$(cat "$T/.err")" "^runs gate: --patience: expected an integer in \[0, 1000000\], got '1.5' \(usage: "
expect_exit 129 "start --steps 0" "$RUNS" start --config x.json --steps 0
expect_match "and the training commands" "$(cat "$T/.err")" "^runs start: --steps: expected an integer >= 1, got '0' \(usage: "
expect_exit 129 "resume --rewind=1" "$RUNS" resume step_0 --rewind=1
expect_match "--rewind is a flag of the table (it used to be taken out by hand)" "$(cat "$T/.err")" "'--rewind' takes no value"
expect_match "restart --help lists --peak-lr" "$("$RUNS" restart --help)" "^  -p, --peak-lr X +the learning rate to jump to$"
expect_match "fork --help lists the shared options" "$("$RUNS" fork --help)" "^  --data-root DIR +the node's data files moved under DIR$"
expect_eq "start --help does not list --data-root (start refuses it)" "$("$RUNS" start --help | grep -c -- '--data-root')" "0"
expect_match "sharpness --help lists every option it parses" "$("$RUNS" sharpness --help)" "^  --allow-data-change +measure on data"

# --- --store after the command ---------------------------------------------------
unset RUNS_STORE
mkdir elsewhere && cd elsewhere || exit 1
expect_eq "log --store DIR after the command" "$("$RUNS" log --store "$S" --json | grep -c '"run":"main"')" "3"
expect_eq "log --store=DIR after the command" "$("$RUNS" log --store="$S" --json | grep -c '"run":"main"')" "3"
expect "--store before the command still works" "$RUNS" --store "$S" show step_10
expect_exit 129 "--store without a value after the command" "$RUNS" log --store
expect_match "it says --store needs a directory" "$(cat "$T/.err")" "--store needs a directory"
expect_exit 129 "--store with an empty value" "$RUNS" --store "" log
cd "$T" || exit 1
export RUNS_STORE="$S"

# --- an error that gains context keeps its cause (the message used to be formatted
# into itself: "data.tokenizer: data.tokenizer: h/dir/tok.bin does not exist") ------
awk 'BEGIN { for (i = 0; i < 200; i++) print "the cat sat on a mat number " i % 9 }' >p.txt
"$RUNS" tokenizer train --vocab-size 300 --out tok.bin p.txt >/dev/null 2>&1
"$RUNS" tokenizer encode --tokenizer tok.bin --out p.tok p.txt >/dev/null 2>&1
cat >notok.json <<JSON
{"model": {"n_layer": 1, "n_head": 1, "n_embd": 8, "vocab_size": 300, "block_size": 16},
 "train": {"total_steps": 4, "batch_size": 1, "seq_len": 8}, "schedule": {"warmup_steps": 0},
 "data": {"tokenizer": "$T/nowhere/tok.bin", "sources": {"p": {"path": "$T/p.tok"}}},
 "sampling": {"every": 2, "tokens": 4, "prompts": ["the"]},
 "checkpoint": {"every": 2, "boundary": 1, "keep_last": 0, "keep_every": 0}}
JSON
expect_exit 1 "start with a missing tokenizer" "$RUNS" start --config notok.json --name notok --dir notok --no-train
expect_match "context, then the whole cause with its full path" "$(cat "$T/.err")" \
    "^runs start: data.tokenizer \(sample audits need it.*\): tokenizer $T/nowhere/tok.bin does not exist"
expect_eq "the context appears once" "$(grep -o 'data.tokenizer' "$T/.err" | wc -l | tr -d ' ')" "1"

# --- one run-name rule: a node-like name is refused before anything is made ------
# (the session used to accept step_5, make its directory and take the trainer lock,
# and only the commit refused the name)
sed "s|$T/nowhere/tok.bin|$T/tok.bin|" notok.json >named.json
expect_exit 1 "start --name step_5" "$RUNS" start --config named.json --name step_5 --dir s5dir --no-train
expect_match "the store's message: it looks like a node name" "$(cat "$T/.err")" \
    "^runs start: run name 'step_5' looks like a node name \(step_N\); choose another$"
expect_eq "no run directory was made for it" "$([ -e s5dir ] && echo made || echo none)" "none"

# --- a run directory that cannot be made is named, not "failed (no message)" ------
# (the final status write on the way out failed too and cleared the cause)
mkdir blocked && : >blocked/runs
expect_exit 1 "start where runs/ is a plain file" "$RUNS" start --config named.json --name blk --dir blocked/runs/blk --no-train
expect_match "the failing step and path are named" "$(cat "$T/.err")" "^runs start: mkdir .*blocked/runs/blk.*Not a directory"
expect_eq "no 'no message' line" "$(grep -c 'no message' "$T/.err")" "0"

# --- control bytes in echoed user strings are escaped ----------------------------
nl_name=$(printf 'a\nb\033[31mred')
expect_exit 1 "unknown node with a newline and an escape" "$RUNS" show "$nl_name"
expect_match "the node name is escaped" "$(cat "$T/.err")" 'a\\nb\\x1b\[31mred'
expect_eq "no raw escape byte on stderr" "$(tr -d -c '\033' <"$T/.err" | wc -c | tr -d ' ')" "0"
expect_exit 129 "a command name with a newline" "$RUNS" "$(printf 'x\ny')"
expect_match "the command name is escaped" "$(cat "$T/.err")" "'x\\\\ny' is not a command"
expect_exit 129 "an unexpected argument with a tab" "$RUNS" verify "$(printf 'p\tq')"
expect_match "the argument is escaped" "$(cat "$T/.err")" 'p\\tq'

printf '{"optimizer": {"l\\nr\\u001b[2J": 1}}\n' >key.json
expect_exit 1 "a config key holding a newline and an escape" "$RUNS" lr --config key.json
expect_match "the key is escaped in the message" "$(cat "$T/.err")" 'optimizer\.l\\nr\\x1b\[2J: unknown key'

# --- names may not start with '-' (they would read as options afterwards) ---------
"$SYNTH" --store "$S" --run -x --count 1 >/dev/null 2>"$T/.err"
expect_eq "a run named -x is refused" "$?" "1"
expect_match "it says why" "$(cat "$T/.err")" "run name '-x' starts with '-'"
expect_exit 1 "log of a run named -x" "$RUNS" log -- -x

# --- learning rates: finite and sane ----------------------------------------------
expect_exit 129 "restart --peak-lr inf" "$RUNS" restart step_0 --peak-lr inf --no-train
expect_match "inf is refused as not finite" "$(cat "$T/.err")" "--peak-lr: expected a finite number in \(0, 10\], got 'inf'"
expect_exit 129 "restart --peak-lr 1e9" "$RUNS" restart step_0 --peak-lr 1e9 --no-train
expect_match "1e9 is refused with the same range" "$(cat "$T/.err")" "--peak-lr: expected a finite number in \(0, 10\], got '1e9'"
printf '{"optimizer": {"lr": 1e308}}\n' >huge.json
expect_exit 1 "config optimizer.lr 1e308" "$RUNS" lr --config huge.json
expect_match "lr 1e308 names the key and the range" "$(cat "$T/.err")" "optimizer.lr: expected a finite number in \(0, 10\], got 1e\+308"
printf '{"optimizer": {"weight_decay": 1e300}, "schedule": {"restart_lr": 1e300}}\n' >wd.json
expect_exit 1 "config weight_decay 1e300" "$RUNS" lr --config wd.json
expect_match "weight_decay is bounded too" "$(cat "$T/.err")" "weight_decay: expected a finite number in \[0, 10\]"
printf '{"optimizer": {"lr": 0.5}, "schedule": {"restart_step": 5, "restart_lr": 11}}\n' >rl.json
expect_exit 1 "config schedule.restart_lr 11" "$RUNS" lr --config rl.json
expect_match "restart_lr is bounded" "$(cat "$T/.err")" "schedule.restart_lr: expected a finite number in \[0, 10\]"
printf '{"optimizer": {"lr": 10}, "train": {"total_steps": 4}, "schedule": {"warmup_steps": 0}}\n' >edge.json
expect "lr 10 (the bound) is accepted" "$RUNS" lr --config edge.json

# --- config files: capped, directories refused -----------------------------------
# (the memory limit only keeps a regression from eating the machine; not under
# AddressSanitizer, whose shadow memory alone needs terabytes of address space)
vlimit='ulimit -v 4000000;'; ldd "$RUNS" 2>/dev/null | grep -q libasan && vlimit=
expect_exit 1 "--config /dev/zero" sh -c "$vlimit exec \"$RUNS\" lr --config /dev/zero"
expect_match "the cap is named" "$(cat "$T/.err")" "/dev/zero: larger than 64 MiB"
expect_exit 1 "--config a directory" "$RUNS" lr --config "$T"
expect_match "a directory is named as one" "$(cat "$T/.err")" "is a directory"

# --- restore into a non-empty directory --------------------------------------------
expect "restore step_10 into r" "$RUNS" restore step_10 --out r
expect_exit 1 "restore another node over it without --force" "$RUNS" restore step_0 --out r
expect_match "it says the directory is not empty" "$(cat "$T/.err")" "r is not empty.*--force"
expect "with --force it replaces the earlier restore" "$RUNS" restore step_0 --out r --force
"$RUNS" restore step_0 --out fresh >/dev/null
expect_eq "exactly step_0's files, nothing of step_10's" "$(cd r && find . | sort)" "$(cd fresh && find . | sort)"
expect "and step_0's bytes" "$SYNTH" --check r --run main --step 0
expect_eq "its manifest" "$(cat r/manifest.json)" "$("$RUNS" show step_0 --json)"
echo "mine" >r/notes.txt
expect_exit 1 "--force with a user's file in DIR" "$RUNS" restore step_10 --out r --force
expect_match "the file is named" "$(cat "$T/.err")" "notes.txt is not a file .runs restore. writes"
expect_eq "the user's file is untouched" "$(cat r/notes.txt)" "mine"
expect "and nothing of the restore was removed" "$SYNTH" --check r --run main --step 0
rm r/notes.txt
mkdir -p r/weights/deeper
expect_exit 1 "--force with a nested directory" "$RUNS" restore step_10 --out r --force
expect "still the earlier restore" "$SYNTH" --check r --run main --step 0
rmdir r/weights/deeper
mkdir empty
expect "restore into an existing empty directory" "$RUNS" restore step_20 --out empty
expect "verify after all of it" "$RUNS" verify
done_testing
