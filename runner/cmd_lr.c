/* runner/cmd_lr.c — `runs lr`: print (and draw) a config's or a node's learning-rate schedule.
 *
 * Contract (DESIGN.md): one line per step, "STEP LR"; with --exact (and in --json)
 * LR in %.17g, otherwise rounded to 6 significant digits for people. Only the
 * config's train, optimizer and schedule sections are needed, so a half-written
 * config can be checked before its data exists; but a file without
 * train.total_steps reads as a patch, whose schedule would be the defaults'.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "manifests/canon.h"
#include "manifests/config.h"
#include "runner/cli.h"
#include "runner/cli_store.h"
#include "runner/schedule.h"
#include "store/lineage.h"
#include "store/publish.h"
#include "tools/svg.h"

#define USAGE "runs lr (--config F | NODE) [--steps LIST] [--exact | --json] [--svg OUT.svg]"
#define MAX_STEPS 10000000L /* a typo like 0:1e9 should not print forever */

static void help(const runs_opt *opts)
{
    printf("usage: " USAGE "\n\n"
           "Print the learning rate the config's schedule gives at each step, one line\n"
           "\"STEP LR\" per step: LR to 6 significant digits, or in %%.17g with --exact;\n"
           "--json prints [{\"step\": N, \"lr\": LR}, ...] in %%.17g. Only the train,\n"
           "optimizer and schedule sections of the config are read, and train.total_steps\n"
           "must be there: a patch file (a fork's --config) is refused, as its schedule\n"
           "would be the defaults'. NODE (e.g. step_300, base@step_300) reads the node's\n"
           "effective config from the store instead.\n\n");
    runs_cli_opts_help(opts, 0);
}

/* Parses a non-negative decimal integer that fills s entirely. */
static int parse_step(const char *s, long *out)
{
    char *end;
    errno = 0;
    if (!*s || *s == '-' || *s == '+')
        return -1;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < 0)
        return -1;
    *out = v;
    return 0;
}

/* Appends the steps of one item "N" or "A:B[:STEP]" to *v. Returns 0, -1 on bad
 * syntax (message in err), or RUNS_ENOMEM. */
static int add_item(char *item, long **v, size_t *n, size_t *cap, char *err, size_t errlen)
{
    long a, b, step = 1;
    char *f[3] = {item, NULL, NULL};
    int nf = 1;
    for (char *p = item; *p; p++)
        if (*p == ':') {
            if (nf == 3) {
                snprintf(err, errlen, "--steps: '%s' has more than two ':'", item);
                return -1;
            }
            *p = '\0';
            f[nf++] = p + 1;
        }
    if (parse_step(f[0], &a) || (nf > 1 && parse_step(f[1], &b)) || (nf > 2 && parse_step(f[2], &step))) {
        snprintf(err, errlen, "--steps: expected STEP or A:B[:STEP] with non-negative integers");
        return -1;
    }
    if (nf == 1)
        b = a;
    if (step <= 0 || b < a) {
        snprintf(err, errlen, "--steps: range %ld:%ld:%ld must have A <= B and STEP > 0", a, b, step);
        return -1;
    }
    if ((b - a) / step + 1 + (long)*n > MAX_STEPS) {
        snprintf(err, errlen, "--steps: more than %ld steps requested", MAX_STEPS);
        return -1;
    }
    for (long t = a; t <= b; t += step) {
        if (*n == *cap) {
            size_t nc = *cap ? *cap * 2 : 64;
            long *nv = realloc(*v, nc * sizeof **v);
            if (!nv)
                return runs_error_set(RUNS_ENOMEM, "out of memory listing steps");
            *v = nv;
            *cap = nc;
        }
        (*v)[(*n)++] = t;
        if (t > b - step)
            break; /* no overflow past LONG_MAX */
    }
    return 0;
}

static int write_svg(const runs_config *cfg, const char *path)
{
    int rc = 0;
    long T = cfg->train.total_steps > 0 ? cfg->train.total_steps : 1;
    size_t n = T < 2000 ? (size_t)T + 1 : 2001;
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    runs_svg_chart *c = NULL;
    runs_buf b = {0};
    char title[128];
    if (!x || !y) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory drawing the schedule");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        long t = (long)((double)T * (double)i / (double)(n - 1) + 0.5);
        x[i] = (double)t;
        y[i] = runs_schedule_lr(cfg, t);
    }
    snprintf(title, sizeof title, "learning rate: %s, peak %g, %ld steps", cfg->schedule.type, cfg->optimizer.lr,
             cfg->train.total_steps);
    c = runs_svg_new(title, "step", "lr", 0, 0);
    if (!c) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory drawing the schedule");
        goto done;
    }
    if ((rc = runs_svg_add_series(c, NULL, NULL, x, y, n, 0, 2.0)))
        goto done;
    const runs_schedule_config *s = &cfg->schedule;
    if (s->warmup_steps > 0 && (rc = runs_svg_add_marker(c, (double)s->warmup_steps, "warmup end", NULL)))
        goto done;
    if (s->restart_step > 0 && (rc = runs_svg_add_marker(c, (double)s->restart_step, "warm restart", NULL)))
        goto done;
    if (s->stage_start > 0 && s->stage_start < cfg->train.total_steps &&
        (rc = runs_svg_add_marker(c, (double)s->stage_start, "mid-training stage", NULL)))
        goto done;
    if ((rc = runs_svg_render(&b, c, 0, 0, 1)))
        goto done;
    if ((rc = runs_buf_puts(&b, "\n")) || (rc = runs_file_write_atomic(path, b.s, b.len)))
        goto done;
