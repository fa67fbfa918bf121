/* tests/unit/test_store_verify.c — a damaged lineage is an error, never a shorter
 * list: the walkers (runs_node_all, runs_lineage, runs_run_list), gc failing closed,
 * the `thinned` checksum, the ref journal and verify's repair. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "store/internal.h"   /* runs__lookup_commit */
#include "store/verify_int.h" /* runs__manifest_cache */
#include "tests/unit/store_test_util.h"

/* Reopens the store so libgit2 holds nothing cached from before the damage. */
static void reopen(scratch *x)
{
    runs_store_free(x->s);
    assert_int_equal(runs_store_open(&x->s, x->dir), 0);
}

/* XORs one byte in the middle of a file (git loose objects are 0444). */
static void flip_file(const char *path, long off)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    chmod(path, 0644);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    if (off < 0)
        off = st.st_size / 2;
    fseek(f, off, SEEK_SET);
    int c = fgetc(f);
    fseek(f, off, SEEK_SET);
    fputc(c ^ 0x21, f);
    fclose(f);
}

static void git_object_path(char *buf, size_t n, scratch *x, const char *hex)
{
    snprintf(buf, n, "%s/lineage.git/objects/%.2s/%s", x->dir, hex, hex + 2);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static size_t count_objects(scratch *x)
{
    size_t n = 0;
    for (int d = 0; d < 256; d++) {
        char dir[512];
        snprintf(dir, sizeof dir, "%s/objects/%02x", x->dir, d);
        DIR *dh = opendir(dir);
        struct dirent *e;
        if (!dh)
            continue;
        while ((e = readdir(dh)) != NULL)
            n += e->d_name[0] != '.';
        closedir(dh);
    }
    return n;
}

/* start a <- b <- c <- d on main */
static void chain(scratch *x, char a[41], char b[41], char c[41], char d[41])
{
    assert_int_equal(commit_node(a, x->s, "start", "main", 0, NULL, 1), 0);
    assert_int_equal(commit_node(b, x->s, "checkpoint", "main", 10, a, 2), 0);
    assert_int_equal(commit_node(c, x->s, "checkpoint", "main", 20, b, 3), 0);
    assert_int_equal(commit_node(d, x->s, "checkpoint", "main", 30, c, 4), 0);
}

static void test_corrupt_commit_is_an_error(void **state)
{
    scratch x;
    scratch_open(&x);
    char a[41], b[41], c[41], d[41], p[1024];
    chain(&x, a, b, c, d);
    git_object_path(p, sizeof p, &x, b);
    flip_file(p, -1);
    reopen(&x);
    char(*ids)[41] = NULL;
    size_t n = 99;
    /* the old walker stopped at the damage and returned the nodes above it */
    assert_int_equal(runs_node_all(&ids, &n, x.s), RUNS_ECORRUPT);
    assert_null(ids);
    assert_int_equal(n, 0);
    assert_non_null(strstr(runs_error_message(), "runs verify"));
    assert_int_equal(runs_lineage(&ids, &n, x.s, d), RUNS_ECORRUPT);
    assert_non_null(strstr(runs_error_message(), "cannot be read"));
    assert_null(ids);
    /* gc fails closed: nothing deleted */
    size_t before = count_objects(&x);
    runs_gc_options opt = {.keep_last = 1};
    runs_gc_report r;
    assert_int_equal(runs_gc(&r, x.s, &opt), RUNS_ECORRUPT);
    assert_non_null(strstr(runs_error_message(), "gc deleted nothing"));
    assert_int_equal(count_objects(&x), before);
    /* verify names the commit and still checks the rest */
    runs_verify_report vr;
    assert_int_equal(runs_store_verify(&vr, x.s, 1, NULL, NULL, NULL), 0);
    assert_true(vr.problems >= 1);
    assert_true(vr.git_objects >= 12);
    scratch_close(&x);
}

static void test_damaged_ref_file_is_an_error(void **state)
{
    scratch x;
    scratch_open(&x);
    char a[41], b[41], c[41], d[41], p[1024], text[64];
    chain(&x, a, b, c, d);
    /* upper-case hex: libgit2 reads it as the same id, but no runs writer writes it;
     * a byte flip that makes it is damage */
    snprintf(p, sizeof p, "%s/lineage.git/refs/heads/main", x.dir);
    snprintf(text, sizeof text, "%s\n", d);
    for (char *q = text; *q; q++)
        if (*q >= 'a' && *q <= 'f') {
            *q = (char)(*q - 'a' + 'A');
            break;
        }
    write_file(p, text);
    reopen(&x);
    char(*ids)[41] = NULL;
    char **names = NULL;
    size_t n = 0;
    assert_int_equal(runs_node_all(&ids, &n, x.s), RUNS_ECORRUPT);
    assert_non_null(strstr(runs_error_message(), "refs/heads/main"));
    assert_int_equal(runs_run_list(&names, &n, x.s), RUNS_ECORRUPT);
    size_t before = count_objects(&x);
    runs_gc_options opt = {.keep_every = 1000};
    runs_gc_report r;
    assert_int_equal(runs_gc(&r, x.s, &opt), RUNS_ECORRUPT);
    assert_int_equal(count_objects(&x), before);
    runs_verify_report vr;
    assert_int_equal(runs_store_verify(&vr, x.s, 0, NULL, NULL, NULL), 0);
    assert_int_equal(vr.refs_damaged, 1);
    /* a ref file libgit2 cannot parse at all (it skips those when listing) */
    write_file(p, "not a ref\n");
    reopen(&x);
    assert_int_equal(runs_node_all(&ids, &n, x.s), RUNS_ECORRUPT);
    /* two damaged files: the first by name is named, as the full check orders them
     * (the listing's check keeps only damaged files; it must pick the same one) */
    char p2[1100];
    snprintf(p2, sizeof p2, "%s/lineage.git/refs/tags/main/step_10", x.dir);
    write_file(p2, "also not a ref\n");
    assert_int_equal(runs__refs_first_damage(x.s, 0), RUNS_ECORRUPT);
    assert_non_null(strstr(runs_error_message(), "refs/heads/main: damaged"));
    runs_ref_state *v = NULL;
    size_t nv = 0, bad = 0;
    assert_int_equal(runs__refs_check(&v, &nv, x.s, 0), 0);
    for (size_t i = 0; i < nv; i++)
        bad += v[i].problem[0] != '\0';
    assert_true(nv > 2); /* the full list keeps every ref */
    free(v);
    assert_int_equal(bad, 2);
    assert_int_equal(runs_gc(&r, x.s, &opt), RUNS_ECORRUPT);
    assert_int_equal(count_objects(&x), before);
    scratch_close(&x);
}

static size_t line_count(const char *path)
{
    FILE *f = fopen(path, "r");
    size_t n = 0;
    int ch;
    if (!f)
        return 0;
    while ((ch = fgetc(f)) != EOF)
        n += ch == '\n';
    fclose(f);
    return n;
}

static void count_cb(void *ctx, const char *subject, const char *message)
{
    (*(int *)ctx)++;
}

static void test_journal_and_repair(void **state)
{
    scratch x;
    scratch_open(&x);
    char a[41], b[41], c[41], d[41], p[1024], j[1024], text[128];
    chain(&x, a, b, c, d);
    assert_int_equal(runs_tag_create(x.s, "best", c), 0);
    snprintf(j, sizeof j, "%s/lineage.git/runs-reflog", x.dir);
    /* 4 nodes x (head + step tag) + HEAD + the user tag */
    assert_int_equal(line_count(j), 10);
    FILE *f = fopen(j, "r");
    char first[512];
    assert_non_null(fgets(first, sizeof first, f));
    fclose(f);
    char want[256];
    snprintf(want, sizeof want, "0000000000000000000000000000000000000000 %s ", a);
    assert_int_equal(strncmp(first, want, strlen(want)), 0);
    assert_non_null(strstr(first, " refs/heads/main\n"));

    /* a flipped hex digit: the ref names no node */
    snprintf(p, sizeof p, "%s/lineage.git/refs/heads/main", x.dir);
    flip_file(p, 3);
    reopen(&x);
    runs_verify_report vr;
    assert_int_equal(runs_store_verify(&vr, x.s, 0, NULL, NULL, NULL), 0);
    assert_int_equal(vr.refs_damaged, 1);
    size_t fixed = 0, unfixed = 0;
    int lines = 0;
    assert_int_equal(runs_store_repair_refs(&fixed, &unfixed, x.s, count_cb, &lines), 0);
    assert_int_equal(fixed, 1);
    assert_int_equal(unfixed, 0);
    assert_int_equal(lines, 1);
    f = fopen(p, "r");
    assert_non_null(fgets(text, sizeof text, f));
    fclose(f);
    assert_int_equal(strncmp(text, d, 40), 0);
    /* a lost tag comes back; a valid-looking HEAD that the journal never set is damage */
    snprintf(p, sizeof p, "%s/lineage.git/refs/tags/best", x.dir);
    assert_int_equal(unlink(p), 0);
    snprintf(p, sizeof p, "%s/lineage.git/HEAD", x.dir);
    write_file(p, "ref: refs/heads/maim\n");
    reopen(&x);
    assert_int_equal(runs_store_verify(&vr, x.s, 0, NULL, NULL, NULL), 0);
    assert_int_equal(vr.refs_damaged, 2);
    assert_int_equal(runs_store_repair_refs(&fixed, &unfixed, x.s, NULL, NULL), 0);
    assert_int_equal(fixed, 2);
    char got[41], run[64];
    assert_int_equal(runs_node_resolve(got, x.s, "best"), 0);
    assert_string_equal(got, c);
    assert_int_equal(runs_head_get(run, sizeof run, x.s), 0);
    assert_string_equal(run, "main");
    assert_int_equal(runs_store_verify(&vr, x.s, 1, NULL, NULL, NULL), 0);
    assert_int_equal(vr.problems, 0);
    scratch_close(&x);
}

static void test_thinned_checksum(void **state)
{
    scratch x;
    scratch_open(&x);
    char a[41], b[41], c[41], d[41], p[1024];
    chain(&x, a, b, c, d);
    runs_gc_options opt = {.keep_last = 1};
    runs_gc_report r;
    assert_int_equal(runs_gc(&r, x.s, &opt), 0);
    assert_int_equal(r.nodes_thinned, 2);
    reopen(&x);
    assert_true(runs_node_thinned(x.s, b));
    snprintf(p, sizeof p, "%s/thinned", x.dir);
    assert_int_equal(line_count(p), 3); /* two nodes and the checksum */
    /* a flipped step digit still parses: only the checksum tells */
    FILE *f = fopen(p, "r");
    char line[256];
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    flip_file(p, (long)strlen(line) - 2);
    reopen(&x);
    assert_false(runs_node_thinned(x.s, b));
    size_t before = count_objects(&x);
    assert_int_equal(runs_gc(&r, x.s, &opt), RUNS_ECORRUPT);
    assert_int_equal(count_objects(&x), before);
    runs_verify_report vr;
    assert_int_equal(runs_store_verify(&vr, x.s, 0, NULL, NULL, NULL), 0);
    assert_true(vr.problems >= 1);
    /* a list from before the checksum stays readable */
    char text[256];
    snprintf(text, sizeof text, "%s main 10\n%s main 20\n", b, c);
    write_file(p, text);
    reopen(&x);
    assert_true(runs_node_thinned(x.s, b));
    assert_true(runs_node_thinned(x.s, c));
    assert_int_equal(runs_store_verify(&vr, x.s, 1, NULL, NULL, NULL), 0);
    assert_int_equal(vr.problems, 0);
    scratch_close(&x);
}

static void test_empty_store(void **state)
{
    /* nothing to sort or search: no NULL passed to qsort/bsearch (sanitizers) */
    scratch x;
    scratch_open(&x);
    runs_gc_report r;
    runs_gc_options opt = {.keep_last = 1};
    assert_int_equal(runs_gc(&r, x.s, &opt), 0);
    assert_int_equal(r.nodes, 0);
    runs_verify_report vr;
    assert_int_equal(runs_store_verify(&vr, x.s, 1, NULL, NULL, NULL), 0);
    assert_int_equal(vr.problems, 0);
    assert_false(runs_node_thinned(x.s, "0123456789012345678901234567890123456789"));
    scratch_close(&x);
}

/* Drops the journal's last line: the state a writer killed between the journal's
 * fsync and the ref's rename would have left had it died one move earlier. */
static void drop_last_journal_line(scratch *x)
{
    char p[1024], buf[1 << 16];
    snprintf(p, sizeof p, "%s/lineage.git/runs-reflog", x->dir);
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    assert_true(n > 0 && n < sizeof buf - 1 && buf[n - 1] == '\n');
    buf[n - 1] = '\0';
    char *nl = strrchr(buf, '\n');
    size_t keep = nl ? (size_t)(nl - buf) + 1 : 0;
    f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, keep, f), keep);
    fclose(f);
}

