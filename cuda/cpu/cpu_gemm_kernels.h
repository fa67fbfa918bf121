/* cuda/cpu/cpu_gemm_kernels.h — the GEMM's register-tile micro-kernels, private to
 * cuda/cpu/cpu_gemm.c (included there once, so that the compiler still specialises
 * them per call site): kernel_6x64 (MR×NR, AVX-512 or portable C) and, with AVX-512,
 * kernel_12x32 for narrow B panels (HAVE_NARROW). Split from cpu_gemm.c (issue 16,
 * one concern a file): the blocking, packing and scheduling stay there.
 *
 * Determinism rule: each C element is one fma chain over p = 0..kc−1 in order, the
 * same in every kernel, so which kernel runs chooses speed only, never bits. */
#ifndef RUNS_CUDA_CPU_GEMM_KERNELS_H
#define RUNS_CUDA_CPU_GEMM_KERNELS_H

#include <math.h>

#ifdef __AVX512F__
#include <immintrin.h>
#endif

/* the register tile: MR rows × NR columns (4 vectors of 16) */
#define MR 6
#define NR 64

#ifdef __AVX512F__
static inline __mmask16 lane_mask(int rem)
{
    return rem >= 16 ? (__mmask16)0xFFFF : rem <= 0 ? (__mmask16)0 : (__mmask16)((1u << rem) - 1u);
}

/* init: 0 load C, 1 zero, 2 bias row. Rows >= mr read row 0 of A (valid memory)
 * and are not stored. */
