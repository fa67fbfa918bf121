/* cuda/cpu/cpu_transpose.c — the CPU backend's transposes (C11 + OpenMP):
 * cpu_transpose and the forward's activation transposes (cpu__transpose_for,
 * cuda/cpu/cpu_transpose.h), in 16×16 AVX-512 register blocks where there are
 * whole ones. Split from cpu_gemm.c (issue 16, one concern a file). */
#include <omp.h>
#include <stddef.h>

#ifdef __AVX512F__
#include <immintrin.h>
#endif

#include "cuda/cpu/cpu_kernels.h"
#include "cuda/cpu/cpu_transpose.h"

/* dst[c, r] = src[r, c], plus (rbias ? rbias[r] : 0) where add, for r in
 * [r0, r1), c in [c0, c1): one add per element, exactly as written (x + 0.0f
 * too, so a −0 becomes +0); without add a plain copy. */
static void transpose_scalar(float *dst, const float *src, int rows, int cols, const float *rbias, int add, int r0,
                             int r1, int c0, int c1)
{
    for (int c = c0; c < c1; c++)
        for (int r = r0; r < r1; r++)
            dst[(long)c * rows + r] =
                add ? src[(long)r * cols + c] + (rbias ? rbias[r] : 0.0f) : src[(long)r * cols + c];
}

#ifdef __AVX512F__
/* One 16×16 block of transpose_scalar in registers: 16 row loads, 64
 * shuffles, 16 column stores (the scalar copy wrote one float a row of dst
 * from the last, and took about a sixth of (b)'s layer forwards). The adds
 * are the scalar path's, one per element: the same bits. */
static void transpose_16x16(float *dst, long ldd, const float *src, long lds, const float *rbias, int add)
{
    __m512 r[16], t[16];
    __m512 b = rbias ? _mm512_loadu_ps(rbias) : _mm512_setzero_ps();
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++)
        r[i] = _mm512_loadu_ps(src + i * lds);
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) { /* per 128-bit lane: rows 2i, 2i+1 interleaved */
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) { /* r[4i + k]: rows 4i..4i+3 of columns k, k+4, k+8, k+12 */
        r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
        r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) { /* the four 128-bit quarters of columns k, k+4, k+8, k+12 */
        __m512 u0 = _mm512_shuffle_f32x4(r[k], r[4 + k], 0x88), u1 = _mm512_shuffle_f32x4(r[k], r[4 + k], 0xDD),
               u2 = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], 0x88),
               u3 = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], 0xDD);
        __m512 c0 = _mm512_shuffle_f32x4(u0, u2, 0x88), c4 = _mm512_shuffle_f32x4(u1, u3, 0x88),
               c8 = _mm512_shuffle_f32x4(u0, u2, 0xDD), c12 = _mm512_shuffle_f32x4(u1, u3, 0xDD);
        if (add) {
            c0 = _mm512_add_ps(c0, b);
            c4 = _mm512_add_ps(c4, b);
            c8 = _mm512_add_ps(c8, b);
            c12 = _mm512_add_ps(c12, b);
        }
        _mm512_storeu_ps(dst + k * ldd, c0);
        _mm512_storeu_ps(dst + (k + 4) * ldd, c4);
        _mm512_storeu_ps(dst + (k + 8) * ldd, c8);
        _mm512_storeu_ps(dst + (k + 12) * ldd, c12);
    }
}
#endif

/* dst[c, r] = src[r, c] (+ rbias[r] or + 0 where add), one 32×32 block:
 * whole 16×16 pieces in registers where AVX-512 is there, the strips left
 * element by element. Each element is its own copy or add, so blocks and
 * threads choose speed only. */
static void transpose_block(float *dst, const float *src, int rows, int cols, const float *rbias, int add, long blk)
{
    const int TB = 32;
    int cb = (cols + TB - 1) / TB;
    int r0 = (int)(blk / cb) * TB, c0 = (int)(blk % cb) * TB;
    int r1 = r0 + TB < rows ? r0 + TB : rows, c1 = c0 + TB < cols ? c0 + TB : cols;
#ifdef __AVX512F__
    int rf = r0 + (r1 - r0) / 16 * 16, cf = c0 + (c1 - c0) / 16 * 16;
    for (int r = r0; r < rf; r += 16)
        for (int c = c0; c < cf; c += 16)
            transpose_16x16(dst + (long)c * rows + r, rows, src + (long)r * cols + c, cols, rbias ? rbias + r : NULL,
                            add);
    transpose_scalar(dst, src, rows, cols, rbias, add, r0, rf, cf, c1); /* right strip */
    transpose_scalar(dst, src, rows, cols, rbias, add, rf, r1, c0, c1); /* bottom strip */
#else
    transpose_scalar(dst, src, rows, cols, rbias, add, r0, r1, c0, c1);
#endif
}

/* The blocks as an orphaned worksharing loop (as cpu_gemm.c's gemm_for); last: the
 * region's own end is the barrier, so the loop ends without one. */
void cpu__transpose_for(float *dst, const float *src, int rows, int cols, const float *rbias, int add, int last)
{
    const int TB = 32;
    long nblk = (long)((rows + TB - 1) / TB) * ((cols + TB - 1) / TB);
    if (last) {
#pragma omp for schedule(static) nowait
        for (long blk = 0; blk < nblk; blk++)
            transpose_block(dst, src, rows, cols, rbias, add, blk);
    } else {
#pragma omp for schedule(static)
        for (long blk = 0; blk < nblk; blk++)
            transpose_block(dst, src, rows, cols, rbias, add, blk);
    }
}

void cpu_transpose(float *dst, const float *src, int rows, int cols)
{
#pragma omp parallel
    cpu__transpose_for(dst, src, rows, cols, NULL, 0, 1);
}