/* SIGKILL between the journal's fsync and the rename (invariant 8: the last ref move
 * may be lost) is not damage when nothing was lost: a per-step tag whose node is on
 * its branch, or a new run's first branch ref whose node nothing else reaches. A lost
 * user tag still is (test_journal_and_repair). */
static void test_unlanded_creation_is_not_damage(void **state)
{
    scratch x;
    scratch_open(&x);
    char a[41], b[41], y[41], p[1024];
    assert_int_equal(commit_node(a, x.s, "start", "main", 0, NULL, 11), 0);
    assert_int_equal(commit_node(b, x.s, "checkpoint", "main", 10, a, 12), 0);
    /* the step tag of main's last node: journalled, never renamed into place */
    snprintf(p, sizeof p, "%s/lineage.git/refs/tags/main/step_10", x.dir);
    assert_int_equal(unlink(p), 0);
    /* run y's first node: its branch journalled, then the writer died (no tag yet) */
    assert_int_equal(commit_node(y, x.s, "start", "y", 0, NULL, 13), 0);
    drop_last_journal_line(&x); /* the step tag's line */
    snprintf(p, sizeof p, "%s/lineage.git/refs/tags/y/step_0", x.dir);
    assert_int_equal(unlink(p), 0);
    snprintf(p, sizeof p, "%s/lineage.git/refs/heads/y", x.dir);
    assert_int_equal(unlink(p), 0);
    reopen(&x);
    runs_verify_report vr;
    assert_int_equal(runs_store_verify(&vr, x.s, 1, NULL, NULL, NULL), 0);
    assert_int_equal(vr.refs_damaged, 0);
    assert_int_equal(vr.problems, 0);
    runs_gc_options opt = {0};
    runs_gc_report r;
    assert_int_equal(runs_gc(&r, x.s, &opt), 0); /* gc is not blocked either */
    /* but a run's branch that had landed (its step tag was journalled after it) and
     * then vanished is damage */
    char z[41];
    assert_int_equal(commit_node(z, x.s, "start", "z", 0, NULL, 14), 0);
    snprintf(p, sizeof p, "%s/lineage.git/refs/heads/z", x.dir);
    assert_int_equal(unlink(p), 0);
    reopen(&x);
    assert_int_equal(runs_store_verify(&vr, x.s, 1, NULL, NULL, NULL), 0);
    assert_int_equal(vr.refs_damaged, 1);
    scratch_close(&x);
}

