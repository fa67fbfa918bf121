/* runner/cmd_plot.c — `runs plot [RUN] --out F.svg`: loss, LR and grad-norm charts of a
 * run's lineage, with fork/restart/stage/halt nodes marked and sibling runs overlaid. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "runner/cli.h"
#include "runner/cli_store.h"
#include "store/lineage.h"
#include "store/publish.h"
#include "tools/plot.h"

#define USAGE "runs plot [RUN] --out F.svg [--what loss|lr|grad_norm|all]"

static void help(const runs_opt *opts)
{
    printf("usage: " USAGE "\n\n"
           "Draw the run's history along its lineage (root to tip, each node's loss-log\n"
           "segment in turn) as one SVG file: loss (raw and EMA), learning rate, and\n"
           "gradient norm (log scale). Fork, restart, stage and halt nodes are labelled\n"
           "vertical lines; other runs that branch from this lineage are overlaid in\n"
           "their own colours from their branch step on.\n\n"
           "  RUN                 the run to draw (default: the current run, HEAD)\n");
    runs_cli_opts_help(opts, 22);
}

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

static int write_out(const char *path, const char *data, size_t len)
{
    if (!strcmp(path, "-"))
        return fwrite(data, 1, len, stdout) == len ? 0 : runs_error_sys(RUNS_EIO, "write", "stdout");
    return runs_file_write_atomic(path, data, len); /* whole, or the old file stays */
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
        help(opts);
        return RUNS_EXIT_OK;
    }
    if ((rc = runs_cli_opts(&npos, pos, 8, "plot", USAGE, opts, argc, argv)))
        return rc;
    if (npos > 1)
        return runs_cli_usage("plot", USAGE, "expected at most one RUN, got %d arguments", npos);
    if (!out)
        return runs_cli_usage("plot", USAGE, "--out is required");
    unsigned what = parse_what(what_s);
    if (!what)
        return runs_cli_usage("plot", USAGE, "--what: expected loss, lr, grad_norm or all, got \"%s\"", what_s);

    runs_store *s = NULL;
    runs_plot_data *d = NULL;
    runs_buf b = {0};
    char run[128];
    rc = runs_cli_open_store(cli, &s);
    if (rc)
        goto done;
    if (npos)
        snprintf(run, sizeof run, "%s", pos[0]);
    else if ((rc = runs_head_get(run, sizeof run, s)))
        goto done;
    if ((rc = runs_plot_collect(&d, s, run)))
        goto done;
    if ((rc = runs_plot_render(&b, d, what, 1)))
        goto done;
    rc = write_out(out, b.s, b.len);
done:
    runs_buf_free(&b);
    runs_plot_data_free(d);
    runs_store_free(s);
    return rc ? runs_cli_fail("plot") : RUNS_EXIT_OK;
}
