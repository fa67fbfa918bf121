/* cuda/cpu/cpu_gemm.c — the CPU backend's GEMM and the matmul layers built on
 * it (C11 + OpenMP).
 *
 * Determinism rule (as in cpu_kernels.c): tasks are fixed pieces of C whose
 * bounds do not depend on the thread count, and each C element is one fma
 * chain over p = 0..K−1 in order, whatever the blocking, the micro-kernel or
 * the thread count: those choose speed only, never bits. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#ifdef __AVX512F__
#include <immintrin.h>
#endif

#include "cuda/cpu/cpu_gemm_kernels.h"
#include "cuda/cpu/cpu_kernels.h"
#include "cuda/cpu/cpu_transpose.h"

/* ---------- GEMM ---------- */

/* Register tile MR×NR (6 rows × 4 vectors of 16, cpu_gemm_kernels.h), cache blocks MC×NC×KC.
 * A task is one MC×NC block of C; inside it, KC slices of K run in order, so
 * each element's sum is p = 0..K−1 whatever the blocking or thread count. The
 * B micro-panel (KC×NR, 32 KB) stays in L1 while the MR-row panels of A stream. */
#ifndef MC
#define MC 96
#endif
#define NC 256
#ifndef KC
#define KC 128
#endif
#define PF_ROWS 32 /* pack_a: rows of a transposed A read ahead */
/* gemm_task: a task's B column (K×nc floats) smaller than this is read from
 * L2 anyway, and prefetching it only costs instructions. */
#define PF_B_MIN (512L * 1024)
#ifndef PF_LOCALITY
#define PF_LOCALITY 1 /* pf_step: into L2, not L1 (the B panel lives there) */
#endif

/* Packs the MC×KC block of A at rows i0.., columns k0.. into MR-row panels
 * ([p][MR] order), for an A that is not row-contiguous (a transposed operand,
 * as in the weight gradient). When its columns are contiguous (a_rs == 1) the
 * source is read row by row of the stored matrix: reading it panel by panel
 * would walk a column of a row-major matrix, one cache line per element.
 * Packing changes where values are read from, not the order of any sum. */
static void pack_a(float *packA, const float *A, long a_rs, long a_cs, int i0, int mc, int k0, int kc, int kend)
{
    if (a_rs == 1) {
        for (int p = 0; p < kc; p++) {
            const float *src = A + (long)(k0 + p) * a_cs + i0;
            /* Rows of the stored matrix lie a_cs apart (a whole row of
             * logits in the weight gradient): the hardware prefetcher does
             * not follow that stride, and without this the copy waited on
             * memory for a third of the GEMM's time. */
            if (k0 + p + PF_ROWS < kend)
                for (int l = 0; l < mc; l += 16)
                    __builtin_prefetch(src + PF_ROWS * a_cs + l, 0, 3);
            for (int ip = 0; ip < mc; ip += MR) {
                float *dst = packA + (long)ip * kc + (long)p * MR;
                int mr = mc - ip < MR ? mc - ip : MR;
                if (mr == MR)
                    memcpy(dst, src + ip, MR * sizeof(float)); /* a few vector moves */
                else
                    for (int r = 0; r < MR; r++)
                        dst[r] = r < mr ? src[ip + r] : 0.0f;
            }
        }
        return;
    }
    for (int ip = 0; ip < mc; ip += MR) {
        float *dst = packA + (long)ip * kc;
        int mr = mc - ip < MR ? mc - ip : MR;
        for (int p = 0; p < kc; p++) {
            const float *src = A + (long)(i0 + ip) * a_rs + (long)(k0 + p) * a_cs;
            for (int r = 0; r < MR; r++)
                dst[p * MR + r] = r < mr ? src[(long)r * a_rs] : 0.0f;
        }
    }
}

/* The source of the next A block to pack (a transposed A stored row-major:
 * rows of the stored matrix `stride` apart, `cols` floats each), fetched into
 * L2 a few rows per micro-kernel call while the current block computes, so
 * that pack_a copies from L2 instead of waiting on memory. Prefetches only:
 * nothing here changes a value or an order. */
