/* tests/unit/test_cuda_parity.c — the CUDA backend against the CPU reference.
 *
 * Needs a CUDA device; on a machine without one every parity case prints
 * "SKIP: no CUDA device (parity not run)" and is skipped, and the one case
 * that can run anywhere checks that asking for the CUDA backend fails with a
 * clear message instead of crashing.
 *
 * Tolerances (CUDA in its default fp32 math; RUNS_CUDA_MATH is cleared here):
 * both backends compute the same fp32 formulas but sum in different orders
 * (cuBLAS tiles vs. the CPU GEMM's p = 0..K−1; warp trees vs. 16-lane
 * accumulators) and the CPU uses a ~2-ulp polynomial exp. Each reduction then
 * differs by about sqrt(K)·2^-24 of the magnitude of its terms: K ≤ 128 here,
 * so ~1e-6 relative per op, and a forward+backward chains a few dozen of them.
 *   - loss: relative 1e-4 (observed error should be ~1e-6; a wrong kernel gives
 *     O(1e-2) or worse even on this tiny model);
 *   - gradients of the freshly initialised model (identical weights on both):
 *     per tensor, max |cuda − cpu| ≤ 1e-4 × that tensor's max |cpu| (floored at
 *     1e-4 × the largest over all tensors, so tensors whose gradient is nearly
 *     zero are judged against the model's gradient scale, not against rounding
 *     noise). Expected ~1e-6 (a CPU emulation of these kernels with
 *     double-accumulating GEMMs gave 5e-7); 1e-3 was too loose: at init the
 *     GELU inputs are small, so a wrong cubic coefficient in GELU's derivative
 *     (3·0.044715 → 2·0.044715) moved the c_fc weight gradients by only 1.2e-3;
 *   - gradients after updates, Adam m and v: the same measure ≤ 1e-3, looser
 *     because Adam's first steps move every weight by ~lr whatever the size of
 *     its gradient, so rounding-level gradients become lr-sized weight
 *     differences that feed the next gradients (measured ~2e-4);
 *   - grad norm: relative 1e-4;
 *   - params after 10 AdamW steps: Adam divides by sqrt(v), so an element whose
 *     gradient is at the rounding-noise level can move by up to lr per step in
 *     different directions on the two backends — legitimately. So: no element
 *     further apart than 2·lr·steps (the most two Adam trajectories can
 *     diverge), and at most 0.1% of elements further apart than 1e-4 (10% of
 *     lr; a normal element differs by ~lr × 1e-6). A wrong weight decay on
 *     the LayerNorm gains (1e-3 over 10 steps, 0.6% of this model) or a wrong
 *     bias correction fails that.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/gpt.h"
#include "cuda/gpt_backend.h"

#define B_ 3
#define T_ 16
#define STEPS 10
#define LR 1e-3f

static const gpt_config CFG = {.n_layer = 2, .n_head = 4, .n_embd = 64, .vocab_size = 96, .block_size = 32};
static const gpt_adamw HP = {.beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f, .grad_clip = 1.0f};

static int have_device(void)
{
    if (gpt_cuda_device_count() > 0)
        return 1;
    /* the backend's reason (no device, a driver too old for this build, no CUDA
     * build): on a GPU machine a skip must not pass for a pass unnoticed */
    gpt_model *m = NULL;
    const char *why = gpt_create(&m, &CFG, B_, T_, GPT_BACKEND_CUDA) ? gpt_last_error() : "?";
    gpt_free(m);
    printf("SKIP: no CUDA device (parity not run): %s\n", why);
    return 0;
}

static gpt_model *make(gpt_backend be, uint64_t seed)
{
    gpt_model *m = NULL;
    if (gpt_create(&m, &CFG, B_, T_, be))
        fail_msg("gpt_create(%s): %s", gpt_backend_name(be), gpt_last_error());
    if (gpt_init_weights(m, seed))
        fail_msg("init (%s): %s", gpt_backend_name(be), gpt_last_error());
    return m;
}

static void batch(uint64_t *rng, int32_t *in, int32_t *tg)
{
    for (int i = 0; i < B_ * T_; i++) {
        in[i] = (int32_t)(gpt_rng_next(rng) % (uint64_t)CFG.vocab_size);
        tg[i] = (int32_t)(gpt_rng_next(rng) % (uint64_t)CFG.vocab_size);
    }
}

