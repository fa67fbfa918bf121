/* bench/trainer_parts.c — bench_trainer's measurements of the step's parts: the
 * output layer's GEMMs ("gemm"), (b)'s layer GEMMs ("gemmb"), attention alone
 * ("attn"), one step broken into phases ("phases", "phasesb") and (b)'s optimizer
 * passes ("update"). bench/bench_trainer.c has the FMA peak, the whole steps and
 * main(); bench/trainer_bench.h what the two share. Split from bench_trainer.c
 * (one concern a file). */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/trainer_bench.h"
#include "cuda/cpu/cpu_kernels.h"
#include "cuda/gpt.h"

/* A kernel's buffer of the given bytes on the pages the trainer gets
 * (cpu_alloc_floats: zeroed, large ones on transparent huge pages unless
 * RUNS_CPU_HUGEPAGES=0), so a kernel timed alone sees the trainer's TLB. */
static float *buf(size_t bytes)
{
    return cpu_alloc_floats((bytes + 3) / 4);
}

/* The logits' dinp of (b) alone, as cpu_classifier calls it: dinp[256, 768] =
 * dlogits[256, 50257] · wte[50257, 768], K = V. Its B (the 154 MB table) comes
 * from memory every time, which is what cpu_gemm's B read-ahead is for. Best of
 * 3 in CPU-ms; about 0.2 GB of buffers. */
static void bench_gemm_b_dinp(void)
{
    int M = 256, N = 768, K = 50257;
    float *A = buf((size_t)M * K * 4), *W = buf((size_t)K * N * 4), *C = buf((size_t)M * N * 4);
    if (!A || !W || !C) {
        printf("gemm     (b) logits dinp: skipped (no memory for 0.2 GB of buffers)\n");
        goto done;
    }
    uint64_t s = 2;
    for (long i = 0; i < (long)M * K; i++)
        A[i] = gpt_rng_uniform(&s) - 0.5f;
    for (long i = 0; i < (long)K * N; i++)
        W[i] = gpt_rng_uniform(&s) - 0.5f;
    double best = 1e30;
    for (int r = 0; r < 3; r++) {
        double t0 = cpu_now();
        cpu_gemm(C, N, A, K, 1, W, N, M, N, K, 0, NULL);
        double dt = cpu_now() - t0;
        best = dt < best ? dt : best;
    }
    printf("gemm     (b) logits dinp %dx%dx%d CPU-ms (GFLOP per CPU-second): %.2f (%.1f)\n", M, N, K, best * 1e3,
           2.0 * M * N * K / best * 1e-9);
done:
    free(A);
    free(W);
    free(C);
}

void bench_gemm(void)
{
    int M = 1024, N = 8192, K = 128; /* logits of (a): [B·T, C] · wteᵀ */
    float *A = buf((size_t)M * K * 4), *W = buf((size_t)N * K * 4), *C = buf((size_t)M * N * 4),
          *wt = buf((size_t)N * K * 4);
    uint64_t s = 1;
    for (long i = 0; i < (long)M * K; i++)
        A[i] = gpt_rng_uniform(&s);
    for (long i = 0; i < (long)N * K; i++)
        W[i] = gpt_rng_uniform(&s);
    cpu_matmul_fwd(C, A, W, NULL, M, K, N, wt);
    /* Timed in CPU seconds (best of reps): see cpu_now. */
    int reps = 10;
    double fwd = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = cpu_now();
        cpu_matmul_fwd(C, A, W, NULL, M, K, N, wt);
        double dt = cpu_now() - t0;
        fwd = dt < fwd ? dt : fwd;
    }
    float *dA = buf((size_t)M * K * 4), *dW = buf((size_t)N * K * 4);
    /* The two backward products apart (best of reps, the machine is shared):
     * dinp reads dlogits row-major with K = V; dW reads it transposed. */
    double bdi = 1e30, bdw = 1e30;
    for (int r = 0; r < reps; r++) {
        double a0 = cpu_now();
        cpu_matmul_bwd(dA, NULL, NULL, C, A, W, M, K, N, 0);
        double a1 = cpu_now();
        cpu_matmul_bwd(NULL, dW, NULL, C, A, W, M, K, N, 0);
        double a2 = cpu_now();
        bdi = a1 - a0 < bdi ? a1 - a0 : bdi;
        bdw = a2 - a1 < bdw ? a2 - a1 : bdw;
    }
    double fl = 2.0 * M * N * K;
    printf("gemm     %dx%dx%d CPU-ms (GFLOP per CPU-second): fwd %.2f (%.1f), bwd dinp %.2f (%.1f), dW %.2f (%.1f)\n",
           M, N, K, fwd * 1e3, fl / fwd * 1e-9, bdi * 1e3, fl / bdi * 1e-9, bdw * 1e3, fl / bdw * 1e-9);
    free(A);
    free(W);
    free(C);
    free(wt);
    free(dA);
    free(dW);
    bench_gemm_b_dinp();
}

