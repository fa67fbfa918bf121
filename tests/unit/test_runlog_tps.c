/* tests/unit/test_runlog_tps.c — the tokens per second .status.json reports are the
 * job's: batch x seq_len x grad_accum x ranks tokens an optimizer step (issue 14),
 * not one rank's single micro-batch, which is what `runs status` showed before. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/file.h"
#include "runner/runlog.h"
#include "runner/session_int.h"

static void test_tokens_per_s_arithmetic(void **state)
{
    /* 10 steps of 2 x 8 tokens x 2 micro-steps on 3 ranks in 4 s */
    assert_true(runs_runlog_tokens_per_s(10, 2, 8, 2, 3, 4.0) == 240.0);
    assert_true(runs_runlog_tokens_per_s(10, 2, 8, 1, 1, 4.0) == 40.0);
    /* nothing measured yet: 0, never a division by zero */
    assert_true(runs_runlog_tokens_per_s(0, 2, 8, 2, 3, 4.0) == 0.0);
    assert_true(runs_runlog_tokens_per_s(10, 2, 8, 2, 3, 0.0) == 0.0);
    /* a large job: the int product of the batch factors would pass INT_MAX */
    assert_true(runs_runlog_tokens_per_s(1, 1024, 4096, 64, 64, 1.0) == 1024.0 * 4096 * 64 * 64);
}

/* The session's status writer with grad_accum 2: the file says 32 tokens a step
 * (2 x 8 x 2), where the old writer said 16. The session "started" 1e5 s ago and
 * took 1e5 steps, so the rate is 32 whatever the few milliseconds between the
 * test's clock and the writer's (off by far less than the 0.5 the rounding hides). */
static void test_status_file_counts_grad_accum(void **state)
{
    char dir[] = "/tmp/runs-tps.XXXXXX";
    assert_non_null(mkdtemp(dir));
    session *sess = calloc(1, sizeof *sess);
    assert_non_null(sess);
    snprintf(sess->run, sizeof sess->run, "tps");
    snprintf(sess->dir, sizeof sess->dir, "%s", dir);
    sess->cfg.train.batch_size = 2;
    sess->cfg.train.seq_len = 8;
    sess->cfg.train.grad_accum = 2;
    sess->cfg.train.total_steps = 200000;
    sess->step = 100000;
    sess->steps_this_session = 100000;
    sess->t_start = runs__now_s() - 1e5;
    runs__runlog_status(sess, 1);

    char p[512], *text = NULL;
    snprintf(p, sizeof p, "%s/.status.json", dir);
    assert_int_equal(runs_file_read(&text, NULL, p), 0);
    cJSON *j = cJSON_Parse(text);
    assert_non_null(j);
    assert_int_equal((long)cJSON_GetObjectItemCaseSensitive(j, "tokens_per_s")->valuedouble, 32);
    cJSON_Delete(j);
    free(text);
    unlink(p);
    rmdir(dir);
    free(sess);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokens_per_s_arithmetic),
        cmocka_unit_test(test_status_file_counts_grad_accum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
