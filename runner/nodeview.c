/* runner/nodeview.c — a node as `runs show` presents it; see runner/nodeview.h. */
#include "runner/nodeview.h"

#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "manifests/diff.h"
#include "store/lineage.h"

static const cJSON *get(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

int runs_nodeview_open(char id[41], cJSON **m, runs_store *s, const char *spec)
{
    *m = NULL;
    int rc = runs_node_resolve(id, s, spec);
    if (!rc)
        rc = runs_node_manifest(m, s, id);
    return rc;
}

static int is_branch_kind(const char *kind)
{
    return kind && (!strcmp(kind, "fork") || !strcmp(kind, "restart"));
}

/* Adds {"path", "a", "b"} to list, each side only where present (copies). */
static int add_change(cJSON *list, const char *path, const cJSON *a, const cJSON *b)
{
    cJSON *e = cJSON_CreateObject();
    if (!e || !cJSON_AddItemToArray(list, e) || (path && !cJSON_AddStringToObject(e, "path", path)) ||
        (a && !cJSON_AddItemToObject(e, "a", cJSON_Duplicate(a, 1))) ||
        (b && !cJSON_AddItemToObject(e, "b", cJSON_Duplicate(b, 1))))
        return runs_error_set(RUNS_ENOMEM, "out of memory listing a node's changes");
    return 0;
}

/* The config list of branch node m into list: recorded, or computed against the
 * parent's config; *unreadable when neither can be had. */
static int config_changes(cJSON *list, int *unreadable, runs_store *s, const cJSON *m)
{
    const cJSON *cfg = get(get(m, "changes"), "config"), *e;
    runs_diff_entry *d = NULL;
    size_t nd = 0;
    cJSON *pm = NULL;
    int rc = 0;
    *unreadable = 0;
    if (cJSON_IsArray(cfg)) {
        cJSON_ArrayForEach (e, cfg)
            if ((rc = add_change(list, cJSON_GetStringValue(get(e, "path")), get(e, "a"), get(e, "b"))))
                goto done;
        goto done;
    }
    const char *parent = cJSON_GetStringValue(get(m, "parent"));
    if (!parent || runs_node_manifest(&pm, s, parent) != 0 ||
        runs_json_diff(&d, &nd, get(pm, "config"), get(m, "config")) != 0) {
        runs_error_clear(); /* an unreadable parent is shown as such, not an error of `runs show` */
        *unreadable = 1;
        nd = 0;
        goto done;
    }
    for (size_t i = 0; i < nd; i++)
        if ((rc = add_change(list, d[i].path, d[i].a, d[i].b)))
            goto done;
done:
    runs_diff_free(d, nd);
    cJSON_Delete(pm);
    return rc;
}

/* The changes object of branch node m; at: "" for m itself, else its RUN@step_N. */
static int branch_changes(cJSON **out, runs_store *s, const cJSON *m, const char *at)
{
    const cJSON *ch = get(m, "changes");
    const char *from = cJSON_GetStringValue(get(ch, "from_run"));
    const cJSON *kept = get(ch, "bandit_kept"), *peak = get(ch, "peak_lr");
    cJSON *o = cJSON_CreateObject(), *list = NULL;
    int unreadable = 0, rc = 0;
    if (!o || !cJSON_AddStringToObject(o, "kind", cJSON_GetStringValue(get(m, "kind"))) ||
        (from && !cJSON_AddStringToObject(o, "from_run", from)) || (at[0] && !cJSON_AddStringToObject(o, "at", at)) ||
        (cJSON_IsBool(kept) && !cJSON_AddBoolToObject(o, "bandit_kept", cJSON_IsTrue(kept))) ||
        (cJSON_IsNumber(peak) && !cJSON_AddNumberToObject(o, "peak_lr", peak->valuedouble)) ||
        !(list = cJSON_AddArrayToObject(o, "config"))) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory listing a node's changes");
        goto done;
    }
    if ((rc = config_changes(list, &unreadable, s, m)))
        goto done;
    if (unreadable && !cJSON_AddTrueToObject(o, "config_unreadable")) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory listing a node's changes");
        goto done;
    }
    *out = o;
    o = NULL;
done:
    cJSON_Delete(o);
    return rc;
}

