/* tests/unit/test_store_lineage.c — nodes: commit, resolve, lineage, refs, tags,
 * HEAD, group loading, fork reuse of objects. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/time.h>

#include "store/internal.h"
#include "tests/unit/store_test_util.h"

static void test_commit_and_read_back(void **state)
{
    scratch x;
    scratch_open(&x);
    char id[41];
    runs_tensor t[6];
    float buf[3 * 96];
    make_tensors(t, buf, 1);
    cJSON *m = make_manifest("start", "main", 0, NULL);
    assert_int_equal(runs_node_commit(id, x.s, m, t, 6), 0);
    assert_int_equal(strlen(id), 40);
    /* tensors added to the caller's manifest, in order */
    cJSON *ts = cJSON_GetObjectItem(m, "tensors");
    assert_int_equal(cJSON_GetArraySize(ts), 6);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(ts, 2), "group")->valuestring, "adam_m");
    cJSON *back = NULL;
    assert_int_equal(runs_node_manifest(&back, x.s, id), 0);
    assert_string_equal(cJSON_GetObjectItem(back, "run")->valuestring, "main");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(back, "tensors")), 6);
    /* canonical: the stored text is sorted and compact */
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(runs_node_manifest_text(&text, &len, x.s, id), 0);
    assert_true(strncmp(text, "{\"backend\":", 11) == 0);
    assert_int_equal(text[len - 1], '\n');
    free(text);
    /* load groups back exactly */
    float w[96], mm[96];
    assert_int_equal(runs_manifest_group_bytes(back, "weights"), sizeof w);
    assert_int_equal(runs_node_load_group(x.s, back, "weights", w, sizeof w), 0);
    assert_memory_equal(w, buf, sizeof w);
    assert_int_equal(runs_node_load_group(x.s, back, "adam_m", mm, sizeof mm), 0);
    assert_memory_equal(mm, buf + 96, sizeof mm);
    assert_int_equal(runs_node_load_group(x.s, back, "weights", w, sizeof w - 4), RUNS_EINVALID);
    /* HEAD followed the first run */
    char run[64];
    assert_int_equal(runs_head_get(run, sizeof run, x.s), 0);
    assert_string_equal(run, "main");
    cJSON_Delete(m);
    cJSON_Delete(back);
    scratch_close(&x);
}

static void test_resolve_forms(void **state)
{
    scratch x;
    scratch_open(&x);
    char a[41], b[41], c[41], f[41], got[41];
    assert_int_equal(commit_node(a, x.s, "start", "main", 0, NULL, 1), 0);
    assert_int_equal(commit_node(b, x.s, "checkpoint", "main", 100, a, 2), 0);
    assert_int_equal(commit_node(c, x.s, "checkpoint", "main", 200, b, 3), 0);
    assert_int_equal(commit_node(f, x.s, "fork", "polish", 100, b, 2), 0);
    assert_int_equal(runs_node_resolve(got, x.s, "step_100"), 0);
    assert_string_equal(got, b);
    assert_int_equal(runs_node_resolve(got, x.s, "main@step_200"), 0);
    assert_string_equal(got, c);
    assert_int_equal(runs_node_resolve(got, x.s, "polish@step_100"), 0);
    assert_string_equal(got, f);
    assert_int_equal(runs_node_resolve(got, x.s, "main"), 0);
    assert_string_equal(got, c);
    assert_int_equal(runs_node_resolve(got, x.s, "HEAD"), 0);
    assert_string_equal(got, c);
    char prefix[13];
    snprintf(prefix, sizeof prefix, "%.12s", f);
    assert_int_equal(runs_node_resolve(got, x.s, prefix), 0);
    assert_string_equal(got, f);
    assert_int_equal(runs_node_resolve(got, x.s, f), 0);
    assert_string_equal(got, f);
    /* not found, with a message */
    assert_int_equal(runs_node_resolve(got, x.s, "step_999"), RUNS_ENOTFOUND);
    assert_non_null(strstr(runs_error_message(), "step_999"));
    assert_int_equal(runs_node_resolve(got, x.s, "nosuch@step_1"), RUNS_ENOTFOUND);
    assert_int_equal(runs_node_resolve(got, x.s, "nosuchtag"), RUNS_ENOTFOUND);
    assert_int_equal(runs_node_resolve(got, x.s, "abc"), RUNS_ENOTFOUND); /* < 4 hex */
    assert_int_equal(runs_node_resolve(got, x.s, ""), RUNS_EINVALID);
    /* HEAD moves */
    assert_int_equal(runs_head_set(x.s, "polish"), 0);
    assert_int_equal(runs_node_resolve(got, x.s, "step_100"), 0);
    assert_string_equal(got, f);
    assert_int_equal(runs_head_set(x.s, "bad/name"), RUNS_EINVALID);
    scratch_close(&x);
}

