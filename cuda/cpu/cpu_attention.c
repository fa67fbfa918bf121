/* cuda/cpu/cpu_attention.c — causal self-attention, forward and backward
 * (C11 + OpenMP). Work is split per (batch, head), a fixed piece whatever the
 * thread count; every sum runs in one fixed order inside it. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>

#ifdef __AVX512F__
#include <immintrin.h>
#endif

#include "cuda/cpu/cpu_kernels.h"
#include "cuda/cpu/cpu_attention_rows.h"
#include "cuda/cpu/cpu_simd.h"

/* ---------- attention ----------
 *
 * Every element is the sum cpu_gemm would give it (one fma chain over its
 * inner index, in order, from +0), so these bits are those of the earlier
 * version built on cpu_gemm_serial; only the tiling differs:
 *   S  = Q·Kᵀ·scale and dP = dO·Vᵀ: tiles of 6 query rows × up to 64 key
 *        columns (dot_tile), over the columns a row tile needs (j < t0 + 6);
 *   O  = P·V, dQ = dS·K (rows t, chains over j <= t) and dK = dSᵀ·Q,
 *        dV = Pᵀ·dO (rows j, chains over t >= j): acc_tile, whose rows stop
 *        (or start) on the diagonal, so no entry of P or dS above it is read
 *        and none needs zeroing. Skipping those entries changes no bits: the
 *        earlier version added them as fma(+0, x, acc), which is acc for a
 *        finite x (acc is never −0: it starts at +0, and a sum that is exactly
 *        zero rounds to +0).
 * Kᵀ and Vᵀ are copied per head into a small [hd, T] scratch so the S and dP
 * tiles load contiguous key columns; nothing else is packed. The row steps
 * (softmax, dS) and the tile sizes DR, DW are in cpu_attention_rows.h. */

#ifdef __AVX512F__
/* dst[c·ldd + r] = src[r·lds + c] for a 16×16 block: pairs of rows
 * interleaved, then pairs of pairs, then 128-bit quarters regrouped twice. */
static inline void transpose16(float *dst, long ldd, const float *src, long lds)
{
    __m512 r[16], t[16];
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++)
        r[i] = _mm512_loadu_ps(src + i * lds);
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) { /* r[4i + k], quarter L: rows 4i..4i+3 of column 4L + k */
        __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]), c = _mm512_castps_pd(t[4 * i + 2]),
                d = _mm512_castps_pd(t[4 * i + 3]);
        r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
        t[k] = _mm512_shuffle_f32x4(r[k], r[4 + k], 0x88);
        t[4 + k] = _mm512_shuffle_f32x4(r[k], r[4 + k], 0xdd);
        t[8 + k] = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], 0x88);
        t[12 + k] = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], 0xdd);
    }
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
        _mm512_storeu_ps(dst + k * ldd, _mm512_shuffle_f32x4(t[k], t[8 + k], 0x88));
        _mm512_storeu_ps(dst + (8 + k) * ldd, _mm512_shuffle_f32x4(t[k], t[8 + k], 0xdd));
        _mm512_storeu_ps(dst + (4 + k) * ldd, _mm512_shuffle_f32x4(t[4 + k], t[12 + k], 0x88));
        _mm512_storeu_ps(dst + (12 + k) * ldd, _mm512_shuffle_f32x4(t[4 + k], t[12 + k], 0xdd));
    }
}
#endif

/* dst [hd, T] = the head's [T, hd] slice of src (rows ld apart): 16×16
 * blocks where they fit, the edges one element at a time. */
static void transpose_head(float *dst, const float *src, long ld, int T, int hd)
{
    int t16 = 0, d16 = 0;
#ifdef __AVX512F__
    t16 = T / 16 * 16;
    d16 = hd / 16 * 16;
    for (int t = 0; t < t16; t += 16)
        for (int d = 0; d < d16; d += 16)
            transpose16(dst + (long)d * T + t, T, src + (long)t * ld + d, ld);
#endif
    for (int t = 0; t < T; t++)
        for (int d = t < t16 ? d16 : 0; d < hd; d++)
            dst[(long)d * T + t] = src[(long)t * ld + d];
}

#ifdef __AVX512F__
/* C[r, c] (=) (Σ_p X[r·ldx + p]·Yt[p·ldy + c]) · scale (when scaled), for
 * r < mr <= DR, c < nc <= 16·nv, p = 0..kd−1 in order. Rows >= mr read row 0
 * and are not stored. nv is a constant in each caller. */
