/* tests/unit/test_store_names.c — issue 13's store additions: runs_store_suggest (did
 * you mean, in the resolve messages), runs_tag_move (tag -f) and runs_gc_list (the
 * nodes gc thins, named). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "common/error.h"
#include "store/gc.h"
#include "store/names.h"
#include "tests/unit/store_test_util.h"

static void test_suggest(void **state)
{
    scratch x;
    scratch_open(&x);
    char a[41], buf[128];
    assert_int_equal(commit_node(a, x.s, "start", "baseline", 0, NULL, 1), 0);
    assert_int_equal(runs_tag_create(x.s, "best-so-far", a), 0);
    assert_string_equal(runs_store_suggest(buf, sizeof buf, x.s, "baselin"), " (did you mean \"baseline\"?)");
    assert_string_equal(runs_store_suggest(buf, sizeof buf, x.s, "best-sofar"), " (did you mean \"best-so-far\"?)");
    assert_string_equal(runs_store_suggest(buf, sizeof buf, x.s, "zzzzzzzz"), "");
    assert_string_equal(runs_store_suggest(buf, sizeof buf, x.s, "baseline"), ""); /* itself is no typo */
    /* the resolve messages carry it */
    char id[41];
    assert_int_equal(runs_node_resolve(id, x.s, "baselin"), RUNS_ENOTFOUND);
    assert_non_null(strstr(runs_error_message(), "did you mean \"baseline\""));
    assert_int_equal(runs_node_resolve(id, x.s, "baselne@step_0"), RUNS_ENOTFOUND);
    assert_non_null(strstr(runs_error_message(), "no run named 'baselne' (did you mean \"baseline\"?)"));
    scratch_close(&x);
}

static void test_tag_move(void **state)
{
    scratch x;
    scratch_open(&x);
    char a[41], b[41], got[41], old[41];
    assert_int_equal(commit_node(a, x.s, "start", "main", 0, NULL, 1), 0);
    assert_int_equal(commit_node(b, x.s, "checkpoint", "main", 10, a, 2), 0);
    assert_int_equal(runs_tag_move(old, x.s, "best", a), 0); /* a new tag */
    assert_string_equal(old, "");
    assert_int_equal(runs_tag_create(x.s, "best", b), RUNS_EEXISTS);
    assert_int_equal(runs_tag_move(old, x.s, "best", b), 0);
    assert_string_equal(old, a);
    assert_int_equal(runs_node_resolve(got, x.s, "best"), 0);
    assert_string_equal(got, b);
    /* a run's name is not a tag's, moved or not (refs/tags/main/ holds its step tags) */
    assert_int_equal(runs_tag_move(old, x.s, "main", b), RUNS_EEXISTS);
    assert_int_equal(runs_tag_move(old, x.s, "step_3", b), RUNS_EINVALID);
    scratch_close(&x);
}

typedef struct {
    int n;
    long long steps[8];
} thin_seen;

static void on_thin(void *ctx, const char *run, long long step, const char *id)
{
    thin_seen *t = ctx;
    assert_string_equal(run, "main");
    assert_int_equal(strlen(id), 40);
    if (t->n < 8)
        t->steps[t->n] = step;
    t->n++;
}

static void test_gc_list(void **state)
{
    scratch x;
    scratch_open(&x);
    char ids[6][41];
    assert_int_equal(commit_node(ids[0], x.s, "start", "main", 0, NULL, 1), 0);
    for (int i = 1; i < 6; i++)
        assert_int_equal(commit_node(ids[i], x.s, "checkpoint", "main", 10L * i, ids[i - 1], (uint32_t)i + 1), 0);
    runs_gc_options opt = {.dry_run = 1, .keep_last = 2};
    runs_gc_report r;
    thin_seen t = {0};
    assert_int_equal(runs_gc_list(&r, x.s, &opt, on_thin, &t), 0);
    /* step 0 is the start, 40 and 50 the last two: 10, 20, 30 would go, in step order */
    assert_int_equal(t.n, 3);
    assert_int_equal(r.nodes_thinned, 3);
    assert_int_equal(t.steps[0], 10);
    assert_int_equal(t.steps[1], 20);
    assert_int_equal(t.steps[2], 30);
    assert_int_equal(runs_node_thinned(x.s, ids[1]), 0); /* dry: nothing changed */
    opt.dry_run = 0;
    t.n = 0;
    assert_int_equal(runs_gc_list(&r, x.s, &opt, on_thin, &t), 0);
    assert_int_equal(t.n, 3);
    assert_int_equal(runs_node_thinned(x.s, ids[1]), 1);
    t.n = 0;
    assert_int_equal(runs_gc_list(&r, x.s, &opt, on_thin, &t), 0); /* thinned before: not again */
    assert_int_equal(t.n, 0);
    scratch_close(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_suggest), cmocka_unit_test(test_tag_move),
                                       cmocka_unit_test(test_gc_list)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