struct pf_next {
    const float *base;
    long stride;
    int rows, cols, per_call, done;
};

static inline void pf_step(struct pf_next *pf)
{
    for (int n = 0; n < pf->per_call && pf->done < pf->rows; n++, pf->done++) {
        const float *r = pf->base + (long)pf->done * pf->stride;
        for (int l = 0; l < pf->cols; l += 16)
            __builtin_prefetch(r + l, 0, PF_LOCALITY);
        __builtin_prefetch(r + pf->cols - 1, 0, PF_LOCALITY);
    }
}

/* The kc×nc block of B at rows k0.., columns j0.. → NR-column panels, each
 * kc×NR contiguous (no cache-set aliasing from large row strides), row by
 * row of B so each source row is read once, front to back. With AVX-512 a
 * panel row is 4 vector moves (a memcpy call per 256 bytes was ~6% of (b)'s
 * layer GEMMs, in call overhead more than in copying); a partial panel's
 * padding lanes are written as zeros and never read (the kernels mask them).
 * A copy: no value changes. */
static void pack_b(float *restrict packB, const float *restrict B, long ldb, int k0, int kc, int j0, int nc)
{
    for (int p = 0; p < kc; p++) {
        const float *src = B + (long)(k0 + p) * ldb + j0;
        for (int j = 0; j < nc; j += NR) {
            int nr = nc - j < NR ? nc - j : NR;
            float *dst = packB + (long)j * kc + (long)p * NR;
#ifdef __AVX512F__
            if (nr == NR)
                for (int v = 0; v < NR; v += 16)
                    _mm512_store_ps(dst + v, _mm512_loadu_ps(src + j + v));
            else
                for (int v = 0; v < NR; v += 16)
                    _mm512_store_ps(dst + v, _mm512_maskz_loadu_ps(lane_mask(nr - v), src + j + v));
#else
            memcpy(dst, src + j, (size_t)nr * sizeof(float));
#endif
        }
    }
}

/* One task: rows [i0, i0 + g·MC) of one NC-wide column block of C (task
 * number task of an nb-wide grid). The B block of each KC slice is packed
 * once per task and used by all g row blocks, so a larger g packs B fewer
 * times. Inside, KC slices run in order and every micro-kernel call adds its
 * p in order, so each element sums p = 0..K−1 whatever g, the blocking or the
 * thread count: those choose speed only, never bits. */
