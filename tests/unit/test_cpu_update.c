/* tests/unit/test_cpu_update.c — the CPU optimizer (cuda/cpu/cpu_update.c).
 * The global gradient norm, bit for bit against the order cuda/gpt.h and the
 * previous scalar loop define: chunks of 65536 floats; in a chunk, lane l of 8
 * sums the squares (in double) of the elements i ≡ l mod 8 in order, a fixed tree
 * adds the lanes; the chunks' sums are added in order. The vector code sums four
 * chunks side by side and masks a chunk's last partial 8: the sizes here are not
 * multiples of 8, and take one partial chunk, a lone group of 3 full chunks and a
 * partial one, and two full groups then a partial group; on 1, 2 and 3 threads.
 * Eight draws of gradients over 8 binary orders of magnitude: a copy of the code
 * with two lanes of the tree swapped, with the chunks' sums added in another
 * order, or with a group's chunks read from the wrong place fails here. */
#include <math.h>
#include <omp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cuda/gpt.h"

/* The reference: as gpt.h states it, written the plain way. */
static double ref_norm(const float *g, size_t n)
{
    double sq = 0.0;
    for (size_t i0 = 0; i0 < n; i0 += 65536) {
        size_t i1 = i0 + 65536 < n ? i0 + 65536 : n;
        double a[8] = {0};
        for (size_t i = i0; i < i1; i++)
            a[(i - i0) % 8] += (double)g[i] * (double)g[i];
        sq += ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
    }
    return sqrt(sq);
}

static void norm_case(const gpt_config *c, size_t want_n)
{
    gpt_model *m = NULL;
    if (gpt_create(&m, c, 1, c->block_size, GPT_BACKEND_CPU))
        fail_msg("gpt_create: %s", gpt_last_error());
    size_t n = gpt_num_params(m);
    assert_int_equal(n, want_n); /* the sizes the header comment promises */
    float *g = malloc(n * sizeof *g);
    assert_non_null(g);
    int saved = omp_get_max_threads();
    /* Several draws: a reordered sum differs from the reference in the last
     * bit or two of the squares' sum, which the square root often rounds away. */
    for (int draw = 0; draw < 8; draw++) {
        uint64_t s = 11 + n + (uint64_t)draw;
        for (size_t i = 0; i < n; i++) /* uniform in [-0.5, 0.5) times 2^-6 .. 2^1 */
            g[i] = (gpt_rng_uniform(&s) - 0.5f) * ldexpf(1.0f, (int)(gpt_rng_next(&s) % 8) - 6);
        assert_int_equal(gpt_write(m, GPT_GRAD, g), 0);
        double want = ref_norm(g, n);
        for (int nt = 1; nt <= 3; nt++) {
            omp_set_num_threads(nt);
            double got = 0.0;
            assert_int_equal(gpt_grad_norm(m, &got), 0);
            if (memcmp(&got, &want, sizeof got) != 0)
                fail_msg("n %zu, draw %d, %d threads: norm %.17g, want %.17g", n, draw, nt, got, want);
            /* gpt_update reports the same norm (before clipping) */
            gpt_adamw hp = {0.9f, 0.95f, 1e-8f, 0.0f, 0.0f};
            float fn = 0.0f;
            assert_int_equal(gpt_update(m, &hp, 1e-3f, &fn), 0);
            assert_true(fn == (float)want);
        }
    }
    omp_set_num_threads(saved);
    free(g);
    gpt_free(m);
}

static void norm_one_partial_chunk(void **state)
{
    (void)state;
    gpt_config c = {.n_layer = 1, .n_head = 1, .n_embd = 7, .vocab_size = 31, .block_size = 5};
    norm_case(&c, 945); /* 945 = 8·118 + 1 */
}

static void norm_lone_group(void **state)
{
    (void)state;
    gpt_config c = {.n_layer = 1, .n_head = 1, .n_embd = 63, .vocab_size = 2502, .block_size = 8};
    norm_case(&c, 206703); /* 3 full chunks + 10095 (= 8·1261 + 7) */
}

