/* runner/cmd_plot.c — `runs plot [RUN] --out F.svg`: loss, LR and grad-norm charts of a
 * run's lineage, with fork/restart/stage/halt nodes marked and related runs overlaid;
 * `runs report [RUN] --out F.html`: one self-contained HTML page for the lineage (charts,
 * nodes, config diffs, gate events, sample audit). One file: both resolve the run the
 * same way and write the same way (a file atomically, or stdout). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "runner/cli.h"
#include "runner/cli_store.h"
#include "store/lineage.h"
#include "store/publish.h"
#include "tools/plot.h"
#include "tools/report.h"

#define PLOT_USAGE "runs plot [RUN] --out F.svg [--what loss|lr|grad_norm|all]"
#define REPORT_USAGE "runs report [RUN] --out F.html"

/* Parses "loss,lr" etc. into RUNS_PLOT_* bits; 0 on a bad word. */
static unsigned parse_what(const char *s)
{
    unsigned bits = 0;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (!strcmp(tok, "loss"))
            bits |= RUNS_PLOT_LOSS;
        else if (!strcmp(tok, "lr"))
            bits |= RUNS_PLOT_LR;
        else if (!strcmp(tok, "grad_norm") || !strcmp(tok, "grad-norm"))
            bits |= RUNS_PLOT_GRAD_NORM;
        else if (!strcmp(tok, "all"))
            bits |= RUNS_PLOT_ALL;
        else
            return 0;
    }
    return bits;
}

/* Draws run (NULL: HEAD's) as an SVG (what != 0: those charts) or the HTML report
 * (what == 0) and writes it to out ('-': stdout); the exit code. */
static int draw(runs_cli *cli, const char *cmd, const char *run_arg, const char *out, unsigned what)
{
    runs_store *s = NULL;
    runs_plot_data *d = NULL;
    runs_buf b = {0};
    char run[128];
    int rc = runs_cli_open_store(cli, &s);
    if (rc)
        goto done;
    if (run_arg)
        snprintf(run, sizeof run, "%s", run_arg);
    else if ((rc = runs_head_get(run, sizeof run, s)))
        goto done;
    if (what)
        rc = runs_plot_collect(&d, s, run);
    if (!rc)
        rc = what ? runs_plot_render(&b, d, what, 1) : runs_report_html(&b, s, run);
    if (rc)
        goto done;
    if (!strcmp(out, "-"))
        rc = fwrite(b.s, 1, b.len, stdout) == b.len ? 0 : runs_error_sys(RUNS_EIO, "write", "stdout");
    else
        rc = runs_file_write_atomic(out, b.s, b.len); /* whole, or the old file stays */
done:
    runs_buf_free(&b);
    runs_plot_data_free(d);
    runs_store_free(s);
    return rc ? runs_cli_fail(cmd) : RUNS_EXIT_OK;
}

int cmd_plot(runs_cli *cli, int argc, char **argv)
{
    const char *out = NULL, *what_s = "all", *pos[8];
    int npos, rc;
    const runs_opt opts[] = {
        RUNS_STR("out", 'o', &out, "F.svg", "where to write the SVG ('-' = stdout)"),
        RUNS_STR("what", 'w', &what_s, "LIST", "comma-separated charts: loss, lr, grad_norm, all (default all)"),
        RUNS_OPT_END};
    if (runs_cli_wants_help(argc, argv)) {
        printf("usage: " PLOT_USAGE "\n\n"
               "Draw the run's history along its lineage (root to tip, each node's loss-log\n"
               "segment in turn) as one SVG file: loss (raw, EMA and held-out), learning rate,\n"
               "and gradient norm (log scale). Every run has its own colour, the same in every\n"
               "chart. Fork, restart, stage and halt nodes are vertical lines labelled above\n"
               "the plot; other runs that branch from this lineage are overlaid from the step\n"
               "where their data is their own; the run's ancestors are drawn faded.\n\n"
               "  RUN                 the run to draw (default: the current run, HEAD)\n");
        runs_cli_opts_help(opts, 22);
        return RUNS_EXIT_OK;
    }
    if ((rc = runs_cli_opts(&npos, pos, 8, "plot", PLOT_USAGE, opts, argc, argv)))
        return rc;
    if (npos > 1)
        return runs_cli_usage("plot", PLOT_USAGE, "expected at most one RUN, got %d arguments", npos);
    if (!out)
        return runs_cli_usage("plot", PLOT_USAGE, "--out is required");
    unsigned what = parse_what(what_s);
    if (!what)
        return runs_cli_usage("plot", PLOT_USAGE, "--what: expected loss, lr, grad_norm or all, got \"%s\"", what_s);
    return draw(cli, "plot", npos ? pos[0] : NULL, out, what);
}

int cmd_report(runs_cli *cli, int argc, char **argv)
{
    const char *out = NULL, *pos[8];
    int npos, rc;
    const runs_opt opts[] = {RUNS_STR("out", 'o', &out, "F.html", "where to write the page ('-' = stdout)"),
                             RUNS_OPT_END};
    if (runs_cli_wants_help(argc, argv)) {
        printf("usage: " REPORT_USAGE "\n\n"
               "Write one self-contained HTML page (inline SVG and CSS, no scripts, nothing\n"
               "fetched) about the run's lineage and the runs that branch from it: loss, LR\n"
               "and grad-norm charts as wide as the page; a table of nodes (id, kind, run,\n"
               "step, loss, held-out loss, coherence, sharpness from `runs sharpness`); the\n"
               "config diff recorded at each fork and restart; gate halts; and the sample\n"
               "audit with coherence scores.\n\n"
               "  RUN                 the run (default: the current run, HEAD)\n");
        runs_cli_opts_help(opts, 22);
        return RUNS_EXIT_OK;
    }
    if ((rc = runs_cli_opts(&npos, pos, 8, "report", REPORT_USAGE, opts, argc, argv)))
        return rc;
    if (npos > 1)
        return runs_cli_usage("report", REPORT_USAGE, "expected at most one RUN, got %d arguments", npos);
    if (!out)
        return runs_cli_usage("report", REPORT_USAGE, "--out is required");
    return draw(cli, "report", npos ? pos[0] : NULL, out, 0);
}