static void kernel_6x64(int kc, const float *A, long a_rs, long a_cs, int mr, const float *B, long ldb, int nr,
                        float *Cm, long ldc, int init, const float *bias)
{
    __mmask16 mk0 = lane_mask(nr), mk1 = lane_mask(nr - 16), mk2 = lane_mask(nr - 32), mk3 = lane_mask(nr - 48);
    const float *a0 = A, *a1 = A + (mr > 1 ? a_rs : 0), *a2 = A + (mr > 2 ? 2 * a_rs : 0),
                *a3 = A + (mr > 3 ? 3 * a_rs : 0), *a4 = A + (mr > 4 ? 4 * a_rs : 0), *a5 = A + (mr > 5 ? 5 * a_rs : 0);
    __m512 c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33, c40, c41, c42, c43, c50, c51,
        c52, c53;
    if (init == 0) {
#define LD(r, v, mk)                                                                                                   \
    (r >= mr    ? _mm512_setzero_ps()                                                                                  \
     : nr == NR ? _mm512_loadu_ps(Cm + (long)r * ldc + 16 * v)                                                         \
                : _mm512_maskz_loadu_ps(mk, Cm + (long)r * ldc + 16 * v))
        c00 = LD(0, 0, mk0);
        c01 = LD(0, 1, mk1);
        c02 = LD(0, 2, mk2);
        c03 = LD(0, 3, mk3);
        c10 = LD(1, 0, mk0);
        c11 = LD(1, 1, mk1);
        c12 = LD(1, 2, mk2);
        c13 = LD(1, 3, mk3);
        c20 = LD(2, 0, mk0);
        c21 = LD(2, 1, mk1);
        c22 = LD(2, 2, mk2);
        c23 = LD(2, 3, mk3);
        c30 = LD(3, 0, mk0);
        c31 = LD(3, 1, mk1);
        c32 = LD(3, 2, mk2);
        c33 = LD(3, 3, mk3);
        c40 = LD(4, 0, mk0);
        c41 = LD(4, 1, mk1);
        c42 = LD(4, 2, mk2);
        c43 = LD(4, 3, mk3);
        c50 = LD(5, 0, mk0);
        c51 = LD(5, 1, mk1);
        c52 = LD(5, 2, mk2);
        c53 = LD(5, 3, mk3);
#undef LD
    } else {
        __m512 z0 = _mm512_setzero_ps(), z1 = z0, z2 = z0, z3 = z0;
        if (init == 2) {
            z0 = _mm512_maskz_loadu_ps(mk0, bias);
            z1 = _mm512_maskz_loadu_ps(mk1, bias + 16);
            z2 = _mm512_maskz_loadu_ps(mk2, bias + 32);
            z3 = _mm512_maskz_loadu_ps(mk3, bias + 48);
        }
        c00 = c10 = c20 = c30 = c40 = c50 = z0;
        c01 = c11 = c21 = c31 = c41 = c51 = z1;
        c02 = c12 = c22 = c32 = c42 = c52 = z2;
        c03 = c13 = c23 = c33 = c43 = c53 = z3;
    }
    for (int p = 0; p < kc; p++) {
        const float *b = B + (long)p * ldb;
        __m512 b0 = _mm512_maskz_loadu_ps(mk0, b), b1 = _mm512_maskz_loadu_ps(mk1, b + 16),
               b2 = _mm512_maskz_loadu_ps(mk2, b + 32), b3 = _mm512_maskz_loadu_ps(mk3, b + 48);
        long o = (long)p * a_cs;
        __m512 a;
        a = _mm512_set1_ps(a0[o]);
        c00 = _mm512_fmadd_ps(a, b0, c00);
        c01 = _mm512_fmadd_ps(a, b1, c01);
        c02 = _mm512_fmadd_ps(a, b2, c02);
        c03 = _mm512_fmadd_ps(a, b3, c03);
        a = _mm512_set1_ps(a1[o]);
        c10 = _mm512_fmadd_ps(a, b0, c10);
        c11 = _mm512_fmadd_ps(a, b1, c11);
        c12 = _mm512_fmadd_ps(a, b2, c12);
        c13 = _mm512_fmadd_ps(a, b3, c13);
        a = _mm512_set1_ps(a2[o]);
        c20 = _mm512_fmadd_ps(a, b0, c20);
        c21 = _mm512_fmadd_ps(a, b1, c21);
        c22 = _mm512_fmadd_ps(a, b2, c22);
        c23 = _mm512_fmadd_ps(a, b3, c23);
        a = _mm512_set1_ps(a3[o]);
        c30 = _mm512_fmadd_ps(a, b0, c30);
        c31 = _mm512_fmadd_ps(a, b1, c31);
        c32 = _mm512_fmadd_ps(a, b2, c32);
        c33 = _mm512_fmadd_ps(a, b3, c33);
        a = _mm512_set1_ps(a4[o]);
        c40 = _mm512_fmadd_ps(a, b0, c40);
        c41 = _mm512_fmadd_ps(a, b1, c41);
        c42 = _mm512_fmadd_ps(a, b2, c42);
        c43 = _mm512_fmadd_ps(a, b3, c43);
        a = _mm512_set1_ps(a5[o]);
        c50 = _mm512_fmadd_ps(a, b0, c50);
        c51 = _mm512_fmadd_ps(a, b1, c51);
        c52 = _mm512_fmadd_ps(a, b2, c52);
        c53 = _mm512_fmadd_ps(a, b3, c53);
    }
    /* Full-width tiles use plain stores: masked stores are slower on some cores. */
#define ST(r, v, mk, c)                                                                                                \
    if (r < mr) {                                                                                                      \
        if (nr == NR)                                                                                                  \
            _mm512_storeu_ps(Cm + (long)r * ldc + 16 * v, c);                                                          \
        else                                                                                                           \
            _mm512_mask_storeu_ps(Cm + (long)r * ldc + 16 * v, mk, c);                                                 \
    }
    ST(0, 0, mk0, c00);
    ST(0, 1, mk1, c01);
    ST(0, 2, mk2, c02);
    ST(0, 3, mk3, c03);
    ST(1, 0, mk0, c10);
    ST(1, 1, mk1, c11);
    ST(1, 2, mk2, c12);
    ST(1, 3, mk3, c13);
    ST(2, 0, mk0, c20);
    ST(2, 1, mk1, c21);
    ST(2, 2, mk2, c22);
    ST(2, 3, mk3, c23);
    ST(3, 0, mk0, c30);
    ST(3, 1, mk1, c31);
    ST(3, 2, mk2, c32);
    ST(3, 3, mk3, c33);
    ST(4, 0, mk0, c40);
    ST(4, 1, mk1, c41);
    ST(4, 2, mk2, c42);
    ST(4, 3, mk3, c43);
    ST(5, 0, mk0, c50);
    ST(5, 1, mk1, c51);
    ST(5, 2, mk2, c52);
    ST(5, 3, mk3, c53);
#undef ST
}

