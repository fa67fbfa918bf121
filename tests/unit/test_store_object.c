/* tests/unit/test_store_object.c — objects: round trips, dedup, verification on
 * every read path, put_many, modes, init/open errors, name checks, locks, and the
 * order of a commit's durable steps (objects, then manifest, then refs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <pthread.h>
#include <sys/stat.h>

#include "store/publish.h"

#include "tests/unit/store_test_util.h"

static void test_init_twice_and_open_missing(void **state)
{
    scratch x;
    scratch_open(&x);
    assert_int_equal(runs_store_init(x.dir), RUNS_EEXISTS);
    runs_store *s = NULL;
    assert_int_equal(runs_store_open(&s, "/nonexistent/runs-store"), RUNS_ENOTFOUND);
    assert_null(s);
    assert_non_null(strstr(runs_error_message(), "runs init"));
    scratch_close(&x);
}

static void test_put_get_roundtrip(void **state)
{
    scratch x;
    scratch_open(&x);
    const char *msg = "hello, objects";
    runs_oid o;
    assert_int_equal(runs_object_put(&o, x.s, msg, strlen(msg)), 0);
    /* SHA-256("hello, objects") computed independently */
    runs_oid want;
    assert_int_equal(runs_sha256_hex(&want, msg, strlen(msg)), 0);
    assert_string_equal(o.hex, want.hex);
    assert_true(runs_object_exists(x.s, o.hex));
    void *data = NULL;
    size_t len = 0;
    assert_int_equal(runs_object_get(&data, &len, x.s, o.hex), 0);
    assert_int_equal(len, strlen(msg));
    assert_memory_equal(data, msg, len);
    free(data);
    /* known vector: sha256("") */
    runs_oid e;
    assert_int_equal(runs_object_put(&e, x.s, "", 0), 0);
    assert_string_equal(e.hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_int_equal(runs_object_get(&data, &len, x.s, e.hex), 0);
    assert_int_equal(len, 0);
    free(data);
    /* read-only once written */
    char p[512];
    struct stat st;
    snprintf(p, sizeof p, "%s/objects/%.2s/%s", x.dir, o.hex, o.hex + 2);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0444);
    scratch_close(&x);
}

static void test_dedup(void **state)
{
    scratch x;
    scratch_open(&x);
    float a[256];
    fill(a, 256, 7);
    runs_put items[3] = {{a, sizeof a, {{0}}, 0}, {a, sizeof a, {{0}}, 0}, {a, 128, {{0}}, 0}};
    runs_oid o;
    assert_int_equal(runs_object_put(&o, x.s, a, sizeof a), 0);
    assert_int_equal(runs_object_put_many(x.s, items, 3, NULL), 0);
    assert_string_equal(items[0].oid.hex, o.hex);
    assert_string_equal(items[1].oid.hex, o.hex);
    assert_int_equal(items[0].written, 0);
    assert_int_equal(items[1].written, 0);
    assert_int_equal(items[2].written, 1);
    /* a damaged copy under the right name is not taken as dedup: put repairs it */
    flip_byte(x.s, o.hex, 10);
    assert_int_equal(runs_object_verify(x.s, o.hex), RUNS_ECORRUPT);
    assert_int_equal(runs_object_put(&o, x.s, a, sizeof a), 0);
    assert_int_equal(runs_object_verify(x.s, o.hex), 0);
    scratch_close(&x);
}

