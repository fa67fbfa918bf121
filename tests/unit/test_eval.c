/* tests/unit/test_eval.c — held-out evaluation (runner/eval.h): the eval config
 * section and its checks, the loss being a pure function of the weights (same bits
 * twice, weights and training untouched: a step after an eval gives the bits of a
 * step without one), the .eval.json line format, the manifest's eval_log rows and
 * the plot's held-out series built from them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "cuda/gpt.h"
#include "manifests/canon.h"
#include "manifests/config.h"
#include "manifests/manifest.h"
#include "runner/data.h"
#include "runner/eval.h"
#include "tools/plot.h"
#include "tools/shard.h"

static char dir[64];

static int setup(void **state)
{
    strcpy(dir, "/tmp/test_eval_XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

static int parse_config(runs_config *c, const char *text)
{
    cJSON *j = NULL;
    assert_int_equal(runs_json_parse(&j, text, "test"), 0);
    runs_error_clear();
    int rc = runs_config_from_json(c, j, "test.json");
    cJSON_Delete(j);
    return rc;
}

static void test_config_section(void **state)
{
    runs_config c;
    runs_config_default(&c);
    assert_int_equal(c.eval.every, 100);
    assert_int_equal(c.eval.batches, 4);
    /* on by default, but only with a held-out source to read */
    assert_false(runs_eval_enabled(&c));
    snprintf(c.data.heldout, sizeof c.data.heldout, "chat");
    assert_true(runs_eval_enabled(&c));
    c.eval.every = 0;
    assert_false(runs_eval_enabled(&c));

    assert_int_equal(parse_config(&c, "{\"eval\": {\"every\": 7, \"batches\": 2}}"), 0);
    assert_int_equal(c.eval.every, 7);
    assert_int_equal(c.eval.batches, 2);
    assert_int_equal(parse_config(&c, "{\"eval\": {\"batches\": 0}}"), RUNS_EINVALID);
    assert_non_null(strstr(runs_error_message(), "eval.batches"));
    assert_int_equal(parse_config(&c, "{\"eval\": {\"every\": -1}}"), RUNS_EINVALID);
    assert_non_null(strstr(runs_error_message(), "eval.every"));
    assert_int_equal(parse_config(&c, "{\"eval\": {\"evry\": 5}}"), RUNS_EINVALID);
    assert_non_null(strstr(runs_error_message(), "every")); /* the nearest key is suggested */

    /* the effective config records the section, so a node says how it was evaluated */
    runs_config_default(&c);
    cJSON *j = runs_config_to_json(&c);
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(j, "eval");
    assert_non_null(ev);
    assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(ev, "batches")->valuedouble, 4);
    cJSON_Delete(j);
}

/* A tiny model and data: "train" trains, "ho" is held out (its last tokens). */
typedef struct {
    runs_config cfg;
    runs_data *d;
    gpt_model *m;
} fixture;

static void fixture_open(fixture *f, uint64_t seed)
{
    enum { N = 3000 };
    int32_t *t = malloc(N * sizeof *t);
    char p[256];
    for (int i = 0; i < N; i++)
        t[i] = (int32_t)((i * 7 + i / 13) % 61);
    snprintf(p, sizeof p, "%s/train.tok", dir);
    assert_int_equal(runs_shard_write(p, t, N), 0);
    for (int i = 0; i < N; i++)
        t[i] = (int32_t)((i * 11 + i / 5) % 61);
    snprintf(p, sizeof p, "%s/ho.tok", dir);
    assert_int_equal(runs_shard_write(p, t, N), 0);
    free(t);
    memset(f, 0, sizeof *f);
    runs_config *c = &f->cfg;
    runs_config_default(c);
    c->model = (runs_model_config){.n_layer = 1, .n_head = 2, .n_embd = 16, .vocab_size = 64, .block_size = 8};
    c->train.batch_size = 2;
    c->train.seq_len = 8;
    c->data.n_sources = 2;
    snprintf(c->data.sources[0].name, RUNS_NAME_MAX, "ho");
    snprintf(c->data.sources[0].path, RUNS_PATH_MAX, "%s/ho.tok", dir);
    c->data.sources[0].cap = 1.0;
    snprintf(c->data.sources[1].name, RUNS_NAME_MAX, "train");
    snprintf(c->data.sources[1].path, RUNS_PATH_MAX, "%s/train.tok", dir);
    c->data.sources[1].cap = 1.0;
    snprintf(c->data.heldout, sizeof c->data.heldout, "ho");
    assert_int_equal(runs_data_open(&f->d, c), 0);
    gpt_config gc = {1, 2, 16, 64, 8};
    assert_int_equal(gpt_create(&f->m, &gc, 2, 8, GPT_BACKEND_CPU), 0);
    assert_int_equal(gpt_init_weights(f->m, seed), 0);
}