/* Attention forward + backward alone, best of reps in CPU-ms, with the FLOPs
 * bench_model counts for it: one layer of (a) (B 4, T 256, C 128, 4 heads of
 * 32) and of (b) (B 4, T 64, C 768, 12 heads of 64). */
/* The process CPU clock adds another thread's time only when that thread
 * stops running (or at a tick): read right after a parallel region, it misses
 * most of what the worker threads just did while they still spin. A few ms of
 * sleep lets them go to sleep first, so the reading is complete. */
static double cpu_now_settled(void)
{
    struct timespec ts = {0, 3000000};
    nanosleep(&ts, NULL);
    return cpu_now();
}

static void bench_attn_shape(int B, int T, int C, int NH)
{
    size_t n3 = (size_t)B * T * 3 * C, nc = (size_t)B * T * C, na = (size_t)B * NH * T * T;
    float *qkv = malloc(n3 * 4), *out = malloc(nc * 4), *att = malloc(na * 4), *dout = malloc(nc * 4),
          *dqkv = malloc(n3 * 4), *scr = malloc(na * 4);
    uint64_t s = 5;
    for (size_t i = 0; i < n3; i++)
        qkv[i] = gpt_rng_uniform(&s) - 0.5f;
    for (size_t i = 0; i < nc; i++)
        dout[i] = gpt_rng_uniform(&s) - 0.5f;
    double f = 1e30, b = 1e30;
    for (int r = 0; r < 20; r++) {
        double c0 = cpu_now_settled();
        cpu_attention_fwd(out, att, qkv, B, T, C, NH);
        double c1 = cpu_now_settled();
        cpu_attention_bwd(dqkv, scr, dout, qkv, att, B, T, C, NH);
        double c2 = cpu_now_settled();
        f = c1 - c0 < f ? c1 - c0 : f;
        b = c2 - c1 < b ? c2 - c1 : b;
    }
    double fl = B * 2.0 * 2.0 * (T * (T + 1) / 2.0) * C; /* forward; backward twice that */
    printf("attn     B%d T%d C%d H%d CPU-ms (GFLOP per CPU-second): fwd %.2f (%.1f), bwd %.2f (%.1f)\n", B, T, C, NH,
           f * 1e3, fl / f * 1e-9, b * 1e3, 2 * fl / b * 1e-9);
    free(qkv);
    free(out);
    free(att);
    free(dout);
    free(dqkv);
    free(scr);
}

void bench_attn(void)
{
    bench_attn_shape(4, 256, 128, 4);
    bench_attn_shape(4, 64, 768, 12);
}

/* Per-phase CPU-ms of one training step of (a) ("phases", best of 5) or (b)
 * ("phasesb", best of 3; not in the default list, a few seconds a rep), each
 * phase timed alone on the shape's sizes with the step's own kernels: the logits GEMMs, the
 * cross-entropy, the layers' GEMMs, attention (every layer of the shape), LayerNorm +
 * GELU + residual adds, and the fused output layer (cpu_classifier: logits,
 * cross-entropy and both backward products in blocks of rows), which the
 * trainer runs in place of the first two; a second line compares the two.
 * The rest of a step (embeddings, AdamW, transposes outside the GEMMs) is
 * what the "a" line's step time leaves over. */
