/* runner/cmd_filter.c — `runs filter --source NAME [--show-dropped N] IN OUT`
 * (the same as tools/filter-dataset: both print what runs_filter_run and
 * runs_filter_help_text give). Rules and thresholds: tools/filter.h. */
#include <stdio.h>
#include <stdlib.h>

#include "common/error.h"
#include "runner/cli.h"
#include "tools/filter.h"

static const char *USAGE = "runs filter --source NAME [--show-dropped N] IN OUT";

static int help(const runs_opt *opts)
{
    char *text = runs_filter_help_text();
    if (!text)
        return runs_cli_fail("filter");
    printf("usage: %s\n\n%soptions:\n", USAGE, text);
    free(text);
    runs_cli_opts_help(opts, 23);
    return RUNS_EXIT_OK;
}

int cmd_filter(runs_cli *cli, int argc, char **argv)
{
    (void)cli;
    const char *source = NULL, *pos[8];
    long show = 0;
    int npos, rc;
    const runs_opt opts[] = {
        RUNS_STR("source", 0, &source, "NAME", "the source's name in the table (default: IN's file name)"),
        RUNS_INT("show-dropped", 0, &show, "N", "[0, 100000]", "print up to N dropped examples per rule (truncated)"),
        RUNS_OPT_END};
    if (runs_cli_wants_help(argc, argv))
        return help(opts);
    if ((rc = runs_cli_opts(&npos, pos, 8, "filter", USAGE, opts, argc, argv)))
        return rc;
    if (npos != 2)
        return runs_cli_usage("filter", USAGE, "expected IN and OUT");
    char *report = NULL;
    if (runs_filter_run(&report, pos[0], pos[1], source, (int)show) != 0)
        return runs_cli_fail("filter");
    fputs(report, stdout);
    free(report);
    return RUNS_EXIT_OK;
}