static float *group(const gpt_model *m, gpt_slot s)
{
    float *p = gpt_host_alloc(m, gpt_num_params(m) * sizeof(float));
    assert_non_null(p);
    if (gpt_read(m, s, p))
        fail_msg("gpt_read(%s): %s", gpt_backend_name(gpt_get_backend(m)), gpt_last_error());
    return p;
}

static void assert_rel(const char *what, double want, double got, double tol)
{
    double err = fabs(got - want) / fmax(fabs(want), 1e-12);
    if (!(err <= tol))
        fail_msg("%s: cpu %.9g cuda %.9g (relative %.3g > %.1g)", what, want, got, err, tol);
}

/* Per-tensor max-abs difference against the tensor's own scale (see the top). */
static void assert_group_close(const gpt_model *mc, const gpt_model *mg, gpt_slot s, const char *what, double tol)
{
    float *a = group(mc, s), *b = group(mg, s);
    int nt = gpt_num_tensors(mc);
    double global = 0.0;
    for (size_t i = 0; i < gpt_num_params(mc); i++)
        global = fmax(global, fabs(a[i]));
    assert_true(global > 0.0);
    for (int t = 0; t < nt; t++) {
        const gpt_tensor_info *ti = gpt_tensor(mc, t);
        double scale = 0.0, diff = 0.0;
        for (size_t i = ti->offset; i < ti->offset + ti->numel; i++) {
            scale = fmax(scale, fabs(a[i]));
            double d = fabs((double)a[i] - b[i]);
            diff = isnan(b[i]) ? INFINITY : fmax(diff, d);
        }
        scale = fmax(scale, 1e-4 * global);
        if (!(diff <= tol * scale))
            fail_msg("%s %s: max |cuda-cpu| = %.3g > %.1g x scale %.3g", what, ti->name, diff, tol, scale);
    }
    gpt_host_free(mc, a);
    gpt_host_free(mg, b);
}

static void assert_params_close(const gpt_model *mc, const gpt_model *mg, int steps)
{
    float *a = group(mc, GPT_PARAM), *b = group(mg, GPT_PARAM);
    size_t n = gpt_num_params(mc), far = 0;
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (isnan(b[i]))
            d = INFINITY;
        worst = fmax(worst, d);
        if (d > 1e-4)
            far++;
    }
    if (!(worst <= 2.0 * LR * steps))
        fail_msg("params: max |cuda-cpu| = %.3g > 2*lr*steps", worst);
    if (far * 1000 > n)
        fail_msg("params: %zu of %zu elements differ by more than 1e-4", far, n);
    gpt_host_free(mc, a);
    gpt_host_free(mg, b);
}

/* One training step on both; checks loss and grad norm agree. */
static void step_both(gpt_model *mc, gpt_model *mg, const int32_t *in, const int32_t *tg, int k, const gpt_adamw *hp)
{
    float lc, lg, nc, ng;
    char what[64];
    if (gpt_forward(mc, in, tg, B_, T_, 1, &lc))
        fail_msg("cpu forward: %s", gpt_last_error());
    if (gpt_forward(mg, in, tg, B_, T_, 1, &lg))
        fail_msg("cuda forward: %s", gpt_last_error());
    snprintf(what, sizeof what, "loss at step %d", k);
    assert_rel(what, lc, lg, 1e-4);
    if (gpt_update(mc, hp, LR, &nc))
        fail_msg("cpu update: %s", gpt_last_error());
    if (gpt_update(mg, hp, LR, &ng))
        fail_msg("cuda update: %s", gpt_last_error());
    snprintf(what, sizeof what, "grad norm at step %d", k);
    assert_rel(what, nc, ng, 1e-4);
    assert_int_equal(gpt_adam_step(mc), gpt_adam_step(mg));
}

static void test_absent_device_fails_cleanly(void **state)
{
    (void)state;
    if (gpt_cuda_device_count() > 0)
        skip();
    gpt_model *m = (gpt_model *)0x1;
    assert_int_equal(gpt_cuda_available(), 0);
    assert_int_equal(gpt_create(&m, &CFG, B_, T_, GPT_BACKEND_CUDA), -1);
    assert_null(m);
    const char *e = gpt_last_error();
    if (!strstr(e, "no CUDA device") && !strstr(e, "no CUDA backend"))
        fail_msg("unexpected message: %s", e);
}

