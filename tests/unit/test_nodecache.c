/* tests/unit/test_nodecache.c — store/nodecache.h: the listing equals the lineage's with
 * and without the cache (and in the same order), the cache is extended with new nodes
 * and pruned of unreachable ones, a damaged or truncated file is ignored and rewritten,
 * a record whose commit file changed is not used, verify's check catches a record that
 * lies under a valid checksum and rebuild mends it; the lineage walk; changes text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "store/nodecache.h"
#include "store/nodecache_int.h"
#include "store_test_util.h"

typedef struct {
    scratch x;
    char a[3][41], b[2][41];
    char cache[512];
} fx;

static void commit(char id[41], runs_store *s, cJSON *m)
{
    int rc = runs_node_commit(id, s, m, NULL, 0);
    if (rc)
        fprintf(stderr, "commit: %s\n", runs_error_message());
    assert_int_equal(rc, 0);
    cJSON_Delete(m);
}

/* run a: a0 <- a1 <- a2; run b forks at a1: b0 (a fork with 4 config changes) <- b1 */
static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    unsetenv("RUNS_NO_NODECACHE");
    scratch_open(&f->x);
    snprintf(f->cache, sizeof f->cache, "%s/cache/nodes", f->x.dir);
    commit(f->a[0], f->x.s, make_manifest("start", "a", 0, NULL));
    commit(f->a[1], f->x.s, make_manifest("checkpoint", "a", 10, f->a[0]));
    commit(f->a[2], f->x.s, make_manifest("checkpoint", "a", 20, f->a[1]));
    cJSON *m = make_manifest("fork", "b", 10, f->a[1]);
    cJSON *cfg = cJSON_AddArrayToObject(cJSON_AddObjectToObject(m, "changes"), "config");
    const char *paths[] = {"optimizer.lr", "train.seed", "gate.threshold", "bandit.pull_min"};
    for (int i = 0; i < 4; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "path", paths[i]);
        cJSON_AddNumberToObject(e, "a", i);
        cJSON_AddNumberToObject(e, "b", i + 0.5);
        cJSON_AddItemToArray(cfg, e);
    }
    cJSON_DeleteItemFromObject(cJSON_GetObjectItem(m, "metrics"), "loss"); /* a node without a loss */
    commit(f->b[0], f->x.s, m);
    commit(f->b[1], f->x.s, make_manifest("checkpoint", "b", 20, f->b[0]));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    unsetenv("RUNS_NO_NODECACHE");
    scratch_close(&f->x);
    free(f);
    return 0;
}

static void same_listing(const runs_nodes *x, const runs_nodes *y)
{
    assert_int_equal(x->n, y->n);
    for (size_t i = 0; i < x->n; i++) {
        const char *field = NULL;
        if (!runs__nc_same(&x->v[i], &y->v[i], &field))
            fail_msg("node %zu (%s) differs in %s", i, x->v[i].id, field);
        assert_int_equal(x->v[i].flags, y->v[i].flags);
    }
    assert_int_equal(x->ntags, y->ntags);
}

static size_t cached_records(const char *path)
{
    nc_file f;
    assert_int_equal(runs__nc_load(&f, path), 0);
    size_t n = f.n;
    runs__nc_free(&f);
    return n;
}

