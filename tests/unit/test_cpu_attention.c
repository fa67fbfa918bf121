/* tests/unit/test_cpu_attention.c — causal attention, bit for bit.
 *
 * cpu_attention_fwd/bwd promise each element as one fixed-order sum: S, dP as
 * fma chains over the head dimension from +0 (S then times 1/√hd), O and dQ
 * as chains over j = 0..t, dK and dV as chains over t = j..T−1, the softmax
 * from max16, exp_fast, a 16-lane sum and a multiply by 1/sum, and
 * Σ_j P·dP from dot16 (both in their fused form, as the trainer's -O3
 * build makes them). The reference below writes those loops out plainly
 * (fmaf) and the kernels must match it bit for bit on 1 and 2 threads, at
 * head sizes 32 and 64 (the bench shapes) and odd ones (4, 100), with T not a
 * multiple of any tile (1, 50, 64, 100), and with scores far enough apart
 * that exp_fast clamps. att and scratch start as NaN, and
 * before the backward every att entry above the diagonal (j > t) is NaN
 * again: a kernel that reads one there turns an output to NaN. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <omp.h>

#include "cuda/cpu/cpu_kernels.h"
#include "cuda/cpu/cpu_simd.h"
#include "cuda/gpt.h"

static uint64_t rs = 4242;
static float *frandv(size_t n, float amp)
{
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = (gpt_rng_uniform(&rs) * 2.0f - 1.0f) * amp;
    return p;
}

static float *nanv(size_t n)
{
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = NAN;
    return p;
}

/* exp_fast and dot16 in their fused form, as GCC builds cpu_simd.h at -O2
 * and above (the trainer's build), written with fmaf so that the reference
 * does not depend on this file's optimisation level (SAN=1 builds at -O1,
 * where nothing is fused). test_fused_forms ties them to cpu_simd.h. */
static float exp_ref(float x)
{
    if (x < -87.0f)
        return exp_fast(-87.0f); /* the clamp, as the compiler folds it */
    float n = fmaf(x, 1.44269504088896341f, 12582912.0f) - 12582912.0f;
    float r = fmaf(-n, 0.693145751953125f, x);
    r = fmaf(-n, 1.428606765330187e-06f, r);
    float p = fmaf(r, 1.0f / 720.0f, 1.0f / 120.0f);
    p = fmaf(p, r, 1.0f / 24.0f);
    p = fmaf(p, r, 1.0f / 6.0f);
    p = fmaf(p, r, 0.5f);
    p = fmaf(p, r, 1.0f);
    p = fmaf(p, r, 1.0f);
    uint32_t bits = (uint32_t)((int32_t)n + 127) << 23;
    float sc;
    memcpy(&sc, &bits, sizeof sc);
    return p * sc;
}

static float dot_ref(const float *a, const float *b, int n)
{
    float acc[16] = {0};
    for (int j = 0; j < n; j++)
        acc[j % 16] = fmaf(a[j], b[j], acc[j % 16]);
    return lane_reduce(acc);
}

/* The reference: out [B,T,C], dqkv [B,T,3C], one (b, h) at a time. */
static void reference(float *out, float *dqkv, const float *qkv, const float *dout, int B, int T, int C, int NH)
{
    int hd = C / NH;
    long C3 = 3L * C;
    float scale = 1.0f / sqrtf((float)hd);
    float *P = malloc((size_t)T * T * sizeof *P), *dS = malloc((size_t)T * T * sizeof *dS);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            const float *q = qkv + (long)b * T * C3 + h * hd, *k = q + C, *v = q + 2 * C;
            const float *go = dout + (long)b * T * C + h * hd;
            float *o = out + (long)b * T * C + h * hd;
            float *dq = dqkv + (long)b * T * C3 + h * hd, *dk = dq + C, *dv = dq + 2 * C;
            for (int t = 0; t < T; t++) {
                float *a = P + (long)t * T;
                for (int j = 0; j <= t; j++) {
                    float acc = 0.0f;
                    for (int d = 0; d < hd; d++)
                        acc = fmaf(q[t * C3 + d], k[j * C3 + d], acc);
                    a[j] = acc * scale;
                }
                float mx = max16(a, t + 1);
                for (int j = 0; j <= t; j++)
                    a[j] = exp_ref(a[j] - mx);
                float inv = 1.0f / sum16(a, t + 1);
                for (int j = 0; j <= t; j++)
                    a[j] *= inv;
                for (int d = 0; d < hd; d++) {
                    float acc = 0.0f;
                    for (int j = 0; j <= t; j++)
                        acc = fmaf(a[j], v[j * C3 + d], acc);
                    o[(long)t * C + d] = acc;
                }
            }
            for (int t = 0; t < T; t++) {
                float *ds = dS + (long)t * T;
                for (int j = 0; j <= t; j++) {
                    float acc = 0.0f;
                    for (int d = 0; d < hd; d++)
                        acc = fmaf(go[(long)t * C + d], v[j * C3 + d], acc);
                    ds[j] = acc;
                }
                float s = dot_ref(P + (long)t * T, ds, t + 1);
                for (int j = 0; j <= t; j++)
                    ds[j] = P[(long)t * T + j] * (ds[j] - s) * scale;
            }
            for (int t = 0; t < T; t++)
                for (int d = 0; d < hd; d++) {
                    float aq = 0.0f, ak = 0.0f, av = 0.0f;
                    for (int j = 0; j <= t; j++)
                        aq = fmaf(dS[(long)t * T + j], k[j * C3 + d], aq);
                    for (int u = t; u < T; u++) { /* here t is the key row j */
                        ak = fmaf(dS[(long)u * T + t], q[u * C3 + d], ak);
                        av = fmaf(P[(long)u * T + t], go[(long)u * C + d], av);
                    }
                    dq[t * C3 + d] = aq;
                    dk[t * C3 + d] = ak;
                    dv[t * C3 + d] = av;
                }
        }
    free(P);
    free(dS);
}

