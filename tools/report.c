/* tools/report.c — the self-contained HTML report of tools/report.h. */
#include "tools/report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "store/jsonl.h"
#include "manifests/canon.h"
#include "store/lineage.h"
#include "store/notes.h"
#include "store/object.h"
#include "tools/plot.h"

#ifndef RUNS_VERSION
#define RUNS_VERSION "unknown"
#endif

typedef struct {
    char id[41];
    cJSON *m;    /* manifest */
    cJSON *note; /* may be NULL */
} rnode;

typedef struct {
    rnode *v;
    size_t n;
} rnodes;

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static int have(const rnodes *ns, const char *id)
{
    for (size_t i = 0; i < ns->n; i++)
        if (!strcmp(ns->v[i].id, id))
            return 1;
    return 0;
}

/* Adds the nodes of lineage ids (tip first) root-first, skipping known ones. */
static int add_lineage(rnodes *ns, runs_store *s, char (*ids)[41], size_t n)
{
    for (size_t k = n; k-- > 0;) {
        if (have(ns, ids[k]))
            continue;
        rnode *g = realloc(ns->v, (ns->n + 1) * sizeof *g);
        if (!g)
            return runs_error_set(RUNS_ENOMEM, "report: out of memory");
        ns->v = g;
        rnode *r = &ns->v[ns->n];
        memset(r, 0, sizeof *r);
        snprintf(r->id, sizeof r->id, "%s", ids[k]);
        int rc = runs_node_manifest(&r->m, s, ids[k]);
        if (!rc)
            rc = runs_note_get(&r->note, s, ids[k]);
        if (rc) {
            cJSON_Delete(r->m);
            cJSON_Delete(r->note);
            return rc;
        }
        ns->n++;
    }
    return 0;
}

static void rnodes_free(rnodes *ns)
{
    for (size_t i = 0; i < ns->n; i++) {
        cJSON_Delete(ns->v[i].m);
        cJSON_Delete(ns->v[i].note);
    }
    free(ns->v);
}

static int put_num(runs_buf *b, double v, const char *fmt)
{
    if (!isfinite(v))
        return runs_buf_puts(b, "<td class=\"na\">–</td>");
    return runs_buf_printf(b, fmt, v);
}

/* A JSON value as short text for a table cell (escaped). */
static int put_json(runs_buf *b, const cJSON *v)
{
    if (!v || cJSON_IsNull(v))
        return runs_buf_puts(b, "<span class=\"na\">(absent)</span>");
    if (cJSON_IsString(v))
        return runs_buf_put_escaped(b, v->valuestring);
    char *t = runs_json_canonical(v);
    if (!t)
        return runs_error_code() ? runs_error_code() : RUNS_ENOMEM;
    int rc = runs_buf_put_escaped(b, t);
    free(t);
    return rc;
}

static int node_table(runs_buf *b, const rnodes *ns, const char *run)
{
    int rc =
        runs_buf_puts(b, "<h2 id=\"nodes\">Nodes</h2>\n<table class=\"nodes\"><tr><th>id</th><th>kind</th><th>run</th>"
                         "<th>step</th><th>loss</th><th>loss EMA</th><th>held-out loss</th><th>coherence</th>"
                         "<th>sharpness tr(H)</th></tr>\n");
    for (size_t i = 0; i < ns->n && !rc; i++) {
        const rnode *r = &ns->v[i];
        const cJSON *met = cJSON_GetObjectItemCaseSensitive(r->m, "metrics");
        const char *kind = jstr(r->m, "kind"), *nrun = jstr(r->m, "run");
        rc = runs_buf_printf(b, "<tr class=\"%s%s\"><td class=\"id\" title=\"%s\">%.12s</td><td>", kind ? kind : "",
                             nrun && !strcmp(nrun, run) ? "" : " other", r->id, r->id);
        if (!rc)
            rc = runs_buf_put_escaped(b, kind ? kind : "?");
        if (!rc)
            rc = runs_buf_puts(b, "</td><td>");
        if (!rc)
            rc = runs_buf_put_escaped(b, nrun ? nrun : "?");
        if (!rc)
            rc = runs_buf_printf(b, "</td><td>%.0f</td>", jnum(r->m, "step"));
        if (!rc)
            rc = put_num(b, jnum(met, "loss"), "<td>%.4f</td>");
        if (!rc)
            rc = put_num(b, jnum(met, "loss_ema"), "<td>%.4f</td>");
        /* metrics.val_loss (runner/eval.h): the loss on data training never read */
        if (!rc)
            rc = put_num(b, jnum(met, "val_loss"), "<td class=\"val\">%.4f</td>");
        if (!rc)
            rc = put_num(b, jnum(met, "coherence"), "<td>%.1f</td>");
        const cJSON *sh = r->note ? cJSON_GetObjectItemCaseSensitive(r->note, "sharpness") : NULL;
        double tr = jnum(sh, "trace"), se = jnum(sh, "stderr");
        if (!rc) {
            if (!isfinite(tr))
                rc = runs_buf_puts(b, "<td class=\"na\">–</td>");
            else if (isfinite(se))
                rc = runs_buf_printf(b, "<td>%.4g ± %.2g <span class=\"small\">(K=%.0f)</span></td>", tr, se,
                                     jnum(sh, "samples"));
            else
                rc = runs_buf_printf(b, "<td>%.4g</td>", tr);
        }
        if (!rc)
            rc = runs_buf_puts(b, "</tr>\n");
    }
    if (!rc)
        rc = runs_buf_puts(b, "</table>\n");
    return rc;
}

