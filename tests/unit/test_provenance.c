/* tests/unit/test_provenance.c — data paths made absolute against the config file's
 * directory, file hashes cached by (path, size, mtime), a changed or missing file
 * refused (or noted under --allow-data-change), a moved corpus found by --data-root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/file.h"
#include "manifests/canon.h"
#include "manifests/manifest.h"
#include "runner/provenance.h"
#include "runner/rundir.h"
#include "store/store.h"

#define SHA_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA_ABCD "88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589"

static char dir[256];

static int setup(void **state)
{
    char tmpl[] = "/tmp/test_provenance_XXXXXX", real[PATH_MAX];
    if (!mkdtemp(tmpl) || !realpath(tmpl, real) || strlen(real) >= sizeof dir)
        return -1;
    memcpy(dir, real, strlen(real) + 1); /* fits: checked above */
    return 0;
}

static int teardown(void **state)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

static void put(const char *rel, const char *text)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void mk(const char *rel)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    assert_int_equal(mkdir(p, 0755), 0);
}

static cJSON *parse(const char *text)
{
    cJSON *j = NULL;
    assert_int_equal(runs_json_parse(&j, text, "test"), 0);
    return j;
}

static const char *str_at(const cJSON *config, const char *source)
{
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(config, "data");
    if (!source)
        return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(data, "tokenizer"));
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(data, "sources"), source);
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(src, "path"));
}

static int lines_of(const char *rel)
{
    char p[PATH_MAX], *text = NULL;
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    if (runs_file_read(&text, NULL, p))
        return -1;
    int n = 0;
    for (char *c = text; *c; c++)
        n += *c == '\n';
    free(text);
    return n;
}

static void test_absolute_paths(void **state)
{
    char want[PATH_MAX + 64], cwd[PATH_MAX], base[PATH_MAX + 8];
    mk("cfg");
    mk("cwd");
    put("cwd/only_here.tok", "x");
    snprintf(base, sizeof base, "%s/cfg", dir);
    assert_non_null(getcwd(cwd, sizeof cwd));
    char sub[PATH_MAX + 8];
    snprintf(sub, sizeof sub, "%s/cwd", dir);
    assert_int_equal(chdir(sub), 0);
    cJSON *c = parse("{\"data\": {\"tokenizer\": \"./t.bin\", \"sources\": {\"a\": {\"path\": \"x/a.tok\"}, "
                     "\"b\": {\"path\": \"/abs/b.tok\"}, \"c\": {\"path\": null}, "
                     "\"d\": {\"path\": \"only_here.tok\"}, \"e\": {\"cap\": 0}}}}");
    assert_int_equal(runs_provenance_absolute_paths(c, base), 0);
    snprintf(want, sizeof want, "%s/cfg/t.bin", dir);
    assert_string_equal(str_at(c, NULL), want);
    snprintf(want, sizeof want, "%s/cfg/x/a.tok", dir);
    assert_string_equal(str_at(c, "a"), want);
    assert_string_equal(str_at(c, "b"), "/abs/b.tok");
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(c, "data"), "sources"), "c"),
        "path")));
    /* only the working directory has it: an older config, meant from there */
    snprintf(want, sizeof want, "%s/cwd/only_here.tok", dir);
    assert_string_equal(str_at(c, "d"), want);
    assert_null(str_at(c, "e"));
    cJSON_Delete(c);
    /* a patch touches only what it sets */
    c = parse("{\"train\": {\"total_steps\": 9}}");
    assert_int_equal(runs_provenance_absolute_paths(c, base), 0);
    char *t = runs_json_canonical(c);
    assert_string_equal(t, "{\"train\":{\"total_steps\":9}}");
    free(t);
    cJSON_Delete(c);
    assert_int_equal(chdir(cwd), 0);
}

