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
    free(sr->stretch);
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

/* FNV-1a: stable across machines and versions, which a colour must be */
static unsigned name_hash(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

typedef struct {
    const char *name;
    size_t idx;
} named;

static int cmp_named(const void *a, const void *b)
{
    return strcmp(((const named *)a)->name, ((const named *)b)->name);
}

int runs_plot_color_slots(int *slot, const char *const *names, size_t n)
{
    int P = runs_svg_palette_size(), taken = 0;
    named *order = malloc((n ? n : 1) * sizeof *order);
    char *used = calloc((size_t)P, 1);
    if (!order || !used) {
        free(order);
        free(used);
        return runs_error_set(RUNS_ENOMEM, "plot: out of memory assigning colours");
    }
    for (size_t i = 0; i < n; i++)
        order[i] = (named){names[i], i};
    qsort(order, n, sizeof *order, cmp_named);
    for (size_t k = 0; k < n; k++) {
        if (taken == P) { /* more runs than colours: a second round */
            memset(used, 0, (size_t)P);
            taken = 0;
        }
        int h = (int)(name_hash(order[k].name) % (unsigned)P);
        while (used[h])
            h = (h + 1) % P;
        used[h] = 1;
        taken++;
        slot[order[k].idx] = h;
    }
    free(order);
    free(used);
    return 0;
}

/* The colours of the store's runs, by name. */
typedef struct {
    char **names;
    int *slot;
    size_t n;
} run_colors;

static const char *color_of(const run_colors *rc, const char *run)
{
    for (size_t i = 0; run && i < rc->n; i++)
        if (!strcmp(rc->names[i], run))
            return runs_svg_palette(rc->slot[i]);
    return "#555555";
}

static int add_event(runs_plot_data *d, const char *id, const cJSON *m, int sibling, const run_colors *colors)
{
    const char *kind = jstr(m, "kind");
    if (!kind || !(strcmp(kind, "fork") == 0 || strcmp(kind, "restart") == 0 || strcmp(kind, "halt") == 0 ||
                   strcmp(kind, "stage") == 0))
        return 0;
    for (size_t i = 0; i < d->n_events; i++)
        if (!strcmp(d->events[i].id, id))
            return 0; /* a node on two drawn lineages is one event */
    runs_plot_event *e = realloc(d->events, (d->n_events + 1) * sizeof *e);
    if (!e)
        return runs_error_set(RUNS_ENOMEM, "plot: out of memory");
    d->events = e;
    e = &d->events[d->n_events++];
    memset(e, 0, sizeof *e);
    snprintf(e->id, sizeof e->id, "%s", id);
    snprintf(e->kind, sizeof e->kind, "%s", kind);
    snprintf(e->run, sizeof e->run, "%s", jstr(m, "run") ? jstr(m, "run") : "?");
    snprintf(e->color, sizeof e->color, "%s", !strcmp(kind, "halt") ? "#b00000" : color_of(colors, jstr(m, "run")));
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(m, "step");
    e->step = cJSON_IsNumber(st) ? (long)st->valuedouble : 0;
    e->sibling = sibling;
    return 0;
}

/* Extends the last stretch when node run continues it, else starts one. */
static int add_stretch(runs_plot_series *sr, const char *run, long step, const run_colors *colors)
{
    if (sr->n_stretch && !strcmp(sr->stretch[sr->n_stretch - 1].run, run)) {
        sr->stretch[sr->n_stretch - 1].to = step;
        return 0;
    }
    runs_plot_stretch *g = realloc(sr->stretch, (sr->n_stretch + 1) * sizeof *g);
    if (!g)
        return runs_error_set(RUNS_ENOMEM, "plot: out of memory");
    sr->stretch = g;
    g = &sr->stretch[sr->n_stretch++];
    snprintf(g->run, sizeof g->run, "%s", run);
    snprintf(g->color, sizeof g->color, "%s", color_of(colors, run));
    g->to = step;
    return 0;
}

/* Loads the series of the lineage ids[0] (tip) .. ids[n-1] (root); adds events for
 * nodes with index < upto (those drawn as this series' own); notes the step of the
 * first node of sr->run itself in sr->own_step. */
static int load_series(runs_plot_series *sr, runs_plot_data *d, runs_store *s, char (*ids)[41], size_t n, size_t upto,
                       int sibling, const run_colors *colors)
{
    int rc = 0, own = 0;
    for (size_t k = n; k-- > 0 && !rc;) {
        cJSON *m = NULL;
        if ((rc = runs_node_manifest(&m, s, ids[k])))
            break;
        const char *log = jstr(m, "loss_log"), *nrun = jstr(m, "run");
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(m, "step");
        long step = cJSON_IsNumber(st) ? (long)st->valuedouble : 0;
        if (!own && nrun && !strcmp(nrun, sr->run)) {
            sr->own_step = step;
            own = 1;
        }
        if ((rc = add_stretch(sr, nrun ? nrun : "?", step, colors)))
            break;
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
            rc = add_event(d, ids[k], m, sibling, colors);
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

/* A run whose lineage meets the main one, before its series is loaded. */
typedef struct {
    char run[64], tip[41];
    char (*ids)[41]; /* tip first */
    size_t n;
} related;

/* Where sibling r starts being its own: walking from its tip, the first node that is
 * on the main lineage, or on another sibling's lineage and of another run than r
 * (its parent's segment, drawn by that parent or by whoever descends from it). */
static int own_from(size_t *at, runs_store *s, const related *r, char (*main_sorted)[41], size_t nmain, char (*all)[41],
                    size_t nall)
{
    int rc = 0;
    *at = r->n;
    for (size_t k = 0; k < r->n && !rc; k++) {
        if (bsearch(r->ids[k], main_sorted, nmain, sizeof *main_sorted, cmp_id)) {
            *at = k;
            break;
        }
        /* all holds every sibling lineage's nodes, sorted: twice = another's too */
        char(*hit)[41] = bsearch(r->ids[k], all, nall, sizeof *all, cmp_id);
        if (!hit || !((hit > all && !cmp_id(hit - 1, hit)) || (hit + 1 < all + nall && !cmp_id(hit + 1, hit))))
            continue;
        cJSON *m = NULL;
        if ((rc = runs_node_manifest(&m, s, r->ids[k])))
            break;
        const char *nrun = jstr(m, "run");
        int other = !nrun || strcmp(nrun, r->run);
        cJSON_Delete(m);
        if (other) {
            *at = k;
            break;
        }
    }
    return rc;
}

int runs_plot_collect(runs_plot_data **out, runs_store *s, const char *run)
{
    int rc = 0;
    char tip[41];
    char(*ids)[41] = NULL, (*sorted)[41] = NULL, (*all)[41] = NULL;
    size_t n = 0, nrel = 0, nall = 0;
    related *rel = NULL;
    run_colors colors = {NULL, NULL, 0};
    *out = NULL;
    runs_plot_data *d = calloc(1, sizeof *d);
    if (!d)
        return runs_error_set(RUNS_ENOMEM, "plot: out of memory");
    if ((rc = runs_run_tip(tip, s, run)))
        goto done;
    if ((rc = runs_lineage(&ids, &n, s, tip)))
        goto done;
    if ((rc = runs_run_list(&colors.names, &colors.n, s)))
        goto done;
    if (!(colors.slot = malloc((colors.n ? colors.n : 1) * sizeof *colors.slot)) ||
        !(sorted = malloc(n * sizeof *sorted)) || !(rel = calloc(colors.n ? colors.n : 1, sizeof *rel))) {
        rc = runs_error_set(RUNS_ENOMEM, "plot: out of memory");
        goto done;
    }
    if ((rc = runs_plot_color_slots(colors.slot, (const char *const *)colors.names, colors.n)))
        goto done;
    memcpy(sorted, ids, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_id);
    snprintf(d->main.run, sizeof d->main.run, "%s", run);
    snprintf(d->main.tip, sizeof d->main.tip, "%s", tip);
    snprintf(d->main.color, sizeof d->main.color, "%s", color_of(&colors, run));
    if ((rc = load_series(&d->main, d, s, ids, n, n, -1, &colors)))
        goto done;

    /* the runs whose lineage meets the main one, other than ancestors that never left it */
    for (size_t r = 0; r < colors.n && !rc; r++) {
        related *x = &rel[nrel];
        if (!strcmp(colors.names[r], run))
            continue;
        if ((rc = runs_run_tip(x->tip, s, colors.names[r])) || (rc = runs_lineage(&x->ids, &x->n, s, x->tip)))
            break;
        size_t meet = x->n;
        for (size_t k = 0; k < x->n && meet == x->n; k++)
            if (bsearch(x->ids[k], sorted, n, sizeof *sorted, cmp_id))
                meet = k;
        if (meet == x->n || meet == 0) {
            free(x->ids);
            x->ids = NULL;
            continue;
        }
        snprintf(x->run, sizeof x->run, "%s", colors.names[r]);
        nall += x->n;
        nrel++;
    }
    if (rc)
        goto done;
    if (!(all = malloc((nall ? nall : 1) * sizeof *all)) ||
        !(d->siblings = calloc(nrel ? nrel : 1, sizeof *d->siblings))) {
        rc = runs_error_set(RUNS_ENOMEM, "plot: out of memory");
        goto done;
    }
    nall = 0;
    for (size_t i = 0; i < nrel; i++) {
        memcpy(all + nall, rel[i].ids, rel[i].n * sizeof *all);
        nall += rel[i].n;
    }
    qsort(all, nall, sizeof *all, cmp_id);
    for (size_t i = 0; i < nrel && !rc; i++) {
        size_t at;
        if ((rc = own_from(&at, s, &rel[i], sorted, n, all, nall)))
            break;
        runs_plot_series *sr = &d->siblings[d->n_siblings++];
        snprintf(sr->run, sizeof sr->run, "%s", rel[i].run);
        snprintf(sr->tip, sizeof sr->tip, "%s", rel[i].tip);
        snprintf(sr->color, sizeof sr->color, "%s", color_of(&colors, rel[i].run));
        if ((rc = load_series(sr, d, s, rel[i].ids, rel[i].n, at, (int)i, &colors)))
            break;
        cJSON *bm = NULL;
        if ((rc = runs_node_manifest(&bm, s, rel[i].ids[at])))
            break;
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(bm, "step");
        sr->branch_step = cJSON_IsNumber(st) ? (long)st->valuedouble : 0;
        cJSON_Delete(bm);
    }
done:
    if (rc)
        runs_plot_data_free(d);
    else
        *out = d;
    for (size_t i = 0; rel && i < colors.n; i++)
        free(rel[i].ids);
    free(rel);
    if (colors.names)
        runs_strings_free(colors.names, colors.n);
    free(colors.slot);
    free(ids);
    free(sorted);
    free(all);
    return rc;
}
