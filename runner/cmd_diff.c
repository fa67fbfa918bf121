/* runner/cmd_diff.c — `runs diff A B [--json] [--stat] [--all] [-- PATH...]`: what differs
 * between two nodes, in sections (config, metrics, data, bandit, tensors). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "manifests/canon.h"
#include "manifests/diff.h"
#include "runner/cli.h"
#include "runner/cli_store.h"
#include "store/lineage.h"

#define USAGE "runs diff A B [--json] [--stat] [--all] [-- PATH...]"

/* The parts of a manifest worth comparing; tensors as {group: {name: sha256}}. */
static cJSON *view(const cJSON *m)
{
    static const char *keys[] = {"run", "kind", "step", "tokens", "config", "optimizer", "bandit", "data", "metrics"};
    cJSON *v = cJSON_CreateObject();
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(m, keys[i]);
        if (x)
            cJSON_AddItemToObject(v, keys[i], cJSON_Duplicate(x, 1));
    }
    cJSON *ts = cJSON_AddObjectToObject(v, "tensors");
    const cJSON *t;
    cJSON_ArrayForEach (t, cJSON_GetObjectItemCaseSensitive(m, "tensors")) {
        const char *g = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "group"));
        const char *n = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "name"));
        const char *h = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "sha256"));
        if (!g || !n || !h)
            continue;
        cJSON *grp = cJSON_GetObjectItemCaseSensitive(ts, g);
        if (!grp)
            grp = cJSON_AddObjectToObject(ts, g);
        if (!cJSON_GetObjectItemCaseSensitive(grp, n))
            cJSON_AddStringToObject(grp, n, h);
    }
    return v;
}

/* One spelling for a side that lacks the path; a present JSON null prints as null. */
static void print_value(const cJSON *v)
{
    if (!v) {
        fputs("(absent)", stdout);
        return;
    }
    char *t = runs_json_canonical(v);
    fputs(t ? t : "?", stdout);
    free(t);
}

static void print_entry(const runs_diff_entry *e)
{
    printf("  %s: ", e->path);
    print_value(e->a);
    fputs(" -> ", stdout);
    print_value(e->b);
    putchar('\n');
}

/* Lists longer than this are cut (with "… and N more") unless --all; config
 * differences are what a fork is about, so they are never cut. */
#define DIFF_SHOWN 12

static const char *const sections[] = {"config", "metrics", "data", "bandit", "tensors"};
#define NSECTIONS (sizeof sections / sizeof sections[0])

static size_t section_count(const runs_diff_entry *d, size_t nd, const char *sec)
{
    size_t c = 0;
    for (size_t i = 0; i < nd; i++)
        c += !strcmp(runs_diff_section(d[i].path), sec);
    return c;
}

static void print_more(size_t left)
{
    if (left)
        printf("  … and %zu more (--all lists them)\n", left);
}

/* tensors: a changed/total line per group, then the names */
static void print_tensors(const runs_diff_entry *d, size_t nd, const cJSON *va, const cJSON *vb, int all)
{
    const cJSON *ta = cJSON_GetObjectItem(va, "tensors"), *tb = cJSON_GetObjectItem(vb, "tensors");
    const cJSON *g, *groups = cJSON_IsObject(ta) && ta->child ? ta : tb;
    cJSON_ArrayForEach (g, groups) {
        size_t changed = 0, plen = strlen(g->string);
        for (size_t i = 0; i < nd; i++)
            if (!strncmp(d[i].path, "tensors.", 8) && !strncmp(d[i].path + 8, g->string, plen) &&
                d[i].path[8 + plen] == '.')
                changed++;
        if (changed)
            printf("  tensors.%s: %zu of %d changed\n", g->string, changed, cJSON_GetArraySize(g));
    }
    size_t shown = 0, total = 0;
    for (size_t i = 0; i < nd; i++) {
        if (strcmp(runs_diff_section(d[i].path), "tensors"))
            continue;
        total++;
        if (!all && shown == DIFF_SHOWN)
            continue;
        printf("    %s%s\n", d[i].path + 8, !d[i].a ? " (absent in a)" : !d[i].b ? " (absent in b)" : "");
        shown++;
    }
    if (total > shown)
        printf("    … and %zu more (--all lists them)\n", total - shown);
}