static int changes_section(runs_buf *b, const rnodes *ns)
{
    int rc = runs_buf_puts(b, "<h2 id=\"changes\">Config changes at forks and restarts</h2>\n");
    int any = 0;
    for (size_t i = 0; i < ns->n && !rc; i++) {
        const rnode *r = &ns->v[i];
        const char *kind = jstr(r->m, "kind");
        const cJSON *ch = cJSON_GetObjectItemCaseSensitive(r->m, "changes");
        if (!kind || (strcmp(kind, "fork") && strcmp(kind, "restart") && strcmp(kind, "stage")) || !ch)
            continue;
        any = 1;
        const char *parent = jstr(r->m, "parent");
        rc = runs_buf_printf(b, "<h3 class=\"change\">%s ", kind);
        if (!rc)
            rc = runs_buf_put_escaped(b, jstr(r->m, "run") ? jstr(r->m, "run") : "?");
        if (!rc)
            rc = runs_buf_printf(
                b, "@step_%.0f <span class=\"id\">%.12s</span> from <span class=\"id\">%.12s</span></h3>\n",
                jnum(r->m, "step"), r->id, parent ? parent : "(root)");
        double peak = jnum(ch, "peak_lr");
        if (!rc && isfinite(peak))
            rc = runs_buf_printf(b, "<p>peak LR → %.6g</p>\n", peak);
        const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(ch, "config");
        if (!rc && cJSON_IsArray(cfg) && cJSON_GetArraySize(cfg) > 0) {
            rc = runs_buf_puts(b, "<table class=\"diff\"><tr><th>path</th><th>before</th><th>after</th></tr>\n");
            const cJSON *e;
            cJSON_ArrayForEach (e, cfg) {
                if (rc)
                    break;
                rc = runs_buf_puts(b, "<tr><td class=\"path\">");
                if (!rc)
                    rc = put_json(b, cJSON_GetObjectItemCaseSensitive(e, "path"));
                if (!rc)
                    rc = runs_buf_puts(b, "</td><td class=\"a\">");
                if (!rc)
                    rc = put_json(b, cJSON_GetObjectItemCaseSensitive(e, "a"));
                if (!rc)
                    rc = runs_buf_puts(b, "</td><td class=\"b\">");
                if (!rc)
                    rc = put_json(b, cJSON_GetObjectItemCaseSensitive(e, "b"));
                if (!rc)
                    rc = runs_buf_puts(b, "</td></tr>\n");
            }
            if (!rc)
                rc = runs_buf_puts(b, "</table>\n");
        } else if (!rc && !isfinite(peak)) {
            rc = runs_buf_puts(b, "<p class=\"na\">no config change recorded</p>\n");
        }
        const cJSON *arch = cJSON_GetObjectItemCaseSensitive(r->m, "archived");
        if (!rc && cJSON_IsObject(arch) && cJSON_GetArraySize(arch) > 0) {
            rc = runs_buf_puts(b, "<p class=\"small\">archived: ");
            const cJSON *e;
            cJSON_ArrayForEach (e, arch) {
                if (rc)
                    break;
                rc = runs_buf_put_escaped(b, e->string);
                if (!rc && cJSON_IsString(e))
                    rc = runs_buf_printf(b, " <span class=\"id\">%.12s</span> ", e->valuestring);
            }
            if (!rc)
                rc = runs_buf_puts(b, "</p>\n");
        }
    }
    if (!rc && !any)
        rc = runs_buf_puts(b, "<p class=\"na\">no forks or restarts on this lineage</p>\n");
    return rc;
}

