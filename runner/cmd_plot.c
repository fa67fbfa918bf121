/* runner/cmd_plot.c — `runs plot [RUN] --out F.svg`: loss, LR and grad-norm charts of a
 * run's lineage, with fork/restart/stage/halt nodes marked and sibling runs overlaid. */
#include <getopt.h>
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

static void help(void)
{
    printf("usage: " USAGE "\n\n"
           "Draw the run's history along its lineage (root to tip, each node's loss-log\n"
           "segment in turn) as one SVG file: loss (raw and EMA), learning rate, and\n"
           "gradient norm (log scale). Fork, restart, stage and halt nodes are labelled\n"
           "vertical lines; other runs that branch from this lineage are overlaid in\n"
           "their own colours from their branch step on.\n\n"
           "  RUN           the run to draw (default: the current run, HEAD)\n"
           "  --out F.svg   where to write the SVG ('-' = stdout)\n"
           "  --what LIST   comma-separated charts: loss, lr, grad_norm, all (default all)\n");
}

/* Parses "loss,lr" etc. into RUNS_PLOT_* bits; 0 on a bad word. */
static unsigned parse_what(const char *s)
{
    unsigned bits = 0;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (!strcmp(tok, "loss")) bits |= RUNS_PLOT_LOSS;
        else if (!strcmp(tok, "lr")) bits |= RUNS_PLOT_LR;
        else if (!strcmp(tok, "grad_norm") || !strcmp(tok, "grad-norm")) bits |= RUNS_PLOT_GRAD_NORM;
        else if (!strcmp(tok, "all")) bits |= RUNS_PLOT_ALL;
        else return 0;
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
    if (runs_cli_wants_help(argc, argv)) {
        help();
        return RUNS_EXIT_OK;
    }
    const char *out = NULL, *what_s = "all";
    static const struct option opts[] = {
        {"out", required_argument, NULL, 'o'}, {"what", required_argument, NULL, 'w'}, {NULL, 0, NULL, 0}};
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:w:", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'w': what_s = optarg; break;
        default: return runs_cli_bad_option("plot", USAGE, argv, ":o:w:", opts);
        }
    }
    if (argc - optind > 1)
        return runs_cli_usage("plot", USAGE, "expected at most one RUN, got %d arguments", argc - optind);
    if (!out)
        return runs_cli_usage("plot", USAGE, "--out is required");
    unsigned what = parse_what(what_s);
    if (!what)
        return runs_cli_usage("plot", USAGE, "--what: expected loss, lr, grad_norm or all, got \"%s\"", what_s);

    runs_store *s = NULL;
    runs_plot_data *d = NULL;
    runs_buf b = {0};
    char run[128];
    int rc = runs_cli_open_store(cli, &s);
    if (rc)
        goto done;
    if (optind < argc)
        snprintf(run, sizeof run, "%s", argv[optind]);
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
