/* runner/cmd_report.c — `runs report [RUN] --out F.html`: one self-contained HTML page
 * for a run's lineage (charts, nodes, config diffs, gate events, sample audit). */
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

static void help(const runs_opt *opts)
{
    printf("usage: " USAGE "\n\n"
           "Write one self-contained HTML page (inline SVG and CSS, no scripts, nothing\n"
           "fetched) about the run's lineage and the runs that branch from it: loss, LR\n"
           "and grad-norm charts; a table of nodes (id, kind, run, step, loss, coherence,\n"
           "sharpness from `runs sharpness`); the config diff recorded at each fork and\n"
           "restart; gate halts; and the sample audit with coherence scores.\n\n"
           "  RUN                 the run (default: the current run, HEAD)\n");
    runs_cli_opts_help(opts, 22);
}

int cmd_report(runs_cli *cli, int argc, char **argv)
{
    const char *out = NULL, *pos[8];
    int npos, rc;
    const runs_opt opts[] = {RUNS_STR("out", 'o', &out, "F.html", "where to write the page ('-' = stdout)"),
                             RUNS_OPT_END};
    if (runs_cli_wants_help(argc, argv)) {
        help(opts);
        return RUNS_EXIT_OK;
    }
    if ((rc = runs_cli_opts(&npos, pos, 8, "report", USAGE, opts, argc, argv)))
        return rc;
    if (npos > 1)
        return runs_cli_usage("report", USAGE, "expected at most one RUN, got %d arguments", npos);
    if (!out)
        return runs_cli_usage("report", USAGE, "--out is required");

    runs_store *s = NULL;
    runs_buf b = {0};
    char run[128];
    rc = runs_cli_open_store(cli, &s);
    if (rc)
        goto done;
    if (npos)
        snprintf(run, sizeof run, "%s", pos[0]);
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
