#!/bin/sh
# runs filter / tools/filter-dataset: the v2.5 shape filter end to end: table numbers,
# kept lines unchanged, --show-dropped, the standalone tool agrees, errors.
. "$(dirname "$0")/lib.sh"
FD="$ROOT/tools/filter-dataset"

cat >in.txt <<'X'
> What is the capital of France? / < Paris is the capital of France.
> # Agent Zed\n## Identity\nYou are Zed.\n## Rules\nBe terse. / < ok
> see https://example.com/a/b/c for the docs / < # Answer\n## Why\n### How\nBecause the docs say so.
> You are my Shadow Clone.\n## Duties\nWatch the logs. / < Understood.
> Translate hello / < Здравствуйте, как у вас дела сегодня?
> Say it again / < region region region region region region region region region region region region region region
> thanks / < you are welcome

> bye / < goodbye, and good luck with the run
X

out=$("$RUNS" filter --source unfirehose-chat in.txt out.txt)
expect_match "table row: source, in-lines, out-lines, dropped %" "$out" "^unfirehose-chat +8 +4 +50\.0%$"
expect_match "per-rule count: system-prompt-shape" "$out" "^system-prompt-shape +2 "
expect_match "per-rule count: foreign-script" "$out" "^foreign-script +1 "
expect_match "per-rule count: low-bigram-diversity" "$out" "^low-bigram-diversity +1 "
expect_match "per-rule count: oversize-paragraph" "$out" "^oversize-paragraph +0 "
expect_eq "kept lines are copied unchanged, in order" "$(cat out.txt)" "$(sed -n '1p;3p;7p;9p' in.txt)"
out=$("$RUNS" filter --source s --show-dropped 1 in.txt out2.txt)
expect_match "--show-dropped prints examples with line numbers" "$out" "^  line 2: > # Agent Zed"
expect_match "--show-dropped caps examples per rule" "$out" "dropped by system-prompt-shape \(1 of 2\)"
expect_eq "the standalone tool gives the same report" "$("$FD" --source s --show-dropped 1 in.txt out3.txt)" "$out"
expect "... and the same output" cmp out2.txt out3.txt
expect_match "help lists the rules" "$("$RUNS" filter --help)" "system-prompt-shape"
expect_eq "the standalone tool's help is the same text" "$("$FD" --help | tail -n +2)" "$("$RUNS" filter --help | tail -n +2)"
expect_exit 129 "standalone: missing OUT" "$FD" --source s in.txt
expect_match "... says what and how" "$(cat "$T/.err")" "^filter-dataset: expected IN and OUT \(usage: filter-dataset "
expect_exit 1 "standalone: missing input" "$FD" nosuch.txt o.txt
# the standalone tool links the library; it compiled runner/*.c into itself before
expect_eq "no C file includes a C file" \
    "$(cd "$ROOT" && grep -lE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"]*\.c"' -r --include='*.c' --include='*.h' common store manifests cuda tools runner 2>/dev/null)" ""
expect_exit 1 "missing input" "$RUNS" filter --source s nosuch.txt o.txt
expect_exit 129 "missing OUT" "$RUNS" filter --source s in.txt
expect_exit 129 "bad --show-dropped" "$RUNS" filter --show-dropped x in.txt o.txt
done_testing
