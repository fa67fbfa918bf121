/* tests/unit/test_session_events.c — a session reports through its event callback
 * and never prints: a tiny CPU run (start, then resume) with stdout and stderr
 * pointed at a file leaves the file empty, while the callback sees the training,
 * step, node, resuming and done events in order with their fields; --quiet
 * keeps all but warnings away. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>

#include "runner/session.h"
#include "tools/shard.h"
#include "tests/unit/store_test_util.h"

typedef struct {
    int n;
    runs_session_event_kind kinds[64];
    long steps[64];
    char node_kinds[64][16];
} captured;

static void capture(void *ctx, const runs_session_event *ev)
{
    captured *c = ctx;
    if (c->n >= 64)
        return;
    c->kinds[c->n] = ev->kind;
    c->steps[c->n] = ev->step;
    snprintf(c->node_kinds[c->n], sizeof c->node_kinds[0], "%s", ev->node_kind ? ev->node_kind : "");
    assert_true(!strcmp(ev->run, "ev") || !strcmp(ev->run, "evq"));
    if (ev->kind == RUNS_EV_STEP) {
        assert_true(ev->loss > 0);
        assert_string_equal(ev->source, "only");
        assert_int_equal(ev->total_steps, 4);
    }
    if (ev->kind == RUNS_EV_NODE || ev->kind == RUNS_EV_RESUMING)
        assert_int_equal(strlen(ev->node), 40);
    c->n++;
}

static cJSON *tiny_config(const char *dir)
{
    char shard[400], cfg[2048];
    snprintf(shard, sizeof shard, "%s/only.tok", dir);
    int32_t ids[4096];
    for (int i = 0; i < 4096; i++)
        ids[i] = (i * 7 + 3) % 64;
    assert_int_equal(runs_shard_write(shard, ids, 4096), 0);
    snprintf(cfg, sizeof cfg,
             "{\"model\": {\"n_layer\": 1, \"n_head\": 2, \"n_embd\": 16, \"vocab_size\": 64, \"block_size\": 8},"
             " \"train\": {\"total_steps\": 4, \"batch_size\": 2, \"seq_len\": 8, \"seed\": 1, \"backend\": \"cpu\"},"
             " \"schedule\": {\"type\": \"cosine\", \"warmup_steps\": 1},"
             " \"data\": {\"tokenizer\": \"%s/none.bin\", \"sources\": {\"only\": {\"path\": \"%s\"}}},"
             " \"sampling\": {\"every\": 0},"
             " \"checkpoint\": {\"every\": 2, \"keep_last\": 0, \"keep_every\": 0}}",
             dir, shard);
    cJSON *j = cJSON_Parse(cfg);
    assert_non_null(j);
    return j;
}

/* Runs f with stdout and stderr sent to a file; returns how many bytes landed there. */
static long silenced(int (*f)(void *), void *arg, int *rc)
{
    char path[] = "/tmp/runs-events-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stdout);
    fflush(stderr);
    int o1 = dup(1), o2 = dup(2);
    dup2(fd, 1);
    dup2(fd, 2);
    *rc = f(arg);
    fflush(stdout);
    fflush(stderr);
    dup2(o1, 1);
    dup2(o2, 2);
    close(o1);
    close(o2);
    long n = lseek(fd, 0, SEEK_END);
    close(fd);
    unlink(path);
    return n;
}

typedef struct {
    scratch *x;
    cJSON *cfg;
    runs_session_opts o;
} call;

static int do_start(void *a)
{
    call *c = a;
    return runs_session_start(c->x->s, c->cfg, &c->o);
}

static int do_resume(void *a)
{
    call *c = a;
    return runs_session_resume(c->x->s, NULL, &c->o);
}

static int find(const captured *c, runs_session_event_kind k, int from)
{
    for (int i = from; i < c->n; i++)
        if (c->kinds[i] == k)
            return i;
    return -1;
}

static void test_events_not_prints(void **state)
{
    scratch x;
    scratch_open(&x);
    captured got = {0};
    char dir[400];
    snprintf(dir, sizeof dir, "%s/rundir", x.dir);
    call c = {
        &x, tiny_config(x.dir), {.run = "ev", .dir = dir, .stop_after = 2, .on_event = capture, .event_ctx = &got}};
    int rc;
    assert_int_equal(silenced(do_start, &c, &rc), 0); /* the library printed nothing */
    assert_int_equal(rc, 0);
    /* start node, then training 0..2, steps, the checkpoint at 2, done */
    int i = find(&got, RUNS_EV_NODE, 0);
    assert_true(i >= 0);
    assert_string_equal(got.node_kinds[i], "start");
    assert_int_equal(got.steps[i], 0);
    int t = find(&got, RUNS_EV_TRAINING, 0);
    assert_true(t > i);
    int s = find(&got, RUNS_EV_STEP, t);
    assert_true(s > t);
    int k = find(&got, RUNS_EV_NODE, s);
    assert_true(k > s);
    assert_string_equal(got.node_kinds[k], "checkpoint");
    assert_int_equal(got.steps[k], 2);
    int d = find(&got, RUNS_EV_DONE, k);
    assert_int_equal(d, got.n - 1);
    assert_int_equal(got.steps[d], 2);

    /* resume to the end: "resuming" first, at step 2 */
    memset(&got, 0, sizeof got);
    c.o.stop_after = 0;
    assert_int_equal(silenced(do_resume, &c, &rc), 0);
    assert_int_equal(rc, 0);
    assert_int_equal(got.kinds[0], RUNS_EV_RESUMING);
    assert_int_equal(got.steps[0], 2);
    assert_int_equal(got.kinds[got.n - 1], RUNS_EV_DONE);
    assert_int_equal(got.steps[got.n - 1], 4);

    /* quiet: a whole run without a single event (and still nothing printed) */
    memset(&got, 0, sizeof got);
    snprintf(dir, sizeof dir, "%s/rundir-q", x.dir);
    c.o.quiet = 1;
    c.o.run = "evq";
    assert_int_equal(silenced(do_start, &c, &rc), 0);
    assert_int_equal(rc, 0);
    assert_int_equal(got.n, 0);
    cJSON_Delete(c.cfg);
    scratch_close(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events_not_prints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
