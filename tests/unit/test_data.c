/* tests/unit/test_data.c — the run loop's data loader: opening rules, clear errors,
 * sequential wrapping cursors, bit-exact resume through JSON, held-out region. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "manifests/config.h"
#include "runner/data.h"
#include "tools/shard.h"

static char dir[64];

static int setup(void **state)
{
    strcpy(dir, "/tmp/test_data_XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

/* shard NAME with n tokens, token i = (i * mul + add) % mod */
static void make_shard(const char *name, int n, int mul, int add, int mod)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s.tok", dir, name);
    int32_t *t = malloc((size_t)(n ? n : 1) * sizeof *t);
    for (int i = 0; i < n; i++)
        t[i] = (int32_t)(((int64_t)i * mul + add) % mod);
    assert_int_equal(runs_shard_write(p, t, (size_t)n), 0);
    free(t);
}

static void add_source(runs_config *c, const char *name, const char *file, double cap)
{
    runs_source_config *s = &c->data.sources[c->data.n_sources++];
    snprintf(s->name, sizeof s->name, "%s", name);
    snprintf(s->path, sizeof s->path, "%s/%s", dir, file);
    s->cap = cap;
    s->floor = 0;
}

static void base_config(runs_config *c)
{
    memset(c, 0, sizeof *c);
    c->model.vocab_size = 4096;
    c->train.batch_size = 2;
    c->train.seq_len = 8;
}

static void test_open_rules_and_errors(void **state)
{
    runs_config c;
    runs_data *d = NULL;
    make_shard("a", 100, 1, 0, 4096);
    base_config(&c);
    add_source(&c, "a", "a.tok", 1.0);
    add_source(&c, "b-capped", "nope1.tok", 0.0);   /* cap 0: never opened, missing is fine */
    add_source(&c, "c-excluded", "nope2.tok", 0.5); /* excluded: never opened */
    snprintf(c.data.exclude[c.data.n_exclude++], RUNS_NAME_MAX, "c-excluded");
    assert_int_equal(runs_data_open(&d, &c), 0);
    assert_true(runs_data_has_tokens(d, 0));
    assert_false(runs_data_has_tokens(d, 1));
    assert_false(runs_data_has_tokens(d, 2));
    assert_false(runs_data_has_tokens(d, 7));
    int32_t in[16], tg[16];
    assert_int_equal(runs_data_next_batch(d, 1, 2, 8, in, tg), RUNS_EINVALID);
    runs_data_free(d);

    /* missing path of a used source */
    base_config(&c);
    add_source(&c, "chat", "missing.tok", 0.4);
    assert_int_equal(runs_data_open(&d, &c), RUNS_ENOTFOUND);
    const char *m = runs_error_message();
    assert_non_null(strstr(m, "'chat'"));
    assert_non_null(strstr(m, "missing.tok"));
    assert_non_null(strstr(m, "make corpus"));
    assert_non_null(strstr(m, "data.sources.chat.path"));
    assert_null(d);

    /* empty shard */
    make_shard("empty", 0, 1, 0, 1);
    base_config(&c);
    add_source(&c, "e", "empty.tok", 1.0);
    assert_int_equal(runs_data_open(&d, &c), RUNS_EINVALID);
    assert_non_null(strstr(runs_error_message(), "empty.tok"));
    assert_non_null(strstr(runs_error_message(), "empty"));

    /* token >= model.vocab_size: file and position */
    make_shard("big", 50, 1, 4090, 100000); /* token 6 is 4096 */
    base_config(&c);
    add_source(&c, "big", "big.tok", 1.0);
    assert_int_equal(runs_data_open(&d, &c), RUNS_EINVALID);
    m = runs_error_message();
    assert_non_null(strstr(m, "big.tok"));
    assert_non_null(strstr(m, "index 6"));
    assert_non_null(strstr(m, "vocab_size 4096"));

    /* corrupt shard */
    char p[256];
    snprintf(p, sizeof p, "%s/a.tok", dir);
    char q[256];
    snprintf(q, sizeof q, "%s/trunc.tok", dir);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "head -c 1030 %s > %s", p, q);
    assert_int_equal(system(cmd), 0);
    base_config(&c);
    add_source(&c, "t", "trunc.tok", 1.0);
    assert_int_equal(runs_data_open(&d, &c), RUNS_ECORRUPT);
    assert_non_null(strstr(runs_error_message(), "trunc.tok"));

    /* unknown held-out source */
    base_config(&c);
    add_source(&c, "a", "a.tok", 1.0);
    snprintf(c.data.heldout, sizeof c.data.heldout, "nosuch");
    assert_int_equal(runs_data_open(&d, &c), RUNS_EINVALID);
    assert_non_null(strstr(runs_error_message(), "nosuch"));
}