void bench_phases(const char *tag, int B, int T, int C, int NH, int V, int L, int reps)
{
    int N = B * T;
    size_t big = (size_t)N * V;
    float *x = buf((size_t)N * 4 * C * 4), *y = buf((size_t)N * 4 * C * 4), *w = buf((size_t)V * C * 4),
          *wt = buf((size_t)V * C * 4), *lg = buf(big * 4), *dx = buf((size_t)N * 4 * C * 4),
          *dw = buf((size_t)V * C * 4), *bias = buf((size_t)4 * C * 4), *att = buf((size_t)B * NH * T * T * 4),
          *scr = buf((size_t)B * NH * T * T * 4), *mean = buf((size_t)N * 4), *rstd = buf((size_t)N * 4),
          *losses = buf((size_t)N * 4);
    int32_t *tg = malloc((size_t)N * 4);
    uint64_t s = 9;
    for (size_t i = 0; i < (size_t)N * 4 * C; i++)
        x[i] = gpt_rng_uniform(&s) - 0.5f;
    for (size_t i = 0; i < (size_t)V * C; i++)
        w[i] = (gpt_rng_uniform(&s) - 0.5f) * 0.1f;
    for (int i = 0; i < 4 * C; i++)
        bias[i] = 0.01f;
    for (int i = 0; i < N; i++)
        tg[i] = (int32_t)(gpt_rng_next(&s) % (uint64_t)V);
    const char *name[6] = {"logits GEMMs (fwd, dinp, dW)", "cross-entropy",      "layer GEMMs (fwd+bwd)",
                           "attention (fwd+bwd)",          "layernorm+gelu+add", "output layer fused"};
    double best[6] = {1e30, 1e30, 1e30, 1e30, 1e30, 1e30};
    static const int oc_of[4] = {3, 1, 4, 1}, ic_of[4] = {1, 1, 1, 4}; /* qkv, attproj, fc, fcproj */
    for (int rep = 0; rep < reps; rep++) {
        double t[7];
        t[0] = cpu_now();
        cpu_matmul_fwd(lg, x, w, NULL, N, C, V, wt);
        cpu_matmul_bwd(dx, dw, NULL, lg, x, w, N, C, V, 0);
        t[1] = cpu_now();
        cpu_crossentropy(lg, losses, tg, N, V, 1);
        t[2] = cpu_now();
        for (int l = 0; l < L; l++)
            for (int k = 0; k < 4; k++) {
                int IC = ic_of[k] * C, OC = oc_of[k] * C;
                cpu_matmul_fwd(y, x, w, bias, N, IC, OC, wt);
                cpu_matmul_bwd(dx, dw, bias, y, x, w, N, IC, OC, 0);
            }
        t[3] = cpu_now();
        for (int l = 0; l < L; l++) {
            cpu_attention_fwd(y, att, x, B, T, C, NH);
            cpu_attention_bwd(dx, scr, y, x, att, B, T, C, NH);
        }
        t[4] = cpu_now();
        for (int l = 0; l < L; l++) {
            for (int k = 0; k < 2; k++) {
                cpu_layernorm_fwd(y, mean, rstd, x, w, bias, N, C);
                cpu_layernorm_bwd(dx, dw, dw + C, y, x, w, mean, rstd, N, C);
                cpu_add(y, x, dx, (size_t)N * C);
            }
            cpu_gelu_fwd(y, x, (size_t)N * 4 * C);
            cpu_gelu_bwd(dx, x, y, (size_t)N * 4 * C);
        }
        t[5] = cpu_now();
        /* What the trainer runs now in place of the first two (cpu_classifier). */
        cpu_classifier(dx, dw, losses, lg, wt, x, w, tg, N, C, V, 1);
        t[6] = cpu_now();
        for (int k = 0; k < 6; k++)
            best[k] = t[k + 1] - t[k] < best[k] ? t[k + 1] - t[k] : best[k];
    }
    double tot = 0;
    for (int k = 2; k < 6; k++)
        tot += best[k];
    printf("phases   %s one step (%d layers), CPU-ms:", tag, L);
    for (int k = 2; k < 6; k++)
        printf("  %s %.1f (%.0f%%)", name[k], best[k] * 1e3, 100 * best[k] / tot);
    printf("  sum %.1f\n", tot * 1e3);
    printf("phases   %s output layer: unfused %s %.1f + %s %.1f = %.1f CPU-ms, fused %.1f (%.2fx)\n", tag, name[0],
           best[0] * 1e3, name[1], best[1] * 1e3, (best[0] + best[1]) * 1e3, best[5] * 1e3,
           (best[0] + best[1]) / best[5]);
    free(x);
    free(y);
    free(w);
    free(wt);
    free(lg);
    free(dx);
    free(dw);
    free(bias);
    free(att);
    free(scr);
    free(mean);
    free(rstd);
    free(losses);
    free(tg);
}

