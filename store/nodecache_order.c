/* store/nodecache_order.c — the order of `runs log --all`: children before parents,
 * then newer commit time, higher step, the order the walk met them (a heap of the
 * nodes whose children are all out); see store/nodecache.h. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "store/nodecache_int.h"
#include "store/ready_heap.h"

/* 1 when node a comes before node b among the ready ones */
static int before(const void *ctx, size_t a, size_t b)
{
    const runs_node_info *v = ctx;
    if (v[a].time != v[b].time)
        return v[a].time > v[b].time;
    double sa = v[a].flags & RUNS_NODE_HAS_STEP ? v[a].step : -1e300;
    double sb = v[b].flags & RUNS_NODE_HAS_STEP ? v[b].step : -1e300;
    if (sa != sb)
        return sa > sb;
    return a < b; /* the order the walk met them */
}

int runs__nc_order(runs_node_info *v, size_t N, const size_t *par)
{
    size_t no = 0, *kids = calloc(N ? N : 1, sizeof *kids);
    runs__ready_heap h = {malloc((N ? N : 1) * sizeof(size_t)), 0, before, v};
    runs_node_info *out = malloc((N ? N : 1) * sizeof *out);
    int rc = 0;
    if (!kids || !h.v || !out) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory ordering %zu nodes", N);
        goto done;
    }
    for (size_t i = 0; i < N; i++)
        if (par[i] < N)
            kids[par[i]]++;
    for (size_t i = 0; i < N; i++)
        if (!kids[i])
            runs__ready_push(&h, i);
    while (h.n) {
        size_t i = runs__ready_pop(&h);
        out[no++] = v[i];
        if (par[i] < N && --kids[par[i]] == 0)
            runs__ready_push(&h, par[i]);
    }
    if (no == N) /* a cycle cannot come out of git: keep the walk's order rather than lose nodes */
        memcpy(v, out, N * sizeof *out);
done:
    free(kids);
    free(h.v);
    free(out);
    return rc;
}