static void test_lineage_and_runs(void **state)
{
    scratch x;
    scratch_open(&x);
    char ids[5][41];
    assert_int_equal(commit_node(ids[0], x.s, "start", "main", 0, NULL, 1), 0);
    for (int i = 1; i < 4; i++)
        assert_int_equal(commit_node(ids[i], x.s, "checkpoint", "main", i * 10, ids[i - 1], (uint32_t)i + 1), 0);
    assert_int_equal(commit_node(ids[4], x.s, "fork", "polish", 20, ids[2], 3), 0);
    char(*lin)[41] = NULL;
    size_t n = 0;
    assert_int_equal(runs_lineage(&lin, &n, x.s, ids[4]), 0);
    assert_int_equal(n, 4);
    assert_string_equal(lin[0], ids[4]);
    assert_string_equal(lin[1], ids[2]);
    assert_string_equal(lin[3], ids[0]);
    free(lin);
    char **runs = NULL;
    size_t nr = 0;
    assert_int_equal(runs_run_list(&runs, &nr, x.s), 0);
    assert_int_equal(nr, 2);
    assert_string_equal(runs[0], "main");
    assert_string_equal(runs[1], "polish");
    runs_strings_free(runs, nr);
    char tip[41];
    assert_int_equal(runs_run_tip(tip, x.s, "polish"), 0);
    assert_string_equal(tip, ids[4]);
    assert_int_equal(runs_run_tip(tip, x.s, "nope"), RUNS_ENOTFOUND);
    char(*all)[41] = NULL;
    assert_int_equal(runs_node_all(&all, &n, x.s), 0);
    assert_int_equal(n, 5);
    /* topological: every node comes before its parent */
    for (size_t i = 0; i < n; i++) {
        char par[41];
        assert_int_equal(runs_node_parent(par, x.s, all[i]), 0);
        for (size_t j = 0; j < i && par[0]; j++)
            assert_string_not_equal(all[j], par);
    }
    free(all);
    scratch_close(&x);
}

static void test_commit_rejects_bad_input(void **state)
{
    scratch x;
    scratch_open(&x);
    char id[41], root[41];
    runs_tensor t[6];
    float buf[3 * 96];
    make_tensors(t, buf, 1);
    cJSON *m = make_manifest("start", "bad name", 0, NULL);
    assert_int_equal(runs_node_commit(id, x.s, m, t, 6), RUNS_EINVALID);
    cJSON_Delete(m);
    m = make_manifest("checkpoint", "main", 5, "0123456789012345678901234567890123456789");
    assert_int_equal(runs_node_commit(id, x.s, m, t, 6), RUNS_ENOTFOUND);
    cJSON_Delete(m);
    m = make_manifest("wat", "main", 0, NULL);
    assert_int_equal(runs_node_commit(id, x.s, m, t, 6), RUNS_EINVALID);
    assert_non_null(strstr(runs_error_message(), "kind"));
    cJSON_Delete(m);
    t[1].bytes = 12; /* shape says 128 */
    m = make_manifest("start", "main", 0, NULL);
    assert_int_equal(runs_node_commit(id, x.s, m, t, 6), RUNS_EINVALID);
    cJSON_Delete(m);
    /* an archived object that is not in the store */
    make_tensors(t, buf, 1);
    m = make_manifest("start", "main", 0, NULL);
    cJSON *arch = cJSON_AddObjectToObject(m, "archived");
    cJSON_AddStringToObject(arch, "samples", "abababababababababababababababababababababababababababababababab");
    assert_int_equal(runs_node_commit(id, x.s, m, t, 6), RUNS_ENOTFOUND);
    cJSON_Delete(m);
    /* no run was created by any of that */
    char **runs = NULL;
    size_t nr = 0;
    assert_int_equal(runs_run_list(&runs, &nr, x.s), 0);
    assert_int_equal(nr, 0);
    runs_strings_free(runs, nr);
    assert_int_equal(commit_node(root, x.s, "start", "main", 0, NULL, 1), 0);
    scratch_close(&x);
}