static inline __attribute__((always_inline)) void dot_body(const int nv, int kd, const float *X, long ldx, int mr,
                                                           const float *Yt, long ldy, int nc, float *Cm, long ldc,
                                                           int scaled, float scale)
{
    __mmask16 mk[4];
    const float *xr[DR];
    __m512 c[DR][4];
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++)
        mk[v] = lanes(nc - 16 * v);
#pragma GCC unroll 6
    for (int r = 0; r < DR; r++) {
        xr[r] = X + (r < mr ? r : 0) * ldx;
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            c[r][v] = _mm512_setzero_ps();
    }
    for (int p = 0; p < kd; p++) {
        __m512 b[4];
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            b[v] = _mm512_maskz_loadu_ps(mk[v], Yt + (long)p * ldy + 16 * v);
#pragma GCC unroll 6
        for (int r = 0; r < DR; r++) {
            __m512 a = _mm512_set1_ps(xr[r][p]);
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++)
                c[r][v] = _mm512_fmadd_ps(a, b[v], c[r][v]);
        }
    }
    __m512 s = _mm512_set1_ps(scale);
#pragma GCC unroll 6
    for (int r = 0; r < DR; r++)
        if (r < mr)
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++)
                _mm512_mask_storeu_ps(Cm + (long)r * ldc + 16 * v, mk[v], scaled ? _mm512_mul_ps(c[r][v], s) : c[r][v]);
}

static void dot_tile(int kd, const float *X, long ldx, int mr, const float *Yt, long ldy, int nc, float *Cm, long ldc,
                     int scaled, float scale)
{
    switch ((nc + 15) / 16) {
    case 1: dot_body(1, kd, X, ldx, mr, Yt, ldy, nc, Cm, ldc, scaled, scale); break;
    case 2: dot_body(2, kd, X, ldx, mr, Yt, ldy, nc, Cm, ldc, scaled, scale); break;
    case 3: dot_body(3, kd, X, ldx, mr, Yt, ldy, nc, Cm, ldc, scaled, scale); break;
    default: dot_body(4, kd, X, ldx, mr, Yt, ldy, nc, Cm, ldc, scaled, scale); break;
    }
}

/* One p of acc_body for the rows whose range holds it (the triangle at
 * either end of the tile's p range). */
static inline __attribute__((always_inline)) void acc_edge(const int nv, const int mrow, __m512 c[][4],
                                                           const float *const ar[], long a_cs, const __mmask16 mk[],
                                                           const float *Bm, long ldb, int p, int mr, int pa, int sa,
                                                           int pb, int sb)
{
    __m512 b[4];
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++)
        b[v] = _mm512_maskz_loadu_ps(mk[v], Bm + (long)p * ldb + 16 * v);
#pragma GCC unroll 12
    for (int r = 0; r < mrow; r++)
        if (r < mr && p >= pa + r * sa && p < pb + r * sb) {
            __m512 a = _mm512_set1_ps(ar[r][(long)p * a_cs]);
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++)
                c[r][v] = _mm512_fmadd_ps(a, b[v], c[r][v]);
        }
}

/* C[r, c] (=) Σ_p A[r·a_rs + p·a_cs]·Bm[p·ldb + c] for r < mr <= mrow,
 * c < nc <= 16·nv, where row r sums p over [pa + r·sa, pb + r·sb) in order
 * (sa, sb ∈ {0, 1}: a row range that starts or ends on the diagonal). Entries
 * of A outside a row's range are never read. Rows >= mr read row 0 inside the
 * range every row shares, and are not stored. */
static inline __attribute__((always_inline)) void acc_body(const int nv, const int mrow, const float *A, long a_rs,
                                                           long a_cs, int mr, int pa, int sa, int pb, int sb,
                                                           const float *Bm, long ldb, int nc, float *Cm, long ldc)
{
    __mmask16 mk[4];
    const float *ar[12];
    __m512 c[12][4];
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++)
        mk[v] = lanes(nc - 16 * v);
#pragma GCC unroll 12
    for (int r = 0; r < mrow; r++) {
        ar[r] = A + (r < mr ? r : 0) * a_rs;
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            c[r][v] = _mm512_setzero_ps();
    }
    int f0 = pa + (mr - 1) * sa, f1 = pb; /* every row's range holds [f0, f1) */
    f1 = f1 < f0 ? f0 : f1;
    for (int p = pa; p < f0; p++)
        acc_edge(nv, mrow, c, ar, a_cs, mk, Bm, ldb, p, mr, pa, sa, pb, sb);
    for (int p = f0; p < f1; p++) {
        __m512 b[4];
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
            b[v] = _mm512_maskz_loadu_ps(mk[v], Bm + (long)p * ldb + 16 * v);
#pragma GCC unroll 12
        for (int r = 0; r < mrow; r++) {
            __m512 a = _mm512_set1_ps(ar[r][(long)p * a_cs]);
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++)
                c[r][v] = _mm512_fmadd_ps(a, b[v], c[r][v]);
        }
    }
    for (int p = f1, pe = pb + (mr - 1) * sb; p < pe; p++)
        acc_edge(nv, mrow, c, ar, a_cs, mk, Bm, ldb, p, mr, pa, sa, pb, sb);
