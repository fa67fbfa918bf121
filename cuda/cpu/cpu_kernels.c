/* cuda/cpu/cpu_kernels.c — the CPU backend's elementwise and row kernels
 * (C11 + OpenMP): LayerNorm, GELU, cross-entropy, embeddings. The GEMM is in
 * cpu_gemm.c, attention in cpu_attention.c, the shared reductions in cpu_simd.h.
 *
 * Determinism rule: every parallel loop splits work into pieces whose bounds do
 * not depend on the thread count (rows, GEMM tiles, fixed-size chunks), and
 * every reduction runs in one fixed order inside one piece. So 1 thread and N
 * threads produce the same bits. Hot reductions use 16 fixed lanes (lane l sums
 * the elements i ≡ l mod 16, then a fixed tree), which the compiler vectorises
 * without reassociating anything. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cpu/cpu_kernels.h"
#include "cuda/cpu/cpu_simd.h"

#define CHUNK 4096 /* elementwise loops: fixed pieces */

/* ---------- LayerNorm ---------- */

void cpu_layernorm_fwd(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b, int N,
                       int C)
{
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (long)n * C;
        float *y = out + (long)n * C;
        float mu = sum16(x, C) / (float)C;
        float acc[16] = {0};
        int i = 0;
        for (; i + 16 <= C; i += 16)
            for (int l = 0; l < 16; l++) {
                float d = x[i + l] - mu;
                acc[l] += d * d;
            }
        for (int l = 0; i + l < C; l++) {
            float d = x[i + l] - mu;
            acc[l] += d * d;
        }
        float var = lane_reduce(acc) / (float)C;
        float rs = 1.0f / sqrtf(var + 1e-5f);
        for (int c = 0; c < C; c++)
            y[c] = (x[c] - mu) * rs * w[c] + b[c];
        mean[n] = mu;
        rstd[n] = rs;
    }
}

void cpu_layernorm_bwd(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                       const float *mean, const float *rstd, int N, int C)
{
#pragma omp parallel
    {
        float *dxhat = malloc((size_t)C * 2 * sizeof(float));
        float *xh = dxhat + C;
#pragma omp for schedule(static)
        for (int n = 0; n < N; n++) {
            const float *x = inp + (long)n * C, *d = dout + (long)n * C;
            float *dx = dinp + (long)n * C;
            float mu = mean[n], rs = rstd[n];
            for (int c = 0; c < C; c++) {
                xh[c] = (x[c] - mu) * rs;
                dxhat[c] = d[c] * w[c];
            }
            float m1 = sum16(dxhat, C) / (float)C;
            float m2 = dot16(dxhat, xh, C) / (float)C;
            for (int c = 0; c < C; c++)
                dx[c] += rs * (dxhat[c] - m1 - xh[c] * m2);
        }
        free(dxhat);
        /* Parameter gradients: each channel block sums rows 0..N−1 in order. */
        int nch = (C + 63) / 64;
#pragma omp for schedule(static)
        for (int ch = 0; ch < nch; ch++) {
            int c0 = ch * 64, c1 = c0 + 64 < C ? c0 + 64 : C;
            float aw[64] = {0}, ab[64] = {0};
            for (int n = 0; n < N; n++) {
                const float *x = inp + (long)n * C, *d = dout + (long)n * C;
                float mu = mean[n], rs = rstd[n];
                for (int c = c0; c < c1; c++) {
                    aw[c - c0] += d[c] * ((x[c] - mu) * rs);
                    ab[c - c0] += d[c];
                }
            }
            for (int c = c0; c < c1; c++) {
                dw[c] = aw[c - c0];
                db[c] = ab[c - c0];
            }
        }
    }
}

/* ---------- GELU ---------- */

#define GELU_S 0.7978845608028654f /* sqrt(2/pi) */

void cpu_gelu_fwd(float *out, const float *inp, size_t n)
{
    long nch = (long)((n + CHUNK - 1) / CHUNK);
#pragma omp parallel for schedule(static)
    for (long ch = 0; ch < nch; ch++) {
        size_t i0 = (size_t)ch * CHUNK, i1 = i0 + CHUNK < n ? i0 + CHUNK : n;
        for (size_t i = i0; i < i1; i++) {
            float x = inp[i];
            float u = GELU_S * (x + 0.044715f * x * x * x);
            out[i] = 0.5f * x * (1.0f + tanh_fast(u));
        }
    }
}