static void gemm_task(long task, int nb, int g, float *Cm, long ldc, const float *A, long a_rs, long a_cs,
                      const float *B, long ldb, int M, int N, int K, int accumulate, const float *bias)
{
    int i0 = (int)(task / nb) * MC * g, j0 = (int)(task % nb) * NC;
    int mcg = M - i0 < MC * g ? M - i0 : MC * g, nc = N - j0 < NC ? N - j0 : NC;
    int pack = a_cs != 1;
    float packA[pack ? MC * KC : 1] __attribute__((aligned(64)));
    float packB[KC * NC] __attribute__((aligned(64)));
    for (int k0 = 0; k0 < K; k0 += KC) {
        int kc = K - k0 < KC ? K - k0 : KC;
        int init = k0 > 0 || accumulate ? 0 : bias ? 2 : 1;
        /* B block → NR-column panels, each kc×NR contiguous (no cache-set
         * aliasing from large row strides). Padding columns are never stored. */
        pack_b(packB, B, ldb, k0, kc, j0, nc);
        /* The next slice's B block (kc rows of nc floats, ldb apart: rows of
         * the logits' weights lie 3 KB apart and the block comes from
         * memory) is fetched into L2 a few rows per micro-kernel call while
         * this slice computes, so that packing it copies from L2. Only where
         * A is read in place: a packed A has its own read-ahead (pf below),
         * and two streams stepped in the kernel loop measured slower. */
        struct pf_next pfb = {0};
        if (!pack && k0 + KC < K && (long)K * nc * (long)sizeof(float) > PF_B_MIN) {
            int calls = (mcg + MR - 1) / MR * ((nc + NR - 1) / NR);
            pfb.base = B + (long)(k0 + KC) * ldb + j0;
            pfb.stride = ldb;
            pfb.rows = K - k0 - KC < KC ? K - k0 - KC : KC;
            pfb.cols = nc;
            pfb.per_call = (pfb.rows + calls - 1) / calls;
        }
        for (int ib = i0; ib < i0 + mcg; ib += MC) {
            int mc = i0 + mcg - ib < MC ? i0 + mcg - ib : MC;
            struct pf_next pf = {0};
            if (pack) {
                pack_a(packA, A, a_rs, a_cs, ib, mc, k0, kc, K);
                /* next block: the next MC rows in this slice, else the
                 * task's first rows in the next slice */
                int nib = ib + MC < i0 + mcg ? ib + MC : i0, nk0 = ib + MC < i0 + mcg ? k0 : k0 + KC;
                if (a_rs == 1 && nk0 < K) {
                    int calls = (mc + MR - 1) / MR * ((nc + NR - 1) / NR);
                    pf.base = A + (long)nk0 * a_cs + nib;
                    pf.stride = a_cs;
                    pf.rows = K - nk0 < KC ? K - nk0 : KC;
                    pf.cols = i0 + mcg - nib < MC ? i0 + mcg - nib : MC;
                    pf.per_call = (pf.rows + calls - 1) / calls;
                }
            }
            for (int j = j0; j < j0 + nc; j += NR) {
                int nr = j0 + nc - j < NR ? j0 + nc - j : NR;
                const float *bp = packB + (long)(j - j0) * kc;
#ifdef HAVE_NARROW
                if (nr <= NRN) {
                    for (int i = ib; i < ib + mc; i += MRN) {
                        int mr = ib + mc - i < MRN ? ib + mc - i : MRN;
                        const float *a = pack ? packA + (long)(i - ib) * kc : A + (long)i * a_rs + (long)k0 * a_cs;
                        /* packed: the next MR-row panel; else row i + 6 */
                        const float *a6 = mr <= MR ? a : pack ? a + (long)MR * kc : a + MR * a_rs;
                        pf_step(&pfb);
                        kernel_12x32(kc, a, a6, pack ? 1 : a_rs, pack ? MR : a_cs, mr, bp, NR, nr,
                                     Cm + (long)i * ldc + j, ldc, init, bias ? bias + j : NULL);
                    }
                    continue;
                }
#endif
                /* Two loops, so that each keeps its own read-ahead stream in
                 * registers: packed A steps A's, A in place steps B's. */
                if (pack)
                    for (int i = ib; i < ib + mc; i += MR) {
                        int mr = ib + mc - i < MR ? ib + mc - i : MR;
                        pf_step(&pf);
                        kernel_6x64(kc, packA + (long)(i - ib) * kc, 1, MR, mr, bp, NR, nr, Cm + (long)i * ldc + j, ldc,
                                    init, bias ? bias + j : NULL);
                    }
                else
                    for (int i = ib; i < ib + mc; i += MR) {
                        int mr = ib + mc - i < MR ? ib + mc - i : MR;
                        pf_step(&pfb);
                        kernel_6x64(kc, A + (long)i * a_rs + (long)k0 * a_cs, a_rs, a_cs, mr, bp, NR, nr,
                                    Cm + (long)i * ldc + j, ldc, init, bias ? bias + j : NULL);
                    }
            }
        }
    }
}

/* Longest thread's share, in MC-row blocks, when mt·nb tasks of g blocks each
 * (the last row of tasks shorter) go in order to the least-loaded of nt
 * threads, as schedule(dynamic, 1) roughly does. */
static long group_makespan(int mb, int nb, int g, int nt)
{
    long load[64] = {0};
    int mt = (mb + g - 1) / g;
    nt = nt > 64 ? 64 : nt;
    for (long t = 0; t < (long)mt * nb; t++) {
        int rows = mb - (int)(t / nb) * g < g ? mb - (int)(t / nb) * g : g, lo = 0;
        for (int i = 1; i < nt; i++)
            lo = load[i] < load[lo] ? i : lo;
        load[lo] += rows;
    }
    long mx = 0;
    for (int i = 0; i < nt; i++)
        mx = load[i] > mx ? load[i] : mx;
    return mx;
}

