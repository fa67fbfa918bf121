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

done_testing