int cmd_diff(runs_cli *cli, int argc, char **argv)
{
    int json = 0, stat = 0, all = 0, npos, rc;
    const char *pos[8];
    const runs_opt opts[] = {
        RUNS_FLAG("json", 0, &json, "print an array of {\"path\",\"a\",\"b\"} (a missing side is null)"),
        RUNS_FLAG("stat", 0, &stat, "only count the differences per section"),
        RUNS_FLAG("all", 0, &all, "list every difference (long lists are cut otherwise)"), RUNS_OPT_END};
    if (runs_cli_wants_help(argc, argv)) {
        printf("usage: " USAGE "\n\n"
               "Compare two nodes, in sections: config (by dotted key path, optimizer.lr),\n"
               "metrics, data (loader positions), bandit state and tensors (which changed, by\n"
               "sha256, per group); run, kind, step and tokens come first. A side that lacks a\n"
               "path reads (absent); lists past %d entries end with \"… and N more\" (--all).\n"
               "PATH... after -- keeps only differences under those dotted paths (prefix at\n"
               "dots; config paths also without \"config.\": -- optimizer data.sources).\n"
               "A and B are node names as in `runs show`. Exit status 0 whether or not they differ.\n\n",
               DIFF_SHOWN);
        runs_cli_opts_help(opts, 0);
        return RUNS_EXIT_OK;
    }
    /* PATH... after "--" are filters, not nodes: the option parser sees the rest */
    int dd = argc;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--")) {
            dd = i;
            break;
        }
    const char *const *filters = (const char *const *)argv + dd + 1;
    size_t nfilters = dd < argc ? (size_t)(argc - dd - 1) : 0;
    if ((rc = runs_cli_opts(&npos, pos, 8, "diff", USAGE, opts, dd, argv)))
        return rc;
    if (npos != 2)
        return runs_cli_usage("diff", USAGE, "expected two nodes A and B");
    if (dd < argc && nfilters == 0)
        return runs_cli_usage("diff", USAGE, "expected at least one PATH after --");
    runs_store *s = NULL;
    cJSON *ma = NULL, *mb = NULL, *va = NULL, *vb = NULL;
    runs_diff_entry *d = NULL;
    size_t nd = 0;
    char a[41], b[41];
    rc = runs_cli_open_store(cli, &s);
    if (rc || (rc = runs_node_resolve(a, s, pos[0])) != 0 || (rc = runs_node_resolve(b, s, pos[1])) != 0)
        goto done;
    if ((rc = runs_node_manifest(&ma, s, a)) != 0 || (rc = runs_node_manifest(&mb, s, b)) != 0)
        goto done;
    va = view(ma);
    vb = view(mb);
    if ((rc = runs_json_diff(&d, &nd, va, vb)) != 0)
        goto done;
    runs_diff_filter(d, &nd, filters, nfilters);
    if (json && stat) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "node", (double)section_count(d, nd, "node"));
        for (size_t k = 0; k < NSECTIONS; k++)
            cJSON_AddNumberToObject(o, sections[k], (double)section_count(d, nd, sections[k]));
        rc = runs_cli_print_json(o);
        cJSON_Delete(o);
        goto done;
    }
    if (json) {
        cJSON *arr = runs_diff_to_json(d, nd);
        if (!arr) {
            rc = runs_error_set(RUNS_ENOMEM, "out of memory printing the diff");
            goto done;
        }
        rc = runs_cli_print_json(arr);
        cJSON_Delete(arr);
        goto done;
    }
    printf("a %.12s %s@step_%.0f\nb %.12s %s@step_%.0f\n", a, cJSON_GetStringValue(cJSON_GetObjectItem(ma, "run")),
           cJSON_GetNumberValue(cJSON_GetObjectItem(ma, "step")), b,
           cJSON_GetStringValue(cJSON_GetObjectItem(mb, "run")), cJSON_GetNumberValue(cJSON_GetObjectItem(mb, "step")));
    if (nd == 0) {
        printf(nfilters ? "no differences under the given paths\n" : "no differences\n");
        goto done;
    }
    if (stat) {
        size_t nn = section_count(d, nd, "node");
        if (nn)
            printf("%-8s %zu\n", "node", nn);
        for (size_t k = 0; k < NSECTIONS; k++) {
            size_t c = section_count(d, nd, sections[k]);
            if (c)
                printf("%-8s %zu\n", sections[k], c);
        }
        printf("%-8s %zu\n", "total", nd);
        goto done;
    }
    /* run, kind, step, tokens, optimizer: short, and they say what is compared */
    size_t nnode = section_count(d, nd, "node");
    if (nnode)
        printf("node (%zu)\n", nnode);
    for (size_t i = 0; i < nd; i++)
        if (!strcmp(runs_diff_section(d[i].path), "node"))
            print_entry(&d[i]);
    for (size_t k = 0; k < NSECTIONS; k++) {
        size_t c = section_count(d, nd, sections[k]), shown = 0;
        if (!c)
            continue;
        printf("%s (%zu)\n", sections[k], c);
        if (!strcmp(sections[k], "tensors")) {
            print_tensors(d, nd, va, vb, all);
            continue;
        }
        for (size_t i = 0; i < nd; i++) {
            if (strcmp(runs_diff_section(d[i].path), sections[k]))
                continue;
            if (!all && k > 0 && shown == DIFF_SHOWN)
                break;
            print_entry(&d[i]);
            shown++;
        }
        print_more(c - shown);
    }
done:
    runs_diff_free(d, nd);
    cJSON_Delete(va);
    cJSON_Delete(vb);
    cJSON_Delete(ma);
    cJSON_Delete(mb);
    runs_store_free(s);
    return rc ? runs_cli_fail("diff") : RUNS_EXIT_OK;
}