static void test_sequential_wrap(void **state)
{
    runs_config c;
    runs_data *d = NULL;
    make_shard("seq", 37, 1, 0, 4096); /* token i = i */
    base_config(&c);
    add_source(&c, "seq", "seq.tok", 1.0);
    assert_int_equal(runs_data_open(&d, &c), 0);
    assert_int_equal(runs_data_train_tokens(d, 0), 37);
    int32_t in[16], tg[16];
    uint64_t pos = 0;
    for (int batch = 0; batch < 10; batch++) {
        assert_int_equal(runs_data_next_batch(d, 0, 2, 8, in, tg), 0);
        for (int k = 0; k < 16; k++) {
            assert_int_equal(in[k], (int)((pos + k) % 37));
            assert_int_equal(tg[k], (int)((pos + k + 1) % 37));
        }
        pos = (pos + 16) % 37;
    }
    cJSON *j = runs_data_cursors_to_json(d);
    const cJSON *o = cJSON_GetObjectItem(j, "seq");
    assert_int_equal((int)cJSON_GetObjectItem(o, "position")->valuedouble, 160 % 37);
    assert_int_equal((int)cJSON_GetObjectItem(o, "epoch")->valuedouble, 160 / 37);
    assert_int_equal((int)cJSON_GetObjectItem(o, "tokens")->valuedouble, 37);
    cJSON_Delete(j);
    runs_data_free(d);
}

static void test_resume_bit_exact(void **state)
{
    runs_config c;
    runs_data *a = NULL, *b = NULL;
    make_shard("x", 1000, 7, 3, 4000);
    make_shard("y", 500, 13, 1, 4096);
    base_config(&c);
    c.train.batch_size = 4;
    c.train.seq_len = 16;
    add_source(&c, "x", "x.tok", 1.0);
    add_source(&c, "y", "y.tok", 0.5);
    assert_int_equal(runs_data_open(&a, &c), 0);
    int32_t in[64], tg[64], in2[64], tg2[64];
    for (int s = 0; s < 23; s++)
        assert_int_equal(runs_data_next_batch(a, s % 3 == 0, 4, 16, in, tg), 0);
    cJSON *j = runs_data_cursors_to_json(a);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    cJSON *parsed = cJSON_Parse(text);
    free(text);
    assert_int_equal(runs_data_open(&b, &c), 0);
    assert_int_equal(runs_data_cursors_from_json(b, parsed), 0);
    cJSON_Delete(parsed);
    for (int s = 0; s < 40; s++) {
        int src = (s * 5) % 2;
        assert_int_equal(runs_data_next_batch(a, src, 4, 16, in, tg), 0);
        assert_int_equal(runs_data_next_batch(b, src, 4, 16, in2, tg2), 0);
        assert_memory_equal(in, in2, sizeof in);
        assert_memory_equal(tg, tg2, sizeof tg);
    }
    /* shapes that are refused leave the cursors alone */
    cJSON *bad = cJSON_Parse("{\"x\": {\"position\": 5000, \"epoch\": 0}}");
    assert_int_equal(runs_data_cursors_from_json(b, bad), RUNS_EINVALID);
    assert_non_null(strstr(runs_error_message(), "x.position"));
    cJSON_Delete(bad);
    bad = cJSON_Parse("{\"x\": {\"position\": -1, \"epoch\": 0}}");
    assert_int_equal(runs_data_cursors_from_json(b, bad), RUNS_EINVALID);
    cJSON_Delete(bad);
    bad = cJSON_Parse("[1,2]");
    assert_int_equal(runs_data_cursors_from_json(b, bad), RUNS_EINVALID);
    cJSON_Delete(bad);
    assert_int_equal(runs_data_next_batch(a, 0, 4, 16, in, tg), 0);
    assert_int_equal(runs_data_next_batch(b, 0, 4, 16, in2, tg2), 0);
    assert_memory_equal(in, in2, sizeof in);
    /* unknown (since excluded) sources are ignored; missing ones start at 0 */
    cJSON *other = cJSON_Parse("{\"gone\": {\"position\": 3, \"epoch\": 1}}");
    assert_int_equal(runs_data_cursors_from_json(b, other), 0);
    cJSON_Delete(other);
    runs_data_free(a);
    runs_data_free(b);
}