#pragma GCC unroll 12
    for (int r = 0; r < mrow; r++)
        if (r < mr)
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++)
                _mm512_mask_storeu_ps(Cm + (long)r * ldc + 16 * v, mk[v], c[r][v]);
}

/* Rows per acc_tile call for an output nc columns wide: 12 rows × 2 vectors
 * or 6 × 4 keep 24 accumulators busy. */
static int acc_rows(int nc)
{
    return nc <= 32 ? 12 : 6;
}

static void acc_tile(const float *A, long a_rs, long a_cs, int mr, int pa, int sa, int pb, int sb, const float *Bm,
                     long ldb, int nc, float *Cm, long ldc)
{
    /* Full tiles of the head sizes 32 and 64 get the row count (and for a
     * transposed A its unit row stride) as constants: the rows' addresses
     * are then offsets from one pointer, not 12 registers spilled to the
     * stack. */
#define ACC(nv, mrow, ARS, MR) acc_body(nv, mrow, A, ARS, a_cs, MR, pa, sa, pb, sb, Bm, ldb, nc, Cm, ldc)
    switch ((nc + 15) / 16) {
    case 1: ACC(1, 12, a_rs, mr); break;
    case 2:
        if (mr == 12 && a_rs == 1)
            ACC(2, 12, 1, 12);
        else if (mr == 12)
            ACC(2, 12, a_rs, 12);
        else
            ACC(2, 12, a_rs, mr);
        break;
    case 3: ACC(3, 6, a_rs, mr); break;
    default:
        if (mr == 6 && a_rs == 1)
            ACC(4, 6, 1, 6);
        else if (mr == 6)
            ACC(4, 6, a_rs, 6);
        else
            ACC(4, 6, a_rs, mr);
        break;
    }
#undef ACC
}
#else
/* Portable tiles: the same sums in the same order (fmaf), a row at a time
 * with its (at most DW) columns side by side, which the compiler vectorises. */
static void dot_tile(int kd, const float *X, long ldx, int mr, const float *Yt, long ldy, int nc, float *Cm, long ldc,
                     int scaled, float scale)
{
    for (int r = 0; r < mr; r++) {
        float acc[DW] = {0};
        for (int p = 0; p < kd; p++) {
            float a = X[(long)r * ldx + p];
            for (int c = 0; c < nc; c++)
                acc[c] = fmaf(a, Yt[(long)p * ldy + c], acc[c]);
        }
        for (int c = 0; c < nc; c++)
            Cm[(long)r * ldc + c] = scaled ? acc[c] * scale : acc[c];
    }
}

static int acc_rows(int nc)
{
    return nc <= 32 ? 12 : 6;
}

static void acc_tile(const float *A, long a_rs, long a_cs, int mr, int pa, int sa, int pb, int sb, const float *Bm,
                     long ldb, int nc, float *Cm, long ldc)
{
    for (int r = 0; r < mr; r++) {
        float acc[DW] = {0};
        for (int p = pa + r * sa; p < pb + r * sb; p++) {
            float a = A[(long)r * a_rs + (long)p * a_cs];
            for (int c = 0; c < nc; c++)
                acc[c] = fmaf(a, Bm[(long)p * ldb + c], acc[c]);
        }
        for (int c = 0; c < nc; c++)
            Cm[(long)r * ldc + c] = acc[c];
    }
}
#endif

/* Rows t0.. (mr of them) of X·Ytᵀ over the causal columns j < t0 + mr, in
 * tiles of DR × DW. */
static void dot_rows(float *Cm, long ldc, const float *X, long ldx, const float *Yt, long ldy, int t0, int mr, int kd,
                     int scaled, float scale)
{
    int cols = t0 + mr;
    for (int j0 = 0; j0 < cols; j0 += DW)
        dot_tile(kd, X, ldx, mr, Yt + j0, ldy, cols - j0 < DW ? cols - j0 : DW, Cm + j0, ldc, scaled, scale);
}