static void test_cached_equals_lineage(void **state)
{
    fx *f = *state;
    runs_nodes cold, warm, bypass;
    assert_int_equal(access(f->cache, F_OK), -1);
    assert_int_equal(runs_nodecache_all(&cold, f->x.s), 0);
    assert_int_equal(cold.n, 5);
    assert_int_equal(cached_records(f->cache), 5);
    /* children before parents */
    for (size_t i = 0; i < cold.n; i++)
        for (size_t k = 0; k < i; k++)
            assert_string_not_equal(cold.v[k].id, cold.v[i].parent);
    const runs_node_info *b0 = runs_nodecache_find(&cold, f->b[0]);
    assert_non_null(b0);
    assert_string_equal(b0->run, "b");
    assert_string_equal(b0->kind, "fork");
    assert_string_equal(b0->parent, f->a[1]);
    assert_true((b0->flags & RUNS_NODE_HAS_STEP) && b0->step == 10);
    assert_false(b0->flags & RUNS_NODE_HAS_LOSS);
    assert_int_equal(b0->n_changes, 4);
    assert_string_equal(b0->changes, "  changed: optimizer.lr 0->0.5, train.seed 1->1.5, gate.threshold 2->2.5 "
                                     "(+1 more; runs show)");
    const runs_node_info *a2 = runs_nodecache_find(&cold, f->a[2]);
    assert_true((a2->flags & RUNS_NODE_HAS_LOSS) && a2->loss == 5.0 - 20 * 0.001);
    assert_string_equal(a2->changes, "");

    assert_int_equal(runs_nodecache_all(&warm, f->x.s), 0);
    same_listing(&cold, &warm);
    setenv("RUNS_NO_NODECACHE", "1", 1);
    assert_int_equal(runs_nodecache_all(&bypass, f->x.s), 0);
    unsetenv("RUNS_NO_NODECACHE");
    same_listing(&cold, &bypass);
    runs_nodecache_free(&cold);
    runs_nodecache_free(&warm);
    runs_nodecache_free(&bypass);
}

static void test_extended_and_pruned(void **state)
{
    fx *f = *state;
    runs_nodes n;
    char c[41];
    assert_int_equal(runs_nodecache_all(&n, f->x.s), 0);
    runs_nodecache_free(&n);
    assert_int_equal(cached_records(f->cache), 5);
    commit(c, f->x.s, make_manifest("checkpoint", "a", 30, f->a[2]));
    assert_int_equal(runs_nodecache_all(&n, f->x.s), 0);
    assert_int_equal(n.n, 6);
    assert_non_null(runs_nodecache_find(&n, c));
    runs_nodecache_free(&n);
    assert_int_equal(cached_records(f->cache), 6);
    /* run b's refs go (as when a ref is deleted): its nodes are not listed although the
     * cache still holds them, and the rewrite drops them */
    char p[700];
    snprintf(p, sizeof p, "rm -rf '%s/lineage.git/refs/heads/b' '%s/lineage.git/refs/tags/b'", f->x.dir, f->x.dir);
    assert_int_equal(system(p), 0);
    assert_int_equal(runs_nodecache_all(&n, f->x.s), 0);
    assert_int_equal(n.n, 4);
    assert_null(runs_nodecache_find(&n, f->b[0]));
    assert_null(runs_nodecache_find(&n, f->b[1]));
    runs_nodecache_free(&n);
    assert_int_equal(cached_records(f->cache), 4);
}

static void test_damaged_file_ignored(void **state)
{
    fx *f = *state;
    runs_nodes good, n;
    assert_int_equal(runs_nodecache_all(&good, f->x.s), 0);
    /* one byte flipped in the middle, then the file cut short */
    for (int round = 0; round < 2; round++) {
        FILE *fp = fopen(f->cache, "r+b");
        assert_non_null(fp);
        if (round == 0) {
            fseek(fp, 100, SEEK_SET);
            int ch = fgetc(fp);
            fseek(fp, 100, SEEK_SET);
            fputc(ch ^ 0x40, fp);
            fclose(fp);
        } else {
            fclose(fp);
            assert_int_equal(truncate(f->cache, 77), 0);
        }
        nc_file bad;
        assert_int_equal(runs__nc_load(&bad, f->cache), RUNS_ECORRUPT);
        size_t nbad = 0;
        char msg[512];
        assert_int_equal(runs_nodecache_check(&nbad, msg, sizeof msg, f->x.s, NULL, 0), 0);
        assert_int_equal(nbad, 1);
        assert_non_null(strstr(msg, "cache/nodes"));
        assert_int_equal(runs_nodecache_all(&n, f->x.s), 0);
        same_listing(&good, &n);
        runs_nodecache_free(&n);
        assert_int_equal(cached_records(f->cache), 5); /* rewritten whole */
    }
    runs_nodecache_free(&good);
}

