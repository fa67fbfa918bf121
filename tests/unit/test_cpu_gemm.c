/* tests/unit/test_cpu_gemm.c — the GEMM's narrow path and transposed-A read-ahead,
 * its B packing, the transposes and cpu_matmul_fwd.
 *
 * cpu_gemm gives every C element as init (0, the bias, or C when accumulating)
 * followed by one fused multiply-add per p = 0..K−1 in order, whatever the
 * micro-kernel. Column blocks of at most 32 columns (attention's head-size
 * products) run through a 12-row × 32-column micro-kernel, and a transposed A
 * (the weight gradient) is packed with its rows read ahead. Both are checked
 * bit for bit against that loop written out with fmaf, on 1, 2 and
 * 3 threads and through cpu_gemm_serial, on shapes with partial tiles in rows (mr of 1..12,
 * one 6-row panel or two) and columns (nr below 16, 16, 17..32), several KC
 * slices, and row-major and transposed A. */
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
#include "cuda/gpt.h"

static uint64_t rs = 777;
static float *frandv(size_t n)
{
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = gpt_rng_uniform(&rs) * 2.0f - 1.0f;
    return p;
}

/* C (ldc = N + 3, so stores past a row's end would show) against fmaf. */
static void check_bits(int M, int N, int K, int transA, int accumulate, int with_bias)
{
    long ldc = N + 3;
    float *A = frandv((size_t)M * K), *B = frandv((size_t)K * N), *C0 = frandv((size_t)M * ldc),
          *bias = frandv((size_t)N), *want = malloc((size_t)M * ldc * 4), *got = malloc((size_t)M * ldc * 4);
    long a_rs = transA ? 1 : K, a_cs = transA ? M : 1;
    memcpy(want, C0, (size_t)M * ldc * 4);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float acc = accumulate ? C0[i * ldc + j] : with_bias ? bias[j] : 0.0f;
            for (int p = 0; p < K; p++)
                acc = fmaf(A[i * a_rs + p * a_cs], B[(long)p * N + j], acc);
            want[i * ldc + j] = acc;
        }
    int saved = omp_get_max_threads();
    for (int run = 0; run < 4; run++) {
        memcpy(got, C0, (size_t)M * ldc * 4);
        if (run == 3) {
            omp_set_num_threads(3);
            cpu_gemm(got, ldc, A, a_rs, a_cs, B, N, M, N, K, accumulate, with_bias ? bias : NULL);
        } else if (run < 2) {
            omp_set_num_threads(run + 1);
            cpu_gemm(got, ldc, A, a_rs, a_cs, B, N, M, N, K, accumulate, with_bias ? bias : NULL);
        } else {
            cpu_gemm_serial(got, ldc, A, a_rs, a_cs, B, N, M, N, K, accumulate, with_bias ? bias : NULL);
        }
        for (long e = 0; e < (long)M * ldc; e++)
            if (memcmp(&got[e], &want[e], 4) != 0)
                fail_msg("gemm %dx%dx%d transA %d acc %d bias %d run %d: C[%ld,%ld] = %.9g, want %.9g", M, N, K, transA,
                         accumulate, with_bias, run, e / ldc, e % ldc, got[e], want[e]);
    }
    omp_set_num_threads(saved);
    free(A);
    free(B);
    free(C0);
    free(bias);
    free(want);
    free(got);
}

/* N <= 32: the 12×32 micro-kernel. */
static void test_narrow_bits(void **state)
{
    (void)state;
    static const int Ms[] = {1, 5, 6, 7, 12, 13, 100, 209};
    static const int Ns[] = {1, 8, 16, 17, 32};
    for (size_t a = 0; a < sizeof Ms / sizeof *Ms; a++)
        for (size_t b = 0; b < sizeof Ns / sizeof *Ns; b++)
            for (int t = 0; t < 2; t++)
                check_bits(Ms[a], Ns[b], t ? 37 : 150, t, (int)(a + b) % 2, (int)(a + b + t) % 3 == 0);
    check_bits(250, 32, 256, 0, 0, 0); /* attention's P·V shape: many row blocks, two KC slices */
    check_bits(250, 32, 256, 1, 0, 0); /* dK, dV: transposed A */
}

/* Transposed A with rows far apart and K over several KC slices: the
 * read-ahead crosses slice boundaries and stops at K. Wider N uses 6×64. */
static void test_transposed_readahead_bits(void **state)
{
    (void)state;
    check_bits(300, 70, 333, 1, 1, 0);
    check_bits(97, 200, 129, 1, 0, 1);
    check_bits(40, 33, 31, 1, 0, 0); /* K under the read-ahead distance; N just past the narrow path */
}

/* Several KC slices and N = 128 (the logits' dinp and dW): a task then takes
 * g row blocks of 96, g chosen from the thread count (any g up to 4, not
 * only powers of two: 11 blocks on 2 threads take 3). The row-block counts
 * 3, 5, 11 and 13 give g = 1..4 on 1, 2 and 3 threads, partial last tasks
 * and a partial last block; the bits must not move with any of them. */