/* "gemmb": (b)'s layer GEMMs alone, through the trainer's entry points:
 * M = 256 tokens and (IC, OC) of qkv, attn proj, fc and fc proj; per product
 * cpu_matmul_fwd (with its two transposes), its GEMM alone ("gemm": outᵀ =
 * W · inpᵀ, A = W in place, as cpu_matmul_fwd runs it for these shapes),
 * cpu_matmul_bwd's dinp and its dW (A = doutᵀ, packed) apart, and whole ("bwd":
 * dinp, dW and dbias in one call, as the trainer runs it). Each timing is a
 * few calls (about 4 GFLOP) between settled CPU clocks, and each is paired
 * with an FMA burst of about the same CPU time just before it: GFLOP per
 * CPU-second best and median of reps, and the median of the per-timing ratios
 * to the burst. OMP_NUM_THREADS picks the threads (2 by default). */
static double burst_settled(double gflop)
{
    int nt = omp_get_max_threads();
    long iters = (long)(gflop * 1e9 / (2.0 * PEAK_LANES * nt)) / 12 * 12;
    float sink = 0;
    double c0 = cpu_now_settled();
#pragma omp parallel reduction(+ : sink)
    sink += fma_chains(iters);
    double dc = cpu_now_settled() - c0;
    return sink == 12345.0f ? 0.0 : 2.0 * PEAK_LANES * (double)iters * nt / dc * 1e-9;
}

#define GEMMB_REPS 7
void bench_gemmb(void)
{
    static const char *nm[4] = {"qkv    ", "attproj", "fc     ", "fcproj "};
    static const int ic_of[4] = {768, 768, 768, 3072}, oc_of[4] = {2304, 768, 3072, 768};
    static const char *prod[5] = {"fwd", "gemm", "dinp", "dW", "bwd"};
    const int N = 256, big = 3072 * 768;
    float *inp = buf((size_t)big * 4), *out = buf((size_t)big * 4), *w = buf((size_t)big * 4),
          *wt = buf((size_t)big * 4), *din = buf((size_t)big * 4), *dw = buf((size_t)big * 4), *bias = buf(3072 * 4);
    uint64_t s = 11;
    for (int i = 0; i < big; i++) {
        inp[i] = gpt_rng_uniform(&s) - 0.5f;
        out[i] = gpt_rng_uniform(&s) - 0.5f;
        w[i] = (gpt_rng_uniform(&s) - 0.5f) * 0.1f;
    }
    double tot_t[4] = {0}, tot_f = 0, all_r[4 * 4 * GEMMB_REPS];
    int nr = 0;
    for (int k = 0; k < 4; k++) {
        int IC = ic_of[k], OC = oc_of[k];
        double fl = 2.0 * N * IC * OC;
        int calls = (int)(4e9 / fl + 0.5);
        double g[5][GEMMB_REPS], r[5][GEMMB_REPS];
        cpu_matmul_fwd(out, inp, w, bias, N, IC, OC, wt); /* warm: pages, caches */
        for (int rep = 0; rep < GEMMB_REPS; rep++)
            for (int p = 0; p < 5; p++) {
                double pf = p == 4 ? 2 * fl : fl; /* bwd: dinp, dW and dbias in one call */
                double peak = burst_settled(calls * pf * 1.3e-9), c0 = cpu_now_settled();
                for (int c = 0; c < calls; c++) {
                    if (p == 0)
                        cpu_matmul_fwd(out, inp, w, bias, N, IC, OC, wt);
                    else if (p == 1)
                        cpu_gemm(wt, N, w, IC, 1, inp, N, OC, N, IC, 0, NULL);
                    else if (p == 2)
                        cpu_matmul_bwd(din, NULL, NULL, out, inp, w, N, IC, OC, 0);
                    else if (p == 3)
                        cpu_matmul_bwd(NULL, dw, NULL, out, inp, w, N, IC, OC, 0);
                    else
                        cpu_matmul_bwd(din, dw, bias, out, inp, w, N, IC, OC, 0);
                }
                double dt = (cpu_now_settled() - c0) / calls;
                g[p][rep] = pf / dt * 1e-9;
                r[p][rep] = g[p][rep] / peak;
            }
        printf("gemmb    %s %dx%dx%d GFLOP per CPU-second best/median (median %% of a paired FMA burst):", nm[k], N, IC,
               OC);
        for (int p = 0; p < 5; p++) {
            qsort(g[p], GEMMB_REPS, sizeof(double), dcmp);
            qsort(r[p], GEMMB_REPS, sizeof(double), dcmp);
            printf("  %s %.1f/%.1f (%.0f%%)", prod[p], g[p][GEMMB_REPS - 1], g[p][GEMMB_REPS / 2],
                   100 * r[p][GEMMB_REPS / 2]);
            if (p < 4)
                tot_t[p] += fl / (g[p][GEMMB_REPS / 2] * 1e9);
            for (int q = 0; q < GEMMB_REPS; q++)
                if (p != 1 && p != 4)
                    all_r[nr++] = r[p][q];
        }
        tot_f += fl;
        printf("\n");
    }
    qsort(all_r, (size_t)nr, sizeof(double), dcmp);
    printf("gemmb    one layer's fwd+dinp+dW (medians): %.1f CPU-ms, %.1f GFLOP per CPU-second, %.0f%% of the bursts "
           "(median of %d, range %.0f-%.0f%%)\n",
           (tot_t[0] + tot_t[2] + tot_t[3]) * 1e3, 3 * tot_f / (tot_t[0] + tot_t[2] + tot_t[3]) * 1e-9,
           100 * all_r[nr / 2], nr, 100 * all_r[0], 100 * all_r[nr - 1]);
    free(inp);
    free(out);
    free(w);
    free(wt);
    free(din);
    free(dw);
    free(bias);
}