static int gate_section(runs_buf *b, const rnodes *ns)
{
    int rc = runs_buf_puts(b, "<h2 id=\"gate\">Gate events</h2>\n");
    int any = 0;
    for (size_t i = 0; i < ns->n && !rc; i++) {
        const rnode *r = &ns->v[i];
        const char *kind = jstr(r->m, "kind");
        if (!kind || strcmp(kind, "halt"))
            continue;
        const cJSON *gate = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r->m, "metrics"), "gate");
        if (!any)
            rc = runs_buf_puts(
                b, "<table class=\"gate\"><tr><th>node</th><th>run</th><th>step</th><th>scores</th></tr>\n");
        any = 1;
        if (!rc)
            rc = runs_buf_printf(b, "<tr><td class=\"id\">%.12s</td><td>", r->id);
        if (!rc)
            rc = runs_buf_put_escaped(b, jstr(r->m, "run") ? jstr(r->m, "run") : "?");
        double st = jnum(gate, "step");
        if (!rc)
            rc = runs_buf_printf(b, "</td><td>%.0f</td><td>", isfinite(st) ? st : jnum(r->m, "step"));
        if (!rc)
            rc = put_json(b, cJSON_GetObjectItemCaseSensitive(gate, "scores"));
        if (!rc)
            rc = runs_buf_puts(b, "</td></tr>\n");
    }
    if (!rc)
        rc =
            runs_buf_puts(b, any ? "</table>\n" : "<p class=\"na\">the coherence gate never halted this lineage</p>\n");
    return rc;
}

typedef struct {
    cJSON **items;
    size_t n;
} collected;

static int collect_item(void *ctx, const cJSON *o, const char *line, size_t len, long lineno)
{
    collected *c = ctx;
    cJSON **g = realloc(c->items, (c->n + 1) * sizeof *g);
    if (!g)
        return runs_error_set(RUNS_ENOMEM, "report: out of memory");
    c->items = g;
    if (!(c->items[c->n] = cJSON_Duplicate(o, 1)))
        return runs_error_set(RUNS_ENOMEM, "report: out of memory");
    c->n++;
    return 0;
}

static int samples_section(runs_buf *b, runs_store *s, const rnodes *ns)
{
    int rc = runs_buf_puts(b, "<h2 id=\"samples\">Sample audit</h2>\n");
    runs_buf rows = {0};
    long total = 0, shown = 0, low = 0;
    for (size_t i = ns->n; i-- > 0 && !rc;) { /* newest nodes first */
        const rnode *r = &ns->v[i];
        const char *log = jstr(r->m, "samples_log");
        if (!log)
            continue;
        double threshold = jnum(
            cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r->m, "config"), "gate"), "threshold");
        void *text = NULL;
        size_t len = 0;
        if ((rc = runs_object_get(&text, &len, s, log)))
            break;
        /* Lines within a segment are oldest first; collect them, then emit newest first.
         * A segment is a store object, whole when hashed (store/jsonl.h's policy). */
        collected c = {NULL, 0};
        char origin[96];
        snprintf(origin, sizeof origin, "samples log of node %.12s", r->id);
        rc = runs_jsonl_read_buf(text, len, origin, RUNS_JSONL_WHOLE, collect_item, &c, NULL);
        cJSON **items = c.items;
        size_t ni = c.n;
        for (size_t k = ni; k-- > 0 && !rc;) {
            cJSON *o = items[k];
            total++;
            double score = jnum(o, "score");
            int is_low = isfinite(threshold) && isfinite(score) && score < threshold;
            low += is_low;
            if (shown >= RUNS_REPORT_MAX_SAMPLES)
                continue;
            shown++;
            rc = runs_buf_printf(&rows, "<tr%s><td>", is_low ? " class=\"low\"" : "");
            if (!rc)
                rc = runs_buf_put_escaped(&rows, jstr(r->m, "run") ? jstr(r->m, "run") : "?");
            if (!rc)
                rc = runs_buf_printf(&rows, "</td><td>%.0f</td><td class=\"prompt\">", jnum(o, "step"));
            if (!rc)
                rc = runs_buf_put_escaped(&rows, jstr(o, "prompt") ? jstr(o, "prompt") : "");
            if (!rc)
                rc = runs_buf_puts(&rows, "</td><td class=\"text\">");
            if (!rc)
                rc = runs_buf_put_escaped(&rows, jstr(o, "text") ? jstr(o, "text") : "");
            if (!rc)
                rc = runs_buf_puts(&rows, "</td>");
            if (!rc)
                rc = put_num(&rows, score, "<td class=\"score\">%.1f</td>");
            if (!rc)
                rc = runs_buf_puts(&rows, "</tr>\n");
        }
        for (size_t k = 0; k < ni; k++)
            cJSON_Delete(items[k]);
        free(items);
        free(text);
    }
    if (!rc) {
        if (total == 0) {
            rc = runs_buf_puts(b, "<p class=\"na\">no samples recorded on this lineage</p>\n");
        } else {
            rc = runs_buf_printf(b, "<p>%ld samples, %ld under the gate threshold (highlighted)%s.</p>\n", total, low,
                                 shown < total ? "; the newest are shown" : "");
            if (!rc)
                rc = runs_buf_puts(b,
                                   "<table class=\"samples\"><tr><th>run</th><th>step</th><th>prompt</th><th>text</th>"
                                   "<th>coherence</th></tr>\n");
            if (!rc)
                rc = runs_buf_append(b, rows.s, rows.len);
            if (!rc)
                rc = runs_buf_puts(b, "</table>\n");
        }
    }
    runs_buf_free(&rows);
    return rc;
}

