/* runner/cmd_show.c — `runs show NODE [--json] [--config] [--tensors]`: one node, read like
 * `git show`: header, what a fork or restart changed, metrics, data, bandit, tensors. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "manifests/canon.h"
#include "runner/cli.h"
#include "runner/cli_store.h"
#include "runner/nodeview.h"
#include "store/gc.h"
#include "store/lineage.h"
#include "store/notes.h"

#define USAGE "runs show NODE [--json] [--config] [--tensors]"

static const cJSON *get(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

/* bytes for people: 1000-based like `runs ls` tokens */
static void human_bytes(char *buf, size_t n, double b)
{
    if (b >= 1e9)
        snprintf(buf, n, "%.1f GB", b / 1e9);
    else if (b >= 1e6)
        snprintf(buf, n, "%.1f MB", b / 1e6);
    else if (b >= 1e3)
        snprintf(buf, n, "%.1f kB", b / 1e3);
    else
        snprintf(buf, n, "%.0f B", b);
}

static char *canon(const cJSON *v)
{
    return v ? runs_json_canonical(v) : strdup("(absent)");
}

/* "RUN@step_N" of a node, for the parent line; "" when its manifest is unreadable */
static void node_label(char *buf, size_t n, runs_store *s, const char *id)
{
    cJSON *m = NULL;
    buf[0] = 0;
    if (runs_node_manifest(&m, s, id) == 0 && cJSON_IsString(get(m, "run")) && cJSON_IsNumber(get(m, "step")))
        snprintf(buf, n, "%s@step_%.0f", get(m, "run")->valuestring, get(m, "step")->valuedouble);
    else
        runs_error_clear();
    cJSON_Delete(m);
}

/* What the fork or restart behind the node changed (runner/nodeview.h), as
 * `runs log` lists it. */
static void print_changes(const cJSON *ch)
{
    const char *kind = cJSON_GetStringValue(get(ch, "kind")), *from = cJSON_GetStringValue(get(ch, "from_run"));
    const char *at = cJSON_GetStringValue(get(ch, "at"));
    const cJSON *kept = get(ch, "bandit_kept"), *peak = get(ch, "peak_lr"), *e;
    printf("\nchanges (%s%s%s%s%s", kind, from ? " from " : "", from ? from : "", at ? " at " : "", at ? at : "");
    if (cJSON_IsBool(kept))
        printf("; bandit %s", cJSON_IsTrue(kept) ? "kept" : "fresh");
    if (cJSON_IsNumber(peak))
        printf("; peak lr %g", peak->valuedouble);
    printf(")\n");
    if (cJSON_IsTrue(get(ch, "config_unreadable")))
        printf("  (the parent's config is unreadable)\n");
    cJSON_ArrayForEach (e, get(ch, "config")) {
        const char *path = cJSON_GetStringValue(get(e, "path"));
        char *a = canon(get(e, "a")), *b = canon(get(e, "b"));
        printf("  %s: %s -> %s\n", path ? path : "?", a ? a : "?", b ? b : "?");
        free(a);
        free(b);
    }
    if (cJSON_GetArraySize(get(ch, "config")) == 0)
        printf("  no config changes\n");
}

static void print_metric(const char *k, const cJSON *v)
{
    if (cJSON_IsNumber(v))
        printf(strstr(k, "loss") ? "  %-12s %.4f\n" : "  %-12s %.4g\n", k, v->valuedouble); /* losses as `runs log` */
    else if (v) {
        char *t = runs_json_canonical(v);
        printf("  %-12s %s\n", k, t ? t : "?");
        free(t);
    }
}