static void fixture_close(fixture *f)
{
    gpt_free(f->m);
    runs_data_free(f->d);
}

/* One training step on source "train" (index 1). */
static void train_step(fixture *f)
{
    int32_t in[16], tg[16];
    float loss, gn;
    gpt_adamw hp = {0.9f, 0.95f, 1e-8f, 0.01f, 1.0f};
    assert_int_equal(runs_data_next_batch(f->d, 1, 2, 8, in, tg), 0);
    assert_int_equal(gpt_forward(f->m, in, tg, 2, 8, 1, &loss), 0);
    assert_int_equal(gpt_update(f->m, &hp, 1e-2f, &gn), 0);
}

static void test_loss_is_a_function_of_the_weights(void **state)
{
    fixture f;
    fixture_open(&f, 5);
    size_t np = gpt_num_params(f.m);
    float *before = malloc(np * sizeof(float)), *after = malloc(np * sizeof(float));
    assert_int_equal(gpt_read(f.m, GPT_PARAM, before), 0);
    runs_eval_result a, b, one;
    assert_int_equal(runs_eval_loss(&a, f.m, f.d, 3, 2, 8), 0);
    assert_int_equal(runs_eval_loss(&b, f.m, f.d, 3, 2, 8), 0);
    assert_true(isfinite(a.val_loss) && a.val_loss > 0);
    assert_memory_equal(&a.val_loss, &b.val_loss, sizeof(double)); /* the same bits */
    assert_int_equal(a.batches, 3);
    assert_int_equal(a.tokens, 3 * 2 * 8);
    assert_int_equal(gpt_read(f.m, GPT_PARAM, after), 0);
    assert_memory_equal(before, after, np * sizeof(float));
    /* more batches are other batches: the mean moves */
    assert_int_equal(runs_eval_loss(&one, f.m, f.d, 1, 2, 8), 0);
    assert_true(one.val_loss != a.val_loss);
    /* bad arguments */
    assert_int_equal(runs_eval_loss(&one, f.m, f.d, 0, 2, 8), RUNS_EINVALID);
    free(before);
    free(after);
    fixture_close(&f);
}

/* Training with an eval between steps ends on the bits of training without one:
 * eval writes no gradient, moment, step count or cursor. */
static void test_eval_leaves_training_alone(void **state)
{
    fixture x, y;
    fixture_open(&x, 9);
    fixture_open(&y, 9);
    runs_eval_result r;
    for (int s = 0; s < 4; s++) {
        train_step(&x);
        assert_int_equal(runs_eval_loss(&r, x.m, x.d, 2, 2, 8), 0);
        train_step(&y);
    }
    size_t np = gpt_num_params(x.m);
    float *wx = malloc(np * sizeof(float)), *wy = malloc(np * sizeof(float));
    for (int slot = GPT_PARAM; slot <= GPT_ADAM_V; slot++) {
        assert_int_equal(gpt_read(x.m, (gpt_slot)slot, wx), 0);
        assert_int_equal(gpt_read(y.m, (gpt_slot)slot, wy), 0);
        assert_memory_equal(wx, wy, np * sizeof(float));
    }
    assert_int_equal(gpt_adam_step(x.m), gpt_adam_step(y.m));
    cJSON *cx = runs_data_cursors_to_json(x.d), *cy = runs_data_cursors_to_json(y.d);
    char *sx = cJSON_PrintUnformatted(cx), *sy = cJSON_PrintUnformatted(cy);
    assert_string_equal(sx, sy);
    free(sx);
    free(sy);
    cJSON_Delete(cx);
    cJSON_Delete(cy);
    free(wx);
    free(wy);
    fixture_close(&x);
    fixture_close(&y);
}

