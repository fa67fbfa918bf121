/* tests/unit/test_packrefs.c — per-step tags packed into lineage.git/packed-refs
 * (store/packrefs.c, invariant 11): every reader still finds them, a loose file wins,
 * a crash between the rename and the removals changes nothing, a damaged file is
 * reported and never rewritten. */
#include <fcntl.h>
#include <setjmp.h>
#include <time.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "common/file.h"
#include "store/internal.h"
#include "store/nodecache.h"
#include "store_test_util.h"

typedef struct {
    scratch x;
    char a[5][41], b[2][41];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    scratch_open(&f->x);
    for (int i = 0; i < 5; i++)
        assert_int_equal(commit_node(f->a[i], f->x.s, i ? "checkpoint" : "start", "a", i * 10, i ? f->a[i - 1] : NULL,
                                     (uint32_t)i + 1),
                         0);
    assert_int_equal(commit_node(f->b[0], f->x.s, "fork", "b", 20, f->a[2], 40), 0);
    assert_int_equal(commit_node(f->b[1], f->x.s, "checkpoint", "b", 30, f->b[0], 41), 0);
    assert_int_equal(runs_tag_create(f->x.s, "best", f->a[3]), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    scratch_close(&f->x);
    free(f);
    return 0;
}

static void path(char *buf, size_t n, fixture *f, const char *rel)
{
    snprintf(buf, n, "%s/lineage.git/%s", f->x.dir, rel);
}

static int exists(fixture *f, const char *rel)
{
    char p[512];
    struct stat st;
    path(p, sizeof p, f, rel);
    return stat(p, &st) == 0;
}

static int problems(fixture *f)
{
    runs_ref_state *v = NULL;
    size_t n = 0;
    int bad = 0;
    assert_int_equal(runs__refs_check(&v, &n, f->x.s, 1), 0);
    for (size_t i = 0; i < n; i++)
        if (v[i].problem[0]) {
            fprintf(stderr, "problem: %s\n", v[i].problem);
            bad++;
        }
    free(v);
    return bad;
}

/* the listing as ids in order, with each node's user tags */
static char *listing(fixture *f)
{
    runs_nodes n = {0};
    assert_int_equal(runs_nodecache_all(&n, f->x.s), 0);
    char *out = calloc(n.n + n.ntags + 1, 64);
    for (size_t i = 0; i < n.n; i++)
        strcat(strcat(out, n.v[i].id), "\n");
    for (size_t i = 0; i < n.ntags; i++)
        strcat(strcat(out, n.tags[i].name), "\n");
    runs_nodecache_free(&n);
    return out;
}

static void write_file(fixture *f, const char *rel, const char *text)
{
    char p[512];
    path(p, sizeof p, f, rel);
    FILE *fp = fopen(p, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void test_pack_moves_step_tags_only(void **state)
{
    fixture *f = *state;
    char *before = listing(f), id[41];
    size_t packed = 0;
    assert_true(exists(f, "refs/tags/a/step_30"));
    assert_int_equal(runs_refs_pack(&packed, f->x.s, "a"), 0);
    assert_int_equal(packed, 5);
    assert_false(exists(f, "refs/tags/a/step_30"));
    assert_true(exists(f, "refs/tags/a")); /* the run's tag directory stays: no tag may take its name */
    assert_true(exists(f, "refs/tags/b/step_30"));
    assert_true(exists(f, "refs/tags/best"));
    assert_true(exists(f, "refs/heads/a"));
    /* every reader: resolve (libgit2), the listing (node cache), the ref checks */
    assert_int_equal(runs_node_resolve(id, f->x.s, "a@step_30"), 0);
    assert_string_equal(id, f->a[3]);
    char *after = listing(f);
    assert_string_equal(before, after);
    assert_int_equal(problems(f), 0);
    /* the rest; nothing left to move the second time */
    assert_int_equal(runs_refs_pack(&packed, f->x.s, NULL), 0);
    assert_int_equal(packed, 2);
    assert_int_equal(runs_refs_pack(&packed, f->x.s, NULL), 0);
    assert_int_equal(packed, 0);
    runs__packed_ref *v = NULL;
    size_t n = 0;
    assert_int_equal(runs__packed_refs_load(&v, &n, f->x.s), 0);
    assert_int_equal(n, 7);
    for (size_t i = 1; i < n; i++)
        assert_true(strcmp(v[i - 1].name, v[i].name) < 0);
    runs__packed_refs_free(v, n);
    free(before);
    free(after);
    free(listing(f));
    assert_int_equal(problems(f), 0);
}

/* A per-step tag written again after packing (a rewound run re-committing a step):
 * the loose file wins, and the journal's old value is the packed one. */
static void test_loose_wins_and_journal_sees_packed(void **state)
{
    fixture *f = *state;
    size_t packed;
    char id[41], line[512] = "", last[512] = "", content[48], p[512];
    assert_int_equal(runs_refs_pack(&packed, f->x.s, NULL), 0);
    snprintf(content, sizeof content, "%s\n", f->b[1]);
    assert_int_equal(runs__ref_write_file(f->x.s, "refs/tags/a/step_30", content), 0);
    assert_int_equal(runs_node_resolve(id, f->x.s, "a@step_30"), 0);
    assert_string_equal(id, f->b[1]);
    path(p, sizeof p, f, "runs-reflog");
    FILE *fp = fopen(p, "r");
    assert_non_null(fp);
    while (fgets(line, sizeof line, fp))
        memcpy(last, line, sizeof line);
    fclose(fp);
    assert_memory_equal(last, f->a[3], 40); /* <old>: what packed-refs held */
    assert_memory_equal(last + 41, f->b[1], 40);
    assert_int_equal(problems(f), 0);
    /* packing again takes the loose value */
    assert_int_equal(runs_refs_pack(&packed, f->x.s, "a"), 0);
    assert_int_equal(packed, 1);
    assert_false(exists(f, "refs/tags/a/step_30"));
    assert_int_equal(runs_node_resolve(id, f->x.s, "a@step_30"), 0);
    assert_string_equal(id, f->b[1]);
}

/* A crash after packed-refs was renamed into place but before the loose files went:
 * both copies, the same value. Nothing is reported; packing again finishes the job. */
static void test_crash_between_rename_and_removal(void **state)
{
    fixture *f = *state;
    size_t packed;
    char content[48], *before = listing(f);
    assert_int_equal(runs_refs_pack(&packed, f->x.s, "a"), 0);
    for (int i = 0; i < 5; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "refs/tags/a/step_%d", i * 10);
        snprintf(content, sizeof content, "%s\n", f->a[i]);
        write_file(f, rel, content);
    }
    assert_int_equal(problems(f), 0);
    char *mid = listing(f);
    assert_string_equal(before, mid);
    assert_int_equal(runs_refs_pack(&packed, f->x.s, "a"), 0);
    assert_int_equal(packed, 5);
    assert_false(exists(f, "refs/tags/a/step_0"));
    char *after = listing(f);
    assert_string_equal(before, after);
    free(before);
    free(mid);
    free(after);
}

/* A damaged packed-refs: named by the checks, the listing fails closed, and packing
 * refuses to rewrite it (the loose tags stay where they are). */
static void test_damaged_packed_refs_is_reported_not_rewritten(void **state)
{
    fixture *f = *state;
    size_t packed = 99;
    char p[512], *text = NULL, *again = NULL;
    assert_int_equal(runs_refs_pack(&packed, f->x.s, "a"), 0);
    path(p, sizeof p, f, "packed-refs");
    FILE *fp = fopen(p, "a");
    assert_non_null(fp);
    fputs("not a ref line\n", fp);
    fclose(fp);
    assert_int_equal(runs_file_read(&text, NULL, p), 0);
    runs_ref_state *v = NULL;
    size_t n = 0, named = 0;
    assert_int_equal(runs__refs_check(&v, &n, f->x.s, 1), 0);
    for (size_t i = 0; i < n; i++)
        if (strstr(v[i].problem, "packed-refs line 7: damaged")) {
            named++;
            assert_false(v[i].damaged); /* not put back from the journal: there is no such ref */
        }
    free(v);
    assert_int_equal(named, 1);
    runs_nodes nodes = {0};
    assert_int_equal(runs_nodecache_all(&nodes, f->x.s), RUNS_ECORRUPT);
    runs_nodecache_free(&nodes);
    assert_int_equal(runs_refs_pack(&packed, f->x.s, "b"), RUNS_ECORRUPT);
    assert_int_equal(packed, 0);
    assert_true(exists(f, "refs/tags/b/step_30"));
    assert_int_equal(runs_file_read(&again, NULL, p), 0);
    assert_string_equal(text, again);
    free(text);
    free(again);
}

/* runs__packed_ref_lookup (each commit's journal line asks it): every packed ref found
 * by binary search in a sorted file, near misses not found, and the same answers from
 * a file without the sorted trait (read line by line). */
static void test_lookup_sorted_and_unsorted(void **state)
{
    fixture *f = *state;
    size_t packed, n = 0;
    char hex[41], p[512];
    runs__packed_ref *v = NULL;
    assert_int_equal(runs_refs_pack(&packed, f->x.s, NULL), 0);
    assert_int_equal(runs__packed_refs_load(&v, &n, f->x.s), 0);
    assert_int_equal(n, 7);
    static const char *absent[] = {"refs/tags/a/step_5", "refs/tags/a/step_", "refs/tags/a/step_400",
                                   "refs/heads/a", "refs/tags/zzz", "refs/tags/a/step_0x"};
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(runs__packed_ref_lookup(hex, f->x.s, v[i].name), 0);
            assert_string_equal(hex, v[i].hex);
        }
        for (size_t i = 0; i < sizeof absent / sizeof *absent; i++)
            assert_int_equal(runs__packed_ref_lookup(hex, f->x.s, absent[i]), RUNS_ENOTFOUND);
        /* pass 2: the lines reversed, no traits line */
        path(p, sizeof p, f, "packed-refs");
        FILE *fp = fopen(p, "w");
        assert_non_null(fp);
        for (size_t i = n; i-- > 0;)
            fprintf(fp, "%s %s\n", v[i].hex, v[i].name);
        fclose(fp);
    }
    runs__packed_refs_free(v, n);
}