static void same_bits(const float *got, const float *want, size_t n, const char *what, int B, int T, int C, int NH,
                      int nt)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(&got[i], &want[i], sizeof *got) != 0)
            fail_msg("attention B%d T%d C%d NH%d on %d threads: %s[%zu] = %.9g, want %.9g", B, T, C, NH, nt, what, i,
                     got[i], want[i]);
}

static void check_amp(int B, int T, int C, int NH, float amp)
{
    size_t n3 = (size_t)B * T * 3 * C, nc = (size_t)B * T * C, na = (size_t)B * NH * T * T;
    float *qkv = frandv(n3, amp), *dout = frandv(nc, 1.0f);
    float *want_o = malloc(nc * 4), *want_g = malloc(n3 * 4), *o = malloc(nc * 4), *g = malloc(n3 * 4);
    reference(want_o, want_g, qkv, dout, B, T, C, NH);
    int saved = omp_get_max_threads();
    for (int nt = 1; nt <= 2; nt++) {
        float *att = nanv(na), *scr = nanv(na);
        omp_set_num_threads(nt);
        memset(o, 0xff, nc * 4);
        cpu_attention_fwd(o, att, qkv, B, T, C, NH);
        same_bits(o, want_o, nc, "out", B, T, C, NH, nt);
        for (long bh = 0; bh < (long)B * NH; bh++)
            for (int t = 0; t < T; t++)
                for (int j = t + 1; j < T; j++)
                    att[(bh * T + t) * T + j] = NAN;
        memset(g, 0xff, n3 * 4);
        cpu_attention_bwd(g, scr, dout, qkv, att, B, T, C, NH);
        same_bits(g, want_g, n3, "dqkv", B, T, C, NH, nt);
        free(att);
        free(scr);
    }
    omp_set_num_threads(saved);
    free(qkv);
    free(dout);
    free(want_o);
    free(want_g);
    free(o);
    free(g);
}

/* Scores of a few units, so the softmax is neither flat nor one-hot. */
static void check(int B, int T, int C, int NH)
{
    check_amp(B, T, C, NH, 1.5f);
}

/* Head size 32, as in bench_trainer's shape (a). */
static void test_head32(void **state)
{
    (void)state;
    check(2, 50, 64, 2);
    check(1, 64, 128, 4);
    check(2, 100, 96, 3);
    check(1, 1, 64, 2);
}

/* Head size 64, as in GPT-2 124M (shape (b)). */
static void test_head64(void **state)
{
    (void)state;
    check(2, 64, 128, 2);
    check(1, 100, 192, 3);
    check(1, 50, 64, 1);
}

/* Odd head sizes: partial vectors (4, 40) and more than one 64-wide chunk (100). */
static void test_odd_heads(void **state)
{
    (void)state;
    check(1, 30, 12, 3);
    check(2, 50, 80, 2);
    check(1, 64, 200, 2);
}

/* Scores hundreds apart: many exp arguments fall below −87, where exp_fast
 * clamps (and P underflows to about 1e-38 or to 0 after the 1/sum). */
static void test_clamped_exp(void **state)
{
    (void)state;
    check_amp(2, 50, 64, 2, 20.0f);
    check_amp(1, 100, 128, 2, 20.0f);
}

/* a·b + c, which GCC fuses into one fma at -O2 and above (x86-64 with FMA)
 * and leaves as two roundings at -O1. */
static __attribute__((noinline)) float mul_add(float a, float b, float c)
{
    return a * b + c;
}

/* Where this build fuses (the trainer's build), exp_ref and dot_ref are
 * exp_fast and dot16 bit for bit: so the kernels keep cpu_simd.h's bits, and
 * the earlier attention's. Elsewhere (SAN=1 at -O1) there is nothing to tie. */
static void test_fused_forms(void **state)
{
    (void)state;
    volatile float one_plus = 1.0f + 0x1p-12f;
    if (mul_add(one_plus, one_plus, -1.0f) == 0x1p-11f) {
        print_message("cpu_simd.h is not fused in this build (-O1?): exp_fast/dot16 not compared\n");
        return;
    }
    for (float x = -100.0f; x <= 0.0f; x += 0.0137f)
        if (memcmp(&(float){exp_fast(x)}, &(float){exp_ref(x)}, sizeof x) != 0)
            fail_msg("exp_fast(%.9g) = %.9g, fused form %.9g", x, exp_fast(x), exp_ref(x));
    float *a = frandv(300, 3.0f), *b = frandv(300, 3.0f);
    for (int n = 0; n <= 300; n += 7)
        if (dot16(a, b, n) != dot_ref(a, b, n))
            fail_msg("dot16 over %d = %.9g, fused form %.9g", n, dot16(a, b, n), dot_ref(a, b, n));
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_head32), cmocka_unit_test(test_head64),
                                       cmocka_unit_test(test_odd_heads), cmocka_unit_test(test_clamped_exp),
                                       cmocka_unit_test(test_fused_forms)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