static void test_fork_reuses_objects(void **state)
{
    scratch x;
    scratch_open(&x);
    char a[41], f[41];
    assert_int_equal(commit_node(a, x.s, "start", "main", 0, NULL, 1), 0);
    cJSON *pm = NULL;
    assert_int_equal(runs_node_manifest(&pm, x.s, a), 0);
    cJSON *m = make_manifest("fork", "polish", 0, a);
    cJSON_AddItemToObject(m, "tensors", cJSON_Duplicate(cJSON_GetObjectItem(pm, "tensors"), 1));
    assert_int_equal(runs_node_commit(f, x.s, m, NULL, 0), 0);
    cJSON *fm = NULL;
    assert_int_equal(runs_node_manifest(&fm, x.s, f), 0);
    float w[96];
    assert_int_equal(runs_node_load_group(x.s, fm, "weights", w, sizeof w), 0);
    /* a tensors list naming a missing object is refused */
    cJSON *bad = make_manifest("fork", "other", 0, a);
    cJSON *ts = cJSON_Duplicate(cJSON_GetObjectItem(pm, "tensors"), 1);
    cJSON_ReplaceItemInObject(cJSON_GetArrayItem(ts, 0), "sha256",
                              cJSON_CreateString("cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"));
    cJSON_AddItemToObject(bad, "tensors", ts);
    assert_int_equal(runs_node_commit(f, x.s, bad, NULL, 0), RUNS_ENOTFOUND);
    cJSON_Delete(bad);
    cJSON_Delete(m);
    cJSON_Delete(pm);
    cJSON_Delete(fm);
    scratch_close(&x);
}

static void test_tags(void **state)
{
    scratch x;
    scratch_open(&x);
    char a[41], b[41], got[41];
    assert_int_equal(commit_node(a, x.s, "start", "main", 0, NULL, 1), 0);
    assert_int_equal(commit_node(b, x.s, "checkpoint", "main", 10, a, 2), 0);
    assert_int_equal(runs_tag_create(x.s, "best", a), 0);
    assert_int_equal(runs_node_resolve(got, x.s, "best"), 0);
    assert_string_equal(got, a);
    assert_int_equal(runs_tag_create(x.s, "best", b), RUNS_EEXISTS);
    assert_int_equal(runs_tag_create(x.s, "main", b), RUNS_EEXISTS);
    assert_int_equal(runs_tag_create(x.s, "step_3", b), RUNS_EINVALID);
    assert_int_equal(runs_tag_create(x.s, "a/b", b), RUNS_EINVALID);
    assert_int_equal(runs_tag_create(x.s, "ok", "0123456789012345678901234567890123456789"), RUNS_ENOTFOUND);
    char **tags = NULL;
    size_t n = 0;
    assert_int_equal(runs_tag_list(&tags, &n, x.s, a), 0);
    assert_int_equal(n, 1);
    assert_string_equal(tags[0], "best");
    runs_strings_free(tags, n);
    assert_int_equal(runs_tag_list(&tags, &n, x.s, b), 0);
    assert_int_equal(n, 0);
    runs_strings_free(tags, n);
    /* a run cannot take a tag's name */
    assert_int_equal(commit_node(got, x.s, "start", "best", 0, NULL, 1), RUNS_EEXISTS);
    scratch_close(&x);
}

