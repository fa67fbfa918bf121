/* cuda/cpu/cpu_attention_rows.h — the row steps of causal attention (private
 * to cuda/cpu/cpu_attention.c, which includes it once): the softmax of a block
 * of score rows and dS = P ⊙ (dP − Σ P·dP)·scale, each element in the fixed
 * order the earlier code gave it (max16, exp_fast and sum16; dot16), with
 * exp_fast and dot16 in their fused form written out. */
#ifndef RUNS_CUDA_CPU_ATTENTION_ROWS_H
#define RUNS_CUDA_CPU_ATTENTION_ROWS_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#ifdef __AVX512F__
#include <immintrin.h>
#endif

#include "cuda/cpu/cpu_simd.h"

/* Rows of one S/dP tile and the widest tile (floats). */
#define DR 6
#define DW 64

#ifdef __AVX512F__
/* The first rem lanes (none for rem <= 0, all for rem >= 16). */
static inline __mmask16 lanes(int rem)
{
    return rem >= 16 ? (__mmask16)0xFFFF : rem <= 0 ? (__mmask16)0 : (__mmask16)((1u << rem) - 1u);
}

/* lane_reduce's tree on a vector: lane l += lane l+8, then +4, +2, +1 (each
 * add is the same pair, so the same bits). */
static inline float tree_sum(__m512 v)
{
    v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(3, 2, 3, 2)));
    v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(1, 1, 1, 1)));
    v = _mm512_add_ps(v, _mm512_permute_ps(v, _MM_SHUFFLE(3, 2, 3, 2)));
    v = _mm512_add_ps(v, _mm512_permute_ps(v, _MM_SHUFFLE(1, 1, 1, 1)));
    return _mm512_cvtss_f32(v);
}

/* exp_fast on 16 lanes x <= 0 (a score minus its row's max) in its fused
 * form, as GCC builds cpu_simd.h at -O2 and above (the trainer's build):
 * n = fma(x, log2e, M) − M, r = x − n·c1 − n·c2 (fused), p by Horner in
 * fmas, times 2^n; lanes below −87, which exp_fast clamps, take exp_fast(−87)
 * as the compiler folds it. (Its clamp above 88 cannot trigger here.) Written
 * out, these bits do not depend on the optimisation level: at -O1 (SAN=1)
 * cpu_simd.h's own C is not fused. test_cpu_attention checks them against a
 * reference written with fmaf, and against exp_fast where the build fuses. */
static inline __m512 exp_fast16(__m512 x, __m512 lo_val)
{
    __mmask16 lo = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.0f), _CMP_LT_OQ);
    __m512 n = _mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f), _mm512_set1_ps(12582912.0f));
    n = _mm512_add_ps(n, _mm512_set1_ps(-12582912.0f));
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187e-06f), r);
    __m512 p = _mm512_fmadd_ps(r, _mm512_set1_ps(1.0f / 720.0f), _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvttps_epi32(n), _mm512_set1_epi32(127)), 23);
    p = _mm512_mul_ps(p, _mm512_castsi512_ps(e));
    return _mm512_mask_blend_ps(lo, p, lo_val);
}

/* Rows t0..t0+rows (rows <= 12, ld apart; row t has n = t + 1 scaled
 * scores) become P: the max (exact in any order), then exp and its 16-lane
 * sum in sum16's order, in one pass, then the scaling by 1/sum. Each step
 * runs over all the rows before the next, so the rows' reductions and
 * divisions overlap instead of each row waiting on its own. Masked tails read
 * and write nothing past n. */
static void softmax_rows(float *S, long ld, int t0, int rows)
{
    __m512 lo_val = _mm512_set1_ps(exp_fast(-87.0f)), acc[12];
    float mx[12], inv[12];
    for (int r = 0; r < rows; r++) {
        const float *a = S + r * ld;
        int n = t0 + r + 1, j = 0;
        __m512 m = _mm512_set1_ps(-INFINITY);
        for (; j + 16 <= n; j += 16)
            m = _mm512_max_ps(_mm512_loadu_ps(a + j), m);
        if (j < n)
            m = _mm512_max_ps(_mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), lanes(n - j), a + j), m);
        mx[r] = _mm512_reduce_max_ps(m);
    }
    for (int r = 0; r < rows; r++) {
        float *a = S + r * ld;
        int n = t0 + r + 1, j = 0;
        __m512 m = _mm512_set1_ps(mx[r]), sum = _mm512_setzero_ps();
        for (; j + 16 <= n; j += 16) {
            __m512 e = exp_fast16(_mm512_sub_ps(_mm512_loadu_ps(a + j), m), lo_val);
            _mm512_storeu_ps(a + j, e);
            sum = _mm512_add_ps(sum, e);
        }
        if (j < n) {
            __mmask16 kt = lanes(n - j);
            __m512 e = exp_fast16(_mm512_sub_ps(_mm512_maskz_loadu_ps(kt, a + j), m), lo_val);
            _mm512_mask_storeu_ps(a + j, kt, e);
            sum = _mm512_add_ps(sum, _mm512_maskz_mov_ps(kt, e)); /* +0 in the lanes sum16 leaves alone */
        }
        acc[r] = sum;
    }
    for (int r = 0; r < rows; r++)
        inv[r] = 1.0f / tree_sum(acc[r]);
    for (int r = 0; r < rows; r++) {
        float *a = S + r * ld;
        int n = t0 + r + 1, j = 0;
        __m512 iv = _mm512_set1_ps(inv[r]);
        for (; j + 16 <= n; j += 16)
            _mm512_storeu_ps(a + j, _mm512_mul_ps(_mm512_loadu_ps(a + j), iv));
        if (j < n)
            _mm512_mask_storeu_ps(a + j, lanes(n - j), _mm512_mul_ps(_mm512_maskz_loadu_ps(lanes(n - j), a + j), iv));
    }
}