static void test_grouped_slices_bits(void **state)
{
    (void)state;
    check_bits(1024, 128, 300, 0, 0, 0); /* dinp-like: 11 row blocks, 3 KC slices */
    check_bits(1200, 128, 260, 1, 1, 0); /* dW-like: transposed A, accumulating, 13 blocks */
    check_bits(470, 100, 257, 0, 0, 1);  /* 5 blocks, bias, last slice of one p */
    check_bits(250, 128, 129, 1, 0, 0);  /* 3 blocks */
}

/* A task's B column over 512 KB (the logits' dinp: B is the embedding
 * table): the next KC slice of B is read ahead while the current one
 * computes, up to the last partial slice and not past K. Prefetches change
 * no value, so the bits must equal fmaf's on the 6×64 and 12×32 paths, with
 * a partial last column block and row-major A (the path that reads B ahead). */
static void test_b_readahead_bits(void **state)
{
    (void)state;
    check_bits(13, 300, 600, 0, 0, 1);  /* 4 full slices + 88; nc 256 then 44 */
    check_bits(7, 20, 6600, 0, 1, 0);   /* narrow: 20·6600·4 bytes > 512 KB */
    check_bits(200, 260, 520, 0, 0, 0); /* several row blocks share each slice's read-ahead */
}

/* cpu_transpose: a copy, so every bit survives (−0 and NaN payloads too), on
 * sizes around the 16×16 register blocks and the 32×32 thread blocks: whole
 * blocks, right and bottom strips, and shapes with no whole 16×16 block. */
static void test_transpose_bits(void **state)
{
    (void)state;
    static const int Ds[] = {1, 15, 16, 17, 31, 32, 33, 48, 50, 100};
    int saved = omp_get_max_threads();
    for (size_t a = 0; a < sizeof Ds / sizeof *Ds; a++)
        for (size_t b = 0; b < sizeof Ds / sizeof *Ds; b++) {
            int R = Ds[a], C = Ds[b];
            float *src = frandv((size_t)R * C), *dst = malloc((size_t)R * C * 4);
            uint32_t nan = 0x7fc01234u;
            src[0] = -0.0f;
            memcpy(&src[(size_t)R * C / 2], &nan, 4);
            for (int t = 1; t <= 3; t++) {
                omp_set_num_threads(t);
                memset(dst, 0xAB, (size_t)R * C * 4);
                cpu_transpose(dst, src, R, C);
                for (int r = 0; r < R; r++)
                    for (int c = 0; c < C; c++)
                        if (memcmp(&dst[(long)c * R + r], &src[(long)r * C + c], 4) != 0)
                            fail_msg("transpose %dx%d, %d threads: [%d,%d] = %.9g, want %.9g", R, C, t, c, r,
                                     dst[(long)c * R + r], src[(long)r * C + c]);
            }
            free(src);
            free(dst);
        }
    omp_set_num_threads(saved);
}

/* cpu_matmul_fwd against fmaf. Where it transposes the activations (N·(IC+OC)
 * < IC·OC: (b)'s layers), out[n, o] = (the chain over i from 0) + bias[o]
 * (+ 0 without bias), the add done in the transpose back; otherwise the chain
 * starts at bias[o]. Sizes off the 16×16 blocks and on them, 1–3 threads. */
static void check_fwd(int N, int IC, int OC, int with_bias)
{
    float *inp = frandv((size_t)N * IC), *w = frandv((size_t)OC * IC), *bias = frandv((size_t)OC),
          *want = malloc((size_t)N * OC * 4), *got = malloc((size_t)N * OC * 4),
          *scratch = malloc(((size_t)IC * OC + (size_t)N * (IC + OC)) * 4);
    int act_t = (double)N * (IC + OC) < (double)IC * OC;
    inp[0] = -0.0f;
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            float acc = !act_t && with_bias ? bias[o] : 0.0f;
            for (int i = 0; i < IC; i++)
                acc = fmaf(w[(long)o * IC + i], inp[(long)n * IC + i], acc);
            want[(long)n * OC + o] = act_t ? acc + (with_bias ? bias[o] : 0.0f) : acc;
        }
    int saved = omp_get_max_threads();
    for (int t = 1; t <= 3; t++) {
        omp_set_num_threads(t);
        memset(got, 0xAB, (size_t)N * OC * 4);
        /* NaN in the scratch: a step that read the transposed activations
         * (or the GEMM's output) before the last step wrote them shows */
        memset(scratch, 0xFF, ((size_t)IC * OC + (size_t)N * (IC + OC)) * 4);
        cpu_matmul_fwd(got, inp, w, with_bias ? bias : NULL, N, IC, OC, scratch);
        for (long e = 0; e < (long)N * OC; e++)
            if (memcmp(&got[e], &want[e], 4) != 0)
                fail_msg("matmul_fwd N %d IC %d OC %d bias %d (act_t %d), %d threads: out[%ld,%ld] = %.9g, want %.9g",
                         N, IC, OC, with_bias, act_t, t, e / OC, e % OC, got[e], want[e]);
    }
    omp_set_num_threads(saved);
    free(inp);
    free(w);
    free(bias);
    free(want);
    free(got);
    free(scratch);
}