static const char *css =
    "body{font-family:sans-serif;margin:2em;color:#222;max-width:1100px}"
    "table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 7px;text-align:left;"
    "vertical-align:top;font-size:13px}th{background:#f3f3f3}.id,.path{font-family:monospace}"
    ".na{color:#999}.small{color:#666;font-size:11px}tr.other{color:#555;background:#fafafa}"
    "tr.halt td{background:#fde8e8}tr.fork td,tr.restart td{background:#eef4fb}tr.low td{background:#fff0d0}"
    "td.text{white-space:pre-wrap;max-width:560px}td.a{color:#a00}td.b{color:#070}"
    ".charts svg{display:block;width:100%;height:auto;margin-bottom:8px}"; /* the page's width (viewBox) */

int runs_report_html(runs_buf *b, runs_store *s, const char *run)
{
    int rc = 0;
    runs_plot_data *d = NULL;
    rnodes ns = {0};
    char(*ids)[41] = NULL;
    size_t n = 0;
    if ((rc = runs_plot_collect(&d, s, run)))
        goto done;
    if ((rc = runs_lineage(&ids, &n, s, d->main.tip)))
        goto done;
    if ((rc = add_lineage(&ns, s, ids, n)))
        goto done;
    for (size_t i = 0; i < d->n_siblings && !rc; i++) {
        free(ids);
        ids = NULL;
        if (!(rc = runs_lineage(&ids, &n, s, d->siblings[i].tip)))
            rc = add_lineage(&ns, s, ids, n);
    }
    if (rc)
        goto done;
    rc = runs_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>runs report: ");
    if (!rc)
        rc = runs_buf_put_escaped(b, run);
    if (!rc)
        rc = runs_buf_printf(b, "</title>\n<style>%s</style></head>\n<body>\n<h1>Run ", css);
    if (!rc)
        rc = runs_buf_put_escaped(b, run);
    if (!rc)
        rc = runs_buf_printf(
            b, "</h1>\n<p>tip <span class=\"id\">%s</span>, %zu steps on this lineage, %zu sibling run%s.</p>\n",
            d->main.tip, d->main.n, d->n_siblings, d->n_siblings == 1 ? "" : "s");
    if (!rc)
        rc = runs_buf_puts(
            b, "<p><a href=\"#charts\">charts</a> · <a href=\"#nodes\">nodes</a> · "
               "<a href=\"#changes\">config changes</a> · <a href=\"#gate\">gate events</a> · "
               "<a href=\"#samples\">sample audit</a></p>\n<h2 id=\"charts\">Charts</h2>\n<div class=\"charts\">\n");
    if (!rc)
        rc = runs_plot_render(b, d, RUNS_PLOT_ALL, 0);
    if (!rc)
        rc = runs_buf_puts(b, "</div>\n");
    if (!rc)
        rc = node_table(b, &ns, run);
    if (!rc)
        rc = changes_section(b, &ns);
    if (!rc)
        rc = gate_section(b, &ns);
    if (!rc)
        rc = samples_section(b, s, &ns);
    if (!rc)
        rc = runs_buf_puts(b, "<p class=\"small\">made by runs " RUNS_VERSION "</p>\n</body></html>\n");
done:
    free(ids);
    rnodes_free(&ns);
    runs_plot_data_free(d);
    return rc;
}