static void test_flipped_byte_caught_everywhere(void **state)
{
    scratch x;
    scratch_open(&x);
    size_t n = (3u << 20) / 4 + 17; /* spans several read chunks */
    float *a = malloc(n * 4), *b = malloc(n * 4);
    fill(a, n, 3);
    runs_oid o;
    assert_int_equal(runs_object_put(&o, x.s, a, n * 4), 0);
    assert_int_equal(runs_object_verify(x.s, o.hex), 0);
    flip_byte(x.s, o.hex, (long)(n * 4 - 3));
    assert_int_equal(runs_object_verify(x.s, o.hex), RUNS_ECORRUPT);
    assert_non_null(strstr(runs_error_message(), o.hex));
    void *d = NULL;
    size_t len = 0;
    assert_int_equal(runs_object_get(&d, &len, x.s, o.hex), RUNS_ECORRUPT);
    assert_null(d);
    assert_int_equal(runs_object_read_into(x.s, o.hex, b, n * 4), RUNS_ECORRUPT);
    char out[600];
    snprintf(out, sizeof out, "%s/copy.bin", x.dir);
    assert_int_equal(runs_object_copy_to_file(x.s, o.hex, out), RUNS_ECORRUPT);
    assert_int_equal(access(out, F_OK), -1); /* nothing left at path */
    free(a);
    free(b);
    scratch_close(&x);
}

static void test_read_into_and_copy(void **state)
{
    scratch x;
    scratch_open(&x);
    float a[1000], b[1000];
    fill(a, 1000, 9);
    runs_oid o;
    assert_int_equal(runs_object_put(&o, x.s, a, sizeof a), 0);
    assert_int_equal(runs_object_read_into(x.s, o.hex, b, sizeof b), 0);
    assert_memory_equal(a, b, sizeof a);
    assert_int_equal(runs_object_read_into(x.s, o.hex, b, sizeof b - 4), RUNS_EINVALID);
    char out[600];
    snprintf(out, sizeof out, "%s/copy.bin", x.dir);
    assert_int_equal(runs_object_copy_to_file(x.s, o.hex, out), 0);
    FILE *f = fopen(out, "rb");
    assert_non_null(f);
    memset(b, 0, sizeof b);
    assert_int_equal(fread(b, 1, sizeof b, f), sizeof b);
    fclose(f);
    assert_memory_equal(a, b, sizeof a);
    /* bad and missing names */
    assert_int_equal(runs_object_verify(x.s, "abc"), RUNS_EINVALID);
    char missing[65];
    memset(missing, 'a', 64);
    missing[64] = '\0';
    assert_int_equal(runs_object_verify(x.s, missing), RUNS_ENOTFOUND);
    assert_false(runs_object_exists(x.s, missing));
    scratch_close(&x);
}

static void test_put_many_matches_single(void **state)
{
    scratch x;
    scratch_open(&x);
    /* more objects than put_many keeps in flight (64), and sizes from 4 bytes up */
    enum { N = 150 };
    runs_put items[N];
    float *bufs[N];
    for (int i = 0; i < N; i++) {
        size_t n = 1 + (size_t)i * 397;
        bufs[i] = malloc(n * 4);
        fill(bufs[i], n, (uint32_t)i + 100);
        items[i] = (runs_put){bufs[i], n * 4, {{0}}, 0};
    }
    runs_progress pr;
    runs_progress_start(&pr, "test", 0, 1);
    assert_int_equal(runs_object_put_many(x.s, items, N, &pr), 0);
    runs_progress_end(&pr);
    uint64_t total = 0;
    for (int i = 0; i < N; i++) {
        runs_oid o;
        assert_int_equal(runs_sha256_hex(&o, bufs[i], items[i].len), 0);
        assert_string_equal(o.hex, items[i].oid.hex);
        assert_int_equal(items[i].written, 1);
        assert_int_equal(runs_object_verify(x.s, o.hex), 0);
        total += items[i].len;
        free(bufs[i]);
    }
    assert_int_equal(pr.done, total);
    /* nothing left behind: every temp file was renamed into place */
    char objects[4200];
    snprintf(objects, sizeof objects, "%s/objects", x.dir);
    DIR *d = opendir(objects);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        assert_true(strncmp(e->d_name, ".tmp-", 5) != 0);
    closedir(d);
    scratch_close(&x);
}

