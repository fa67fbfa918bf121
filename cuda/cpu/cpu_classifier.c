/* cuda/cpu/cpu_classifier.c — the tied output layer fused with its loss.
 *
 * Unfused, a step writes B·T×V logits, reads and rewrites them in the
 * cross-entropy, then reads them twice more for the two backward products;
 * for a large batch of a large vocabulary that is gigabytes of scratch
 * (8 × 1024 rows of 50257: 1.6 GB). Here a block of rows goes through all
 * four before the next block starts, so only a block's logits exist at a
 * time. The price is dwte (V×C), which every block reads and writes once
 * more, so blocks are at least C rows and a batch whose logits fit the budget
 * is one block: there this is the unfused path (measured no slower than it;
 * two 16 MB blocks of 1024×8192 were 0.90-1.00×, see LOGIT_BUDGET).
 *
 * Bits: each logit is the same dot product in the same order; the
 * cross-entropy is per row with the whole batch's 1/N; dinp's rows are
 * independent; and dwte's element (v, c) is one fma chain over the rows in
 * order, which the GEMM continues from block to block (accumulate loads the
 * partial sum and goes on), exactly as its own K-slices do. So the result
 * equals the unfused path bit for bit, for any block size or thread count. */
#include <stdlib.h>

#include "cuda/cpu/cpu_kernels.h"

/* Floats of logits per block: 32 MB. At 16 MB, (a)'s 1024×8192 logits went in
 * two blocks and the output layer took 0.90-1.00x the unfused time (2 threads);
 * in one block it is the unfused path (bench_trainer phases: 4 pairs, 47.8 ->
 * 45.1 CPU-ms median, the step's paired ratio 58% -> 59%). */
#define LOGIT_BUDGET (8L << 20)

/* Rows per block for a batch of N rows: a function of the shapes only. */
static int block_rows(int N, int C, int V)
{
    if ((long)N * V <= LOGIT_BUDGET || N <= 2 * C)
        return N;
    long r = LOGIT_BUDGET / V;
    r = r < C ? C : r;
    r = (r + 15) / 16 * 16;
    return r < N ? (int)r : N;
}

int cpu_classifier_rows(int N, int C, int V)
{
    /* block_rows(n) <= n, and once n passes both thresholds it is a constant:
     * the largest value over n <= N is at N or at the thresholds. */
    long lim = LOGIT_BUDGET / V;
    lim = lim > 2L * C ? lim : 2L * C;
    int r = block_rows(N, C, V), t = lim < N ? (int)lim : N;
    return r > t ? r : t;
}

float cpu_classifier(float *dinp, float *dwte, float *losses, float *lg, float *wt, const float *inp, const float *wte,
                     const int32_t *targets, int N, int C, int V, int backward)
{
    int R = block_rows(N, C, V);
    /* As cpu_matmul_fwd chooses for the whole batch: transpose whichever of
     * the weights or the activations moves less memory. */
    int act_t = (double)N * (C + V) < (double)C * V;
    float dscale = 1.0f / (float)N;
    if (!act_t)
        cpu_transpose(wt, wte, V, C); /* [C, V] */
    for (int r0 = 0; r0 < N; r0 += R) {
        int rows = N - r0 < R ? N - r0 : R;
        const float *x = inp + (size_t)r0 * C;
        if (act_t) {
            float *inT = wt, *outT = wt + (size_t)C * rows; /* [C, rows], [V, rows]: fit, see act_t */
            cpu_transpose(inT, x, rows, C);
            cpu_gemm(outT, rows, wte, C, 1, inT, rows, V, rows, C, 0, NULL);
            cpu_transpose(lg, outT, V, rows);
        } else {
            cpu_gemm(lg, V, x, C, 1, wt, V, rows, V, C, 0, NULL);
        }
        cpu_crossentropy_rows(lg, losses + r0, targets + r0, rows, V, dscale, backward);
        if (backward) {
            cpu_gemm(dinp + (size_t)r0 * C, C, lg, V, 1, wte, C, rows, C, V, 0, NULL);
            cpu_gemm(dwte, C, lg, 1, V, x, C, V, C, rows, r0 > 0, NULL);
        }
    }
    double total = 0.0;
    for (int n = 0; n < N; n++)
        total += losses[n];
    return (float)(total / N);
}