/* Narrow tile for N <= 32 (attention's P·V, dQ, dK, dV at head size 32): the
 * 6×64 tile would leave half its lanes masked, so here 12 rows × 2 vectors
 * keep all 24 accumulators busy. Rows 0–5 start at A0, rows 6–11 at A1 (two
 * packed panels, or A0 + 6·a_rs); rows >= mr read A0 and are not stored. Each
 * element is the same fma chain over p as in kernel_6x64, so the same bits. */
#define MRN 12
#define NRN 32
static void kernel_12x32(int kc, const float *A0, const float *A1, long a_rs, long a_cs, int mr, const float *B,
                         long ldb, int nr, float *Cm, long ldc, int init, const float *bias)
{
    __mmask16 mk0 = lane_mask(nr), mk1 = lane_mask(nr - 16);
    const float *ar[MRN];
    __m512 c0[MRN], c1[MRN];
#pragma GCC unroll 12
    for (int r = 0; r < MRN; r++)
        ar[r] = r >= mr ? A0 : r < 6 ? A0 + r * a_rs : A1 + (r - 6) * a_rs;
    __m512 z0 = _mm512_setzero_ps(), z1 = z0;
    if (init == 2) {
        z0 = _mm512_maskz_loadu_ps(mk0, bias);
        z1 = _mm512_maskz_loadu_ps(mk1, bias + 16);
    }
#pragma GCC unroll 12
    for (int r = 0; r < MRN; r++) {
        c0[r] = init != 0 || r >= mr ? z0 : _mm512_maskz_loadu_ps(mk0, Cm + (long)r * ldc);
        c1[r] = init != 0 || r >= mr ? z1 : _mm512_maskz_loadu_ps(mk1, Cm + (long)r * ldc + 16);
    }
    for (int p = 0; p < kc; p++) {
        const float *b = B + (long)p * ldb;
        __m512 b0 = _mm512_maskz_loadu_ps(mk0, b), b1 = _mm512_maskz_loadu_ps(mk1, b + 16);
        long o = (long)p * a_cs;
#pragma GCC unroll 12
        for (int r = 0; r < MRN; r++) {
            __m512 a = _mm512_set1_ps(ar[r][o]);
            c0[r] = _mm512_fmadd_ps(a, b0, c0[r]);
            c1[r] = _mm512_fmadd_ps(a, b1, c1[r]);
        }
    }
#pragma GCC unroll 12
    for (int r = 0; r < MRN; r++)
        if (r < mr) {
            _mm512_mask_storeu_ps(Cm + (long)r * ldc, mk0, c0[r]);
            _mm512_mask_storeu_ps(Cm + (long)r * ldc + 16, mk1, c1[r]);
        }
}
#define HAVE_NARROW 1
#else
/* Portable micro-kernel: same tile and the same per-element order (fmaf, p in
 * order), so it gives the AVX-512 kernel's bits where fmaf is exact-fused. */
static void kernel_6x64(int kc, const float *A, long a_rs, long a_cs, int mr, const float *B, long ldb, int nr,
                        float *Cm, long ldc, int init, const float *bias)
{
    float acc[MR][NR];
    for (int r = 0; r < MR; r++)
        for (int j = 0; j < NR; j++)
            acc[r][j] = (j >= nr || r >= mr) ? 0.0f : init == 0 ? Cm[(long)r * ldc + j] : init == 2 ? bias[j] : 0.0f;
    for (int p = 0; p < kc; p++) {
        const float *b = B + (long)p * ldb;
        float bb[NR];
        for (int j = 0; j < NR; j++)
            bb[j] = j < nr ? b[j] : 0.0f;
        for (int r = 0; r < mr; r++) {
            float a = A[(long)r * a_rs + (long)p * a_cs];
            for (int j = 0; j < NR; j++)
                acc[r][j] = fmaf(a, bb[j], acc[r][j]);
        }
    }
    for (int r = 0; r < mr; r++)
        for (int j = 0; j < nr; j++)
            Cm[(long)r * ldc + j] = acc[r][j];
}
#endif

#endif
