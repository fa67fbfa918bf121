/* tests/unit/test_grad_accum.c — runner/dp.h's accumulation on real gradients of the
 * CPU trainer: the mean over micro-batches is the gradient of the batch they make up
 * (the loss is a mean over tokens, so averaging half-batch gradients gives the
 * full-batch one), identical micro-batches average to the one gradient, and the
 * fold is in index order (the same bits as a hand-written left fold). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/error.h"
#include "cuda/gpt.h"
#include "runner/dp.h"

enum { B = 4, T = 8, V = 64 };

static gpt_model *tiny(int max_batch)
{
    gpt_config c = {.n_layer = 2, .n_head = 2, .n_embd = 16, .vocab_size = V, .block_size = T};
    gpt_model *m = NULL;
    if (gpt_create(&m, &c, max_batch, T, GPT_BACKEND_CPU))
        fail_msg("gpt_create: %s", gpt_last_error());
    assert_int_equal(gpt_init_weights(m, 11), 0);
    return m;
}

static void tokens(int32_t *in, int32_t *tg, int rows, uint64_t seed)
{
    for (int i = 0; i < rows * T; i++) {
        in[i] = (int32_t)(gpt_rng_next(&seed) % V);
        tg[i] = (int32_t)(gpt_rng_next(&seed) % V);
    }
}

/* gradient of rows [row0, row0 + rows) of in/tg into g */
static float grad_of(gpt_model *m, const int32_t *in, const int32_t *tg, int row0, int rows, float *g)
{
    float loss;
    assert_int_equal(gpt_forward(m, in + row0 * T, tg + row0 * T, rows, T, 1, &loss), 0);
    assert_int_equal(gpt_read(m, GPT_GRAD, g), 0);
    return loss;
}

static double max_rel_diff(const float *a, const float *b, size_t n)
{
    double scale = 0, d = 0;
    for (size_t i = 0; i < n; i++) {
        scale = fmax(scale, fabs(a[i]));
        d = fmax(d, fabs((double)a[i] - b[i]));
    }
    return scale > 0 ? d / scale : d;
}

static void test_mean_of_halves_is_full_batch_gradient(void **state)
{
    (void)state;
    gpt_model *m = tiny(2 * B);
    size_t n = gpt_num_params(m);
    int32_t in[2 * B * T], tg[2 * B * T];
    tokens(in, tg, 2 * B, 3);
    float *full = malloc(n * sizeof *full), *sum = malloc(n * sizeof *sum), *g = malloc(n * sizeof *g);
    float lf = grad_of(m, in, tg, 0, 2 * B, full);
    float l0 = grad_of(m, in, tg, 0, B, sum);
    float l1 = grad_of(m, in, tg, B, B, g);
    runs_dp_grad_add(sum, g, n);
    runs_dp_grad_mean(sum, n, 2);
    assert_true(max_rel_diff(full, sum, n) < 1e-5);
    assert_true(fabs((l0 + l1) / 2 - lf) < 1e-5);
    /* the sum (no mean) is twice as large: the test tells them apart */
    runs_dp_grad_add(sum, sum, n);
    assert_true(max_rel_diff(full, sum, n) > 0.5);
    free(full), free(sum), free(g);
    gpt_free(m);
}

static void test_identical_micro_batches_average_to_one(void **state)
{
    (void)state;
    gpt_model *m = tiny(B);
    size_t n = gpt_num_params(m);
    int32_t in[B * T], tg[B * T];
    tokens(in, tg, B, 5);
    float *one = malloc(n * sizeof *one), *sum = malloc(n * sizeof *sum), *g = malloc(n * sizeof *g);
    grad_of(m, in, tg, 0, B, one);
    for (int A = 2; A <= 5; A++) {
        grad_of(m, in, tg, 0, B, sum);
        for (int k = 1; k < A; k++) {
            grad_of(m, in, tg, 0, B, g);
            runs_dp_grad_add(sum, g, n);
        }
        runs_dp_grad_mean(sum, n, A);
        assert_true(max_rel_diff(one, sum, n) < 1e-6);
    }
    free(one), free(sum), free(g);
    gpt_free(m);
}