/* Row blocks per task. With one KC slice: as many as keep at least 4·nt
 * tasks (so dynamic scheduling still balances the threads), at most all of
 * them. With several KC slices each task packs every B slice again (the
 * whole of B: 4 MB per task in the logits' dinp), so g is the largest that
 * keeps the longest thread's share within 5% of g = 1's (not only powers of
 * two: 11 row blocks on 2 threads take g = 3), and the task's C block is
 * re-read once per slice, so it is kept to about 192 KB (L2). */
static int gemm_group(int mb, int nb, int nc, int K, int nt)
{
    if (K > KC) {
        int gmax = 192 * 1024 / (MC * nc * (int)sizeof(float)), g = 1;
        if (nt == 1)
            return gmax < 1 ? 1 : gmax < mb ? gmax : mb;
        long base = group_makespan(mb, nb, 1, nt);
        for (int c = 2; c <= gmax && c <= mb; c++)
            if (20 * group_makespan(mb, nb, c, nt) <= 21 * base)
                g = c;
        return g;
    }
    int g = 1, want = nt == 1 ? 1 : 4 * nt;
    while (2 * g <= mb && g < mb && (long)((mb + 2 * g - 1) / (2 * g)) * nb >= want)
        g *= 2;
    return g;
}

static int gemm_empty(float *Cm, long ldc, int M, int N, int K, int accumulate, const float *bias)
{
    if (K > 0)
        return 0;
    if (!accumulate)
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                Cm[(long)i * ldc + j] = bias ? bias[j] : 0.0f;
    return 1;
}

/* The task loop of one GEMM as an orphaned worksharing loop: inside a
 * parallel region the team shares it (and waits for it at its end), outside
 * one the calling thread runs it all. nt is the team size the split is chosen
 * for (the tasks, hence the bits, never depend on it). K > 0. */
static void gemm_for(float *Cm, long ldc, const float *A, long a_rs, long a_cs, const float *B, long ldb, int M, int N,
                     int K, int accumulate, const float *bias, int nt, int nowait)
{
    int mb = (M + MC - 1) / MC, nb = (N + NC - 1) / NC, nc = N < NC ? N : NC;
    int g = gemm_group(mb, nb, nc, K, nt);
    long mt = (mb + g - 1) / g;
    /* Tasks walk N-blocks fastest so neighbouring threads share A rows. */
    if (nowait) {
#pragma omp for schedule(dynamic, 1) nowait
        for (long task = 0; task < mt * nb; task++)
            gemm_task(task, nb, g, Cm, ldc, A, a_rs, a_cs, B, ldb, M, N, K, accumulate, bias);
    } else {
#pragma omp for schedule(dynamic, 1)
        for (long task = 0; task < mt * nb; task++)
            gemm_task(task, nb, g, Cm, ldc, A, a_rs, a_cs, B, ldb, M, N, K, accumulate, bias);
    }
}

void cpu_gemm(float *Cm, long ldc, const float *A, long a_rs, long a_cs, const float *B, long ldb, int M, int N, int K,
              int accumulate, const float *bias)
{
    if (M <= 0 || N <= 0 || gemm_empty(Cm, ldc, M, N, K, accumulate, bias))
        return;
    int mb = (M + MC - 1) / MC, nb = (N + NC - 1) / NC, nc = N < NC ? N : NC;
    int g = gemm_group(mb, nb, nc, K, omp_get_max_threads());
    long mt = (mb + g - 1) / g;
    /* A combined parallel loop, not a region around gemm_for: that adds a
     * second barrier and measured 1–6% slower on (b)'s layer shapes. */
#pragma omp parallel for schedule(dynamic, 1)
    for (long task = 0; task < mt * nb; task++)
        gemm_task(task, nb, g, Cm, ldc, A, a_rs, a_cs, B, ldb, M, N, K, accumulate, bias);
}