/* the numbers people compare first, then whatever else the node recorded */
static void print_metrics(runs_store *s, const char *id, const cJSON *m)
{
    static const char *const first[] = {"loss", "loss_ema", "val_loss", "coherence"};
    const cJSON *met = get(m, "metrics");
    cJSON *note = NULL;
    printf("\nmetrics\n");
    for (size_t i = 0; i < sizeof first / sizeof first[0]; i++)
        print_metric(first[i], get(met, first[i]));
    if (runs_note_get(&note, s, id) != 0)
        runs_error_clear();
    const cJSON *tr = get(get(note, "sharpness"), "trace");
    if (cJSON_IsNumber(tr) && isfinite(tr->valuedouble))
        printf("  %-12s %.4g (Hessian trace, from the node's note)\n", "sharpness", tr->valuedouble);
    cJSON_Delete(note);
    const cJSON *x;
    cJSON_ArrayForEach (x, met) {
        int listed = 0;
        for (size_t i = 0; i < sizeof first / sizeof first[0]; i++)
            listed |= !strcmp(x->string, first[i]);
        if (!listed)
            print_metric(x->string, x);
    }
    /* held-out evals since the parent (runner/eval.h); metrics.val_loss is the node's */
    const cJSON *ev = get(m, "eval_log");
    if (ev) {
        char *t = runs_json_canonical(ev);
        printf("eval_log     %s\n", t ? t : "?");
        free(t);
    }
}

static void print_bandit(const cJSON *m)
{
    const cJSON *b = get(m, "bandit"), *arms = get(b, "arms");
    if (!cJSON_IsObject(arms) || !arms->child) /* no bandit (imported or synthetic nodes) */
        return;
    const cJSON *cfg = get(m, "config"), *sources = get(get(cfg, "data"), "sources"), *a;
    const char *type = cJSON_GetStringValue(get(b, "type")), *phase = cJSON_GetStringValue(get(b, "phase"));
    const cJSON *pulls = get(b, "total_pulls");
    printf("\nbandit       %s, phase %s, %.0f pulls\n", type ? type : "?", phase ? phase : "?",
           cJSON_IsNumber(pulls) ? pulls->valuedouble : 0.0);
    printf("  %-16s %6s %9s %6s %6s  %s\n", "arm", "pulls", "reward", "cap", "floor", "state");
    cJSON_ArrayForEach (a, arms) {
        const cJSON *src = get(sources, a->string), *cap = get(src, "cap"), *floor_ = get(src, "floor");
        char capb[16] = "-", floorb[16] = "-";
        if (cJSON_IsNumber(cap))
            snprintf(capb, sizeof capb, "%.2f", cap->valuedouble);
        if (cJSON_IsNumber(floor_))
            snprintf(floorb, sizeof floorb, "%.2f", floor_->valuedouble);
        const cJSON *pulls_a = get(a, "pulls"), *value = get(a, "value");
        char rew[32] = "-"; /* no reward before the first pull */
        if (cJSON_IsNumber(pulls_a) && pulls_a->valuedouble > 0 && cJSON_IsNumber(value))
            snprintf(rew, sizeof rew, "%.4f", value->valuedouble);
        printf("  %-16s %6.0f %9s %6s %6s  %s\n", a->string, cJSON_IsNumber(pulls_a) ? pulls_a->valuedouble : 0.0, rew,
               capb, floorb, runs_nodeview_arm_state(cfg, a->string));
    }
    /* a source the config has but the state does not (added by this fork): fresh */
    cJSON_ArrayForEach (a, sources) {
        if (cJSON_GetObjectItemCaseSensitive(arms, a->string))
            continue;
        const cJSON *cap = get(a, "cap"), *floor_ = get(a, "floor");
        printf("  %-16s %6s %9s %6.2f %6.2f  %s\n", a->string, "-", "-", cJSON_IsNumber(cap) ? cap->valuedouble : 1.0,
               cJSON_IsNumber(floor_) ? floor_->valuedouble : 0.0,
               !strcmp(runs_nodeview_arm_state(cfg, a->string), "active") ? "no state yet"
                                                                          : runs_nodeview_arm_state(cfg, a->string));
    }
}