static int warnings;
static void count_warning(void *ctx, const char *msg)
{
    (void)ctx;
    if (strstr(msg, "removed stale lock") && strstr(msg, "packed-refs.lock"))
        warnings++;
}

/* packed-refs.lock: a fresh one (another program at work) refuses and moves nothing; one
 * a crash left long ago is removed, said through the warning callback, and packing goes on. */
static void test_stale_lock_is_cleared_fresh_one_refuses(void **state)
{
    fixture *f = *state;
    size_t packed = 99;
    char p[512];
    path(p, sizeof p, f, "packed-refs.lock");
    write_file(f, "packed-refs.lock", "");
    assert_int_equal(runs_refs_pack(&packed, f->x.s, "a"), RUNS_ELOCKED);
    assert_int_equal(packed, 0);
    assert_true(exists(f, "refs/tags/a/step_30"));
    assert_true(exists(f, "packed-refs.lock"));
    struct timespec old[2] = {{.tv_sec = time(NULL) - 120}, {.tv_sec = time(NULL) - 120}};
    assert_int_equal(utimensat(AT_FDCWD, p, old, 0), 0);
    warnings = 0;
    runs_store_set_warning(count_warning, NULL);
    assert_int_equal(runs_refs_pack(&packed, f->x.s, "a"), 0);
    runs_store_set_warning(NULL, NULL);
    assert_int_equal(packed, 5);
    assert_int_equal(warnings, 1);
    assert_false(exists(f, "packed-refs.lock"));
    assert_false(exists(f, "refs/tags/a/step_30"));
    assert_int_equal(problems(f), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pack_moves_step_tags_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loose_wins_and_journal_sees_packed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_between_rename_and_removal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_packed_refs_is_reported_not_rewritten, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lookup_sorted_and_unsorted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_lock_is_cleared_fresh_one_refuses, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
