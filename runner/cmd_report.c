/* runner/cmd_report.c — `runs report [RUN] --out F.html`: one self-contained HTML page
 * for a run's lineage (charts, nodes, config diffs, gate events, sample audit). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "runner/cli.h"
#include "runner/cli_store.h"
#include "store/lineage.h"
#include "store/publish.h"
#include "tools/report.h"

#define USAGE "runs report [RUN] --out F.html"

static void help(void)
{
    printf("usage: " USAGE "\n\n"
           "Write one self-contained HTML page (inline SVG and CSS, no scripts, nothing\n"
           "fetched) about the run's lineage and the runs that branch from it: loss, LR\n"
           "and grad-norm charts; a table of nodes (id, kind, run, step, loss, coherence,\n"
           "sharpness from `runs sharpness`); the config diff recorded at each fork and\n"
           "restart; gate halts; and the sample audit with coherence scores.\n\n"
           "  RUN           the run (default: the current run, HEAD)\n"
           "  --out F.html  where to write the page ('-' = stdout)\n");
}

int cmd_report(runs_cli *cli, int argc, char **argv)
{
    if (runs_cli_wants_help(argc, argv)) {
        help();
        return RUNS_EXIT_OK;
    }
    const char *out = NULL;
    static const struct option opts[] = {{"out", required_argument, NULL, 'o'}, {NULL, 0, NULL, 0}};
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        default: return runs_cli_bad_option("report", USAGE, argv, ":o:", opts);
        }
    }
    if (argc - optind > 1)
        return runs_cli_usage("report", USAGE, "expected at most one RUN, got %d arguments", argc - optind);
    if (!out)
        return runs_cli_usage("report", USAGE, "--out is required");

    runs_store *s = NULL;
    runs_buf b = {0};
    char run[128];
    int rc = runs_cli_open_store(cli, &s);
    if (rc)
        goto done;
    if (optind < argc)
        snprintf(run, sizeof run, "%s", argv[optind]);
    else if ((rc = runs_head_get(run, sizeof run, s)))
        goto done;
    if ((rc = runs_report_html(&b, s, run)))
        goto done;
    if (!strcmp(out, "-")) {
        if (fwrite(b.s, 1, b.len, stdout) != b.len)
            rc = runs_error_sys(RUNS_EIO, "write", "stdout");
    } else {
        rc = runs_file_write_atomic(out, b.s, b.len); /* whole, or the old file stays */
    }
done:
    runs_buf_free(&b);
    runs_store_free(s);
    return rc ? runs_cli_fail("report") : RUNS_EXIT_OK;
}
