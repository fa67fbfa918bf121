/* runner/cmd_diff.c — `runs diff A B [--json]`: what differs between two nodes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "manifests/canon.h"
#include "manifests/diff.h"
#include "runner/cli.h"
#include "runner/cli_store.h"
#include "store/lineage.h"

#define USAGE "runs diff A B [--json]"

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
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(m, "tensors"))
    {
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

static void print_value(const cJSON *v)
{
    if (!v) {
        fputs("(none)", stdout);
        return;
    }
    char *t = runs_json_canonical(v);
    fputs(t ? t : "?", stdout);
    free(t);
}

int cmd_diff(runs_cli *cli, int argc, char **argv)
{
    int json = 0, npos, rc;
    const char *pos[8];
    const runs_opt opts[] = {
        RUNS_FLAG("json", 0, &json, "print an array of {\"path\",\"a\",\"b\"} (a missing side is null)"),
        RUNS_OPT_END};
    if (runs_cli_wants_help(argc, argv)) {
        printf("usage: " USAGE "\n\n"
               "Compare two nodes: config by dotted key path (optimizer.lr), run, kind, step,\n"
               "tokens, optimizer, bandit and data state, metrics, and which tensors changed\n"
               "(tensors.GROUP.NAME, by sha256). A and B are node names as in `runs show`.\n"
               "Exit status 0 whether or not they differ.\n\n");
        runs_cli_opts_help(opts, 0);
        return RUNS_EXIT_OK;
    }
    if ((rc = runs_cli_opts(&npos, pos, 8, "diff", USAGE, opts, argc, argv)))
        return rc;
    if (npos != 2)
        return runs_cli_usage("diff", USAGE, "expected two nodes A and B");
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
        printf("no differences\n");
        goto done;
    }
    /* tensors are summarised per group; everything else is printed in full */
    size_t changed[3] = {0}, total[3] = {0};
    static const char *groups[] = {"weights", "adam_m", "adam_v"};
    for (size_t i = 0; i < nd; i++) {
        if (!strncmp(d[i].path, "tensors.", 8)) {
            for (int g = 0; g < 3; g++)
                if (!strncmp(d[i].path + 8, groups[g], strlen(groups[g])) && d[i].path[8 + strlen(groups[g])] == '.')
                    changed[g]++;
            continue;
        }
        printf("%s: ", d[i].path);
        print_value(d[i].a);
        fputs(" -> ", stdout);
        print_value(d[i].b);
        putchar('\n');
    }
    for (int g = 0; g < 3; g++) {
        const cJSON *ga = cJSON_GetObjectItem(cJSON_GetObjectItem(va, "tensors"), groups[g]);
        total[g] = (size_t)cJSON_GetArraySize(ga);
        if (changed[g])
            printf("tensors.%s: %zu of %zu changed\n", groups[g], changed[g], total[g]);
    }
    for (size_t i = 0, shown = 0; i < nd && shown < 12; i++)
        if (!strncmp(d[i].path, "tensors.", 8)) {
            printf("  %s%s\n", d[i].path + 8, !d[i].a ? " (only in b)" : !d[i].b ? " (only in a)" : "");
            shown++;
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
