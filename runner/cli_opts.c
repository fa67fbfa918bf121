/* runner/cli_opts.c — see cli_opts.h. */
#include "runner/cli_opts.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/error.h"
#include "runner/cli.h"

int runs_cli_opts(int *npos, const char **pos, int max_pos, const char *cmd, const char *usage,
                  const runs_opt *opts, int argc, char **argv)
{
    int rc = runs_opts_parse(npos, pos, max_pos, opts, argc, argv);
    if (rc == 0)
        return RUNS_EXIT_OK;
    if (rc != RUNS_EUSAGE)
        return runs_cli_fail(cmd);
    /* the message is escaped already (runs_error_set), so it is printed as is */
    fprintf(stderr, "runs %s: %s (usage: %s; see runs %s --help)\n", cmd, runs_error_message(), usage, cmd);
    return RUNS_EXIT_USAGE;
}

void runs_cli_opts_help(const runs_opt *opts, int min_col)
{
    char *s = runs_opts_help(opts, min_col);
    if (s)
        fputs(s, stdout);
    free(s);
}
