/* cuda/cpu/cpu_attention.c — causal self-attention, forward and backward
 * (C11 + OpenMP). Work is split per (batch, head), a fixed piece whatever the
 * thread count; every sum runs in one fixed order inside it. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "cuda/cpu/cpu_kernels.h"
#include "cuda/cpu/cpu_simd.h"

/* ---------- attention ---------- */

/* Attention runs per (batch, head) on one thread, as GEMMs over row blocks of
 * AB rows: a block of query rows t ∈ [i0, i0+AB) needs key columns j < i0+AB
 * only, so the causal half is mostly skipped. Entries j > t of P and dS inside
 * a row's block (j < i0+AB) are kept at exactly 0, so the extra columns a
 * block does touch add +0; columns past the block are never read, and not
 * written either (zeroing them was half of att's stores). Each row block goes
 * through all its steps before the next, while its rows are in cache; the
 * backward walks the blocks last to first, since dK and dV of a block need dS
 * of every later row. Neither order changes any sum.
 * K and V are transposed per head into a small [hd, T] scratch where a GEMM
 * needs them as the right-hand row-major operand. */
#define AB 48

static void transpose_head(float *dst, const float *src, long ld, int T, int hd)
{
    for (int t = 0; t < T; t++)
        for (int d = 0; d < hd; d++)
            dst[(long)d * T + t] = src[(long)t * ld + d];
}

void cpu_attention_fwd(float *out, float *att, const float *qkv, int B, int T, int C, int NH)
{
    int hd = C / NH;
    long C3 = 3L * C;
    float scale = 1.0f / sqrtf((float)hd);
#pragma omp parallel
    {
        float *kt = malloc((size_t)hd * T * sizeof *kt);
#pragma omp for schedule(dynamic, 1)
        for (long bh = 0; bh < (long)B * NH; bh++) {
            int h = (int)(bh % NH), b = (int)(bh / NH);
            const float *q = qkv + (long)b * T * C3 + h * hd, *k = q + C, *v = q + 2 * C;
            float *S = att + bh * T * T, *o = out + (long)b * T * C + h * hd;
            transpose_head(kt, k, C3, T, hd);
            for (int i0 = 0; i0 < T; i0 += AB) {
                int rows = T - i0 < AB ? T - i0 : AB, cols = i0 + rows;
                cpu_gemm_serial(S + (long)i0 * T, T, q + (long)i0 * C3, C3, 1, kt, T, rows, cols, hd, 0, NULL);
                for (int t = i0; t < cols; t++) {
                    float *a = S + (long)t * T;
                    for (int j = 0; j <= t; j++)
                        a[j] *= scale;
                    float mx = max16(a, t + 1);
                    for (int j = 0; j <= t; j++)
                        a[j] = exp_fast(a[j] - mx);
                    float inv = 1.0f / sum16(a, t + 1);
                    for (int j = 0; j <= t; j++)
                        a[j] *= inv;
                    for (int j = t + 1; j < cols; j++)
                        a[j] = 0.0f;
                }
                cpu_gemm_serial(o + (long)i0 * C, C, S + (long)i0 * T, T, 1, v, C3, rows, hd, cols, 0, NULL);
            }
        }
        free(kt);
    }
}

void cpu_attention_bwd(float *dqkv, float *scratch, const float *dout, const float *qkv, const float *att, int B, int T,
                       int C, int NH)
{
    int hd = C / NH;
    long C3 = 3L * C;
    float scale = 1.0f / sqrtf((float)hd);
#pragma omp parallel
    {
        float *vt = malloc((size_t)hd * T * sizeof *vt);
#pragma omp for schedule(dynamic, 1)
        for (long bh = 0; bh < (long)B * NH; bh++) {
            int h = (int)(bh % NH), b = (int)(bh / NH);
            const float *P = att + bh * T * T;
            float *dS = scratch + bh * T * T;
            const float *q = qkv + (long)b * T * C3 + h * hd, *k = q + C, *v = q + 2 * C;
            const float *go = dout + (long)b * T * C + h * hd;
            float *dq = dqkv + (long)b * T * C3 + h * hd, *dk = dq + C, *dv = dq + 2 * C;
            transpose_head(vt, v, C3, T, hd);
            for (int i0 = (T - 1) / AB * AB; i0 >= 0; i0 -= AB) {
                int rows = T - i0 < AB ? T - i0 : AB, cols = i0 + rows;
                /* dP = dO·Vᵀ on the causal block, then dS = P ⊙ (dP − Σ P·dP)·scale. */
                cpu_gemm_serial(dS + (long)i0 * T, T, go + (long)i0 * C, C, 1, vt, T, rows, cols, hd, 0, NULL);
                for (int t = i0; t < cols; t++) {
                    const float *pr = P + (long)t * T;
                    float *ds = dS + (long)t * T;
                    float s = dot16(pr, ds, t + 1);
                    for (int j = 0; j <= t; j++)
                        ds[j] = pr[j] * (ds[j] - s) * scale;
                    for (int j = t + 1; j < cols; j++)
                        ds[j] = 0.0f;
                }
                /* dQ rows i0.. = dS[i0.., 0..i0+rows) · K */
                cpu_gemm_serial(dq + (long)i0 * C3, C3, dS + (long)i0 * T, T, 1, k, C3, rows, hd, cols, 0, NULL);
                /* dK rows j0 = i0.. = Σ_{t >= i0} dS[t, j]·Q[t]; dV likewise with P and dO. */
                cpu_gemm_serial(dk + (long)i0 * C3, C3, dS + (long)i0 * T + i0, 1, T, q + (long)i0 * C3, C3, rows, hd,
                                T - i0, 0, NULL);
                cpu_gemm_serial(dv + (long)i0 * C3, C3, P + (long)i0 * T + i0, 1, T, go + (long)i0 * C, C, rows, hd,
                                T - i0, 0, NULL);
            }
        }
        free(vt);
    }
}

