/* tests/unit/test_store_put_stats.c — put_many's phase record (store/put_stats.h), which
 * bench_store prints: it counts this call's objects, the fsyncs of the objects it wrote
 * (none for the ones already stored) and the directories it made durable, and its marks
 * are in the order the work happens. No timing is asserted beyond that order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "store/put_stats.h"

#include "tests/unit/store_test_util.h"

static void test_put_stats_count_this_call(void **state)
{
    scratch x;
    scratch_open(&x);
    enum { N = 5 };
    char bufs[N][64];
    runs_put items[N];
    unsigned char dirs[256] = {0};
    size_t ndirs = 0;
    for (int i = 0; i < N; i++) {
        snprintf(bufs[i], sizeof bufs[i], "object number %d of the stats test", i);
        items[i] = (runs_put){bufs[i], strlen(bufs[i]), {{0}}, 0};
    }
    assert_int_equal(runs_object_put_many(x.s, items, N, NULL), 0);
    for (int i = 0; i < N; i++) {
        unsigned d = 0;
        sscanf(items[i].oid.hex, "%2x", &d);
        ndirs += !dirs[d];
        dirs[d] = 1;
    }
    runs__put_stats st;
    runs__put_stats_get(&st);
    assert_int_equal(st.objects, N);
    assert_int_equal(st.fsyncs, N);
    assert_int_equal(st.dirs, ndirs);
    assert_true(st.written > 0 && st.written <= st.synced && st.synced <= st.wall);
    assert_true(st.hash_s >= 0 && st.write_s >= 0 && st.fsync_s > 0 && st.dir_s > 0);

    /* again with two new objects and the five stored ones: the record is this call's,
     * and the stored ones cost no fsync (their directories are made durable all the
     * same: a concurrent writer may have named them without doing so yet) */
    runs_put again[N + 2];
    char extra[2][32] = {"a new object", "another new object"};
    for (int i = 0; i < N; i++)
        again[i] = (runs_put){bufs[i], strlen(bufs[i]), {{0}}, 0};
    for (int i = 0; i < 2; i++)
        again[N + i] = (runs_put){extra[i], strlen(extra[i]), {{0}}, 0};
    assert_int_equal(runs_object_put_many(x.s, again, N + 2, NULL), 0);
    memset(dirs, 0, sizeof dirs);
    ndirs = 0;
    for (int i = 0; i < N + 2; i++) {
        unsigned d = 0;
        sscanf(again[i].oid.hex, "%2x", &d);
        ndirs += !dirs[d];
        dirs[d] = 1;
    }
    runs__put_stats_get(&st);
    assert_int_equal(st.objects, N + 2);
    assert_int_equal(st.fsyncs, 2);
    assert_int_equal(st.dirs, ndirs);
    scratch_close(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_stats_count_this_call),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