static void test_fold_order_and_count_one(void **state)
{
    (void)state;
    /* values whose float sum depends on the order: (1e8 + 1) + -1e8 = 0, not 1 */
    float a[3] = {1e8f, 1, 3}, b[3] = {1, -1e8f, 0.5f}, c[3] = {-1e8f, 1e8f, 0.25f};
    float want[3];
    for (int i = 0; i < 3; i++)
        want[i] = ((a[i] + b[i]) + c[i]) / 3.0f;
    runs_dp_grad_add(a, b, 3);
    runs_dp_grad_add(a, c, 3);
    runs_dp_grad_mean(a, 3, 3);
    assert_memory_equal(a, want, sizeof want);
    float x[2] = {0.1f, -7};
    runs_dp_grad_mean(x, 2, 1);
    assert_true(x[0] == 0.1f && x[1] == -7);
}

/* runs_dp_fit_accum: the global batch a node was written with, kept on another rank
 * count, or refused with the counts that would keep it */
static void test_fit_accum(void **state)
{
    (void)state;
    int a = -1;
    /* 2 ranks x 1 x (2 x 8) = 32 tokens: 1 rank takes 2, 2 ranks 1 */
    assert_int_equal(runs_dp_fit_accum(&a, 32, 2, 8, 1), 0);
    assert_int_equal(a, 2);
    assert_int_equal(runs_dp_fit_accum(&a, 32, 2, 8, 2), 0);
    assert_int_equal(a, 1);
    /* 3 ranks x 2 = 6 micro-batches: 2 ranks x 3, 6 ranks x 1 */
    assert_int_equal(runs_dp_fit_accum(&a, 96, 2, 8, 2), 0);
    assert_int_equal(a, 3);
    assert_int_equal(runs_dp_fit_accum(&a, 96, 2, 8, 6), 0);
    assert_int_equal(a, 1);
    /* 4 ranks cannot share 6; 12 ranks would need half a micro-batch each */
    a = -1;
    assert_int_equal(runs_dp_fit_accum(&a, 96, 2, 8, 4), RUNS_EINVALID);
    assert_int_equal(a, -1);
    assert_non_null(strstr(runs_error_message(), "-np one of 1, 2, 3, 6"));
    assert_int_equal(runs_dp_fit_accum(&a, 96, 2, 8, 12), RUNS_EINVALID);
    /* a batch that is not whole micro-batches (another batch_size) */
    assert_int_equal(runs_dp_fit_accum(&a, 40, 2, 8, 1), RUNS_EINVALID);
    assert_int_equal(runs_dp_fit_accum(&a, 8, 2, 8, 1), RUNS_EINVALID);
}

/* runs_dp_launch_size: mpirun's, PMI's and srun --mpi=pmix's task counts; Slurm's
 * count alone (a batch script outside srun) is one process */
static void test_launch_size(void **state)
{
    (void)state;
    static const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "SLURM_STEP_NUM_TASKS"};
    for (size_t i = 0; i < 4; i++)
        unsetenv(vars[i]);
    assert_int_equal(runs_dp_launch_size(), 1);
    setenv("SLURM_STEP_NUM_TASKS", "4", 1);
    assert_int_equal(runs_dp_launch_size(), 1);
    setenv("PMIX_RANK", "0", 1);
    assert_int_equal(runs_dp_launch_size(), 4);
    setenv("PMI_SIZE", "3", 1);
    assert_int_equal(runs_dp_launch_size(), 3);
    setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
    assert_int_equal(runs_dp_launch_size(), 2);
    setenv("OMPI_COMM_WORLD_SIZE", "two", 1);
    assert_int_equal(runs_dp_launch_size(), 3);
    for (size_t i = 0; i < 4; i++)
        unsetenv(vars[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mean_of_halves_is_full_batch_gradient),
        cmocka_unit_test(test_identical_micro_batches_average_to_one),
        cmocka_unit_test(test_fold_order_and_count_one),
        cmocka_unit_test(test_fit_accum),
        cmocka_unit_test(test_launch_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