/* per group: count, dtype(s), bytes (runs_nodeview_tensor_groups); --tensors lists every tensor */
static void print_tensors(const cJSON *m, int list)
{
    const cJSON *ts = get(m, "tensors"), *t;
    cJSON *groups = NULL;
    int count = 0;
    double total = 0;
    if (runs_nodeview_tensor_groups(&groups, &count, &total, m) != 0)
        runs_error_clear(); /* out of memory: the totals without the groups */
    char hb[32];
    human_bytes(hb, sizeof hb, total);
    printf("\ntensors      %d, %s%s\n", count, hb, list || !count ? "" : " (--tensors lists them)");
    const cJSON *gr;
    cJSON_ArrayForEach (gr, groups) {
        char dts[64] = "";
        const cJSON *d;
        cJSON_ArrayForEach (d, cJSON_GetObjectItem(gr, "dtypes")) {
            size_t l = strlen(dts);
            snprintf(dts + l, sizeof dts - l, "%s%s", l ? "," : "", d->valuestring);
        }
        human_bytes(hb, sizeof hb, cJSON_GetNumberValue(cJSON_GetObjectItem(gr, "bytes")));
        printf("  %-10s %5.0f  %-6s %10s\n", gr->string, cJSON_GetNumberValue(cJSON_GetObjectItem(gr, "n")),
               dts[0] ? dts : "?", hb);
    }
    cJSON_Delete(groups);
    if (!list)
        return;
    cJSON_ArrayForEach (t, ts) {
        const cJSON *sh = get(t, "shape"), *d;
        char shape[64] = "";
        cJSON_ArrayForEach (d, sh) {
            size_t l = strlen(shape);
            snprintf(shape + l, sizeof shape - l, "%s%.0f", l ? "x" : "", d->valuedouble);
        }
        const char *g = cJSON_GetStringValue(get(t, "group")), *n = cJSON_GetStringValue(get(t, "name"));
        const char *dt = cJSON_GetStringValue(get(t, "dtype")), *h = cJSON_GetStringValue(get(t, "sha256"));
        printf("  %-8s %-32s %-12s %-5s %.12s\n", g ? g : "?", n ? n : "?", shape, dt ? dt : "?", h ? h : "?");
    }
}

/* cJSON_Print indents with tabs and puts a tab after each colon; a raw tab can
 * only be layout (strings escape theirs), so tabs become 2 spaces at the start
 * of a line and one space elsewhere. */
static void print_indented(const cJSON *v)
{
    char *t = cJSON_Print(v);
    if (!t) {
        printf("?\n");
        return;
    }
    int bol = 1;
    for (const char *p = t; *p; p++) {
        if (*p == '\t')
            fputs(bol ? "  " : " ", stdout);
        else {
            putchar(*p);
            bol = *p == '\n';
        }
    }
    putchar('\n');
    free(t);
}

