/* store/pool.h — one small thread pool for the store's parallel loops (hashing
 * objects on put, re-hashing them on verify, reading a group's tensors).
 *
 * Items are handed out in index order, one at a time. The error a pool returns is
 * that of the LOWEST failing index, with the message that item set: every item
 * below a failing one has been taken before it, so it runs to the end, and the
 * answer is the same whatever the thread timing. Items above a failure may be
 * skipped (no worker takes a new item once one has failed).
 */
#ifndef RUNS_STORE_POOL_H
#define RUNS_STORE_POOL_H

#include <stddef.h>

/* One item's work: 0, or a negative RUNS_E* code after runs_error_set on the
 * calling thread (the pool copies that thread's message). Called from several
 * threads at once: anything fn shares through ctx is its own to lock. */
typedef int (*runs_pool_fn)(void *ctx, size_t i);

typedef struct runs_pool runs_pool;

/* Runs fn(ctx, i) once for every i in [0, n_items) on up to n_threads threads,
 * the calling thread one of them (n_threads < 1 counts as 1; with 1, or one item,
 * no thread is started). A thread that cannot be started leaves the work to the
 * others. Returns 0, or the lowest failing item's code with its message. */
int runs_pool_run(size_t n_items, int n_threads, runs_pool_fn fn, void *ctx);

/* The same work in the background, the calling thread free for something else
 * (put_many makes objects durable while the workers hash): starts up to n_threads
 * threads (at least one) and returns at once. *out is the caller's to pass to
 * runs_pool_wait, which frees it. RUNS_ERROR when no thread could be started
 * (*out is then NULL and fn was never called), RUNS_ENOMEM. */
int runs_pool_start(runs_pool **out, size_t n_items, int n_threads, runs_pool_fn fn, void *ctx);

/* Waits for every thread of p, frees p and returns what runs_pool_run would have:
 * 0 or the lowest failing item's code and message. p may be NULL (returns 0). */
int runs_pool_wait(runs_pool *p);

#endif