void cpu_gemm_serial(float *Cm, long ldc, const float *A, long a_rs, long a_cs, const float *B, long ldb, int M, int N,
                     int K, int accumulate, const float *bias)
{
    int mb = (M + MC - 1) / MC, nb = (N + NC - 1) / NC;
    if (M <= 0 || N <= 0 || gemm_empty(Cm, ldc, M, N, K, accumulate, bias))
        return;
    int nc = N < NC ? N : NC, g = gemm_group(mb, nb, nc, K, 1);
    for (long task = 0; task < (long)((mb + g - 1) / g) * nb; task++)
        gemm_task(task, nb, g, Cm, ldc, A, a_rs, a_cs, B, ldb, M, N, K, accumulate, bias);
}

/* The kernel wants B row-major, so one operand is transposed first: the
 * weights (IC·OC floats) or, when the batch is small, the activations in and
 * out (N·(IC+OC) floats), whichever moves less memory. The choice depends on
 * the shapes only, never on the thread count. */
void cpu_matmul_fwd(float *out, const float *inp, const float *w, const float *bias, int N, int IC, int OC,
                    float *wt_scratch)
{
    if ((double)N * (IC + OC) < (double)IC * OC && IC > 0 && N > 0) {
        float *inT = wt_scratch, *outT = wt_scratch + (size_t)IC * N; /* [IC,N], [OC,N] */
        int nt = omp_get_max_threads();
        /* One parallel region for the three steps (each loop ends on the
         * team's barrier, so each step sees the last one's result): waking
         * the team once instead of three times. */
#pragma omp parallel
        {
            cpu__transpose_for(inT, inp, N, IC, NULL, 1, 0);
            gemm_for(outT, N, w, IC, 1, inT, N, OC, N, IC, 0, NULL, nt, 0);
            cpu__transpose_for(out, outT, OC, N, bias, 1, 1);
        }
        return;
    }
    cpu_transpose(wt_scratch, w, OC, IC); /* [IC, OC] */
    cpu_gemm(out, OC, inp, IC, 1, wt_scratch, OC, N, OC, IC, 0, bias);
}

void cpu_matmul_bwd(float *dinp, float *dw, float *dbias, const float *dout, const float *inp, const float *w, int N,
                    int IC, int OC, int accumulate_dw)
{
    /* The three products write different arrays, so they share one parallel
     * region with no barrier between them: a thread done with its last dinp
     * task starts on dW instead of waiting. Empty ones go through cpu_gemm. */
    int gi = dinp && N > 0 && IC > 0 && OC > 0, gw = dw && N > 0 && IC > 0 && OC > 0;
    /* One product alone: cpu_gemm's combined loop (an orphaned one measured
     * 1–2% slower there). */
    int alone = !dbias && !(gi && gw);
    if (dinp && (!gi || alone))
        cpu_gemm(dinp, IC, dout, OC, 1, w, IC, N, IC, OC, 0, NULL);
    if (dw && (!gw || alone))
        cpu_gemm(dw, IC, dout, 1, OC, inp, IC, OC, IC, N, accumulate_dw, NULL);
    if (alone)
        return;
    int nt = omp_get_max_threads(), nch = (OC + 63) / 64;
#pragma omp parallel
    {
        if (gi)
            gemm_for(dinp, IC, dout, OC, 1, w, IC, N, IC, OC, 0, NULL, nt, 1);
        /* dw[o,i] = Σ_n dout[n,o] inp[n,i]: A = doutᵀ (row stride 1, column stride OC). */
        if (gw)
            gemm_for(dw, IC, dout, 1, OC, inp, IC, OC, IC, N, accumulate_dw, NULL, nt, 1);
        if (dbias) {
#pragma omp for schedule(static) nowait
            for (int ch = 0; ch < nch; ch++) {
                int o0 = ch * 64, o1 = o0 + 64 < OC ? o0 + 64 : OC;
                float acc[64] = {0};
                for (int n = 0; n < N; n++) {
                    const float *d = dout + (long)n * OC;
                    for (int o = o0; o < o1; o++)
                        acc[o - o0] += d[o];
                }
                for (int o = o0; o < o1; o++)
                    dbias[o] = acc[o - o0];
            }
        }
    }
}