void cpu_gelu_bwd(float *dinp, const float *inp, const float *dout, size_t n)
{
    long nch = (long)((n + CHUNK - 1) / CHUNK);
#pragma omp parallel for schedule(static)
    for (long ch = 0; ch < nch; ch++) {
        size_t i0 = (size_t)ch * CHUNK, i1 = i0 + CHUNK < n ? i0 + CHUNK : n;
        for (size_t i = i0; i < i1; i++) {
            float x = inp[i];
            float u = GELU_S * (x + 0.044715f * x * x * x);
            float th = tanh_fast(u);
            float du = GELU_S * (1.0f + 3.0f * 0.044715f * x * x);
            float g = 0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * du;
            dinp[i] = g * dout[i];
        }
    }
}

/* ---------- softmax cross-entropy ---------- */

void cpu_crossentropy_rows(float *logits, float *losses, const int32_t *targets, int N, int V, float dscale,
                           int backward)
{
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        float *x = logits + (long)n * V;
        int tg = targets[n];
        float mx = max16(x, V);
        float xt = x[tg];
        float acc[16] = {0};
        int i = 0;
        for (; i + 16 <= V; i += 16)
            for (int l = 0; l < 16; l++) {
                float e = exp_fast(x[i + l] - mx);
                x[i + l] = e;
                acc[l] += e;
            }
        for (int l = 0; i + l < V; l++) {
            float e = exp_fast(x[i + l] - mx);
            x[i + l] = e;
            acc[l] += e;
        }
        float sum = lane_reduce(acc);
        losses[n] = logf(sum) + mx - xt;
        if (backward) {
            float s = dscale / sum;
            for (int j = 0; j < V; j++)
                x[j] *= s;
            x[tg] -= dscale;
        }
    }
}

float cpu_crossentropy(float *logits, float *losses, const int32_t *targets, int N, int V, int backward)
{
    cpu_crossentropy_rows(logits, losses, targets, N, V, 1.0f / (float)N, backward);
    double total = 0.0;
    for (int n = 0; n < N; n++)
        total += losses[n];
    return (float)(total / N);
}

/* ---------- embeddings, residual ---------- */

void cpu_embedding_fwd(float *out, const int32_t *tok, const float *wte, const float *wpe, int B, int T, int C)
{
#pragma omp parallel for schedule(static)
    for (long r = 0; r < (long)B * T; r++) {
        const float *e = wte + (long)tok[r] * C, *p = wpe + (r % T) * C;
        float *o = out + r * C;
        for (int c = 0; c < C; c++)
            o[c] = e[c] + p[c];
    }
}

void cpu_embedding_bwd(float *dwte, float *dwpe, const float *dout, const int32_t *tok, int B, int T, int C)
{
    int nch = (C + 63) / 64;
    /* Channel blocks own their columns of dwte, rows scattered in row order. */
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < nch; ch++) {
        int c0 = ch * 64, c1 = c0 + 64 < C ? c0 + 64 : C;
        for (long r = 0; r < (long)B * T; r++) {
            float *w = dwte + (long)tok[r] * C;
            const float *d = dout + r * C;
            for (int c = c0; c < c1; c++)
                w[c] += d[c];
        }
    }
#pragma omp parallel for schedule(static)
    for (int t = 0; t < T; t++) {
        float *w = dwpe + (long)t * C;
        for (int c = 0; c < C; c++)
            w[c] = 0.0f;
        for (int b = 0; b < B; b++) {
            const float *d = dout + ((long)b * T + t) * C;
            for (int c = 0; c < C; c++)
                w[c] += d[c];
        }
    }
}

void cpu_add(float *out, const float *a, const float *b, size_t n)
{
    long nch = (long)((n + CHUNK - 1) / CHUNK);
#pragma omp parallel for schedule(static)
    for (long ch = 0; ch < nch; ch++) {
        size_t i0 = (size_t)ch * CHUNK, i1 = i0 + CHUNK < n ? i0 + CHUNK : n;
        for (size_t i = i0; i < i1; i++)
            out[i] = a[i] + b[i];
    }
}

void cpu_matvec(float *out, const float *W, const float *x, int rows, int cols)
{
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++)
        out[r] = dot16(W + (long)r * cols, x, cols);
}
