/* runner/cli_help.h — how a command starts: its --help page, or its options parsed.
 * One piece of code for what every listing command repeated (runs log, runs ls):
 * check for -h/--help, print usage, description, option list and notes, else parse. */
#ifndef RUNS_RUNNER_CLI_HELP_H
#define RUNS_RUNNER_CLI_HELP_H

#include "runner/cli.h"

typedef struct {
    const char *cmd;   /* "log" */
    const char *usage; /* "runs log [RUN] ..." */
    const char *about; /* printed after "usage: USAGE" and a blank line, before the options */
    const char *notes; /* printed after the option list (after a blank line), or NULL */
} runs_cli_page;

/* With -h/--help in argv: prints page (stdout) and returns 0 with *done = 1.
 * Otherwise runs_cli_opts (npos, pos, max_pos as there): a refusal returns its exit
 * status with *done = 1 (already printed); success returns 0 with *done = 0, and the
 * command goes on. */
int runs_cli_begin(int *done, int *npos, const char **pos, int max_pos, const runs_cli_page *page, const runs_opt *opts,
                   int argc, char **argv);

#endif