/* C rows r0..r0+mr, all hd columns, via acc_tile in column chunks. */
static void acc_rows_all(const float *A, long a_rs, long a_cs, int mr, int pa, int sa, int pb, int sb, const float *Bm,
                         long ldb, int hd, float *Cm, long ldc)
{
    for (int d0 = 0; d0 < hd; d0 += DW)
        acc_tile(A, a_rs, a_cs, mr, pa, sa, pb, sb, Bm + d0, ldb, hd - d0 < DW ? hd - d0 : DW, Cm + d0, ldc);
}

void cpu_attention_fwd(float *out, float *att, const float *qkv, int B, int T, int C, int NH)
{
    int hd = C / NH, mrow = acc_rows(hd < DW ? hd : DW);
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
            /* 12 rows at a time (a multiple of DR and of both acc_tile heights):
             * their scores, their softmax, their output, while they are in L1. */
            for (int i0 = 0; i0 < T; i0 += 12) {
                int rows = T - i0 < 12 ? T - i0 : 12;
                for (int t0 = i0; t0 < i0 + rows; t0 += DR) {
                    int mr = i0 + rows - t0 < DR ? i0 + rows - t0 : DR;
                    dot_rows(S + (long)t0 * T, T, q + (long)t0 * C3, C3, kt, T, t0, mr, hd, 1, scale);
                }
                softmax_rows(S + (long)i0 * T, T, i0, rows);
                for (int t0 = i0; t0 < i0 + rows; t0 += mrow) {
                    int mr = i0 + rows - t0 < mrow ? i0 + rows - t0 : mrow;
                    /* O row t = Σ_{j <= t} P[t, j]·V[j] */
                    acc_rows_all(S + (long)t0 * T, T, 1, mr, 0, 0, t0 + 1, 1, v, C3, hd, o + (long)t0 * C, C);
                }
            }
        }
        free(kt);
    }
}

void cpu_attention_bwd(float *dqkv, float *scratch, const float *dout, const float *qkv, const float *att, int B, int T,
                       int C, int NH)
{
    int hd = C / NH, mrow = acc_rows(hd < DW ? hd : DW);
    long C3 = 3L * C;
    float scale = 1.0f / sqrtf((float)hd);
#pragma omp parallel
    {
        float *vt = malloc((size_t)hd * T * sizeof *vt), *dS = NULL;
#pragma omp for schedule(dynamic, 1)
        for (long bh = 0; bh < (long)B * NH; bh++) {
            int h = (int)(bh % NH), b = (int)(bh / NH);
            const float *P = att + bh * T * T;
            /* dS lives only while its head is worked on: each thread reuses
             * the scratch of the first head it takes (no other thread has
             * that one), so dS stays in cache instead of streaming through
             * B·NH·T·T floats. */
            if (!dS)
                dS = scratch + bh * T * T;
            const float *q = qkv + (long)b * T * C3 + h * hd, *k = q + C, *v = q + 2 * C;
            const float *go = dout + (long)b * T * C + h * hd;
            float *dq = dqkv + (long)b * T * C3 + h * hd, *dk = dq + C, *dv = dq + 2 * C;
            transpose_head(vt, v, C3, T, hd);
            /* dP = dO·Vᵀ on the causal rows, then dS = P ⊙ (dP − Σ P·dP)·scale. */
            for (int t0 = 0; t0 < T; t0 += DR) {
                int mr = T - t0 < DR ? T - t0 : DR;
                /* P was written by the forward long ago: fetch the next
                 * tile's rows while this one computes */
                for (int t = t0 + DR; t < t0 + 2 * DR && t < T; t++)
                    for (int j = 0; j <= t; j += 16)
                        __builtin_prefetch(P + (long)t * T + j, 0, 3);
                dot_rows(dS + (long)t0 * T, T, go + (long)t0 * C, C, vt, T, t0, mr, hd, 0, 1.0f);
                ds_rows(dS + (long)t0 * T, P + (long)t0 * T, T, t0, mr, scale);
            }
            for (int r0 = 0; r0 < T; r0 += mrow) {
                int mr = T - r0 < mrow ? T - r0 : mrow;
                /* dQ row t = Σ_{j <= t} dS[t, j]·K[j] */
                acc_rows_all(dS + (long)r0 * T, T, 1, mr, 0, 0, r0 + 1, 1, k, C3, hd, dq + (long)r0 * C3, C3);
                /* dK row j = Σ_{t >= j} dS[t, j]·Q[t]; dV row j likewise with P and dO. */
                acc_rows_all(dS + r0, 1, T, mr, r0, 1, T, 0, q, C3, hd, dk + (long)r0 * C3, C3);
                acc_rows_all(P + r0, 1, T, mr, r0, 1, T, 0, go, C, hd, dv + (long)r0 * C3, C3);
            }
        }
        free(vt);
    }
}