static void norm_groups_then_partial(void **state)
{
    (void)state;
    gpt_config c = {.n_layer = 4, .n_head = 5, .n_embd = 65, .vocab_size = 7001, .block_size = 16};
    norm_case(&c, 662415); /* 2 groups of 4, then 2 full chunks + 7055 (= 8·881 + 7) */
}

static float *read_group(const gpt_model *m, gpt_slot slot)
{
    float *p = malloc(gpt_num_params(m) * sizeof *p);
    assert_non_null(p);
    assert_int_equal(gpt_read(m, slot, p), 0);
    return p;
}

/* Clipping scales the gradients inside AdamW's pass (cpu_update.c's adam_chunk,
 * vector body and scalar tail alike). An update whose norm is over grad_clip
 * must give exactly what an unclipped update of the pre-scaled gradients gives
 * (g·s with s = (float)(grad_clip / norm), as gpt.h says): weights, m, v and the
 * GRAD group it leaves behind, over two steps so m and v are not zero. The
 * tensors' sizes (63, 189, 504, 11907, 157626, ...) end in partial 16-float blocks and
 * cross 4096-float chunks. A copy that writes back the unscaled gradient, or
 * feeds m or v the unscaled one, in either path, fails here. */
static void clip_is_the_scaled_gradient(void **state)
{
    (void)state;
    gpt_config c = {.n_layer = 1, .n_head = 1, .n_embd = 63, .vocab_size = 2502, .block_size = 8};
    gpt_model *a = NULL, *b = NULL;
    if (gpt_create(&a, &c, 1, 8, GPT_BACKEND_CPU) || gpt_create(&b, &c, 1, 8, GPT_BACKEND_CPU))
        fail_msg("gpt_create: %s", gpt_last_error());
    assert_int_equal(gpt_init_weights(a, 5), 0);
    assert_int_equal(gpt_init_weights(b, 5), 0);
    size_t n = gpt_num_params(a);
    float *g = malloc(n * sizeof *g), *gs = malloc(n * sizeof *gs);
    assert_non_null(g);
    assert_non_null(gs);
    const gpt_adamw clip = {0.9f, 0.95f, 1e-8f, 0.1f, 0.5f}, noclip = {0.9f, 0.95f, 1e-8f, 0.1f, 0.0f};
    uint64_t r = 77;
    for (int step = 0; step < 2; step++) {
        for (size_t i = 0; i < n; i++)
            g[i] = (gpt_rng_uniform(&r) - 0.5f) * 0.1f;
        assert_int_equal(gpt_write(a, GPT_GRAD, g), 0);
        double norm = 0.0;
        assert_int_equal(gpt_grad_norm(a, &norm), 0);
        assert_true(norm > clip.grad_clip); /* the clip is in play */
        float sc = (float)(clip.grad_clip / norm);
        for (size_t i = 0; i < n; i++)
            gs[i] = g[i] * sc;
        assert_int_equal(gpt_write(b, GPT_GRAD, gs), 0);
        assert_int_equal(gpt_update(a, &clip, 1e-2f, NULL), 0);
        assert_int_equal(gpt_update(b, &noclip, 1e-2f, NULL), 0);
        for (gpt_slot slot = GPT_PARAM; slot <= GPT_ADAM_V; slot++) {
            float *x = read_group(a, slot), *y = read_group(b, slot);
            for (size_t i = 0; i < n; i++)
                if (memcmp(&x[i], &y[i], sizeof *x) != 0)
                    fail_msg("step %d, group %d, [%zu]: clipped %.9g, pre-scaled %.9g", step, (int)slot, i, x[i], y[i]);
            free(x);
            free(y);
        }
    }
    free(g);
    free(gs);
    gpt_free(a);
    gpt_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(norm_one_partial_chunk),
        cmocka_unit_test(norm_lone_group),
        cmocka_unit_test(norm_groups_then_partial),
        cmocka_unit_test(clip_is_the_scaled_gradient),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