static void test_names(void **state)
{
    assert_int_equal(runs_name_check("main", "run"), 0);
    assert_int_equal(runs_name_check("polish-v2.1_a", "run"), 0);
    assert_int_equal(runs_name_check("", "run"), RUNS_EINVALID);
    assert_int_equal(runs_name_check(".hidden", "run"), RUNS_EINVALID);
    assert_int_equal(runs_name_check("a/b", "run"), RUNS_EINVALID);
    assert_int_equal(runs_name_check("a b", "run"), RUNS_EINVALID);
    assert_int_equal(runs_name_check("a@b", "run"), RUNS_EINVALID);
    assert_int_equal(runs_name_check("x..y", "run"), RUNS_EINVALID);
    assert_int_equal(runs_name_check("x.lock", "run"), RUNS_EINVALID);
    assert_int_equal(runs_name_check("step_12", "run"), RUNS_EINVALID);
    assert_int_equal(runs_name_check("step_x", "run"), 0);
    char longname[70];
    memset(longname, 'a', 64);
    longname[64] = '\0';
    assert_int_equal(runs_name_check(longname, "run"), RUNS_EINVALID);
    longname[63] = '\0';
    assert_int_equal(runs_name_check(longname, "run"), 0);
}

static void test_gc_lock_excludes_writers(void **state)
{
    scratch x;
    scratch_open(&x);
    runs_oid o;
    /* x.s becomes a writer; a second handle's gc must refuse */
    assert_int_equal(runs_object_put(&o, x.s, "abc", 3), 0);
    runs_store *s2 = NULL;
    assert_int_equal(runs_store_open(&s2, x.dir), 0);
    runs_gc_options opt = {0};
    runs_gc_report r;
    assert_int_equal(runs_gc(&r, s2, &opt), RUNS_ELOCKED);
    opt.dry_run = 1; /* a dry run only reads */
    assert_int_equal(runs_gc(&r, s2, &opt), 0);
    runs_store_free(x.s);
    x.s = NULL;
    opt.dry_run = 0;
    assert_int_equal(runs_gc(&r, s2, &opt), 0);
    assert_int_equal(r.orphans, 1);
    /* and while gc holds it nobody writes: simulated with our own exclusive flock */
    runs_store_free(s2);
    assert_int_equal(runs_store_open(&x.s, x.dir), 0);
    scratch_close(&x);
}

static void test_stale_ref_lock_is_broken(void **state)
{
    scratch x;
    scratch_open(&x);
    /* a writer killed while holding the refs lock leaves the file behind, unflock()ed */
    char p[512];
    snprintf(p, sizeof p, "%s/locks/refs.lock", x.dir);
    FILE *f = fopen(p, "w");
    fputs("999999\n", f);
    fclose(f);
    char id[41];
    assert_int_equal(commit_node(id, x.s, "start", "main", 0, NULL, 1), 0);
    assert_int_equal(access(p, F_OK), -1);
    scratch_close(&x);
}

/* ---- the durability order, seen through publish.h's hook ---- */

typedef struct {
    runs_durable_step step;
    char path[600];
    int loose; /* lineage.git's loose objects (blob, tree, commit) when the step completed */
} step_rec;

typedef struct {
    pthread_mutex_t mu;
    char git_objects[400];
    step_rec e[512];
    int n;
} step_log;

/* Files in lineage.git/objects/??/: what libgit2 has written of the manifest commit. */
static int count_loose(const char *objects)
{
    int n = 0;
    DIR *d = opendir(objects);
    if (!d)
        return -1;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strlen(e->d_name) != 2)
            continue;
        char sub[700];
        snprintf(sub, sizeof sub, "%s/%s", objects, e->d_name);
        DIR *s = opendir(sub);
        for (struct dirent *f; s && (f = readdir(s)) != NULL;)
            n += f->d_name[0] != '.';
        if (s)
            closedir(s);
    }
    closedir(d);
    return n;
}

/* The hook: called from put_many's threads too, hence the lock. */
static void record_step(void *ctx, runs_durable_step step, const char *path)
{
    step_log *l = ctx;
    pthread_mutex_lock(&l->mu);
    if (l->n < (int)(sizeof l->e / sizeof l->e[0])) {
        l->e[l->n].step = step;
        snprintf(l->e[l->n].path, sizeof l->e[l->n].path, "%s", path);
        l->e[l->n].loose = count_loose(l->git_objects);
        l->n++;
    }
    pthread_mutex_unlock(&l->mu);
}

