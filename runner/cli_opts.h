/* runner/cli_opts.h — the CLI side of the option parser (runner/optparse.h):
 * parse a command's options from its table and print a refusal as the one usage
 * line every command uses; print the table's option list for --help. */
#ifndef RUNS_RUNNER_CLI_OPTS_H
#define RUNS_RUNNER_CLI_OPTS_H

#include "runner/optparse.h"

/* runs_opts_parse, then on a usage error prints
 *   "runs CMD: <what> (usage: USAGE; see runs CMD --help)"
 * on stderr and returns 129 (RUNS_EXIT_USAGE); a table error prints
 * "runs CMD: <what>" and returns 1. Returns 0 when all was well. pos, npos and
 * max_pos as in runs_opts_parse (pos is the caller's). */
int runs_cli_opts(int *npos, const char **pos, int max_pos, const char *cmd, const char *usage,
                  const runs_opt *opts, int argc, char **argv);

/* Prints the option list of opts (runs_opts_help) on stdout, the help column at
 * least min_col wide so hand-written lines above it can line up. */
void runs_cli_opts_help(const runs_opt *opts, int min_col);

#endif
