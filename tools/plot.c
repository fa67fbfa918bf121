/* tools/plot.c — lineage → chart data → SVG (see tools/plot.h). */
#include "tools/plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "store/jsonl.h"
#include "store/lineage.h"
#include "store/object.h"

static int series_grow(runs_plot_series *sr)
{
    if (sr->n < sr->cap)
        return 0;
    size_t cap = sr->cap ? sr->cap * 2 : 256;
    long *st = realloc(sr->step, cap * sizeof *st);
    if (st)
        sr->step = st;
    double *cols[4] = {sr->loss, sr->ema, sr->lr, sr->grad_norm};
    for (int i = 0; i < 4 && st; i++) {
        double *p = realloc(cols[i], cap * sizeof(double));
        if (!p) {
            st = NULL;
            break;
        }
        cols[i] = p;
    }
    sr->loss = cols[0];
    sr->ema = cols[1];
    sr->lr = cols[2];
    sr->grad_norm = cols[3];
    if (!st)
        return runs_error_set(RUNS_ENOMEM, "plot: out of memory for %zu points", cap);
    sr->cap = cap;
    return 0;
}

static double num_or_nan(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

typedef struct {
    runs_plot_series *sr;
    const char *origin;
} append_ctx;

static int append_point(void *ctx, const cJSON *o, const char *line, size_t len, long lineno)
{
    append_ctx *a = ctx;
    runs_plot_series *sr = a->sr;
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "step");
    if (!cJSON_IsNumber(st) || st->valuedouble < 0)
        return runs_error_set(RUNS_ECORRUPT, "%s:%ld: not a loss-log line with a \"step\"", a->origin, lineno);
    long step = (long)st->valuedouble;
    /* A later segment replaces what an earlier one said from its first step on. */
    while (sr->n > 0 && sr->step[sr->n - 1] >= step)
        sr->n--;
    int rc = series_grow(sr);
    if (rc)
        return rc;
    sr->step[sr->n] = step;
    sr->loss[sr->n] = num_or_nan(o, "loss");
    sr->lr[sr->n] = num_or_nan(o, "lr");
    sr->grad_norm[sr->n] = num_or_nan(o, "grad_norm");
    sr->ema[sr->n] = NAN;
    sr->n++;
    return 0;
}

int runs_plot_series_append(runs_plot_series *sr, const char *text, size_t len, const char *origin)
{
    /* segments are store objects, whole when hashed (store/jsonl.h's policy) */
    append_ctx a = {sr, origin};
    return runs_jsonl_read_buf(text, len, origin, RUNS_JSONL_WHOLE, append_point, &a, NULL);
}

int runs_plot_series_append_eval(runs_plot_series *sr, const cJSON *m)
{
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(m, "eval_log"), *row;
    const cJSON *arr = cJSON_IsArray(rows) ? rows : NULL;
    cJSON_ArrayForEach (row, arr) {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(row, "step");
        if (!cJSON_IsNumber(st) || (sr->n_val && (long)st->valuedouble <= sr->val_step[sr->n_val - 1]))
            continue;
        if (sr->n_val == sr->cap_val) {
            size_t cap = sr->cap_val ? sr->cap_val * 2 : 64;
            long *vs = realloc(sr->val_step, cap * sizeof *vs);
            if (vs)
                sr->val_step = vs;
            double *vl = vs ? realloc(sr->val_loss, cap * sizeof *vl) : NULL;
            if (vl)
                sr->val_loss = vl;
            if (!vs || !vl)
                return runs_error_set(RUNS_ENOMEM, "plot: out of memory for %zu held-out points", cap);
            sr->cap_val = cap;
        }
        sr->val_step[sr->n_val] = (long)st->valuedouble;
        sr->val_loss[sr->n_val] = num_or_nan(row, "val_loss");
        sr->n_val++;
    }
    return 0;
}