/* The loose object file of node id's manifest.json blob in lineage.git. */
static void manifest_blob_path(char *path, size_t n, scratch *x, const char *id)
{
    char hex[41];
    git_commit *c = NULL;
    git_tree *tree = NULL;
    assert_int_equal(runs__lookup_commit(&c, x->s, id), 0);
    assert_int_equal(git_commit_tree(&tree, c), 0);
    const git_tree_entry *e = git_tree_entry_byname(tree, "manifest.json");
    assert_non_null(e);
    git_oid_tostr(hex, sizeof hex, git_tree_entry_id(e));
    git_tree_free(tree);
    git_commit_free(c);
    git_object_path(path, n, x, hex);
}

/* verify reads each manifest several times and caches the blobs for the command
 * (runs__manifest_cache). The option goes to libgit2 through the lazy loader's
 * git_libgit2_opts, which refused it for a while (a silent no-op: every manifest was
 * read from disk again, 50k object reads for 30k objects in a 10k-node gc). With the
 * cache on, a manifest read once is read again with its loose blob gone; with it off
 * (a fresh handle), the same read fails: nothing is served that was never read. */
static void test_manifest_cache_holds_blobs(void **state)
{
    (void)state;
    scratch x;
    char id[41], path[512], away[600];
    scratch_open(&x);
    assert_int_equal(commit_node(id, x.s, "start", "main", 0, NULL, 1), 0);
    manifest_blob_path(path, sizeof path, &x, id);
    snprintf(away, sizeof away, "%s.away", path);

    reopen(&x);
    runs__manifest_cache(1);
    cJSON *m = NULL;
    assert_int_equal(runs_node_manifest(&m, x.s, id), 0);
    cJSON_Delete(m);
    m = NULL;
    assert_int_equal(rename(path, away), 0);
    assert_int_equal(runs_node_manifest(&m, x.s, id), 0);
    assert_non_null(m);
    cJSON_Delete(m);
    m = NULL;
    runs__manifest_cache(0);

    reopen(&x);
    runs_error_clear();
    assert_int_equal(runs_node_manifest(&m, x.s, id), RUNS_ECORRUPT);
    assert_null(m);
    assert_int_equal(rename(away, path), 0);
    assert_int_equal(runs_node_manifest(&m, x.s, id), 0);
    cJSON_Delete(m);
    scratch_close(&x);
}

