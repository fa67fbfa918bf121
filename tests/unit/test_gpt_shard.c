/* tests/unit/test_gpt_shard.c — ZeRO-1 on the CPU trainer (cuda/gpt.h): a model whose
 * optimizer state is sharded to some tensors holds only their m and v, and
 * gpt_grad_norm + gpt_update_owned give those tensors the bits gpt_update gives them
 * (weights, m, v), leaving the others' weights untouched; the whole-group m/v calls
 * refuse a sharded model; unsharding keeps what was held. Also the tensor owner table
 * the data-parallel ranks share (runs_dp_shard_owners, runner/dp.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/error.h"
#include "cuda/gpt.h"
#include "runner/dp.h"

static const gpt_config tiny = {.n_layer = 2, .n_head = 2, .n_embd = 16, .vocab_size = 29, .block_size = 8};
enum { TB = 2, TT = 6 };

static gpt_model *make(void)
{
    gpt_model *m = NULL;
    if (gpt_create(&m, &tiny, TB, TT, GPT_BACKEND_CPU))
        fail_msg("gpt_create: %s", gpt_last_error());
    assert_int_equal(gpt_init_weights(m, 7), 0);
    return m;
}

static void forward(gpt_model *m, int step)
{
    int32_t in[TB * TT], tg[TB * TT];
    uint64_t s = 500 + (uint64_t)step;
    for (int i = 0; i < TB * TT; i++) {
        in[i] = (int32_t)(gpt_rng_next(&s) % (uint64_t)tiny.vocab_size);
        tg[i] = (int32_t)(gpt_rng_next(&s) % (uint64_t)tiny.vocab_size);
    }
    float loss;
    assert_int_equal(gpt_forward(m, in, tg, TB, TT, 1, &loss), 0);
}

/* grad_clip low enough that the clip factor (from the global norm) is in play */
static const gpt_adamw hp = {0.9f, 0.95f, 1e-8f, 0.1f, 0.05f};

static float *group(const gpt_model *m, gpt_slot slot)
{
    float *p = malloc(gpt_num_params(m) * sizeof(float));
    assert_non_null(p);
    assert_int_equal(gpt_read(m, slot, p), 0);
    return p;
}

/* tensor i of the model's slot equals want + offset, bit for bit */
static void same_tensor(const gpt_model *m, gpt_slot slot, int i, const float *want)
{
    const gpt_tensor_info *t = gpt_tensor(m, i);
    float *got = malloc(t->numel * sizeof(float));
    assert_non_null(got);
    assert_int_equal(gpt_read_tensor(m, slot, i, got), 0);
    if (memcmp(got, want + t->offset, t->numel * sizeof(float)))
        fail_msg("%s (slot %d) differs", t->name, (int)slot);
    free(got);
}

static void test_owned_update_equals_full(void **state)
{
    (void)state;
    gpt_model *full = make(), *sh = make();
    int nt = gpt_num_tensors(full);
    size_t np = gpt_num_params(full);
    /* two full steps first, so m and v hold something the shard must keep */
    for (int s = 0; s < 2; s++) {
        forward(full, s);
        forward(sh, s);
        assert_int_equal(gpt_update(full, &hp, 1e-2f, NULL), 0);
        assert_int_equal(gpt_update(sh, &hp, 1e-2f, NULL), 0);
    }
    assert_int_equal(gpt_optimizer_floats(sh), 2 * np);
    unsigned char *own = calloc((size_t)nt, 1);
    size_t owned = 0;
    for (int i = 0; i < nt; i++)
        if (i % 3 != 0) { /* wte (0) is not owned */
            own[i] = 1;
            owned += gpt_tensor(sh, i)->numel;
        }
    assert_int_equal(gpt_set_optimizer_shard(sh, own), 0);
    assert_int_equal(gpt_optimizer_floats(sh), 2 * owned);
    assert_true(gpt_optimizer_floats(sh) < 2 * np);
    assert_false(gpt_owns_tensor(sh, 0));
    assert_true(gpt_owns_tensor(sh, 1));
    float *m0 = group(full, GPT_ADAM_M), *v0 = group(full, GPT_ADAM_V), *before = group(sh, GPT_PARAM);
    for (int i = 0; i < nt; i++)
        if (own[i]) { /* carried over through the compaction */
            same_tensor(sh, GPT_ADAM_M, i, m0);
            same_tensor(sh, GPT_ADAM_V, i, v0);
        }
    forward(full, 2);
    forward(sh, 2);
    float gn_full;
    double gn;
    assert_int_equal(gpt_update(full, &hp, 1e-2f, &gn_full), 0);
    assert_int_equal(gpt_grad_norm(sh, &gn), 0);
    assert_true(gn > hp.grad_clip); /* the clip is exercised */
    assert_memory_equal(&gn_full, &(float){(float)gn}, sizeof(float));
    assert_int_equal(gpt_update_owned(sh, &hp, 1e-2f, gn), 0);
    assert_int_equal(gpt_adam_step(sh), gpt_adam_step(full));
    float *p1 = group(full, GPT_PARAM), *m1 = group(full, GPT_ADAM_M), *v1 = group(full, GPT_ADAM_V);
    for (int i = 0; i < nt; i++) {
        if (own[i]) {
            same_tensor(sh, GPT_PARAM, i, p1);
            same_tensor(sh, GPT_ADAM_M, i, m1);
            same_tensor(sh, GPT_ADAM_V, i, v1);
        } else {
            same_tensor(sh, GPT_PARAM, i, before); /* another rank's: untouched */
        }
    }
    free(m0), free(v0), free(before), free(p1), free(m1), free(v1), free(own);
    gpt_free(full);
    gpt_free(sh);
}