int cmd_show(runs_cli *cli, int argc, char **argv)
{
    int json = 0, config = 0, tensors = 0, npos, rc;
    const char *pos[8];
    const runs_opt opts[] = {RUNS_FLAG("json", 0, &json, "print the manifest exactly as stored (canonical JSON)"),
                             RUNS_FLAG("config", 0, &config, "print the full effective config (JSON, 2-space indent)"),
                             RUNS_FLAG("tensors", 0, &tensors, "list every tensor (group, name, shape, dtype, sha256)"),
                             RUNS_OPT_END};
    if (runs_cli_wants_help(argc, argv)) {
        printf("usage: " USAGE "\n\n"
               "Show one node like `git show`: id, kind, run@step, parent, date, backend and\n"
               "code version; for a fork or restart the config it changed against its parent;\n"
               "metrics (loss, loss EMA, val loss, coherence, sharpness when recorded); the data\n"
               "files it was trained on (path, bytes, SHA-256 prefix); the bandit's arms; the\n"
               "tensors per group (count, dtype, bytes).\n"
               "NODE is step_N (current run), RUN@step_N, a tag, a run (its tip) or a node-id\n"
               "prefix.\n\n");
        runs_cli_opts_help(opts, 0);
        return RUNS_EXIT_OK;
    }
    if ((rc = runs_cli_opts(&npos, pos, 8, "show", USAGE, opts, argc, argv)))
        return rc;
    if (npos != 1)
        return runs_cli_usage("show", USAGE, "expected one NODE");
    if (json + config > 1 || (json && tensors))
        return runs_cli_usage("show", USAGE, "--json prints the whole manifest; use it alone");
    runs_store *s = NULL;
    cJSON *m = NULL, *changes = NULL;
    char *text = NULL, id[41], plabel[256];
    char **tags = NULL;
    size_t ntags = 0;
    rc = runs_cli_open_store(cli, &s);
    if (rc || (rc = runs_node_resolve(id, s, pos[0])) != 0)
        goto done;
    if ((rc = runs_node_manifest_text(&text, NULL, s, id)) != 0)
        goto done;
    if ((rc = runs_node_manifest(&m, s, id)) != 0)
        goto done;
    if (json) {
        fputs(text, stdout);
        goto done;
    }
    if (config) {
        print_indented(get(m, "config"));
        goto done;
    }
    runs_tag_list(&tags, &ntags, s, id);
    const char *run = cJSON_GetStringValue(get(m, "run")), *kind = cJSON_GetStringValue(get(m, "kind"));
    const char *parent = cJSON_GetStringValue(get(m, "parent"));
    const char *created = cJSON_GetStringValue(get(m, "created")), *backend = cJSON_GetStringValue(get(m, "backend"));
    const char *code = cJSON_GetStringValue(get(m, "code_version"));
    printf("node         %s\n", id);
    printf("kind         %s\n", kind ? kind : "?");
    printf("run          %s@step_%.0f", run ? run : "?", cJSON_GetNumberValue(get(m, "step")));
    if (cJSON_IsNumber(get(m, "tokens")))
        printf("  (%.0f tokens)", get(m, "tokens")->valuedouble);
    putchar('\n');
    if (parent) {
        node_label(plabel, sizeof plabel, s, parent);
        printf("parent       %s%s%s%s\n", parent, plabel[0] ? " (" : "", plabel, plabel[0] ? ")" : "");
    }
    if (created)
        printf("date         %s\n", created);
    printf("backend      %s, code %s\n", backend ? backend : "?", code ? code : "?");
    for (size_t i = 0; i < ntags; i++)
        printf("tag          %s\n", tags[i]);
    if (runs_node_thinned(s, id))
        printf("thinned      yes (tensors removed by `runs gc`; manifest and logs kept)\n");
    const char *note = cJSON_GetStringValue(get(m, "note"));
    if (note)
        printf("note         %s\n", note);
    if ((rc = runs_nodeview_changes(&changes, s, m)) != 0)
        goto done;
    if (changes)
        print_changes(changes);
    print_metrics(s, id, m);
    /* the data the node was trained on: enough to tell a changed shard at a glance */
    const cJSON *f;
    if (cJSON_GetArraySize(get(m, "data_files")))
        putchar('\n');
    cJSON_ArrayForEach (f, get(m, "data_files")) {
        printf("data         %s  %.0f bytes  sha256 %.16s\n", cJSON_GetStringValue(get(f, "path")),
               cJSON_GetNumberValue(get(f, "bytes")), cJSON_GetStringValue(get(f, "sha256")));
    }
    print_bandit(m);
    print_tensors(m, tensors);
    printf("\nconfig       `runs show %s --config` prints it in full\n", pos[0]);
done:
    runs_strings_free(tags, ntags);
    cJSON_Delete(changes);
    cJSON_Delete(m);
    free(text);
    runs_store_free(s);
    return rc ? runs_cli_fail("show") : RUNS_EXIT_OK;
}