/* gc reads every node's manifest itself, then runs the deep ref check with those nodes
 * as known (runs__refs_check_known), so each manifest is read once. The check must
 * still read every commit it was not told about, and gc must still fail closed on a
 * manifest it cannot read. */
static void test_deep_ref_check_skips_only_known_nodes(void **state)
{
    (void)state;
    scratch x;
    char id[41], path[512], away[600];
    scratch_open(&x);
    assert_int_equal(commit_node(id, x.s, "start", "main", 0, NULL, 1), 0);
    manifest_blob_path(path, sizeof path, &x, id);
    snprintf(away, sizeof away, "%s.away", path);
    assert_int_equal(rename(path, away), 0);
    reopen(&x);

    runs_ref_state *v = NULL;
    size_t n = 0, bad = 0;
    assert_int_equal(runs__refs_check_known(&v, &n, x.s, 1, NULL, 0), 0);
    for (size_t i = 0; i < n; i++)
        bad += strstr(v[i].problem, "not a readable node commit") != NULL;
    free(v);
    assert_int_equal(bad, 2); /* refs/heads/main and its step tag */

    char other[1][41];
    snprintf(other[0], sizeof other[0], "%040d", 1);
    assert_int_equal(runs__refs_check_known(&v, &n, x.s, 1, (const char(*)[41])other, 1), 0);
    bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += v[i].problem[0] != '\0';
    free(v);
    assert_int_equal(bad, 2); /* another node known: this one is still read */

    char known[1][41];
    memcpy(known[0], id, 41);
    assert_int_equal(runs__refs_check_known(&v, &n, x.s, 1, (const char(*)[41])known, 1), 0);
    bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += v[i].problem[0] != '\0';
    free(v);
    assert_int_equal(bad, 0); /* the caller vouched for it */

    size_t before = count_objects(&x);
    runs_gc_options opt = {.keep_last = 1};
    runs_gc_report r;
    assert_int_equal(runs_gc(&r, x.s, &opt), RUNS_ECORRUPT);
    assert_non_null(strstr(runs_error_message(), "gc deleted nothing"));
    assert_int_equal(count_objects(&x), before);
    assert_int_equal(rename(away, path), 0);
    scratch_close(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corrupt_commit_is_an_error),
        cmocka_unit_test(test_damaged_ref_file_is_an_error),
        cmocka_unit_test(test_journal_and_repair),
        cmocka_unit_test(test_thinned_checksum),
        cmocka_unit_test(test_empty_store),
        cmocka_unit_test(test_unlanded_creation_is_not_damage),
        cmocka_unit_test(test_manifest_cache_holds_blobs),
        cmocka_unit_test(test_deep_ref_check_skips_only_known_nodes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
