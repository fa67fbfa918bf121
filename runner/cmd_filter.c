/* runner/cmd_filter.c — `runs filter --source NAME [--show-dropped N] IN OUT`
 * (the same as tools/filter-dataset). Rules and thresholds: tools/filter.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "runner/cli.h"
#include "tools/filter.h"

static const char *USAGE = "runs filter --source NAME [--show-dropped N] IN OUT";

static void help(const runs_opt *opts)
{
    printf("usage: %s\n\n"
           "Drops examples that would teach the model the wrong thing, by shape not by\n"
           "character (the seed's v2.5 filter). IN holds one example per line, turns as\n"
           "\"> user text / < assistant text\" with newlines written \\n. Kept lines are\n"
           "copied to OUT unchanged; a table (source, in-lines, out-lines, dropped %%) and\n"
           "per-rule counts go to stdout.\n\n"
           "rules (a line counts under the first that fires):\n"
           "  system-prompt-shape   first user turn: 3+ markdown headers; 2+ headers and\n"
           "                        >= 500 chars; or an agent fingerprint phrase (\"# Agent \",\n"
           "                        \"Shadow Clone\", \"Your shard\", \"Read it. Become it\",\n"
           "                        \"This file defines\") with any header or >= 400 chars\n"
           "  oversize-paragraph    a paragraph over %d chars in any turn\n"
           "  foreign-script        response letters in CJK, Cyrillic, Arabic, ... scripts\n"
           "                        > %.0f%% of its letters (and at least %d)\n"
           "  low-bigram-diversity  a window of %d word bigrams in the response with fewer\n"
           "                        than %.0f%% distinct\n\n"
           "options:\n",
           USAGE, RUNS_FILTER_MAX_PARAGRAPH, RUNS_FILTER_FOREIGN_FRACTION * 100, RUNS_FILTER_FOREIGN_MIN_LETTERS,
           RUNS_FILTER_BIGRAM_WINDOW, RUNS_FILTER_BIGRAM_RATIO * 100);
    runs_cli_opts_help(opts, 23);
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
    if (runs_cli_wants_help(argc, argv)) {
        help(opts);
        return RUNS_EXIT_OK;
    }
    if ((rc = runs_cli_opts(&npos, pos, 8, "filter", USAGE, opts, argc, argv))) return rc;
    if (npos != 2) return runs_cli_usage("filter", USAGE, "expected IN and OUT");
    const char *in = pos[0], *out = pos[1];
    if (!source) {
        const char *slash = strrchr(in, '/');
        source = slash ? slash + 1 : in;
    }
    runs_filter_stats st;
    if (runs_filter_file(&st, in, out, (int)show) != 0) return runs_cli_fail("filter");
    char *report = runs_filter_report(&st, source);
    if (report) fputs(report, stdout);
    free(report);
    runs_filter_stats_free(&st);
    return RUNS_EXIT_OK;
}
