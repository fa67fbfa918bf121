/* store/ready_heap.h — a binary heap of node indexes, shared by the two node orders
 * (store/node_all.c, store/nodecache_order.c): the nodes whose children are all listed,
 * the one the caller's `before` puts first on top. */
#ifndef RUNS_STORE_READY_HEAP_H
#define RUNS_STORE_READY_HEAP_H

#include <stddef.h>

/* before(ctx, a, b) is 1 when a comes out first; v has room for every index pushed
 * (the caller allocates and frees it). */
typedef struct {
    size_t *v, n;
    int (*before)(const void *ctx, size_t a, size_t b);
    const void *ctx;
} runs__ready_heap;

void runs__ready_push(runs__ready_heap *h, size_t i);
/* The top index; h->n must be > 0. */
size_t runs__ready_pop(runs__ready_heap *h);

#endif