static void test_hash_cache(void **state)
{
    char sp[PATH_MAX + 8], fp[PATH_MAX + 8];
    runs_store *s = NULL;
    runs_oid h;
    uint64_t bytes = 0;
    snprintf(sp, sizeof sp, "%s/.runs", dir);
    assert_int_equal(runs_store_init(sp), 0);
    assert_int_equal(runs_store_open(&s, sp), 0);
    put("f.tok", "abc");
    snprintf(fp, sizeof fp, "%s/f.tok", dir);
    assert_int_equal(runs_provenance_file_hash(&h, &bytes, s, fp), 0);
    assert_string_equal(h.hex, SHA_ABC);
    assert_int_equal(bytes, 3);
    assert_int_equal(lines_of(".runs/cache/data-hashes"), 1);
    /* the second look-up is answered by the cache: a poisoned entry proves it */
    char cp[PATH_MAX + 32], *text = NULL;
    snprintf(cp, sizeof cp, "%s/.runs/cache/data-hashes", dir);
    assert_int_equal(runs_file_read(&text, NULL, cp), 0);
    memset(text, 'e', 64);
    assert_int_equal(runs_file_write_atomic(cp, text, strlen(text)), 0);
    free(text);
    assert_int_equal(runs_provenance_file_hash(&h, &bytes, s, fp), 0);
    assert_string_equal(h.hex, "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee");
    assert_int_equal(lines_of(".runs/cache/data-hashes"), 1);
    /* a changed file (size, mtime) is hashed again */
    put("f.tok", "abcd");
    assert_int_equal(runs_provenance_file_hash(&h, &bytes, s, fp), 0);
    assert_string_equal(h.hex, SHA_ABCD);
    assert_int_equal(bytes, 4);
    assert_int_equal(lines_of(".runs/cache/data-hashes"), 1); /* one line per file: the stale one went */
    put("g.tok", "abc");
    snprintf(fp, sizeof fp, "%s/g.tok", dir);
    assert_int_equal(runs_provenance_file_hash(&h, &bytes, s, fp), 0);
    assert_string_equal(h.hex, SHA_ABC);
    assert_int_equal(lines_of(".runs/cache/data-hashes"), 2);
    snprintf(fp, sizeof fp, "%s/f.tok", dir);
    /* without a store: no cache, same answer */
    assert_int_equal(runs_provenance_file_hash(&h, &bytes, NULL, fp), 0);
    assert_string_equal(h.hex, SHA_ABCD);
    snprintf(fp, sizeof fp, "%s/none.tok", dir);
    assert_int_equal(runs_provenance_file_hash(&h, &bytes, s, fp), RUNS_ENOTFOUND);
    runs_error_clear();
    runs_store_free(s);
}

static cJSON *config_for(const char *tok, const char *a, const char *b)
{
    char text[4 * PATH_MAX];
    snprintf(text, sizeof text,
             "{\"data\": {\"tokenizer\": \"%s\", \"sources\": {\"a\": {\"path\": \"%s\"}, \"b\": {\"path\": \"%s\"}}}}",
             tok, a, b);
    return parse(text);
}