static void test_same_step_moves_tag(void **state)
{
    scratch x;
    scratch_open(&x);
    char a[41], b[41], h[41], got[41];
    assert_int_equal(commit_node(a, x.s, "start", "main", 0, NULL, 1), 0);
    assert_int_equal(commit_node(b, x.s, "checkpoint", "main", 50, a, 2), 0);
    assert_int_equal(commit_node(h, x.s, "halt", "main", 50, b, 2), 0);
    assert_int_equal(runs_node_resolve(got, x.s, "step_50"), 0);
    assert_string_equal(got, h);
    scratch_close(&x);
}

/* ---- A2: rewind, unreachable nodes, stale ref locks ---- */

static void test_resolve_unreachable_node(void **state)
{
    scratch x;
    scratch_open(&x);
    char a[41], b[41], got[41], p[600], prefix[13];
    assert_int_equal(commit_node(a, x.s, "start", "main", 0, NULL, 1), 0);
    assert_int_equal(commit_node(b, x.s, "start", "lost", 0, NULL, 2), 0);
    /* a manifest blob or tree is no node, and a prefix of nothing is not found */
    assert_int_equal(runs_node_resolve(got, x.s, "0000000000"), RUNS_ENOTFOUND);
    /* no ref reaches b any more (a lost ref, an abandoned tip) */
    snprintf(p, sizeof p, "%s/lineage.git/refs/heads/lost", x.dir);
    assert_int_equal(unlink(p), 0);
    snprintf(p, sizeof p, "%s/lineage.git/refs/tags/lost/step_0", x.dir);
    assert_int_equal(unlink(p), 0);
    snprintf(prefix, sizeof prefix, "%.12s", b);
    assert_int_equal(runs_node_resolve(got, x.s, prefix), 0);
    assert_string_equal(got, b);
    assert_int_equal(runs_node_resolve(got, x.s, b), 0);
    scratch_close(&x);
}

static void test_rewind_keeps_old_tip(void **state)
{
    scratch x;
    scratch_open(&x);
    char a[41], b[41], c[41], tip[41], kept[128], p[600];
    assert_int_equal(commit_node(a, x.s, "start", "main", 0, NULL, 1), 0);
    assert_int_equal(commit_node(b, x.s, "checkpoint", "main", 10, a, 2), 0);
    assert_int_equal(commit_node(c, x.s, "checkpoint", "main", 20, b, 3), 0);
    /* the tip must still be the one the caller saw */
    assert_int_equal(runs_run_rewind(kept, x.s, "main", b, a), RUNS_ELOCKED);
    assert_string_equal(kept, "");
    assert_int_equal(runs_run_rewind(kept, x.s, "main", c, a), 0);
    assert_string_equal(kept, "refs/rewound/main/1");
    assert_int_equal(runs_run_tip(tip, x.s, "main"), 0);
    assert_string_equal(tip, a);
    /* b and c stay listed (gc's walk) and are the rewound ones */
    char(*ids)[41] = NULL;
    size_t n = 0, seen = 0;
    assert_int_equal(runs_node_all(&ids, &n, x.s), 0);
    for (size_t i = 0; i < n; i++)
        seen += !strcmp(ids[i], b) || !strcmp(ids[i], c);
    assert_int_equal(seen, 2);
    free(ids);
    assert_int_equal(runs_node_rewound(&ids, &n, x.s), 0);
    assert_int_equal(n, 2);
    assert_true(strcmp(ids[0], ids[1]) < 0);
    assert_true((!strcmp(ids[0], b) && !strcmp(ids[1], c)) || (!strcmp(ids[0], c) && !strcmp(ids[1], b)));
    free(ids);
    /* a second rewind never overwrites the first */
    char d[41];
    assert_int_equal(commit_node(d, x.s, "checkpoint", "main", 10, a, 4), 0);
    assert_int_equal(runs_run_rewind(kept, x.s, "main", d, a), 0);
    assert_string_equal(kept, "refs/rewound/main/2");
    snprintf(p, sizeof p, "%s/lineage.git/refs/rewound/main/1", x.dir);
    FILE *f = fopen(p, "r");
    assert_non_null(f);
    char line[64] = {0};
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    assert_int_equal(strncmp(line, c, 40), 0);
    scratch_close(&x);
}