int runs_nodeview_changes(cJSON **out, runs_store *s, const cJSON *m)
{
    *out = NULL;
    if (is_branch_kind(cJSON_GetStringValue(get(m, "kind"))))
        return branch_changes(out, s, m, "");
    const char *run = cJSON_GetStringValue(get(m, "run"));
    const char *parent = cJSON_GetStringValue(get(m, "parent"));
    cJSON *cur = NULL, *next = NULL;
    char at[256];
    int rc = 0;
    /* checkpoints only link to their own run's previous node; the bound keeps a
     * damaged lineage from looping */
    for (int hops = 0; run && parent && hops < 100000; hops++) {
        if (runs_node_manifest(&next, s, parent) != 0) {
            runs_error_clear();
            break;
        }
        cJSON_Delete(cur);
        cur = next;
        next = NULL;
        const char *r = cJSON_GetStringValue(get(cur, "run"));
        if (!r || strcmp(r, run))
            break;
        if (is_branch_kind(cJSON_GetStringValue(get(cur, "kind")))) {
            snprintf(at, sizeof at, "%s@step_%.0f", r, cJSON_GetNumberValue(get(cur, "step")));
            rc = branch_changes(out, s, cur, at);
            break;
        }
        parent = cJSON_GetStringValue(get(cur, "parent"));
    }
    cJSON_Delete(cur);
    return rc;
}

const char *runs_nodeview_arm_state(const cJSON *config, const char *arm)
{
    const cJSON *data = get(config, "data"), *src = get(get(data, "sources"), arm), *x;
    if (!src)
        return "dropped (not in config)";
    cJSON_ArrayForEach (x, get(data, "exclude"))
        if (cJSON_IsString(x) && !strcmp(x->valuestring, arm))
            return "excluded";
    const cJSON *cap = get(src, "cap");
    if (cJSON_IsNumber(cap) && cap->valuedouble <= 0)
        return "off (cap 0)";
    return "active";
}

/* Adds one tensor of dtype dt (NULL: unknown) and bytes to group g of groups. */
static int add_to_group(cJSON *groups, const char *g, const char *dt, double bytes)
{
    cJSON *gr = cJSON_GetObjectItemCaseSensitive(groups, g), *dts;
    if (!gr && (!(gr = cJSON_AddObjectToObject(groups, g)) || !cJSON_AddNumberToObject(gr, "n", 0) ||
                !cJSON_AddNumberToObject(gr, "bytes", 0) || !cJSON_AddArrayToObject(gr, "dtypes")))
        return runs_error_set(RUNS_ENOMEM, "out of memory summing a node's tensors");
    cJSON_SetNumberValue(cJSON_GetObjectItem(gr, "n"), cJSON_GetNumberValue(cJSON_GetObjectItem(gr, "n")) + 1);
    cJSON_SetNumberValue(cJSON_GetObjectItem(gr, "bytes"),
                         cJSON_GetNumberValue(cJSON_GetObjectItem(gr, "bytes")) + bytes);
    dts = cJSON_GetObjectItem(gr, "dtypes");
    const cJSON *d;
    cJSON_ArrayForEach (d, dts)
        if (dt && !strcmp(d->valuestring, dt))
            return 0;
    if (dt && !cJSON_AddItemToArray(dts, cJSON_CreateString(dt)))
        return runs_error_set(RUNS_ENOMEM, "out of memory summing a node's tensors");
    return 0;
}

int runs_nodeview_tensor_groups(cJSON **out, int *count, double *bytes, const cJSON *m)
{
    cJSON *groups = cJSON_CreateObject();
    const cJSON *t;
    int rc = 0;
    *out = NULL;
    *count = 0;
    *bytes = 0;
    if (!groups)
        return runs_error_set(RUNS_ENOMEM, "out of memory summing a node's tensors");
    cJSON_ArrayForEach (t, get(m, "tensors")) {
        const char *g = cJSON_GetStringValue(get(t, "group")), *dt = cJSON_GetStringValue(get(t, "dtype"));
        double b = cJSON_GetNumberValue(get(t, "bytes"));
        if (b != b) /* no number: NaN */
            b = 0;
        (*count)++;
        *bytes += b;
        if (g && (rc = add_to_group(groups, g, dt, b)))
            goto done;
    }
    *out = groups;
    groups = NULL;
done:
    cJSON_Delete(groups);
    return rc;
}