static void test_matmul_fwd_bits(void **state)
{
    (void)state;
    check_fwd(20, 45, 70, 1);     /* activations transposed, no whole 32×32 block in the 20 rows */
    check_fwd(33, 64, 100, 0);    /* 16×16 blocks plus 1-row and 4-column strips, no bias */
    check_fwd(64, 96, 288, 1);    /* (b)-like: every block whole */
    check_fwd(17, 48, 50, 1);     /* 17 rows: one block and a strip of 1 */
    check_fwd(100, 20, 30, 1);    /* weights transposed (cpu_transpose), chain from the bias */
    check_fwd(64, 1024, 2048, 1); /* one region, three steps: each must wait for the last on every thread */
    /* activations transposed, with a partial last B panel, a short last KC slice,
     * strips of 4 rows and 8 columns, (130) a 2-column panel for the narrow kernel
     * and (300) two NC column blocks */
    check_fwd(100, 200, 1000, 1);
    check_fwd(130, 300, 2000, 0);
    check_fwd(300, 400, 3000, 1);
}

/* cpu_matmul_bwd with all three outputs (one parallel region, no barrier
 * between them) and each alone, against fmaf on 1–3 threads: dinp[n, i] and
 * dw[o, i] one chain each (dw's from its old value when accumulating),
 * dbias[o] the plain sum over n in order. */
static void check_bwd(int N, int IC, int OC, int acc_dw)
{
    float *dout = frandv((size_t)N * OC), *inp = frandv((size_t)N * IC), *w = frandv((size_t)OC * IC),
          *dw0 = frandv((size_t)OC * IC), *wdi = malloc((size_t)N * IC * 4), *wdw = malloc((size_t)OC * IC * 4),
          *wdb = malloc((size_t)OC * 4), *di = malloc((size_t)N * IC * 4), *dw = malloc((size_t)OC * IC * 4),
          *db = malloc((size_t)OC * 4);
    for (int n = 0; n < N; n++)
        for (int i = 0; i < IC; i++) {
            float a = 0.0f;
            for (int o = 0; o < OC; o++)
                a = fmaf(dout[(long)n * OC + o], w[(long)o * IC + i], a);
            wdi[(long)n * IC + i] = a;
        }
    for (int o = 0; o < OC; o++) {
        for (int i = 0; i < IC; i++) {
            float a = acc_dw ? dw0[(long)o * IC + i] : 0.0f;
            for (int n = 0; n < N; n++)
                a = fmaf(dout[(long)n * OC + o], inp[(long)n * IC + i], a);
            wdw[(long)o * IC + i] = a;
        }
        float b = 0.0f;
        for (int n = 0; n < N; n++)
            b += dout[(long)n * OC + o];
        wdb[o] = b;
    }
    int saved = omp_get_max_threads();
    for (int t = 1; t <= 3; t++)
        for (int which = 0; which < 3; which++) { /* all three, dinp alone, dw alone */
            omp_set_num_threads(t);
            memset(di, 0xFF, (size_t)N * IC * 4);
            memcpy(dw, dw0, (size_t)OC * IC * 4);
            memset(db, 0xFF, (size_t)OC * 4);
            cpu_matmul_bwd(which != 2 ? di : NULL, which != 1 ? dw : NULL, which == 0 ? db : NULL, dout, inp, w, N, IC,
                           OC, acc_dw);
            if (which != 2 && memcmp(di, wdi, (size_t)N * IC * 4) != 0)
                fail_msg("matmul_bwd %dx%dx%d, %d threads, case %d: dinp differs", N, IC, OC, t, which);
            if (which != 1 && memcmp(dw, wdw, (size_t)OC * IC * 4) != 0)
                fail_msg("matmul_bwd %dx%dx%d acc %d, %d threads, case %d: dw differs", N, IC, OC, acc_dw, t, which);
            if (which == 0 && memcmp(db, wdb, (size_t)OC * 4) != 0)
                fail_msg("matmul_bwd %dx%dx%d, %d threads: dbias differs", N, IC, OC, t);
        }
    omp_set_num_threads(saved);
    free(dout);
    free(inp);
    free(w);
    free(dw0);
    free(wdi);
    free(wdw);
    free(wdb);
    free(di);
    free(dw);
    free(db);
}

static void test_matmul_bwd_bits(void **state)
{
    (void)state;
    check_bwd(20, 45, 70, 0);
    check_bwd(64, 96, 288, 1);  /* (b)-like, accumulating dw */
    check_bwd(130, 33, 200, 0); /* several KC slices in dW's K, partial panels */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_narrow_bits),         cmocka_unit_test(test_transposed_readahead_bits),
        cmocka_unit_test(test_grouped_slices_bits), cmocka_unit_test(test_b_readahead_bits),
        cmocka_unit_test(test_transpose_bits),      cmocka_unit_test(test_matmul_fwd_bits),
        cmocka_unit_test(test_matmul_bwd_bits)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
