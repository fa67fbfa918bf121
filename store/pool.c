/* store/pool.c — the store's one thread pool; see store/pool.h. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/error.h"
#include "store/pool.h"

struct runs_pool {
    runs_pool_fn fn;
    void *ctx;
    size_t n, next; /* next: the first index no worker has taken */
    pthread_mutex_t mu;
    int failed;         /* once set, no worker takes a new item */
    size_t fail_i;      /* the lowest failing index so far */
    int rc;             /* its code */
    char msg[1024];     /* and its message */
    pthread_t *threads; /* the started ones, th_n of them */
    int th_n;
};

static void *pool_worker(void *arg)
{
    runs_pool *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        /* items are taken in order, so once one failed every lower index is taken
         * already and runs to its end: stopping here cannot change the answer */
        size_t i = !p->failed && p->next < p->n ? p->next++ : (size_t)-1;
        pthread_mutex_unlock(&p->mu);
        if (i == (size_t)-1)
            break;
        int rc = p->fn(p->ctx, i);
        if (rc == 0)
            continue;
        pthread_mutex_lock(&p->mu);
        if (!p->failed || i < p->fail_i) {
            p->failed = 1;
            p->fail_i = i;
            p->rc = rc;
            snprintf(p->msg, sizeof p->msg, "%s", runs_error_message());
        }
        pthread_mutex_unlock(&p->mu);
    }
    return NULL;
}

/* Fills p and starts up to want threads; returns how many started. */
static int pool_init(runs_pool *p, size_t n_items, int want, runs_pool_fn fn, void *ctx)
{
    p->fn = fn;
    p->ctx = ctx;
    p->n = n_items;
    pthread_mutex_init(&p->mu, NULL);
    if (want <= 0 || !(p->threads = malloc((size_t)want * sizeof *p->threads)))
        return 0;
    while (p->th_n < want && pthread_create(&p->threads[p->th_n], NULL, pool_worker, p) == 0)
        p->th_n++;
    return p->th_n;
}

/* Joins p's threads and turns its outcome into the caller's return and message. */
static int pool_finish(runs_pool *p)
{
    for (int k = 0; k < p->th_n; k++)
        pthread_join(p->threads[k], NULL);
    free(p->threads);
    pthread_mutex_destroy(&p->mu);
    if (!p->failed)
        return 0;
    return runs_error_set(p->rc, "%s", p->msg);
}

/* The number of threads worth having: at least 1, at most one per item. */
static int pool_threads(size_t n_items, int n_threads)
{
    if (n_threads < 1)
        n_threads = 1;
    if ((size_t)n_threads > n_items)
        n_threads = (int)n_items;
    return n_threads;
}

int runs_pool_run(size_t n_items, int n_threads, runs_pool_fn fn, void *ctx)
{
    if (n_items == 0)
        return 0;
    runs_pool p = {0};
    /* the caller is a worker too: a pool that could start no thread still runs */
    pool_init(&p, n_items, pool_threads(n_items, n_threads) - 1, fn, ctx);
    pool_worker(&p);
    return pool_finish(&p);
}

int runs_pool_start(runs_pool **out, size_t n_items, int n_threads, runs_pool_fn fn, void *ctx)
{
    *out = NULL;
    runs_pool *p = calloc(1, sizeof *p);
    if (!p)
        return runs_error_set(RUNS_ENOMEM, "out of memory starting a thread pool of %zu items", n_items);
    int want = pool_threads(n_items, n_threads); /* 0 for no items: nothing to start */
    if (pool_init(p, n_items, want, fn, ctx) == 0 && want > 0) {
        pool_finish(p);
        free(p);
        return runs_error_set(RUNS_ERROR,
                              "could not start a thread for %zu items (out of threads or memory); "
                              "retry with fewer processes running",
                              n_items);
    }
    *out = p;
    return 0;
}

int runs_pool_wait(runs_pool *p)
{
    if (!p)
        return 0;
    int rc = pool_finish(p);
    free(p);
    return rc;
}