static void test_loss_and_gradients(void **state)
{
    (void)state;
    if (!have_device())
        skip();
    gpt_model *mc = make(GPT_BACKEND_CPU, 1234), *mg = make(GPT_BACKEND_CUDA, 1234);
    int32_t in[B_ * T_], tg[B_ * T_];
    uint64_t rng = 99;
    batch(&rng, in, tg);
    float lc, lg, l0;
    assert_int_equal(gpt_forward(mc, in, tg, B_, T_, 1, &lc), 0);
    assert_int_equal(gpt_forward(mg, in, tg, B_, T_, 1, &lg), 0);
    assert_rel("loss", lc, lg, 1e-4);
    /* a freshly initialised model predicts nearly uniformly */
    assert_true(fabs(lg - logf((float)CFG.vocab_size)) < 0.1);
    assert_group_close(mc, mg, GPT_GRAD, "grad", 1e-4);
    /* forward without backward leaves the gradients alone and gives the same loss */
    assert_int_equal(gpt_forward(mg, in, tg, B_, T_, 0, &l0), 0);
    assert_rel("loss (forward only)", lg, l0, 1e-6);
    assert_group_close(mc, mg, GPT_GRAD, "grad after forward-only", 1e-4);
    /* a smaller batch and shorter sequence than the model was built for */
    assert_int_equal(gpt_forward(mc, in, tg, 1, 5, 1, &lc), 0);
    assert_int_equal(gpt_forward(mg, in, tg, 1, 5, 1, &lg), 0);
    assert_rel("loss (1x5)", lc, lg, 1e-4);
    assert_group_close(mc, mg, GPT_GRAD, "grad (1x5)", 1e-4);
    gpt_free(mc);
    gpt_free(mg);
}

/* The tensor-core maths (RUNS_CUDA_MATH=tf32, bf16) round GEMM inputs to 10 and
 * 7 mantissa bits: relative error per product 2^-11 and 2^-8, averaging down
 * over K-term sums. The loss of this model (K ≤ 256) then moves by ~1e-4
 * (tf32) and ~1e-3 (bf16) relative, so 2e-3 and 2e-2; gradients by ~1e-3 and
 * ~1e-2 of their scale, so 1e-2 and 1e-1: loose enough for honest rounding,
 * tight enough that a GEMM with a wrong operand (O(1) differences) fails. */
static void reduced_math(const char *math, double loss_tol, double grad_tol)
{
    setenv("RUNS_CUDA_MATH", math, 1); /* read by the backend at create */
    gpt_model *mc = make(GPT_BACKEND_CPU, 1234), *mg = make(GPT_BACKEND_CUDA, 1234);
    unsetenv("RUNS_CUDA_MATH");
    int32_t in[B_ * T_], tg[B_ * T_];
    uint64_t rng = 99;
    batch(&rng, in, tg);
    float lc, lg;
    char what[64];
    assert_int_equal(gpt_forward(mc, in, tg, B_, T_, 1, &lc), 0);
    assert_int_equal(gpt_forward(mg, in, tg, B_, T_, 1, &lg), 0);
    snprintf(what, sizeof what, "loss (%s)", math);
    assert_rel(what, lc, lg, loss_tol);
    snprintf(what, sizeof what, "grad (%s)", math);
    assert_group_close(mc, mg, GPT_GRAD, what, grad_tol);
    gpt_free(mc);
    gpt_free(mg);
}

static void test_tensor_core_maths(void **state)
{
    (void)state;
    if (!have_device())
        skip();
    reduced_math("tf32", 2e-3, 1e-2);
    reduced_math("bf16", 2e-2, 1e-1);
    /* an unknown math is refused at create, with the choices in the message */
    setenv("RUNS_CUDA_MATH", "fp8", 1);
    gpt_model *m = NULL;
    int rc = gpt_create(&m, &CFG, B_, T_, GPT_BACKEND_CUDA);
    unsetenv("RUNS_CUDA_MATH");
    assert_int_equal(rc, -1);
    assert_null(m);
    assert_non_null(strstr(gpt_last_error(), "fp32, tf32 or bf16"));
}