static void test_sharded_refusals_and_unshard(void **state)
{
    (void)state;
    gpt_model *m = make();
    int nt = gpt_num_tensors(m);
    size_t np = gpt_num_params(m);
    forward(m, 0);
    assert_int_equal(gpt_update(m, &hp, 1e-2f, NULL), 0);
    float *v0 = group(m, GPT_ADAM_V), *buf = malloc(np * sizeof(float));
    unsigned char *own = calloc((size_t)nt, 1);
    own[1] = 1; /* wpe alone */
    assert_int_equal(gpt_set_optimizer_shard(m, own), 0);
    assert_int_equal(gpt_optimizer_floats(m), 2 * gpt_tensor(m, 1)->numel);
    assert_int_equal(gpt_read(m, GPT_ADAM_M, buf), -1);
    assert_non_null(strstr(gpt_last_error(), "sharded"));
    assert_int_equal(gpt_write(m, GPT_ADAM_V, buf), -1);
    assert_int_equal(gpt_update(m, &hp, 1e-2f, NULL), -1);
    assert_non_null(strstr(gpt_last_error(), "gpt_update_owned"));
    assert_int_equal(gpt_read_tensor(m, GPT_ADAM_M, 0, buf), -1);
    assert_non_null(strstr(gpt_last_error(), "wte"));
    assert_int_equal(gpt_read(m, GPT_PARAM, buf), 0); /* weights and gradients stay whole */
    /* an all-owned mask and NULL are the unsharded model: wpe's v kept, the rest zero */
    assert_int_equal(gpt_set_optimizer_shard(m, NULL), 0);
    assert_int_equal(gpt_optimizer_floats(m), 2 * np);
    assert_int_equal(gpt_read(m, GPT_ADAM_V, buf), 0);
    const gpt_tensor_info *w = gpt_tensor(m, 1);
    assert_memory_equal(buf + w->offset, v0 + w->offset, w->numel * sizeof(float));
    for (size_t i = 0; i < gpt_tensor(m, 0)->numel; i++)
        assert_true(buf[i] == 0.0f);
    free(v0), free(buf), free(own);
    gpt_free(m);
}

/* every tensor has one owner, ranks get about equal floats, every rank computes the
 * same table, and one rank owns everything */
static void test_owner_table(void **state)
{
    (void)state;
    size_t numel[] = {100, 10, 10, 40, 40, 5, 5, 30};
    int n = 8, own[8];
    assert_int_equal(runs_dp_shard_owners(own, numel, n, 1), 0);
    for (int i = 0; i < n; i++)
        assert_int_equal(own[i], 0);
    assert_int_equal(runs_dp_shard_owners(own, numel, n, 3), 0);
    size_t load[3] = {0};
    for (int i = 0; i < n; i++) {
        assert_true(own[i] >= 0 && own[i] < 3);
        load[own[i]] += numel[i];
    }
    /* largest first, each to the least loaded (lowest rank on a tie): 100 | 40 30 | 40 10 10 5 5 */
    assert_int_equal(load[0], 100);
    assert_int_equal(load[1], 70);
    assert_int_equal(load[2], 70);
    assert_int_equal(own[0], 0);
    int again[8];
    assert_int_equal(runs_dp_shard_owners(again, numel, n, 3), 0);
    assert_memory_equal(own, again, sizeof own);
    assert_int_equal(runs_dp_shard_owners(own, numel, n, 0), RUNS_EINVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_owned_update_equals_full),
        cmocka_unit_test(test_sharded_refusals_and_unshard),
        cmocka_unit_test(test_owner_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