static void test_line_format(void **state)
{
    char buf[128];
    runs_eval_result r = {0.1 + 0.2, 4, 512};
    int n = runs_eval_format_line(buf, sizeof buf, 30, &r);
    assert_int_equal(n, (int)strlen(buf));
    assert_string_equal(buf, "{\"step\":30,\"val_loss\":0.30000000000000004,\"tokens\":512}");
    double back = strtod(strstr(buf, "val_loss\":") + 10, NULL);
    assert_memory_equal(&back, &r.val_loss, sizeof(double)); /* %.17g reads back exactly */
    r.val_loss = NAN;
    runs_eval_format_line(buf, sizeof buf, 31, &r);
    assert_string_equal(buf, "{\"step\":31,\"val_loss\":null,\"tokens\":512}");
    assert_int_equal(runs_eval_format_line(buf, 10, 31, &r), -1);
}

static int validate(const char *eval_log)
{
    char text[1024];
    snprintf(text, sizeof text,
             "{\"schema\":\"runs.manifest/1\",\"kind\":\"start\",\"run\":\"r\",\"step\":20,\"tokens\":5,"
             "\"parent\":null,\"config\":{},\"tensors\":[],\"eval_log\":%s}",
             eval_log);
    cJSON *m = NULL;
    assert_int_equal(runs_json_parse(&m, text, "test"), 0);
    runs_error_clear();
    int rc = runs_manifest_validate(m);
    cJSON_Delete(m);
    return rc;
}

static void test_manifest_eval_log(void **state)
{
    if (validate("[{\"step\":10,\"val_loss\":4.5,\"tokens\":64},{\"step\":20,\"val_loss\":null,\"tokens\":64}]"))
        fail_msg("%s", runs_error_message());
    assert_int_equal(validate("null"), 0);
    assert_int_equal(validate("{}"), RUNS_EINVALID);
    assert_non_null(strstr(runs_error_message(), "manifest.eval_log"));
    assert_int_equal(validate("[{\"step\":-1,\"val_loss\":4.5,\"tokens\":64}]"), RUNS_EINVALID);
    assert_non_null(strstr(runs_error_message(), "eval_log[0].step"));
    assert_int_equal(validate("[{\"step\":1,\"val_loss\":\"x\",\"tokens\":64}]"), RUNS_EINVALID);
    assert_non_null(strstr(runs_error_message(), "eval_log[0].val_loss"));
    assert_int_equal(validate("[{\"step\":1,\"val_loss\":1}]"), RUNS_EINVALID);
    assert_non_null(strstr(runs_error_message(), "eval_log[0].tokens"));
}

/* The plot's held-out series: rows in node order, a row not past the last skipped
 * (a fork node re-evaluating its parent's step), null as NaN. */
static void test_plot_val_series(void **state)
{
    runs_plot_series sr;
    memset(&sr, 0, sizeof sr);
    const char *nodes[] = {
        "{\"eval_log\":[{\"step\":0,\"val_loss\":5,\"tokens\":8},{\"step\":10,\"val_loss\":4,\"tokens\":8}]}",
        "{\"eval_log\":[{\"step\":10,\"val_loss\":9,\"tokens\":8},{\"step\":20,\"val_loss\":null,\"tokens\":8}]}", "{}",
        "{\"eval_log\":[{\"step\":30,\"val_loss\":3.5,\"tokens\":8}]}"};
    for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
        cJSON *m = NULL;
        assert_int_equal(runs_json_parse(&m, nodes[i], "node"), 0);
        assert_int_equal(runs_plot_series_append_eval(&sr, m), 0);
        cJSON_Delete(m);
    }
    assert_int_equal(sr.n_val, 4);
    long want_step[] = {0, 10, 20, 30};
    for (int i = 0; i < 4; i++)
        assert_int_equal(sr.val_step[i], want_step[i]);
    assert_true(sr.val_loss[1] == 4.0); /* the parent's row at 10 stays */
    assert_true(isnan(sr.val_loss[2]));
    assert_true(sr.val_loss[3] == 3.5);
    runs_plot_series_free(&sr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_section),
        cmocka_unit_test(test_loss_is_a_function_of_the_weights),
        cmocka_unit_test(test_eval_leaves_training_alone),
        cmocka_unit_test(test_line_format),
        cmocka_unit_test(test_manifest_eval_log),
        cmocka_unit_test(test_plot_val_series),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
