/* tools/cli/filter-dataset.c — standalone `filter-dataset`, the same filter as `runs
 * filter`, for data pipelines that do not need the CLI.
 * usage: tools/filter-dataset [--source NAME] [--show-dropped N] IN OUT
 * Both programs share the work, the report and the help text through the library
 * (runs_filter_run, runs_filter_help_text in tools/filter.h) and parse their options
 * with the library's option parser; only the printing is here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "runner/optparse.h"
#include "tools/filter.h"

static const char *USAGE = "filter-dataset --source NAME [--show-dropped N] IN OUT";

static int wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    const char *source = NULL, *pos[8];
    long show = 0;
    int npos = 0, rc;
    char *text = NULL, *opt_help = NULL, *report = NULL;
    const runs_opt opts[] = {
        RUNS_STR("source", 0, &source, "NAME", "the source's name in the table (default: IN's file name)"),
        RUNS_INT("show-dropped", 0, &show, "N", "[0, 100000]", "print up to N dropped examples per rule (truncated)"),
        RUNS_OPT_END};
    if (wants_help(argc, argv)) {
        text = runs_filter_help_text();
        opt_help = runs_opts_help(opts, 23);
        if (!text || !opt_help) {
            rc = 1;
            fprintf(stderr, "filter-dataset: %s\n", runs_error_message());
            goto done;
        }
        printf("usage: %s\n\n%soptions:\n%s", USAGE, text, opt_help);
        rc = 0;
        goto done;
    }
    if ((rc = runs_opts_parse(&npos, pos, 8, opts, argc, argv)) == 0 && npos != 2)
        rc = runs_error_set(RUNS_EUSAGE, "expected IN and OUT");
    if (rc == RUNS_EUSAGE) {
        fprintf(stderr, "filter-dataset: %s (usage: %s; see filter-dataset --help)\n", runs_error_message(), USAGE);
        rc = 129;
        goto done;
    }
    if (rc == 0)
        rc = runs_filter_run(&report, pos[0], pos[1], source, (int)show);
    if (rc != 0) {
        fprintf(stderr, "filter-dataset: %s\n", runs_error_message());
        rc = 1;
        goto done;
    }
    fputs(report, stdout);
done:
    free(text);
    free(opt_help);
    free(report);
    return rc;
}
