/* store/load.c — loading a node's tensors: one group of a manifest read from objects/
 * into the caller's buffer on the thread pool (store/pool.h). */
#define _GNU_SOURCE
#include "store/lineage.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "store/internal.h"
#include "store/object.h"
#include "store/pool.h"

/* ---- loading tensors ---- */

size_t runs_manifest_group_bytes(const cJSON *m, const char *group)
{
    size_t total = 0;
    const cJSON *t;
    cJSON_ArrayForEach (t, cJSON_GetObjectItemCaseSensitive(m, "tensors")) {
        const cJSON *g = cJSON_GetObjectItemCaseSensitive(t, "group");
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(t, "bytes");
        if (cJSON_IsString(g) && !strcmp(g->valuestring, group) && cJSON_IsNumber(b))
            total += (size_t)b->valuedouble;
    }
    return total;
}

struct load_item {
    const char *hex;
    char *dst;
    size_t len;
};

struct load_job {
    runs_store *s;
    struct load_item *items;
    size_t n;
};

static int load_one(void *ctx, size_t k)
{
    struct load_job *j = ctx;
    return runs_object_read_into(j->s, j->items[k].hex, j->items[k].dst, j->items[k].len);
}

int runs_node_load_group(runs_store *s, const cJSON *manifest, const char *group, void *dst, size_t bytes)
{
    struct load_job j;
    memset(&j, 0, sizeof j);
    j.s = s;
    size_t total = runs_manifest_group_bytes(manifest, group), cap = 0, off = 0;
    int rc = 0;
    if (total != bytes)
        return runs_error_set(RUNS_EINVALID, "group '%s' holds %zu bytes in the manifest, %zu were expected", group,
                              total, bytes);
    const cJSON *t;
    cJSON_ArrayForEach (t, cJSON_GetObjectItemCaseSensitive(manifest, "tensors")) {
        const cJSON *g = cJSON_GetObjectItemCaseSensitive(t, "group");
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(t, "bytes");
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(t, "sha256");
        if (!cJSON_IsString(g) || strcmp(g->valuestring, group) != 0)
            continue;
        if (!cJSON_IsNumber(b) || !cJSON_IsString(h)) {
            rc = runs_error_set(RUNS_ECORRUPT, "manifest tensor entry lacks bytes or sha256");
            goto done;
        }
        if (j.n == cap) {
            cap = cap ? cap * 2 : 64;
            struct load_item *nv = realloc(j.items, cap * sizeof *nv);
            if (!nv) {
                rc = runs_error_set(RUNS_ENOMEM, "out of memory loading group %s", group);
                goto done;
            }
            j.items = nv;
        }
        j.items[j.n].hex = h->valuestring;
        j.items[j.n].dst = (char *)dst + off;
        j.items[j.n].len = (size_t)b->valuedouble;
        off += (size_t)b->valuedouble;
        j.n++;
    }
    /* a thinned node's objects are gone on purpose: say so instead of "missing" */
    for (size_t i = 0; i < j.n; i++) {
        if (!runs_object_exists(s, j.items[i].hex)) {
            const cJSON *run = cJSON_GetObjectItemCaseSensitive(manifest, "run");
            const cJSON *step = cJSON_GetObjectItemCaseSensitive(manifest, "step");
            if (cJSON_IsString(run) && cJSON_IsNumber(step) &&
                runs__thinned_find_step(s, run->valuestring, (long long)step->valuedouble))
                rc = runs_error_set(
                    RUNS_ENOTFOUND,
                    "the tensors of %s@step_%.0f were thinned by `runs gc` (retention); restore a kept node",
                    run->valuestring, step->valuedouble);
            else
                rc = runs_error_set(RUNS_ENOTFOUND, "object %s of group %s is missing from the store", j.items[i].hex,
                                    group);
            goto done;
        }
    }
    rc = runs_pool_run(j.n, runs__threads(j.n), load_one, &j);
done:
    free(j.items);
    return rc;
}
