/* tests/unit/test_session_rooms.c — rooms of the run loop that can be driven
 * without a trainer: the committer's states (idle → writing → committed | failed
 * → idle, the job handed back with its error), the advisory status file, and the
 * signal flags. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <sched.h>
#include <signal.h>

#include "common/file.h"
#include "runner/committer.h"
#include "runner/rundir.h"
#include "runner/runlog.h"
#include "runner/signals.h"
#include "tests/unit/store_test_util.h"

/* Polls until the thread finished: no timing, just "not WRITING any more". */
static runs_commit_state settle(const runs_committer *c)
{
    runs_commit_state st;
    while ((st = runs_committer_state(c)) == RUNS_COMMIT_WRITING)
        sched_yield();
    return st;
}

static runs_commit_job *new_job(runs_store *s, cJSON *manifest, float *buf, const char *loss_lines)
{
    runs_commit_job *job = calloc(1, sizeof *job);
    assert_non_null(job);
    job->store = s;
    job->manifest = manifest;
    if (buf) {
        job->tensors = calloc(6, sizeof(runs_tensor));
        assert_non_null(job->tensors);
        make_tensors(job->tensors, buf, 7);
        job->n_tensors = 6;
    }
    if (loss_lines)
        assert_int_equal(runs_seg_append(&job->loss_seg, loss_lines, strlen(loss_lines)), 0);
    snprintf(job->run, sizeof job->run, "main");
    return job;
}

static void test_committer_commits(void **state)
{
    scratch x;
    scratch_open(&x);
    runs_committer c = {0};
    runs_commit_job *job = NULL;
    assert_int_equal(runs_committer_state(&c), RUNS_COMMIT_IDLE);
    assert_int_equal(runs_committer_wait(&job, &c), 0); /* idle: nothing to join */
    assert_null(job);

    float buf[3 * 96];
    const char *lines = "{\"step\":0,\"loss\":5}\n{\"step\":1,\"loss\":4.9}\n";
    assert_int_equal(runs_committer_start(&c, new_job(x.s, make_manifest("start", "main", 0, NULL), buf, lines)), 0);
    runs_commit_state st = runs_committer_state(&c);
    assert_true(st == RUNS_COMMIT_WRITING || st == RUNS_COMMIT_COMMITTED);
    /* one commit at a time: a second start is refused and frees its job */
    assert_int_not_equal(runs_committer_start(&c, new_job(x.s, make_manifest("start", "main", 0, NULL), NULL, NULL)),
                         0);
    assert_int_equal(settle(&c), RUNS_COMMIT_COMMITTED);
    assert_int_equal(runs_committer_wait(&job, &c), 0);
    assert_int_equal(runs_committer_state(&c), RUNS_COMMIT_IDLE);
    assert_non_null(job);
    assert_int_equal(strlen(job->id), 40);

    /* the node names the loss segment, stored as an object */
    cJSON *m = NULL;
    assert_int_equal(runs_node_manifest(&m, x.s, job->id), 0);
    cJSON *seg = cJSON_GetObjectItemCaseSensitive(m, "loss_log");
    assert_true(cJSON_IsString(seg));
    void *data = NULL;
    size_t len = 0;
    assert_int_equal(runs_object_get(&data, &len, x.s, seg->valuestring), 0);
    assert_int_equal(len, strlen(lines));
    assert_memory_equal(data, lines, len);
    free(data);
    cJSON_Delete(m);
    runs_commit_job_free(job);
    scratch_close(&x);
}

static void test_committer_fails(void **state)
{
    scratch x;
    scratch_open(&x);
    runs_committer c = {0};
    runs_commit_job *job = NULL;
    cJSON *bad = cJSON_CreateObject(); /* no schema, kind, run, step: the store refuses it */
    assert_int_equal(runs_committer_start(&c, new_job(x.s, bad, NULL, NULL)), 0);
    assert_int_equal(settle(&c), RUNS_COMMIT_FAILED);
    int rc = runs_committer_wait(&job, &c);
    assert_int_not_equal(rc, 0);
    assert_non_null(job); /* handed back even on failure, for the caller to free */
    assert_int_equal(job->rc, rc);
    assert_true(job->err[0] != '\0');
    /* the loop's error names the checkpoint and carries the thread's message */
    assert_int_equal(strncmp(runs_error_message(), "checkpoint: ", 12), 0);
    assert_non_null(strstr(runs_error_message(), job->err));
    assert_int_equal(runs_committer_state(&c), RUNS_COMMIT_IDLE);
    runs_commit_job_free(job);
    scratch_close(&x);
}

static int count_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)))
        n += !strncmp(e->d_name, ".tmp-", 5);
    if (d)
        closedir(d);
    return n;
}

static void test_status_file(void **state)
{
    scratch x;
    scratch_open(&x);
    runs_run_status st = {"main", 4242, 1, 10, 100, 4.5, 4.75, 3e-4, 0.5, 1234.4, 12, 1700000000, 0};
    assert_int_equal(runs_runlog_write_status(x.dir, &st), 0);
    st.running = 0;
    st.step = 11;
    assert_int_equal(runs_runlog_write_status(x.dir, &st), 0); /* rewritten in place, whole */
    char p[512];
    snprintf(p, sizeof p, "%s/.status.json", x.dir);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(runs_file_read(&text, &len, p), 0);
    cJSON *j = cJSON_Parse(text);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "run")->valuestring, "main");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "running")));
    assert_int_equal((long)cJSON_GetObjectItemCaseSensitive(j, "step")->valuedouble, 11);
    assert_int_equal((long)cJSON_GetObjectItemCaseSensitive(j, "pid")->valuedouble, 4242);
    assert_int_equal((long)cJSON_GetObjectItemCaseSensitive(j, "tokens_per_s")->valuedouble, 1234);
    assert_int_equal((long)cJSON_GetObjectItemCaseSensitive(j, "eta_s")->valuedouble, 12);
    assert_int_equal(count_tmp(x.dir), 0);
    cJSON_Delete(j);
    free(text);
    /* a directory that is not there: an error, not a crash (the loop clears it) */
    snprintf(p, sizeof p, "%s/missing", x.dir);
    assert_int_not_equal(runs_runlog_write_status(p, &st), 0);
    scratch_close(&x);
}

static void test_signals(void **state)
{
    runs_signals_install();
    assert_false(runs_signals_checkpoint_wanted());
    assert_false(runs_signals_stop_wanted());
    raise(SIGUSR1);
    assert_true(runs_signals_checkpoint_wanted());
    assert_false(runs_signals_stop_wanted());
    runs_signals_checkpoint_taken();
    assert_false(runs_signals_checkpoint_wanted());
    raise(SIGTERM);
    assert_true(runs_signals_stop_wanted());
    runs_signals_install(); /* a new session starts with both flags clear */
    assert_false(runs_signals_stop_wanted());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_committer_commits),
        cmocka_unit_test(test_committer_fails),
        cmocka_unit_test(test_status_file),
        cmocka_unit_test(test_signals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
