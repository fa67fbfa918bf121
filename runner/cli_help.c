/* runner/cli_help.c — see cli_help.h. */
#include "runner/cli_help.h"

#include <stdio.h>

int runs_cli_begin(int *done, int *npos, const char **pos, int max_pos, const runs_cli_page *page, const runs_opt *opts,
                   int argc, char **argv)
{
    *done = 1;
    if (runs_cli_wants_help(argc, argv)) {
        printf("usage: %s\n\n%s\n", page->usage, page->about);
        runs_cli_opts_help(opts, 0);
        if (page->notes)
            printf("\n%s", page->notes);
        return RUNS_EXIT_OK;
    }
    int rc = runs_cli_opts(npos, pos, max_pos, page->cmd, page->usage, opts, argc, argv);
    *done = rc != 0;
    return rc;
}