void runs_plot_series_finish(runs_plot_series *sr)
{
    double acc = 0, w = 0;
    for (size_t i = 0; i < sr->n; i++) {
        if (isfinite(sr->loss[i])) {
            acc = RUNS_PLOT_EMA_BETA * acc + (1 - RUNS_PLOT_EMA_BETA) * sr->loss[i];
            w = RUNS_PLOT_EMA_BETA * w + (1 - RUNS_PLOT_EMA_BETA);
        }
        sr->ema[i] = w > 0 ? acc / w : NAN;
    }
}

void runs_plot_series_free(runs_plot_series *sr)
{
    free(sr->step);
    free(sr->loss);
    free(sr->ema);
    free(sr->lr);
    free(sr->grad_norm);
    free(sr->val_step);
    free(sr->val_loss);
    memset(sr, 0, sizeof *sr);
}

void runs_plot_data_free(runs_plot_data *d)
{
    if (!d)
        return;
    runs_plot_series_free(&d->main);
    for (size_t i = 0; i < d->n_siblings; i++)
        runs_plot_series_free(&d->siblings[i]);
    free(d->siblings);
    free(d->events);
    free(d);
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int add_event(runs_plot_data *d, const char *id, const cJSON *m, int sibling)
{
    const char *kind = jstr(m, "kind");
    if (!kind || !(strcmp(kind, "fork") == 0 || strcmp(kind, "restart") == 0 || strcmp(kind, "halt") == 0 ||
                   strcmp(kind, "stage") == 0))
        return 0;
    runs_plot_event *e = realloc(d->events, (d->n_events + 1) * sizeof *e);
    if (!e)
        return runs_error_set(RUNS_ENOMEM, "plot: out of memory");
    d->events = e;
    e = &d->events[d->n_events++];
    memset(e, 0, sizeof *e);
    snprintf(e->id, sizeof e->id, "%s", id);
    snprintf(e->kind, sizeof e->kind, "%s", kind);
    snprintf(e->run, sizeof e->run, "%s", jstr(m, "run") ? jstr(m, "run") : "?");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(m, "step");
    e->step = cJSON_IsNumber(st) ? (long)st->valuedouble : 0;
    e->sibling = sibling;
    return 0;
}

/* Loads the series of the lineage ids[0] (tip) .. ids[n-1] (root); adds events for
 * nodes with index < upto (the nodes not shared with the main lineage). */
static int load_series(runs_plot_series *sr, runs_plot_data *d, runs_store *s, char (*ids)[41], size_t n, size_t upto,
                       int sibling)
{
    int rc = 0;
    for (size_t k = n; k-- > 0 && !rc;) {
        cJSON *m = NULL;
        if ((rc = runs_node_manifest(&m, s, ids[k])))
            break;
        const char *log = jstr(m, "loss_log");
        if (log) {
            void *text = NULL;
            size_t len = 0;
            rc = runs_object_get(&text, &len, s, log);
            if (!rc) {
                char origin[80];
                snprintf(origin, sizeof origin, "loss log of node %.12s", ids[k]);
                rc = runs_plot_series_append(sr, text, len, origin);
            }
            free(text);
        }
        if (!rc)
            rc = runs_plot_series_append_eval(sr, m);
        if (!rc && k < upto)
            rc = add_event(d, ids[k], m, sibling);
        cJSON_Delete(m);
    }
    if (!rc)
        runs_plot_series_finish(sr);
    return rc;
}

static int cmp_id(const void *a, const void *b)
{
    return memcmp(a, b, 40);
}

int runs_plot_collect(runs_plot_data **out, runs_store *s, const char *run)
{
    int rc = 0;
    char tip[41];
    char(*ids)[41] = NULL, (*sorted)[41] = NULL, (*oids)[41] = NULL;
    size_t n = 0, on = 0, nruns = 0;
    char **runs = NULL;
    *out = NULL;
    runs_plot_data *d = calloc(1, sizeof *d);
    if (!d)
        return runs_error_set(RUNS_ENOMEM, "plot: out of memory");
    if ((rc = runs_run_tip(tip, s, run)))
        goto done;
    if ((rc = runs_lineage(&ids, &n, s, tip)))
        goto done;
    snprintf(d->main.run, sizeof d->main.run, "%s", run);
    snprintf(d->main.tip, sizeof d->main.tip, "%s", tip);
    if ((rc = load_series(&d->main, d, s, ids, n, n, -1)))
        goto done;
    sorted = malloc(n * sizeof *sorted);
    if (!sorted) {
        rc = runs_error_set(RUNS_ENOMEM, "plot: out of memory");
        goto done;
    }
    memcpy(sorted, ids, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_id);

    if ((rc = runs_run_list(&runs, &nruns, s)))
        goto done;
    for (size_t r = 0; r < nruns && !rc; r++) {
        if (!strcmp(runs[r], run))
            continue;
        char otip[41];
        if ((rc = runs_run_tip(otip, s, runs[r])))
            break;
        free(oids);
        oids = NULL;
        if ((rc = runs_lineage(&oids, &on, s, otip)))
            break;
        size_t meet = on; /* first node (from the tip) shared with the main lineage */
        for (size_t k = 0; k < on; k++)
            if (bsearch(oids[k], sorted, n, sizeof *sorted, cmp_id)) {
                meet = k;
                break;
            }
        if (meet == on || meet == 0)
            continue; /* unrelated, or an ancestor run that never left our lineage */
        cJSON *bm = NULL;
        if ((rc = runs_node_manifest(&bm, s, oids[meet])))
            break;
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(bm, "step");
        long bstep = cJSON_IsNumber(st) ? (long)st->valuedouble : 0;
        cJSON_Delete(bm);
        runs_plot_series *grown = realloc(d->siblings, (d->n_siblings + 1) * sizeof *grown);
        if (!grown) {
            rc = runs_error_set(RUNS_ENOMEM, "plot: out of memory");
            break;
        }
        d->siblings = grown;
        runs_plot_series *sr = &d->siblings[d->n_siblings++];
        memset(sr, 0, sizeof *sr);
        snprintf(sr->run, sizeof sr->run, "%s", runs[r]);
        snprintf(sr->tip, sizeof sr->tip, "%s", otip);
        sr->branch_step = bstep;
        rc = load_series(sr, d, s, oids, on, meet, (int)(d->n_siblings - 1));
    }
done:
    if (rc)
        runs_plot_data_free(d);
    else
        *out = d;
    if (runs)
        runs_strings_free(runs, nruns);
    free(ids);
    free(oids);
    free(sorted);
    return rc;
}

/* ---- rendering ---- */

/* Copies the part of a series at steps >= from into x/y (column picks the metric). */
static size_t slice(const runs_plot_series *sr, const double *col, long from, double **x, double **y)
{
    size_t first = 0;
    while (first < sr->n && sr->step[first] < from)
        first++;
    size_t m = sr->n - first;
    *x = malloc((m ? m : 1) * sizeof(double));
    *y = malloc((m ? m : 1) * sizeof(double));
    if (!*x || !*y)
        return (size_t)-1;
    for (size_t i = 0; i < m; i++) {
        (*x)[i] = (double)sr->step[first + i];
        (*y)[i] = col[first + i];
    }
    return m;
}

static const char *event_color(const char *kind)
{
    if (!strcmp(kind, "halt"))
        return "#b00000";
    if (!strcmp(kind, "restart"))
        return "#9467bd";
    if (!strcmp(kind, "stage"))
        return "#8c564b";
    return "#555555";
}

static int add_series(runs_svg_chart *c, const runs_plot_series *sr, const double *col, long from, const char *name,
                      const char *color, int dashed, double width)
{
    double *x = NULL, *y = NULL;
    size_t m = slice(sr, col, from, &x, &y);
    int rc = m == (size_t)-1 ? runs_error_set(RUNS_ENOMEM, "plot: out of memory")
                             : runs_svg_add_series(c, name, color, x, y, m, dashed, width);
    free(x);
    free(y);
    return rc;
}

/* The held-out points of a series at steps >= from (none: nothing drawn). */
static int add_val_series(runs_svg_chart *c, const runs_plot_series *sr, long from, const char *name, const char *color)
{
    size_t first = 0;
    while (first < sr->n_val && sr->val_step[first] < from)
        first++;
    size_t m = sr->n_val - first;
    if (!m)
        return 0;
    double *x = malloc(m * sizeof *x);
    if (!x)
        return runs_error_set(RUNS_ENOMEM, "plot: out of memory");
    for (size_t i = 0; i < m; i++)
        x[i] = (double)sr->val_step[first + i];
    int rc = runs_svg_add_series(c, name, color, x, sr->val_loss + first, m, 1, 2);
    free(x);
    return rc;
}

static int build_chart(runs_svg_chart **out, const runs_plot_data *d, int which)
{
    const char *titles[3] = {"loss", "learning rate", "gradient norm (before clipping)"};
    char title[160];
    snprintf(title, sizeof title, "%s — %s", d->main.run, titles[which]);
    runs_svg_chart *c = runs_svg_new(title, "step", titles[which], 760, 300);
    if (!c)
        return runs_error_set(RUNS_ENOMEM, "plot: out of memory");
    int rc = 0;
    if (which == 2)
        runs_svg_set_log_y(c, 1);
    char name[128];
    if (which == 0) {
        snprintf(name, sizeof name, "%s (raw)", d->main.run);
        rc = add_series(c, &d->main, d->main.loss, 0, name, "#a6c8e8", 0, 1);
        snprintf(name, sizeof name, "%s (EMA)", d->main.run);
        if (!rc)
            rc = add_series(c, &d->main, d->main.ema, 0, name, runs_svg_palette(0), 0, 2);
        /* held-out loss, dashed in the run's colour: unseen data, so a fork that helps
         * only the training mix shows here as no gain */
        snprintf(name, sizeof name, "%s (held-out)", d->main.run);
        if (!rc)
            rc = add_val_series(c, &d->main, 0, name, runs_svg_palette(0));
    } else {
        const double *col = which == 1 ? d->main.lr : d->main.grad_norm;
        rc = add_series(c, &d->main, col, 0, d->main.run, runs_svg_palette(0), 0, 1.5);
    }
    for (size_t i = 0; i < d->n_siblings && !rc; i++) {
        const runs_plot_series *sr = &d->siblings[i];
        const double *col = which == 0 ? sr->ema : which == 1 ? sr->lr : sr->grad_norm;
        snprintf(name, sizeof name, which == 0 ? "%s (EMA, from step %ld)" : "%s (from step %ld)", sr->run,
                 sr->branch_step);
        rc = add_series(c, sr, col, sr->branch_step, name, runs_svg_palette((int)i + 1), 0, 1.5);
        if (!rc && which == 0) {
            snprintf(name, sizeof name, "%s (held-out, from step %ld)", sr->run, sr->branch_step);
            rc = add_val_series(c, sr, sr->branch_step, name, runs_svg_palette((int)i + 1));
        }
    }
    for (size_t i = 0; i < d->n_events && !rc; i++) {
        const runs_plot_event *e = &d->events[i];
        char label[160];
        snprintf(label, sizeof label, "%s %s@step_%ld", e->kind, e->run, e->step);
        rc = runs_svg_add_marker(c, (double)e->step, label,
                                 e->sibling >= 0 ? runs_svg_palette(e->sibling + 1) : event_color(e->kind));
    }
    if (rc) {
        runs_svg_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

int runs_plot_render(runs_buf *b, const runs_plot_data *d, unsigned what, int standalone)
{
    int rc = 0, count = 0;
    for (int i = 0; i < 3; i++)
        count += (what >> i) & 1;
    if (standalone)
        rc = runs_buf_printf(b,
                             "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"760\" height=\"%d\" "
                             "viewBox=\"0 0 760 %d\">\n",
                             300 * count, 300 * count);
    int row = 0;
    for (int i = 0; i < 3 && !rc; i++) {
        if (!((what >> i) & 1))
            continue;
        runs_svg_chart *c = NULL;
        if ((rc = build_chart(&c, d, i)))
            break;
        rc = runs_svg_render(b, c, 0, standalone ? 300 * row : 0, 0);
        if (!rc && !standalone)
            rc = runs_buf_puts(b, "\n");
        runs_svg_free(c);
        row++;
    }
    if (!rc && standalone)
        rc = runs_buf_puts(b, "</svg>\n");
    return rc;
}