static void test_check_and_allow(void **state)
{
    char t[PATH_MAX + 16], a[PATH_MAX + 16], b[PATH_MAX + 16];
    cJSON *rec = NULL, *now = NULL;
    char *note = NULL;
    put("t.bin", "tok");
    put("a.tok", "abc");
    snprintf(t, sizeof t, "%s/t.bin", dir);
    snprintf(a, sizeof a, "%s/a.tok", dir);
    snprintf(b, sizeof b, "%s/missing.tok", dir);
    cJSON *c = config_for(t, a, b);
    assert_int_equal(runs_provenance_fingerprint(&rec, NULL, c), 0);
    assert_int_equal(cJSON_GetArraySize(rec), 2);    /* the missing file is not fingerprinted */
    const cJSON *first = cJSON_GetArrayItem(rec, 0); /* sorted by path: a.tok first */
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(first, "path")), a);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(first, "sha256")), SHA_ABC);
    assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(first, "bytes")), 3);

    assert_int_equal(runs_provenance_check(&now, &note, NULL, rec, c, NULL, 0), 0);
    assert_null(note);
    assert_int_equal(cJSON_GetArraySize(now), 2);
    cJSON_Delete(now);

    put("a.tok", "abcd");
    assert_int_equal(runs_provenance_check(&now, &note, NULL, rec, c, NULL, 0), RUNS_EINVALID);
    const char *msg = runs_error_message();
    assert_non_null(strstr(msg, a));
    assert_non_null(strstr(msg, "ba7816bf8f01"));
    assert_non_null(strstr(msg, "88d4266fd4e6"));
    assert_non_null(strstr(msg, "--allow-data-change"));
    assert_null(strchr(msg, '\n'));
    assert_null(now);
    runs_error_clear();

    assert_int_equal(runs_provenance_check(&now, &note, NULL, rec, c, NULL, 1), 0);
    assert_non_null(note);
    assert_non_null(strstr(note, a));
    first = cJSON_GetArrayItem(now, 0);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(first, "sha256")), SHA_ABCD);
    free(note);
    note = NULL;
    cJSON_Delete(now);

    /* a fork that points source a elsewhere: the recorded a.tok is not checked */
    put("a2.tok", "zz");
    snprintf(a, sizeof a, "%s/a2.tok", dir);
    cJSON *f = config_for(t, a, b);
    assert_int_equal(runs_provenance_check(NULL, NULL, NULL, rec, f, NULL, 0), 0);
    cJSON_Delete(f);

    /* a recorded file that is gone */
    put("a.tok", "abc");
    snprintf(t, sizeof t, "%s/t.bin", dir);
    unlink(t);
    assert_int_equal(runs_provenance_check(NULL, NULL, NULL, rec, c, NULL, 0), RUNS_EINVALID);
    assert_non_null(strstr(runs_error_message(), "is missing"));
    assert_non_null(strstr(runs_error_message(), "--data-root"));
    runs_error_clear();
    /* nothing recorded (a node from before fingerprints): nothing to refuse */
    assert_int_equal(runs_provenance_check(NULL, NULL, NULL, NULL, c, NULL, 0), 0);
    cJSON_Delete(rec);
    cJSON_Delete(c);
}

static void test_remap(void **state)
{
    char root[PATH_MAX + 16], want[PATH_MAX + 64];
    mk("new");
    mk("new/sub");
    put("new/sub/a.tok", "abc");
    put("new/t.bin", "tok");
    snprintf(root, sizeof root, "%s/new", dir);
    /* common prefix /old/corpus/ replaced by the root */
    cJSON *c = config_for("/old/corpus/t.bin", "/old/corpus/sub/a.tok", "/old/corpus/gone.tok");
    assert_int_equal(runs_provenance_remap(c, root), 0);
    snprintf(want, sizeof want, "%s/new/t.bin", dir);
    assert_string_equal(str_at(c, NULL), want);
    snprintf(want, sizeof want, "%s/new/sub/a.tok", dir);
    assert_string_equal(str_at(c, "a"), want);
    assert_string_equal(str_at(c, "b"), "/old/corpus/gone.tok"); /* nowhere: left for the check to name */
    cJSON_Delete(c);
    /* no useful common prefix: found by name under the root */
    put("new/b.tok", "abcd");
    c = config_for("/x/t.bin", "/y/z/b.tok", "/q/gone.tok");
    assert_int_equal(runs_provenance_remap(c, root), 0);
    snprintf(want, sizeof want, "%s/new/b.tok", dir);
    assert_string_equal(str_at(c, "a"), want);
    cJSON_Delete(c);
    /* check with a data root: recorded hashes must match the moved files */
    cJSON *rec = parse("[{\"path\": \"/y/z/b.tok\", \"bytes\": 4, \"sha256\": \"" SHA_ABCD "\"},"
                       " {\"path\": \"/x/t.bin\", \"bytes\": 3, \"sha256\": \"" SHA_ABC "\"}]");
    c = config_for("/x/t.bin", "/y/z/b.tok", "/q/gone.tok");
    assert_int_equal(runs_provenance_check(NULL, NULL, NULL, rec, c, root, 0), RUNS_EINVALID);
    assert_non_null(strstr(runs_error_message(), "recorded as /x/t.bin"));
    runs_error_clear();
    cJSON_Delete(c);
    put("new/t.bin", "abc");
    c = config_for("/x/t.bin", "/y/z/b.tok", "/q/gone.tok");
    assert_int_equal(runs_provenance_check(NULL, NULL, NULL, rec, c, root, 0), 0);
    cJSON_Delete(c);
    cJSON_Delete(rec);
}

