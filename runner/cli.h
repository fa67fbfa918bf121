/* runner/cli.h — what every `runs` command sees.
 *
 * The CLI is a thin table over the library (runner/main.c): each command is
 * one file runner/cmd_NAME.c with  int cmd_NAME(runs_cli *cli, int argc, char **argv),
 * argv[0] being the command name. A command declares its options once, as a
 * table (runner/optparse.h), parses them with runs_cli_opts, calls library
 * functions, prints, and returns the exit status:
 * 0 ok, 1 error, 2 gate halt, 129 usage.
 */
#ifndef RUNS_RUNNER_CLI_H
#define RUNS_RUNNER_CLI_H

#include <stdio.h>

#include "runner/optparse.h"

#define RUNS_EXIT_OK 0
#define RUNS_EXIT_ERROR 1
#define RUNS_EXIT_HALT 2
#define RUNS_EXIT_USAGE 129

typedef struct {
    /* The store directory: --store, else $RUNS_STORE, else the nearest .runs in
     * the working directory or its parents, else "./.runs" (which may not exist). */
    char store_path[4096];
    int store_found; /* store_path holds an initialised store */
    int progress;    /* stderr is a TTY: commands may draw progress */
} runs_cli;

typedef int (*runs_cmd_fn)(runs_cli *cli, int argc, char **argv);

/* Prints "runs CMD: <message>" (message from common/error.h) on stderr and
 * returns the exit status matching the error code (1, 2 or 129). */
int runs_cli_fail(const char *cmd);

/* Prints "runs CMD: <fmt...>" and "usage: <usage>" hint on one line; returns 129.
 * Control bytes in the formatted text are escaped (runs_error_escape), so user
 * arguments echoed into it cannot split the line or reach the terminal raw. */
int runs_cli_usage(const char *cmd, const char *usage, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* runs_opts_parse (runner/optparse.h: the one option parser; each command declares
 * its options once, as a table), then on a usage error prints
 *   "runs CMD: <what> (usage: USAGE; see runs CMD --help)"
 * on stderr and returns 129 (RUNS_EXIT_USAGE); a table error prints
 * "runs CMD: <what>" and returns 1. Returns 0 when all was well. npos, pos and
 * max_pos as in runs_opts_parse (pos is the caller's array). */
int runs_cli_opts(int *npos, const char **pos, int max_pos, const char *cmd, const char *usage, const runs_opt *opts,
                  int argc, char **argv);

/* Prints the option list of opts (runs_opts_help) on stdout, the help column at
 * least min_col wide so hand-written lines above it (positional arguments) can
 * line up with it. */
void runs_cli_opts_help(const runs_opt *opts, int min_col);

/* True when argv holds -h or --help; commands call this first and print their help. */
int runs_cli_wants_help(int argc, char **argv);

#endif
