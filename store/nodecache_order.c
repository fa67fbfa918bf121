/* store/nodecache_order.c — the order of `runs log --all`: children before parents,
 * then newer commit time, higher step, the order the walk met them (a heap of the
 * nodes whose children are all out); see store/nodecache.h. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "store/nodecache_int.h"

typedef struct {
    const runs_node_info *v;
    size_t *heap, n;
} order_heap;

/* 1 when node a comes before node b among the ready ones */
static int before(const runs_node_info *v, size_t a, size_t b)
{
    if (v[a].time != v[b].time)
        return v[a].time > v[b].time;
    double sa = v[a].flags & RUNS_NODE_HAS_STEP ? v[a].step : -1e300;
    double sb = v[b].flags & RUNS_NODE_HAS_STEP ? v[b].step : -1e300;
    if (sa != sb)
        return sa > sb;
    return a < b; /* the order the walk met them */
}

static void heap_push(order_heap *h, size_t i)
{
    size_t k = h->n++;
    while (k > 0 && before(h->v, i, h->heap[(k - 1) / 2])) {
        h->heap[k] = h->heap[(k - 1) / 2];
        k = (k - 1) / 2;
    }
    h->heap[k] = i;
}

static size_t heap_pop(order_heap *h)
{
    size_t top = h->heap[0], last = h->heap[--h->n], k = 0;
    for (;;) {
        size_t c = 2 * k + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && before(h->v, h->heap[c + 1], h->heap[c]))
            c++;
        if (!before(h->v, h->heap[c], last))
            break;
        h->heap[k] = h->heap[c];
        k = c;
    }
    if (h->n)
        h->heap[k] = last;
    return top;
}

int runs__nc_order(runs_node_info *v, size_t N, const size_t *par)
{
    size_t no = 0, *kids = calloc(N ? N : 1, sizeof *kids);
    order_heap h = {v, malloc((N ? N : 1) * sizeof(size_t)), 0};
    runs_node_info *out = malloc((N ? N : 1) * sizeof *out);
    int rc = 0;
    if (!kids || !h.heap || !out) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory ordering %zu nodes", N);
        goto done;
    }
    for (size_t i = 0; i < N; i++)
        if (par[i] < N)
            kids[par[i]]++;
    for (size_t i = 0; i < N; i++)
        if (!kids[i])
            heap_push(&h, i);
    while (h.n) {
        size_t i = heap_pop(&h);
        out[no++] = v[i];
        if (par[i] < N && --kids[par[i]] == 0)
            heap_push(&h, par[i]);
    }
    if (no == N) /* a cycle cannot come out of git: keep the walk's order rather than lose nodes */
        memcpy(v, out, N * sizeof *out);
done:
    free(kids);
    free(h.heap);
    free(out);
    return rc;
}
