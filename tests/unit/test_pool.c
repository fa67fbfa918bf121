/* tests/unit/test_pool.c — store/pool.h: every item runs exactly once, the lowest
 * failing index wins (with its own message) however the threads interleave, no
 * items, more threads than items, one thread (the caller's own), and the
 * background form put_many uses (start, work on the caller's thread, wait). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "store/pool.h"

#define N 2000

struct count {
    int hits[N];
    pthread_t who[N];
    size_t fail_from; /* items at and above it that are multiples of fail_every fail */
    size_t fail_every;
};

static int count_fn(void *ctx, size_t i)
{
    struct count *c = ctx;
    __atomic_add_fetch(&c->hits[i], 1, __ATOMIC_SEQ_CST);
    c->who[i] = pthread_self();
    if (c->fail_every && i >= c->fail_from && i % c->fail_every == 0) {
        /* a higher failing index gets to record its failure first */
        if (i == c->fail_from)
            for (int k = 0; k < 200; k++)
                sched_yield();
        return runs_error_set(i % 2 ? RUNS_EIO : RUNS_ECORRUPT, "item %zu failed", i);
    }
    return 0;
}

static void test_all_items_once(void **state)
{
    (void)state;
    static struct count c;
    memset(&c, 0, sizeof c);
    assert_int_equal(runs_pool_run(N, 8, count_fn, &c), 0);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(c.hits[i], 1);
}

static void test_lowest_failure_wins(void **state)
{
    (void)state;
    static struct count c;
    for (int round = 0; round < 50; round++) {
        memset(&c, 0, sizeof c);
        c.fail_from = 300 + (size_t)round;
        c.fail_every = 1; /* every item from fail_from up fails */
        runs_error_clear();
        int rc = runs_pool_run(N, 16, count_fn, &c);
        char want[64];
        snprintf(want, sizeof want, "item %zu failed", c.fail_from);
        assert_int_equal(rc, c.fail_from % 2 ? RUNS_EIO : RUNS_ECORRUPT);
        assert_string_equal(runs_error_message(), want);
        assert_int_equal(runs_error_code(), rc);
        /* everything below the failure ran, exactly once */
        for (size_t i = 0; i < c.fail_from; i++)
            assert_int_equal(c.hits[i], 1);
        for (size_t i = c.fail_from; i < N; i++)
            assert_true(c.hits[i] <= 1);
    }
}

static void test_no_items(void **state)
{
    (void)state;
    runs_error_clear();
    assert_int_equal(runs_pool_run(0, 8, count_fn, NULL), 0); /* fn never called: ctx NULL is fine */
    runs_pool *p = NULL;
    assert_int_equal(runs_pool_start(&p, 0, 8, count_fn, NULL), 0);
    assert_int_equal(runs_pool_wait(p), 0);
    assert_int_equal(runs_pool_wait(NULL), 0);
}

static void test_more_threads_than_items(void **state)
{
    (void)state;
    static struct count c;
    memset(&c, 0, sizeof c);
    assert_int_equal(runs_pool_run(3, 64, count_fn, &c), 0);
    assert_int_equal(c.hits[0] + c.hits[1] + c.hits[2], 3);
    assert_int_equal(c.hits[3], 0);
    memset(&c, 0, sizeof c);
    c.fail_from = 1;
    c.fail_every = 1;
    assert_int_equal(runs_pool_run(3, 64, count_fn, &c), RUNS_EIO);
    assert_string_equal(runs_error_message(), "item 1 failed");
}

static void test_one_thread_is_the_caller(void **state)
{
    (void)state;
    static struct count c;
    memset(&c, 0, sizeof c);
    assert_int_equal(runs_pool_run(100, 1, count_fn, &c), 0);
    for (size_t i = 0; i < 100; i++) {
        assert_int_equal(c.hits[i], 1);
        assert_true(pthread_equal(c.who[i], pthread_self()));
    }
    /* n_threads < 1 counts as 1; with one thread the first failure stops the rest */
    memset(&c, 0, sizeof c);
    c.fail_from = 10;
    c.fail_every = 5;
    assert_int_equal(runs_pool_run(100, 0, count_fn, &c), RUNS_ECORRUPT);
    assert_string_equal(runs_error_message(), "item 10 failed");
    assert_int_equal(c.hits[11], 0);
}

static void test_background(void **state)
{
    (void)state;
    static struct count c;
    memset(&c, 0, sizeof c);
    c.fail_from = 700;
    c.fail_every = 7;
    runs_pool *p = NULL;
    assert_int_equal(runs_pool_start(&p, N, 8, count_fn, &c), 0);
    assert_non_null(p);
    runs_error_set(RUNS_EINVALID, "the caller's own failure meanwhile");
    int rc = runs_pool_wait(p);
    assert_int_equal(rc, RUNS_ECORRUPT);
    assert_string_equal(runs_error_message(), "item 700 failed");
    for (size_t i = 0; i < 700; i++) {
        assert_int_equal(c.hits[i], 1);
        assert_false(pthread_equal(c.who[i], pthread_self())); /* all on the pool's threads */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_items_once),
        cmocka_unit_test(test_lowest_failure_wins),
        cmocka_unit_test(test_no_items),
        cmocka_unit_test(test_more_threads_than_items),
        cmocka_unit_test(test_one_thread_is_the_caller),
        cmocka_unit_test(test_background),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
