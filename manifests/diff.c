/* manifests/diff.c — leaf-level diff by dotted path. */
#include "manifests/diff.h"
#include "manifests/canon.h"
#include "common/error.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    runs_diff_entry *v;
    size_t n, cap;
    int oom;
} dlist;

static char *join(const char *prefix, const char *key)
{
    size_t a = strlen(prefix), b = strlen(key);
    char *s = malloc(a + b + 2);
    if (!s)
        return NULL;
    if (a) {
        memcpy(s, prefix, a);
        s[a] = '.';
        memcpy(s + a + 1, key, b + 1);
    } else {
        memcpy(s, key, b + 1);
    }
    return s;
}

static void add(dlist *l, const char *path, const cJSON *a, const cJSON *b)
{
    if (l->oom)
        return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        runs_diff_entry *nv = realloc(l->v, cap * sizeof *nv);
        if (!nv) {
            l->oom = 1;
            return;
        }
        l->v = nv;
        l->cap = cap;
    }
    runs_diff_entry *e = &l->v[l->n];
    e->path = strdup(path);
    e->a = a ? cJSON_Duplicate(a, 1) : NULL;
    e->b = b ? cJSON_Duplicate(b, 1) : NULL;
    l->n++; /* counted even when a copy failed, so runs_diff_free releases it */
    if (!e->path || (a && !e->a) || (b && !e->b))
        l->oom = 1;
}

static void walk(dlist *l, const char *path, const cJSON *a, const cJSON *b)
{
    if (l->oom)
        return;
    int ao = a && cJSON_IsObject(a), bo = b && cJSON_IsObject(b);
    /* descend when both are objects, or one is a non-empty object and the other missing */
    int descend = (ao && bo) || (ao && !b && a->child) || (bo && !a && b->child);
    if (!descend) {
        if (!runs_json_equal(a, b))
            add(l, path, a, b);
        return;
    }
    if (a) {
        for (const cJSON *x = a->child; x; x = x->next) {
            char *p = join(path, x->string ? x->string : "");
            if (!p) {
                l->oom = 1;
                return;
            }
            walk(l, p, x, b ? cJSON_GetObjectItemCaseSensitive(b, x->string) : NULL);
            free(p);
        }
    }
    if (b) {
        for (const cJSON *y = b->child; y; y = y->next) {
            if (a && cJSON_GetObjectItemCaseSensitive(a, y->string))
                continue; /* done above */
            char *p = join(path, y->string ? y->string : "");
            if (!p) {
                l->oom = 1;
                return;
            }
            walk(l, p, NULL, y);
            free(p);
        }
    }
}

static int cmp_path(const void *x, const void *y)
{
    return strcmp(((const runs_diff_entry *)x)->path, ((const runs_diff_entry *)y)->path);
}

int runs_json_diff(runs_diff_entry **out, size_t *n, const cJSON *a, const cJSON *b)
{
    dlist l = {0};
    *out = NULL;
    *n = 0;
    walk(&l, "", a, b);
    if (l.oom) {
        runs_diff_free(l.v, l.n);
        return runs_error_set(RUNS_ENOMEM, "diff: out of memory");
    }
    if (l.n > 1)
        qsort(l.v, l.n, sizeof *l.v, cmp_path);
    *out = l.v;
    *n = l.n;
    return 0;
}

void runs_diff_free(runs_diff_entry *d, size_t n)
{
    if (!d)
        return;
    for (size_t i = 0; i < n; i++) {
        free(d[i].path);
        cJSON_Delete(d[i].a);
        cJSON_Delete(d[i].b);
    }
    free(d);
}

cJSON *runs_diff_to_json(const runs_diff_entry *d, size_t n)
{
    cJSON *arr = cJSON_CreateArray();
    if (!arr)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        if (!o)
            goto oom;
        cJSON_AddItemToArray(arr, o);
        cJSON *a = d[i].a ? cJSON_Duplicate(d[i].a, 1) : cJSON_CreateNull();
        cJSON *b = d[i].b ? cJSON_Duplicate(d[i].b, 1) : cJSON_CreateNull();
        if (!cJSON_AddStringToObject(o, "path", d[i].path) || !a || !b) {
            cJSON_Delete(a);
            cJSON_Delete(b);
            goto oom;
        }
        cJSON_AddItemToObject(o, "a", a);
        cJSON_AddItemToObject(o, "b", b);
    }
    return arr;
oom:
    cJSON_Delete(arr);
    runs_error_set(RUNS_ENOMEM, "diff: out of memory");
    return NULL;
}

const char *runs_diff_section(const char *path)
{
    static const char *const sections[] = {"config", "metrics", "data", "bandit", "tensors"};
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++) {
        size_t l = strlen(sections[i]);
        if (!strncmp(path, sections[i], l) && (path[l] == '.' || path[l] == 0))
            return sections[i];
    }
    return "node";
}

/* path is under filter when equal to it or continuing it at a dot: "optimizer"
 * covers "optimizer.lr" but not "optimizer_state". */
static int under(const char *path, const char *filter)
{
    size_t l = strlen(filter);
    while (l && filter[l - 1] == '.') /* "optimizer." reads as "optimizer" */
        l--;
    if (!l)
        return 1;
    return !strncmp(path, filter, l) && (path[l] == '.' || path[l] == 0);
}

int runs_diff_path_matches(const char *path, const char *filter)
{
    /* config keys are what people type (`-- optimizer`), so they also match
     * without their "config." prefix */
    return under(path, filter) || (!strncmp(path, "config.", 7) && under(path + 7, filter));
}

void runs_diff_filter(runs_diff_entry *d, size_t *n, const char *const *filters, size_t nf)
{
    if (!d || nf == 0)
        return;
    size_t kept = 0;
    for (size_t i = 0; i < *n; i++) {
        int keep = 0;
        for (size_t f = 0; f < nf && !keep; f++)
            keep = runs_diff_path_matches(d[i].path, filters[f]);
        if (keep) {
            d[kept++] = d[i];
        } else {
            free(d[i].path);
            cJSON_Delete(d[i].a);
            cJSON_Delete(d[i].b);
        }
    }
    *n = kept;
}
