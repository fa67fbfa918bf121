/* runner/cmd_filter.c — `runs filter --source NAME [--show-dropped N] IN OUT`
 * (the same as tools/filter-dataset). Rules and thresholds: tools/filter.h. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "runner/cli.h"
#include "tools/filter.h"

static const char *USAGE = "runs filter --source NAME [--show-dropped N] IN OUT";

static void help(void)
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
           "options:\n"
           "  --source NAME        the source's name in the table (default: IN's file name)\n"
           "  --show-dropped N     print up to N dropped examples per rule (truncated)\n",
           USAGE, RUNS_FILTER_MAX_PARAGRAPH, RUNS_FILTER_FOREIGN_FRACTION * 100, RUNS_FILTER_FOREIGN_MIN_LETTERS,
           RUNS_FILTER_BIGRAM_WINDOW, RUNS_FILTER_BIGRAM_RATIO * 100);
}

int cmd_filter(runs_cli *cli, int argc, char **argv)
{
    (void)cli;
    if (runs_cli_wants_help(argc, argv)) {
        help();
        return RUNS_EXIT_OK;
    }
    const char *source = NULL;
    long show = 0;
    static const struct option opts[] = {
        {"source", required_argument, 0, 's'}, {"show-dropped", required_argument, 0, 'd'}, {0, 0, 0, 0}};
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 's': source = optarg; break;
        case 'd':
            show = strtol(optarg, &end, 10);
            if (*end || show < 0 || show > 100000)
                return runs_cli_usage("filter", USAGE, "--show-dropped %s: expected a count >= 0", optarg);
            break;
        default: return runs_cli_bad_option("filter", USAGE, argv, "", opts);
        }
    }
    if (argc - optind != 2) return runs_cli_usage("filter", USAGE, "expected IN and OUT");
    const char *in = argv[optind], *out = argv[optind + 1];
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