static void test_heldout_region(void **state)
{
    runs_config c;
    runs_data *d = NULL;
    make_shard("h", 3000, 1, 0, 4096); /* token i = i, so values show positions */
    base_config(&c);
    c.train.batch_size = 2;
    c.train.seq_len = 16;
    add_source(&c, "h", "h.tok", 1.0);
    snprintf(c.data.heldout, sizeof c.data.heldout, "h");
    assert_int_equal(runs_data_open(&d, &c), 0);
    /* R = clamp(3000/10 = 300, 33, 257) = 257: training region is [0, 2743) */
    assert_int_equal(runs_data_train_tokens(d, 0), 3000 - 257);
    int32_t in[32], tg[32], in2[32], tg2[32];
    for (int s = 0; s < 500; s++) { /* several epochs */
        assert_int_equal(runs_data_next_batch(d, 0, 2, 16, in, tg), 0);
        for (int k = 0; k < 32; k++) {
            assert_true(in[k] < 2743);
            assert_true(tg[k] < 2743);
        }
    }
    for (int k = 0; k < 20; k++) {
        assert_int_equal(runs_data_heldout_batch(d, k, 2, 16, in, tg), 0);
        for (int i = 0; i < 32; i++) {
            assert_true(in[i] >= 2743);
            assert_int_equal(tg[i], in[i] + 1); /* contiguous rows inside the region */
        }
        assert_int_equal(runs_data_heldout_batch(d, k, 2, 16, in2, tg2), 0);
        assert_memory_equal(in, in2, sizeof in); /* fixed by k */
    }
    runs_data_free(d);

    /* a held-out source that is excluded from training is still opened for held-out batches */
    snprintf(c.data.exclude[c.data.n_exclude++], RUNS_NAME_MAX, "h");
    assert_int_equal(runs_data_open(&d, &c), 0);
    assert_false(runs_data_has_tokens(d, 0));
    assert_int_equal(runs_data_heldout_batch(d, 0, 2, 16, in, tg), 0);
    runs_data_free(d);

    /* no held-out source configured */
    c.data.heldout[0] = 0;
    c.data.n_exclude = 0;
    assert_int_equal(runs_data_open(&d, &c), 0);
    assert_int_equal(runs_data_heldout_batch(d, 0, 2, 16, in, tg), RUNS_EINVALID);
    runs_data_free(d);

    /* too small to hold out and train */
    make_shard("tiny", 40, 1, 0, 4096);
    base_config(&c);
    c.train.seq_len = 16;
    add_source(&c, "tiny", "tiny.tok", 1.0);
    snprintf(c.data.heldout, sizeof c.data.heldout, "tiny");
    assert_int_equal(runs_data_open(&d, &c), RUNS_EINVALID);
    assert_non_null(strstr(runs_error_message(), "tiny"));
}

/* runs_data_measure_batches (sharpness) and runs_data_open_one (eval): the batches come
 * from one source's held-out tail and do not depend on the other sources. */
static void test_measure_batches(void **state)
{
    runs_config c;
    make_shard("m1", 4000, 7, 3, 4096);
    make_shard("m2", 3000, 5, 1, 4096);
    base_config(&c);
    c.model.block_size = 16;
    add_source(&c, "m1", "m1.tok", 1.0);
    add_source(&c, "m2", "m2.tok", 1.0);
    snprintf(c.data.heldout, sizeof c.data.heldout, "m1");
    int32_t *in = NULL, *tg = NULL, *in1 = NULL, *tg1 = NULL;
    const char *src = NULL;
    int held = -1;
    assert_int_equal(runs_data_measure_batches(&in, &tg, &src, &held, &c, NULL, 3, 2, 8), 0);
    assert_string_equal(src, "m1");
    assert_int_equal(held, 1);
    /* the same batches from a config without the other source */
    runs_config one = c;
    one.data.n_sources = 1;
    assert_int_equal(runs_data_measure_batches(&in1, &tg1, &src, &held, &one, NULL, 3, 2, 8), 0);
    assert_memory_equal(in, in1, 3 * 2 * 8 * sizeof *in);
    assert_memory_equal(tg, tg1, 3 * 2 * 8 * sizeof *tg);
    /* and what runs_data_open_one's held-out batches give (eval's path) */
    runs_data *d = NULL;
    int32_t bi[16], bt[16];
    assert_int_equal(runs_data_open_one(&d, &c, 0, 2, 8), 0);
    assert_int_equal(runs_data_heldout_batch(d, 2, 2, 8, bi, bt), 0);
    assert_memory_equal(bi, in + 2 * 16, sizeof bi);
    runs_data_free(d);
    free(in1);
    free(tg1);
    /* another source by name is measured but flagged as not held out */
    assert_int_equal(runs_data_measure_batches(&in1, &tg1, &src, &held, &c, "m2", 1, 2, 8), 0);
    assert_string_equal(src, "m2");
    assert_int_equal(held, 0);
    free(in1);
    free(tg1);
    in1 = tg1 = NULL;
    assert_int_equal(runs_data_measure_batches(&in1, &tg1, &src, &held, &c, "nope", 1, 2, 8), RUNS_ENOTFOUND);
    assert_int_equal(runs_data_measure_batches(&in1, &tg1, &src, &held, &c, NULL, 1, 2, 17), RUNS_EINVALID);
    assert_null(in1);
    assert_int_equal(runs_data_open_one(&d, &c, 2, 2, 8), RUNS_EINVALID);
    free(in);
    free(tg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_rules_and_errors), cmocka_unit_test(test_sequential_wrap),
        cmocka_unit_test(test_resume_bit_exact),      cmocka_unit_test(test_heldout_region),
        cmocka_unit_test(test_measure_batches),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
