#!/bin/sh
# scripts/corpus-extract.pl (the demo corpus's extractors) on crafted inputs:
# Q/A fortunes become chat turns, the rest quotes, escaping, byte caps, determinism.
. "$(dirname "$0")/lib.sh"
X="$ROOT/scripts/corpus-extract.pl"

cat >fort <<'F'
A quote with a back\slash
	and a tabbed second line.
%
Q:	What is the answer?
A:	Forty-two, but the question
	is harder.
%
FORTUNE PROVIDES QUESTIONS FOR THE GREAT ANSWERS: #1
A:	Go west.
Q:	Where should a young man go?
%
Just one more quote.
%
F
expect_eq "quotes: Q/A fortunes left out, escapes applied" "$(perl "$X" quotes 100000 fort)" \
'A quote with a back\\slash\n\tand a tabbed second line.
Just one more quote.'
expect_eq "fortune-qa: Q/A turns, continuation lines joined" "$(perl "$X" fortune-qa 100000 fort)" \
'> What is the answer? / < Forty-two, but the question is harder.
> Where should a young man go? / < Go west.'
expect_eq "a byte cap stops before the document that would pass it" "$(perl "$X" quotes 60 fort | wc -l | tr -d ' ')" "1"
printf '/usr/share/man/man1/ls.1.gz: "ls, dir - list directory contents"\n/usr/share/man/man8/x.8.gz: "x - y"\n/usr/share/man/man3/printf.3.gz: "printf - formatted output conversion"\n' >whatis
expect_eq "whatis-qa: three phrasings per command; short descriptions and other sections skipped" \
    "$(perl "$X" whatis-qa 100000 whatis | wc -l | tr -d ' ')" "3"
out=$("$RUNS" filter --source t /dev/stdin o.txt <<E
$(perl "$X" whatis-qa 100000 whatis)
E
)
expect_match "its lines pass the chat filter" "$out" "^t +3 +3 +0\.0%$"
printf '/* A comment long enough to be kept as documentation of something. */\n/* Copyright 2020 Somebody, under some License text here ok */\n' >h.h
expect_eq "headers: licence comments skipped" "$(perl "$X" headers 100000 h.h)" \
    "A comment long enough to be kept as documentation of something."
expect_eq "deterministic" "$(perl "$X" quotes 100000 fort | cksum)" "$(perl "$X" quotes 100000 fort | cksum)"
done_testing