static void test_rundir_record_and_claim(void **state)
{
    char pa[PATH_MAX + 16], pb[PATH_MAX + 16], rd[PATH_MAX + 16], out[PATH_MAX], want[PATH_MAX + 32];
    runs_store *a = NULL, *b = NULL;
    mk("p");
    mk("q");
    mk("p/runs");
    mk("p/runs/x");
    mk("elsewhere");
    snprintf(pa, sizeof pa, "%s/p/.runs", dir);
    snprintf(pb, sizeof pb, "%s/q/.runs", dir);
    assert_int_equal(runs_store_init(pa), 0);
    assert_int_equal(runs_store_init(pb), 0);
    assert_int_equal(runs_store_open(&a, pa), 0);
    assert_int_equal(runs_store_open(&b, pb), 0);
    /* inside the store's parent tree: recorded relative, read back absolute */
    snprintf(rd, sizeof rd, "%s/p/runs/x", dir);
    assert_int_equal(runs_rundir_set(a, "x", rd), 0);
    char *text = NULL;
    snprintf(want, sizeof want, "%s/p/.runs/rundirs/x", dir);
    assert_int_equal(runs_file_read(&text, NULL, want), 0);
    assert_string_equal(text, "runs/x\n");
    free(text);
    assert_int_equal(runs_rundir_get(out, sizeof out, a, "x"), 0);
    assert_string_equal(out, rd);
    /* outside it: absolute */
    snprintf(want, sizeof want, "%s/elsewhere", dir);
    assert_int_equal(runs_rundir_set(b, "x", want), 0);
    assert_int_equal(runs_rundir_get(out, sizeof out, b, "x"), 0);
    assert_string_equal(out, want);
    /* the marker: store a claims its directory; store b may not take it */
    assert_int_equal(runs_rundir_claim(a, "x", rd), 0);
    assert_int_equal(runs_rundir_claim(a, "x", rd), 0);
    assert_int_equal(runs_rundir_claim(b, "x", rd), RUNS_EEXISTS);
    assert_non_null(strstr(runs_error_message(), "--dir"));
    assert_non_null(strstr(runs_error_message(), pa));
    runs_error_clear();
    /* a copied directory (its marker names another place) is claimed */
    char cmd[4 * PATH_MAX];
    snprintf(cmd, sizeof cmd, "cp -r %s/p/runs/x %s/q/x", dir, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(rd, sizeof rd, "%s/q/x", dir);
    assert_int_equal(runs_rundir_claim(b, "x", rd), 0);
    runs_store_free(a);
    runs_store_free(b);
}

static void test_manifest_accepts_data_files(void **state)
{
    const char *base = "{\"schema\":\"runs.manifest/1\",\"kind\":\"start\",\"run\":\"r\",\"step\":0,"
                       "\"tokens\":0,\"parent\":null,\"config\":{},\"tensors\":[],\"data_files\":%s}";
    char text[1024];
    cJSON *m;
    snprintf(text, sizeof text, base, "[{\"path\":\"/d/a.tok\",\"bytes\":3,\"sha256\":\"" SHA_ABC "\"}]");
    m = parse(text);
    assert_int_equal(runs_manifest_validate(m), 0);
    cJSON_Delete(m);
    snprintf(text, sizeof text, base, "[{\"path\":\"/d/a.tok\",\"bytes\":3,\"sha256\":\"abc\"}]");
    m = parse(text);
    assert_int_equal(runs_manifest_validate(m), RUNS_EINVALID);
    assert_non_null(strstr(runs_error_message(), "manifest.data_files[0].sha256"));
    runs_error_clear();
    cJSON_Delete(m);
    snprintf(text, sizeof text, base, "{}");
    m = parse(text);
    assert_int_equal(runs_manifest_validate(m), RUNS_EINVALID);
    assert_non_null(strstr(runs_error_message(), "manifest.data_files"));
    runs_error_clear();
    cJSON_Delete(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_absolute_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_and_allow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rundir_record_and_claim, setup, teardown),
        cmocka_unit_test(test_manifest_accepts_data_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
