/* store/ready_heap.c — see store/ready_heap.h. */
#include "store/ready_heap.h"

void runs__ready_push(runs__ready_heap *h, size_t i)
{
    size_t k = h->n++;
    while (k > 0 && h->before(h->ctx, i, h->v[(k - 1) / 2])) {
        h->v[k] = h->v[(k - 1) / 2];
        k = (k - 1) / 2;
    }
    h->v[k] = i;
}

size_t runs__ready_pop(runs__ready_heap *h)
{
    size_t top = h->v[0], last = h->v[--h->n], k = 0;
    for (;;) {
        size_t c = 2 * k + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->before(h->ctx, h->v[c + 1], h->v[c]))
            c++;
        if (!h->before(h->ctx, h->v[c], last))
            break;
        h->v[k] = h->v[c];
        k = c;
    }
    if (h->n)
        h->v[k] = last;
    return top;
}
