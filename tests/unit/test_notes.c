/* tests/unit/test_notes.c — per-node JSON notes in refs/notes/runs: get, merge,
 * delete by null, bad ids, git's own `notes show`, concurrent writers lose nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"
#include "manifests/canon.h"
#include "store/lineage.h"
#include "store/notes.h"
#include "store/store.h"

typedef struct {
    char dir[256];
    runs_store *s;
    char id[41], id2[41];
} fx;

static void commit_node(runs_store *s, char id[41], const char *parent, long step)
{
    char text[512];
    snprintf(text, sizeof text,
             "{\"schema\":\"runs.manifest/1\",\"kind\":\"%s\",\"run\":\"a\",\"step\":%ld,\"tokens\":0,"
             "\"parent\":%s%s%s,\"config\":{},\"tensors\":[]}",
             parent ? "checkpoint" : "start", step, parent ? "\"" : "", parent ? parent : "null", parent ? "\"" : "");
    cJSON *m = NULL;
    assert_int_equal(runs_json_parse(&m, text, "test"), 0);
    int rc = runs_node_commit(id, s, m, NULL, 0);
    if (rc)
        fprintf(stderr, "commit: %s\n", runs_error_message());
    assert_int_equal(rc, 0);
    cJSON_Delete(m);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/runs-notes-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    strcat(f->dir, "/.runs");
    assert_int_equal(runs_store_init(f->dir), 0);
    assert_int_equal(runs_store_open(&f->s, f->dir), 0);
    commit_node(f->s, f->id, NULL, 0);
    commit_node(f->s, f->id2, f->id, 10);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    runs_store_free(f->s);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%.*s'", (int)(strlen(f->dir) - 6), f->dir);
    if (system(cmd)) {
    }
    free(f);
    return 0;
}

static cJSON *J(const char *text)
{
    cJSON *j = NULL;
    assert_int_equal(runs_json_parse(&j, text, "test"), 0);
    return j;
}

static void expect_note(runs_store *s, const char *id, const char *want)
{
    cJSON *got = NULL;
    assert_int_equal(runs_note_get(&got, s, id), 0);
    if (!want) {
        assert_null(got);
        return;
    }
    assert_non_null(got);
    char *c = runs_json_canonical(got);
    assert_string_equal(c, want);
    free(c);
    cJSON_Delete(got);
}

static void test_merge_and_get(void **state)
{
    fx *f = *state;
    expect_note(f->s, f->id, NULL);
    cJSON *p = J("{\"sharpness\":{\"trace\":12.5,\"samples\":50}}");
    assert_int_equal(runs_note_merge(f->s, f->id, p), 0);
    cJSON_Delete(p);
    expect_note(f->s, f->id, "{\"sharpness\":{\"samples\":50,\"trace\":12.5}}");
    expect_note(f->s, f->id2, NULL); /* other nodes untouched */
    p = J("{\"remark\":\"polish pivot\",\"sharpness\":{\"trace\":13}}");
    assert_int_equal(runs_note_merge(f->s, f->id, p), 0);
    cJSON_Delete(p);
    expect_note(f->s, f->id, "{\"remark\":\"polish pivot\",\"sharpness\":{\"samples\":50,\"trace\":13}}");
    p = J("{\"x\":1}");
    assert_int_equal(runs_note_merge(f->s, f->id2, p), 0);
    cJSON_Delete(p);
    expect_note(f->s, f->id2, "{\"x\":1}");

    /* git itself reads it */
    char cmd[600], line[512] = "";
    snprintf(cmd, sizeof cmd, "git --git-dir '%s/lineage.git' notes --ref runs show %s", f->dir, f->id);
    FILE *pp = popen(cmd, "r");
    assert_non_null(pp);
    assert_non_null(fgets(line, sizeof line, pp));
    pclose(pp);
    assert_string_equal(line, "{\"remark\":\"polish pivot\",\"sharpness\":{\"samples\":50,\"trace\":13}}\n");

    /* nulls delete keys; an empty note disappears */
    p = J("{\"remark\":null,\"sharpness\":null}");
    assert_int_equal(runs_note_merge(f->s, f->id, p), 0);
    cJSON_Delete(p);
    expect_note(f->s, f->id, NULL);
    expect_note(f->s, f->id2, "{\"x\":1}");
    p = J("{\"nothing\":null}");
    assert_int_equal(runs_note_merge(f->s, f->id, p), 0); /* no note, nothing to remove */
    cJSON_Delete(p);
    expect_note(f->s, f->id, NULL);
}

static void test_bad_input(void **state)
{
    fx *f = *state;
    cJSON *out = NULL, *p = J("{\"a\":1}"), *arr = J("[1]");
    assert_int_equal(runs_note_get(&out, f->s, "abc"), RUNS_EINVALID);
    assert_int_equal(runs_note_get(&out, f->s, "0123456789012345678901234567890123456789"), RUNS_ENOTFOUND);
    assert_non_null(strstr(runs_error_message(), "no node"));
    assert_int_equal(runs_note_merge(f->s, "0123456789012345678901234567890123456789", p), RUNS_ENOTFOUND);
    assert_int_equal(runs_note_merge(f->s, f->id, arr), RUNS_EINVALID);
    cJSON_Delete(p);
    cJSON_Delete(arr);
}

static void test_concurrent_writers(void **state)
{
    fx *f = *state;
    int W = 4, R = 8;
    for (int w = 0; w < W; w++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            runs_store *s = NULL;
            if (runs_store_open(&s, f->dir))
                _exit(3);
            for (int r = 0; r < R; r++) {
                char text[64];
                snprintf(text, sizeof text, "{\"w%d_%d\":%d}", w, r, r);
                cJSON *p = NULL;
                if (runs_json_parse(&p, text, "t") || runs_note_merge(s, f->id2, p)) {
                    fprintf(stderr, "writer %d: %s\n", w, runs_error_message());
                    _exit(4);
                }
                cJSON_Delete(p);
            }
            runs_store_free(s);
            _exit(0);
        }
    }
    for (int w = 0; w < W; w++) {
        int st = 0;
        wait(&st);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    cJSON *got = NULL;
    assert_int_equal(runs_note_get(&got, f->s, f->id2), 0);
    assert_int_equal(cJSON_GetArraySize(got), W * R + 1); /* + "x" from before */
    cJSON_Delete(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_and_get),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_concurrent_writers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