done:
    runs_buf_free(&b);
    runs_svg_free(c);
    free(x);
    free(y);
    return rc;
}

/* A whole config's schedule. A file without train.total_steps is a patch (a fork's
 * --config): its schedule would be the defaults', printed without a word, so it is
 * refused, naming what to do instead. */
static int load_file(runs_config *cfg, const char *path)
{
    cJSON *j = NULL;
    int rc = runs_config_load_schedule_only(cfg, path);
    if (!rc && !(rc = runs_json_parse_file(&j, path))) {
        const cJSON *train = cJSON_GetObjectItemCaseSensitive(j, "train");
        if (!cJSON_GetObjectItemCaseSensitive(train, "total_steps"))
            rc = runs_error_set(RUNS_EINVALID,
                                "%s has no train.total_steps: a patch, not a whole config (its schedule would "
                                "be the defaults'); give the whole config, or a node: runs lr NODE",
                                path);
    }
    cJSON_Delete(j);
    return rc;
}

/* The schedule of the effective config a node recorded (what a fork of it inherits). */
static int load_node(runs_config *cfg, runs_cli *cli, const char *spec)
{
    runs_store *s = NULL;
    cJSON *m = NULL;
    char id[41], label[128];
    int rc = runs_cli_open_store(cli, &s);
    if (!rc && !(rc = runs_node_resolve(id, s, spec)) && !(rc = runs_node_manifest(&m, s, id)))
        rc = runs_config_from_json(cfg, cJSON_GetObjectItemCaseSensitive(m, "config"),
                                   runs_cli_node_label(label, sizeof label, m));
    cJSON_Delete(m);
    runs_store_free(s);
    return rc;
}

int cmd_lr(runs_cli *cli, int argc, char **argv)
{
    const char *config = NULL, *steps = NULL, *svg = NULL, *pos[1] = {NULL};
    int exact = 0, json = 0;
    const runs_opt opts[] = {
        RUNS_STR("config", 'c', &config, "F", "the run config (JSON)"),
        RUNS_STR("steps", 's', &steps, "LIST",
                 "comma-separated steps or ranges A:B[:STEP] (B included),\n"
                 "e.g. 0,1000,2000 or 0:200000:10000; default 0..T in 10 parts"),
        RUNS_STR("svg", 'g', &svg, "OUT.svg", "also draw the curve over [0, total_steps] as an SVG chart"),
        RUNS_FLAG("exact", 'e', &exact, "the LR in %.17g (round-trips a double), not rounded"),
        RUNS_FLAG("json", 'j', &json, "a JSON array of {\"step\", \"lr\"} (LR in %.17g)"),
        RUNS_OPT_END};
    long *v = NULL;
    size_t n = 0, cap = 0;
    char *list = NULL;
    char err[256];
    int status = RUNS_EXIT_OK, npos;
    runs_config cfg;

    if (runs_cli_wants_help(argc, argv)) {
        help(opts);
        return RUNS_EXIT_OK;
    }
    if ((status = runs_cli_opts(&npos, pos, 1, "lr", USAGE, opts, argc, argv)))
        return status;
    if (!config == !pos[0])
        return runs_cli_usage("lr", USAGE, "give either --config F or a NODE, not %s", config ? "both" : "neither");
    if (exact && json)
        return runs_cli_usage("lr", USAGE, "--json is already exact; give one of --exact and --json");

    /* Parse --steps before reading the config, so usage errors win over config errors. */
    if (steps) {
        if (!(list = strdup(steps))) {
            runs_error_set(RUNS_ENOMEM, "out of memory");
            status = runs_cli_fail("lr");
            goto done;
        }
        char *save = NULL;
        int any = 0;
        for (char *item = strtok_r(list, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
            int rc = add_item(item, &v, &n, &cap, err, sizeof err);
            if (rc == -1) {
                status = runs_cli_usage("lr", USAGE, "%s", err);
                goto done;
            }
            if (rc) {
                status = runs_cli_fail("lr");
                goto done;
            }
            any = 1;
        }
        if (!any) {
            status = runs_cli_usage("lr", USAGE, "--steps: empty list");
            goto done;
        }
    }
    if (config ? load_file(&cfg, config) : load_node(&cfg, cli, pos[0])) {
        status = runs_cli_fail("lr");
        goto done;
    }
    if (!steps && !svg) {
        long T = cfg.train.total_steps;
        for (int i = 0; i <= 10; i++) {
            long t = (long)((double)T * i / 10.0 + 0.5);
            if (n && v[n - 1] == t)
                continue;
            if (n == cap) {
                long *nv = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof *v);
                if (!nv) {
                    runs_error_set(RUNS_ENOMEM, "out of memory");
                    status = runs_cli_fail("lr");
                    goto done;
                }
                v = nv;
            }
            v[n++] = t;
        }
    }
    for (size_t i = 0; i < n; i++) {
        double lr = runs_schedule_lr(&cfg, v[i]);
        if (json)
            printf("%s{\"step\": %ld, \"lr\": %.17g}", i ? ",\n  " : "[\n  ", v[i], lr);
        else
            printf(exact ? "%ld %.17g\n" : "%ld %.6g\n", v[i], lr);
    }
    if (json)
        printf(n ? "\n]\n" : "[]\n");
    if (svg && write_svg(&cfg, svg))
        status = runs_cli_fail("lr");
    if (fflush(stdout)) {
        runs_error_sys(RUNS_EIO, "write", "stdout");
        status = runs_cli_fail("lr");
    }
done:
    free(list);
    free(v);
    return status;
}