/* Index of the first step of kind `step` at or after `from` whose path is `path`
 * (prefix: path is a prefix of the recorded one), or -1. */
static int find_step(const step_log *l, int from, runs_durable_step step, const char *path, int prefix)
{
    for (int i = from; i < l->n; i++)
        if (l->e[i].step == step &&
            (prefix ? strncmp(l->e[i].path, path, strlen(path)) == 0 : strcmp(l->e[i].path, path) == 0))
            return i;
    return -1;
}

static void test_commit_durability_order(void **state)
{
    scratch x;
    scratch_open(&x);
    step_log *l = calloc(1, sizeof *l);
    assert_non_null(l);
    pthread_mutex_init(&l->mu, NULL);
    snprintf(l->git_objects, sizeof l->git_objects, "%s/lineage.git/objects", x.dir);
    int loose0 = count_loose(l->git_objects);
    assert_true(loose0 >= 0);

    runs_tensor t[6];
    float buf[3 * 96];
    make_tensors(t, buf, 7);
    cJSON *m = make_manifest("start", "main", 0, NULL);
    char id[41];
    runs_publish_set_hook(record_step, l);
    int rc = runs_node_commit(id, x.s, m, t, 6);
    runs_publish_set_hook(NULL, NULL);
    cJSON_Delete(m);
    assert_int_equal(rc, 0);

    /* each object: bytes durable, then named, then its directory durable
     * (invariants 1 and 2), and no part of the manifest commit written yet */
    int last_object_step = -1;
    for (int k = 0; k < 6; k++) {
        runs_oid o;
        char obj[600], dir[600];
        assert_int_equal(runs_sha256_hex(&o, t[k].data, t[k].bytes), 0);
        snprintf(obj, sizeof obj, "%s/objects/%.2s/%s", x.dir, o.hex, o.hex + 2);
        snprintf(dir, sizeof dir, "%s/objects/%.2s", x.dir, o.hex);
        int f = find_step(l, 0, RUNS_STEP_FSYNC, obj, 0);
        int r = find_step(l, 0, RUNS_STEP_RENAME, obj, 0);
        assert_true(f >= 0);
        assert_true(r > f);
        int d = find_step(l, r + 1, RUNS_STEP_FSYNC_DIR, dir, 0);
        assert_true(d > r);
        if (d > last_object_step)
            last_object_step = d;
    }
    for (int i = 0; i <= last_object_step; i++)
        assert_int_equal(l->e[i].loose, loose0);

    /* the refs come last: the first ref step finds the manifest's blob, tree and
     * commit on disk already (libgit2 fsyncs them), and every object durable */
    char refs[400];
    snprintf(refs, sizeof refs, "%s/lineage.git/refs/", x.dir);
    int first_ref = find_step(l, 0, RUNS_STEP_FSYNC, refs, 1);
    assert_true(first_ref > last_object_step);
    assert_true(l->e[first_ref].loose >= loose0 + 3);
    char head[400];
    snprintf(head, sizeof head, "%s/lineage.git/refs/heads/main", x.dir);
    int hf = find_step(l, 0, RUNS_STEP_FSYNC, head, 0), hr = find_step(l, 0, RUNS_STEP_RENAME, head, 0);
    assert_true(hf >= first_ref);
    assert_true(hr > hf);
    pthread_mutex_destroy(&l->mu);
    free(l);
    scratch_close(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_twice_and_open_missing),
        cmocka_unit_test(test_put_get_roundtrip),
        cmocka_unit_test(test_dedup),
        cmocka_unit_test(test_flipped_byte_caught_everywhere),
        cmocka_unit_test(test_read_into_and_copy),
        cmocka_unit_test(test_put_many_matches_single),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_gc_lock_excludes_writers),
        cmocka_unit_test(test_stale_ref_lock_is_broken),
        cmocka_unit_test(test_commit_durability_order),
    };
    return cmocka_run_group_tests_name("store_object", tests, NULL, NULL);
}