static void test_ten_adamw_steps(void **state)
{
    (void)state;
    if (!have_device())
        skip();
    gpt_model *mc = make(GPT_BACKEND_CPU, 77), *mg = make(GPT_BACKEND_CUDA, 77);
    int32_t in[B_ * T_], tg[B_ * T_];
    uint64_t rng = 5;
    for (int k = 1; k <= STEPS; k++) {
        /* This model's gradient norm is 1.3-2.8 over these steps, so with HP
         * every step would clip; every other step runs with clipping off
         * (grad_clip 0) so the unclipped path (scale 1) is compared too. */
        gpt_adamw hp = HP;
        if (k % 2 == 0)
            hp.grad_clip = 0.0f;
        batch(&rng, in, tg);
        step_both(mc, mg, in, tg, k, &hp);
    }
    assert_group_close(mc, mg, GPT_ADAM_M, "adam m", 1e-3);
    assert_group_close(mc, mg, GPT_ADAM_V, "adam v", 1e-3);
    assert_params_close(mc, mg, STEPS);
    /* greedy generation exercises logits_last on both */
    int32_t prompt[3] = {1, 2, 3}, oc[6], og[6];
    uint64_t sc = 1, sg = 1;
    assert_int_equal(gpt_generate(mc, prompt, 3, 6, 0.0f, 0, &sc, oc), 0);
    assert_int_equal(gpt_generate(mg, prompt, 3, 6, 0.0f, 0, &sg, og), 0);
    assert_memory_equal(oc, og, sizeof oc);
    gpt_free(mc);
    gpt_free(mg);
}

/* Trains `from` for 5 steps, checkpoints it (all groups + adam_step, staged
 * through pinned host buffers), resumes on `to`, then both run 5 more steps
 * on the same batches with matching losses. */
static void resume_across(gpt_backend from, gpt_backend to)
{
    gpt_model *a = make(from, 4242), *b = NULL;
    int32_t in[B_ * T_], tg[B_ * T_];
    uint64_t rng = 17;
    float l;
    for (int k = 0; k < 5; k++) {
        batch(&rng, in, tg);
        assert_int_equal(gpt_forward(a, in, tg, B_, T_, 1, &l), 0);
        assert_int_equal(gpt_update(a, &HP, LR, NULL), 0);
    }
    assert_int_equal(gpt_create(&b, &CFG, B_, T_, to), 0);
    for (int s = GPT_PARAM; s <= GPT_ADAM_V; s++) {
        float *p = group(a, (gpt_slot)s);
        if (gpt_write(b, (gpt_slot)s, p))
            fail_msg("gpt_write: %s", gpt_last_error());
        gpt_host_free(a, p);
    }
    gpt_set_adam_step(b, gpt_adam_step(a));
    assert_group_close(a, b, GPT_PARAM, "params after restore", 0.0);
    for (int k = 6; k <= 10; k++) {
        batch(&rng, in, tg);
        if (from == GPT_BACKEND_CPU)
            step_both(a, b, in, tg, k, &HP);
        else
            step_both(b, a, in, tg, k, &HP);
    }
    gpt_free(a);
    gpt_free(b);
}

static void test_checkpoint_cpu_to_cuda(void **state)
{
    (void)state;
    if (!have_device())
        skip();
    resume_across(GPT_BACKEND_CPU, GPT_BACKEND_CUDA);
}

static void test_checkpoint_cuda_to_cpu(void **state)
{
    (void)state;
    if (!have_device())
        skip();
    resume_across(GPT_BACKEND_CUDA, GPT_BACKEND_CPU);
}

int main(void)
{
    unsetenv("RUNS_CUDA_MATH"); /* parity is stated for fp32 math */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_absent_device_fails_cleanly), cmocka_unit_test(test_loss_and_gradients),
        cmocka_unit_test(test_tensor_core_maths),           cmocka_unit_test(test_ten_adamw_steps),
        cmocka_unit_test(test_checkpoint_cpu_to_cuda),      cmocka_unit_test(test_checkpoint_cuda_to_cpu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