static char lock_warning[1024];
static void catch_warning(void *ctx, const char *msg)
{
    snprintf(lock_warning, sizeof lock_warning, "%s", msg);
}

static void age_file(const char *p, long seconds)
{
    struct timeval tv[2];
    gettimeofday(&tv[0], NULL);
    tv[0].tv_sec -= seconds;
    tv[1] = tv[0];
    assert_int_equal(utimes(p, tv), 0);
}

static void test_stale_ref_lock(void **state)
{
    scratch x;
    scratch_open(&x);
    runs_lock l = {.fd = -1};
    char p[600];
    snprintf(p, sizeof p, "%s/locks/refs.lock", x.dir);
    runs_store_set_warning(catch_warning, NULL);

    /* our own lock names our pid while held (written and fsync'd before link) */
    assert_int_equal(runs__lock_acquire(&l, x.s, "refs", 1.0), 0);
    FILE *f = fopen(p, "r");
    assert_non_null(f);
    long pid = 0;
    assert_int_equal(fscanf(f, "%ld", &pid), 1);
    fclose(f);
    assert_int_equal(pid, (long)getpid());
    runs__lock_release(&l);

    /* empty, nobody holds it, young: maybe being born by another writer: waited on */
    int fd = open(p, O_CREAT | O_WRONLY, 0644);
    assert_true(fd >= 0);
    close(fd);
    lock_warning[0] = '\0';
    assert_int_equal(runs__lock_acquire(&l, x.s, "refs", 0.1), RUNS_ELOCKED);
    assert_non_null(strstr(runs_error_message(), "empty"));
    assert_int_equal(access(p, F_OK), 0);
    /* the same lock two minutes old is stale: removed, with a warning */
    age_file(p, 120);
    assert_int_equal(runs__lock_acquire(&l, x.s, "refs", 1.0), 0);
    assert_non_null(strstr(lock_warning, "removed stale lock"));
    runs__lock_release(&l);

    /* held by a live flock: never taken, even empty and old */
    fd = open(p, O_CREAT | O_RDWR, 0644);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX), 0);
    age_file(p, 120);
    lock_warning[0] = '\0';
    assert_int_equal(runs__lock_acquire(&l, x.s, "refs", 0.1), RUNS_ELOCKED);
    assert_non_null(strstr(runs_error_message(), "held by process"));
    assert_string_equal(lock_warning, "");
    close(fd); /* its holder dies: the next writer goes ahead (empty + old) */
    assert_int_equal(runs__lock_acquire(&l, x.s, "refs", 1.0), 0);
    runs__lock_release(&l);

    /* a dead owner's pid and nobody holding it: stale at once */
    f = fopen(p, "w");
    assert_non_null(f);
    fputs("999999\n", f);
    fclose(f);
    lock_warning[0] = '\0';
    assert_int_equal(runs__lock_acquire(&l, x.s, "refs", 1.0), 0);
    assert_non_null(strstr(lock_warning, "999999"));
    runs__lock_release(&l);
    runs_store_set_warning(NULL, NULL);
    scratch_close(&x);
}

/* lineage.git is opened on first use (runs__store_git), not by runs_store_open, so a
 * cached listing never loads libgit2: the handle is shared, opened once however many
 * threads ask at the same moment, and a lineage.git libgit2 cannot open is that call's
 * error (and every reader's), not a silent empty answer. */
struct git_opener {
    runs_store *s;
    git_repository *got;
    int rc;
};

static void *open_git(void *arg)
{
    struct git_opener *o = arg;
    o->rc = runs__store_git(&o->got, o->s);
    return NULL;
}