static void test_lying_record(void **state)
{
    fx *f = *state;
    runs_nodes n;
    char ids[5][41], msg[512];
    size_t bad = 9;
    assert_int_equal(runs_nodecache_all(&n, f->x.s), 0);
    for (size_t i = 0; i < n.n; i++)
        memcpy(ids[i], n.v[i].id, 41);
    assert_int_equal(runs_nodecache_check(&bad, msg, sizeof msg, f->x.s, (const char(*)[41])ids, 5), 0);
    assert_int_equal(bad, 0);
    /* a record that lies under a valid checksum: only verify can tell */
    runs_node_info *a2 = (runs_node_info *)runs_nodecache_find(&n, f->a[2]);
    a2->loss += 1;
    assert_int_equal(runs__nc_write(f->cache, n.v, n.n), 0);
    assert_int_equal(runs_nodecache_check(&bad, msg, sizeof msg, f->x.s, (const char(*)[41])ids, 5), 0);
    assert_int_equal(bad, 1);
    char want[16];
    snprintf(want, sizeof want, "%.12s", f->a[2]);
    assert_non_null(strstr(msg, want));
    assert_non_null(strstr(msg, "loss"));
    /* ids the caller did not reach are never used, so never checked */
    assert_int_equal(runs_nodecache_check(&bad, msg, sizeof msg, f->x.s, (const char(*)[41])ids, 0), 0);
    assert_int_equal(bad, 0);
    assert_int_equal(runs_nodecache_rebuild(f->x.s), 0);
    assert_int_equal(runs_nodecache_check(&bad, msg, sizeof msg, f->x.s, (const char(*)[41])ids, 5), 0);
    assert_int_equal(bad, 0);
    runs_nodecache_free(&n);
}

static void test_changed_commit_file_not_trusted(void **state)
{
    fx *f = *state;
    runs_nodes n;
    char p[700];
    assert_int_equal(runs_nodecache_all(&n, f->x.s), 0);
    runs_nodecache_free(&n);
    /* a2's commit file damaged after the cache recorded it: the listing reads the
     * commit again and fails, as it would without a cache */
    snprintf(p, sizeof p, "%s/lineage.git/objects/%.2s/%s", f->x.dir, f->a[2], f->a[2] + 2);
    assert_int_equal(chmod(p, 0644), 0);
    FILE *fp = fopen(p, "r+b");
    assert_non_null(fp);
    fseek(fp, 20, SEEK_SET);
    int ch = fgetc(fp);
    fseek(fp, 20, SEEK_SET);
    fputc(ch ^ 0x11, fp);
    fclose(fp);
    runs_store_free(f->x.s); /* libgit2 keeps objects it read: a fresh handle, as a new command has */
    assert_int_equal(runs_store_open(&f->x.s, f->x.dir), 0);
    assert_int_not_equal(runs_nodecache_all(&n, f->x.s), 0);
    runs_nodecache_free(&n);
}

static void test_lineage_walk(void **state)
{
    fx *f = *state;
    runs_nodes n;
    assert_int_equal(runs_nodecache_lineage(&n, f->x.s, f->b[1]), 0);
    assert_int_equal(n.n, 4);
    assert_string_equal(n.v[0].id, f->b[1]);
    assert_string_equal(n.v[1].id, f->b[0]);
    assert_string_equal(n.v[2].id, f->a[1]);
    assert_string_equal(n.v[3].id, f->a[0]);
    assert_string_equal(n.v[3].parent, "");
    runs_nodecache_free(&n);
    assert_int_equal(cached_records(f->cache), 4); /* learned, nothing pruned */
    assert_int_equal(runs_nodecache_lineage(&n, f->x.s, "0123456789012345678901234567890123456789"), RUNS_ENOTFOUND);
    runs_nodecache_free(&n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cached_equals_lineage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_extended_and_pruned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_file_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lying_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changed_commit_file_not_trusted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lineage_walk, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