/* The optimizer of (b) alone ("update"): the global norm (reads GRAD) and the
 * clip + AdamW pass (reads weights, GRAD, m, v; writes weights, m, v and, when
 * clipping, GRAD), each timed apart on (b)'s 124M parameters (2 GB of groups),
 * best and median of reps, in CPU-ms and wall ms, with the bytes each pass moves
 * per wall second. Random gradients of norm above grad_clip, so the clip pass
 * writes GRAD back as training does at the start. */
void bench_update(int reps)
{
    gpt_config c = {12, 12, 768, 50257, 1024};
    gpt_model *m = NULL;
    float *g = NULL;
    if (gpt_create(&m, &c, 4, 64, GPT_BACKEND_CPU) || gpt_init_weights(m, 1)) {
        printf("update   (b): skipped (%s)\n", gpt_last_error());
        goto done;
    }
    size_t n = gpt_num_params(m);
    if (!(g = malloc(n * sizeof *g)))
        goto done;
    uint64_t s = 4;
    for (size_t i = 0; i < n; i++)
        g[i] = (gpt_rng_uniform(&s) - 0.5f) * 1e-3f;
    gpt_write(m, GPT_GRAD, g);
    gpt_adamw hp = {0.9f, 0.95f, 1e-8f, 0.1f, 1.0f};
    double nw[32], nc[32], uw[32], uc[32];
    reps = reps > 32 ? 32 : reps;
    for (int r = 0; r < reps; r++) {
        double norm;
        gpt_write(m, GPT_GRAD, g); /* the clip scaled it in place */
        double c0 = cpu_now_settled(), t0 = now();
        gpt_grad_norm(m, &norm);
        double t1 = now(), c1 = cpu_now_settled(), t2 = now();
        gpt_update_owned(m, &hp, 1e-4f, norm);
        double t3 = now(), c3 = cpu_now_settled();
        nw[r] = t1 - t0, nc[r] = c1 - c0, uw[r] = t3 - t2, uc[r] = c3 - c1;
    }
    double *all[4] = {nw, nc, uw, uc};
    for (int k = 0; k < 4; k++) /* best first, median in the middle */
        qsort(all[k], (size_t)reps, sizeof(double), dcmp);
    double gb = (double)n * 4 * 1e-9;
    printf("update   (b) %zu params, best/median of %d: norm %.1f/%.1f ms (%.1f/%.1f CPU-ms, %.0f GB/s), "
           "clip+adamw %.1f/%.1f ms (%.1f/%.1f CPU-ms, %.0f GB/s moved as 4 reads + 4 writes)\n",
           n, reps, nw[0] * 1e3, nw[reps / 2] * 1e3, nc[0] * 1e3, nc[reps / 2] * 1e3, gb / nw[0], uw[0] * 1e3,
           uw[reps / 2] * 1e3, uc[0] * 1e3, uc[reps / 2] * 1e3, 8 * gb / uw[0]);
done:
    free(g);
    gpt_free(m);
}