static void test_lineage_opened_on_first_use(void **state)
{
    scratch x;
    scratch_open(&x);
    assert_null(x.s->lineage);
    char run[64];
    /* HEAD and the refs are read from their files */
    assert_int_equal(runs_head_get(run, sizeof run, x.s), RUNS_ENOTFOUND);
    assert_null(x.s->lineage);
    pthread_t th[8];
    struct git_opener o[8];
    for (int i = 0; i < 8; i++) {
        o[i] = (struct git_opener){.s = x.s};
        assert_int_equal(pthread_create(&th[i], NULL, open_git, &o[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(o[i].rc, 0);
        assert_non_null(o[i].got);
        assert_ptr_equal(o[i].got, o[0].got);
    }
    assert_ptr_equal(x.s->lineage, o[0].got);
    scratch_close(&x);

    /* a lineage.git that libgit2 cannot open: the store opens, its first use fails */
    scratch_open(&x);
    char id[41], p[512];
    runs_tensor t[6];
    float buf[3 * 96];
    make_tensors(t, buf, 1);
    cJSON *m = make_manifest("start", "main", 0, NULL);
    assert_int_equal(runs_node_commit(id, x.s, m, t, 6), 0);
    runs_store_free(x.s);
    snprintf(p, sizeof p, "rm -rf '%s/lineage.git/objects'", x.dir);
    assert_int_equal(system(p), 0);
    assert_int_equal(runs_store_open(&x.s, x.dir), 0);
    cJSON *back = NULL;
    runs_error_clear();
    assert_int_equal(runs_node_manifest(&back, x.s, id), RUNS_ECORRUPT);
    assert_non_null(strstr(runs_error_message(), "opening lineage.git"));
    assert_null(back);
    git_repository *repo = NULL;
    assert_int_equal(runs__store_git(&repo, x.s), RUNS_ECORRUPT);
    assert_null(repo);
    cJSON_Delete(m);
    scratch_close(&x);
}

/* Commits, with no ref, a commit holding node tree_of's tree whose parents are the
 * nodes parents[0..np); its id into out. */
static void commit_raw(char out[41], scratch *x, const char *tree_of, const char *const *parents, int np,
                       const char *message)
{
    git_commit *like = NULL, *pc[2] = {NULL, NULL};
    git_tree *tree = NULL;
    git_signature *sig = NULL;
    git_repository *repo = NULL;
    git_oid oid;
    assert_true(np >= 0 && np <= 2);
    assert_int_equal(runs__store_git(&repo, x->s), 0);
    assert_int_equal(runs__lookup_commit(&like, x->s, tree_of), 0);
    for (int i = 0; i < np; i++)
        assert_int_equal(runs__lookup_commit(&pc[i], x->s, parents[i]), 0);
    assert_int_equal(git_commit_tree(&tree, like), 0);
    assert_int_equal(git_signature_now(&sig, "t", "t@example.com"), 0);
    const git_commit *par[2] = {pc[0], pc[1]};
    assert_int_equal(git_commit_create(&oid, repo, NULL, sig, sig, NULL, message, tree, (size_t)np, par), 0);
    git_oid_tostr(out, 41, &oid);
    git_signature_free(sig);
    git_tree_free(tree);
    git_commit_free(like);
    for (int i = 0; i < np; i++)
        git_commit_free(pc[i]);
}

/* A node only a tag reaches (a commit whose ref write never happened, tagged later by
 * its full id) is listed, in topological order. */
static void test_node_all_lists_tag_only_nodes(void **state)
{
    (void)state;
    scratch x;
    scratch_open(&x);
    char ids[3][41], lone[41];
    assert_int_equal(commit_node(ids[0], x.s, "start", "main", 0, NULL, 1), 0);
    for (int i = 1; i < 3; i++)
        assert_int_equal(commit_node(ids[i], x.s, "checkpoint", "main", i * 10, ids[i - 1], (uint32_t)i + 1), 0);
    /* a child of ids[1] with ids[2]'s tree, committed with no ref */
    const char *parent[1] = {ids[1]};
    commit_raw(lone, &x, ids[2], parent, 1, "lone");

    char(*all)[41] = NULL;
    size_t n = 0;
    assert_int_equal(runs_node_all(&all, &n, x.s), 0);
    assert_int_equal(n, 3); /* no ref reaches it yet */
    free(all);
    assert_int_equal(runs_tag_create(x.s, "keep", lone), 0);
    assert_int_equal(runs_node_all(&all, &n, x.s), 0);
    assert_int_equal(n, 4);
    size_t at = n, at_parent = n;
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(all[i], lone))
            at = i;
        if (!strcmp(all[i], ids[1]))
            at_parent = i;
    }
    assert_true(at < n);
    assert_true(at < at_parent); /* children before parents */
    free(all);
    scratch_close(&x);
}

/* runs_node_all's own walk (store/node_all.c): every commit once, whatever the number
 * of refs or parents that reach it; children before parents. A commit with two parents (runs
 * writes none, git allows it) is walked through both. */
static void test_node_all_order_and_parents(void **state)
{
    (void)state;
    scratch x;
    scratch_open(&x);
    char a[41], b[41], c[41], e[41], merge[41];
    assert_int_equal(commit_node(a, x.s, "start", "main", 0, NULL, 1), 0);
    assert_int_equal(commit_node(b, x.s, "checkpoint", "main", 10, a, 2), 0);
    assert_int_equal(commit_node(c, x.s, "checkpoint", "main", 20, b, 3), 0);
    assert_int_equal(commit_node(e, x.s, "checkpoint", "fork", 20, b, 4), 0);
    /* a commit with parents c and e, tagged */
    const char *parents[2] = {c, e};
    commit_raw(merge, &x, c, parents, 2, "merge");
    assert_int_equal(runs_tag_create(x.s, "both", merge), 0);

    char(*all)[41] = NULL;
    size_t n = 0;
    assert_int_equal(runs_node_all(&all, &n, x.s), 0);
    assert_int_equal(n, 5); /* each once, though tags, heads and two parents reach them */
    size_t at[5];
    const char *want[5] = {merge, c, e, b, a};
    for (int k = 0; k < 5; k++) {
        at[k] = n;
        for (size_t i = 0; i < n; i++)
            if (!strcmp(all[i], want[k]))
                at[k] = i;
        assert_true(at[k] < n);
    }
    assert_int_equal(at[0], 0);                  /* the only node that is no one's parent */
    assert_true(at[1] < at[3] && at[2] < at[3]); /* both children before b */
    assert_int_equal(at[3], 3);
    assert_int_equal(at[4], 4);
    free(all);
    scratch_close(&x);
}

/* strdup as the library sees it (this program's definition wins over libc's): it
 * fails once when fail_next_strdup is set, so a test can reach an allocation failure. */
static int fail_next_strdup;

char *strdup(const char *s)
{
    static char *(*real)(const char *);
    if (fail_next_strdup) {
        fail_next_strdup = 0;
        return NULL;
    }
    if (!real)
        real = (char *(*)(const char *))dlsym(RTLD_NEXT, "strdup");
    return real(s);
}

/* runs_store_open failing after its handle is allocated frees the handle without
 * closing a descriptor it never opened (its writer lock is -1 from the start, not 0). */
static void test_store_open_failure_closes_nothing(void **state)
{
    scratch x;
    scratch_open(&x);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    int saved = dup(0);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fds[0], 0), 0);
    runs_store *s = NULL;
    fail_next_strdup = 1;
    assert_int_equal(runs_store_open(&s, x.dir), RUNS_ENOMEM);
    assert_null(s);
    assert_true(fcntl(0, F_GETFD) >= 0); /* fd 0 is still open */
    assert_int_equal(dup2(saved, 0), 0);
    close(saved);
    close(fds[0]);
    close(fds[1]);
    scratch_close(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commit_and_read_back),
        cmocka_unit_test(test_resolve_forms),
        cmocka_unit_test(test_lineage_and_runs),
        cmocka_unit_test(test_commit_rejects_bad_input),
        cmocka_unit_test(test_fork_reuses_objects),
        cmocka_unit_test(test_tags),
        cmocka_unit_test(test_same_step_moves_tag),
        cmocka_unit_test(test_resolve_unreachable_node),
        cmocka_unit_test(test_rewind_keeps_old_tip),
        cmocka_unit_test(test_stale_ref_lock),
        cmocka_unit_test(test_lineage_opened_on_first_use),
        cmocka_unit_test(test_node_all_lists_tag_only_nodes),
        cmocka_unit_test(test_node_all_order_and_parents),
        cmocka_unit_test(test_store_open_failure_closes_nothing),
    };
    return cmocka_run_group_tests_name("store_lineage", tests, NULL, NULL);
}