/* dS rows t0..t0+mr (mr <= DR, ld apart; row t has n = t + 1 entries) =
 * P ⊙ (dP − Σ P·dP)·scale, each sum in dot16's order (lane l fuses the
 * products j ≡ l mod 16 in order, then the tree). One chain per row is bound
 * by the fma latency, so the rows' chains run side by side over the chunks
 * every row has; rows >= mr redo row 0 and are dropped. */
static void ds_rows(float *dS, const float *P, long ld, int t0, int mr, float scale)
{
    __m512 acc[DR], sc = _mm512_set1_ps(scale);
    const float *pr[DR];
    float *dr[DR];
#pragma GCC unroll 6
    for (int r = 0; r < DR; r++) {
        acc[r] = _mm512_setzero_ps();
        pr[r] = P + (r < mr ? r : 0) * ld;
        dr[r] = dS + (r < mr ? r : 0) * ld;
    }
    int jc = (t0 + 1) / 16 * 16; /* full chunks of row t0, so of every row */
    for (int j = 0; j < jc; j += 16)
#pragma GCC unroll 6
        for (int r = 0; r < DR; r++)
            acc[r] = _mm512_fmadd_ps(_mm512_loadu_ps(pr[r] + j), _mm512_loadu_ps(dr[r] + j), acc[r]);
    for (int r = 0; r < mr; r++) {
        int n = t0 + r + 1, j = jc;
        __m512 a = acc[r];
        for (; j + 16 <= n; j += 16)
            a = _mm512_fmadd_ps(_mm512_loadu_ps(pr[r] + j), _mm512_loadu_ps(dr[r] + j), a);
        __mmask16 kt = lanes(n - j);
        if (j < n) /* fma(0, 0, a) is a */
            a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(kt, pr[r] + j), _mm512_maskz_loadu_ps(kt, dr[r] + j), a);
        __m512 s = _mm512_set1_ps(tree_sum(a));
        for (j = 0; j + 16 <= n; j += 16) {
            __m512 d = _mm512_sub_ps(_mm512_loadu_ps(dr[r] + j), s);
            _mm512_storeu_ps(dr[r] + j, _mm512_mul_ps(_mm512_mul_ps(_mm512_loadu_ps(pr[r] + j), d), sc));
        }
        if (j < n) {
            __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(kt, dr[r] + j), s);
            _mm512_mask_storeu_ps(dr[r] + j, kt,
                                  _mm512_mul_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(kt, pr[r] + j), d), sc));
        }
    }
}
#else
/* exp_fast's fused form with fmaf, as exp_fast16 (the same bits whatever
 * the compiler fuses by itself), for x <= 0 only (a score minus its row's
 * max): exp_fast's upper clamp is never reached here. */
static float exp_fused(float x)
{
    if (x < -87.0f)
        return exp_fast(-87.0f);
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
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* Rows t0..t0+rows of P from their scaled scores (row t has t + 1): max16,
 * exp, sum16, 1/sum. */
static void softmax_rows(float *S, long ld, int t0, int rows)
{
    for (int r = 0; r < rows; r++) {
        float *a = S + r * ld;
        int n = t0 + r + 1;
        float mx = max16(a, n);
        for (int j = 0; j < n; j++)
            a[j] = exp_fused(a[j] - mx);
        float inv = 1.0f / sum16(a, n);
        for (int j = 0; j < n; j++)
            a[j] *= inv;
    }
}

static void ds_rows(float *dS, const float *P, long ld, int t0, int mr, float scale)
{
    for (int r = 0; r < mr; r++) {
        float *ds = dS + r * ld;
        const float *pr = P + r * ld;
        int n = t0 + r + 1;
        float acc[16] = {0}; /* dot16's lanes, fused as in the AVX-512 path */
        for (int j = 0; j < n; j++)
            acc[j % 16] = fmaf(pr[j], ds[j], acc[j % 16]);
        float s = lane_reduce(acc);
        for (int j = 0; j < n; j++)
            ds[j] = pr[j] * (ds[j] - s) * scale;
    }
}
#endif

#endif
