/* bench/bench_cuda.c — CUDA trainer throughput, MFU and checkpoint stall for
 * the GPT-2 124M shape (12 layers, 12 heads, 768 wide, vocab 50257, block 1024)
 * at seq 1024 and the largest batch that fits.
 *
 *   build/bench/bench_cuda [STEPS]     (default 10 timed steps after 2 warm-up)
 *
 * Without a CUDA device it says it was skipped and exits 0.
 *
 * FLOPs per token: 6·N for the weight matmuls forward+backward (N = every
 * parameter, wte counted once: it is also the output matmul) plus 12·L·C·T for
 * attention (PaLM appendix B: Q·Kᵀ and A·V over the full T×T square, forward
 * and backward — exactly what this backend's GEMMs compute). MFU = that ×
 * tokens/s ÷ peak. llm.c counts attention as 6·L·C·T (the causal half), so the
 * BF16 "llm.c yardstick" line uses llm.c's count to stay comparable with the
 * MFU llm.c prints (at this shape 12·L·C·T is 13% of the total, 6·L·C·T 7%).
 * Peaks are NVIDIA's
 * dense (no sparsity) datasheet numbers, by device name from nvidia-smi; where
 * the name is not recognised the H100 SXM row is used and the line says so.
 * RUNS_PEAK_TFLOPS overrides the peak for the math in use. Three maths run:
 * tf32, bf16 (cuBLAS's FAST_16BF compute on fp32 buffers: bf16 tensor cores,
 * fp32 memory traffic, so below llm.c's bf16-storage MFU) and fp32.
 *
 * Checkpoint stall: gpt_read of params, Adam m and Adam v (the bytes a
 * checkpoint must copy off the device before the next update may run) into
 * pinned buffers from gpt_host_alloc, and for comparison into malloc'd
 * (pageable) ones; best and worst of 3 repetitions, on an otherwise idle GPU. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cuda/gpt.h"
#include "cuda/gpt_backend.h"

#ifndef RUNS_VERSION
#define RUNS_VERSION "unknown"
#endif

typedef struct {
    const char *match;       /* substring of the nvidia-smi name */
    double fp32, tf32, bf16; /* dense TFLOPS */
} peak_row;

static const peak_row PEAKS[] = {
    {"H100 PCIe", 51.2, 378.0, 756.0}, {"H100 NVL", 60.0, 417.5, 835.0}, {"H100", 66.9, 494.7, 989.4}, /* SXM5 */
    {"H200", 66.9, 494.7, 989.4},      {"H800", 66.9, 494.7, 989.4},     {"A100", 19.5, 156.0, 312.0},
    {"L40S", 91.6, 183.0, 362.1},
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void device_name(char *buf, size_t n)
{
    snprintf(buf, n, "unknown");
    FILE *f = popen("nvidia-smi --query-gpu=name --format=csv,noheader -i 0 2>/dev/null", "r");
    if (!f)
        return;
    if (fgets(buf, (int)n, f))
        buf[strcspn(buf, "\r\n")] = 0;
    if (!buf[0])
        snprintf(buf, n, "unknown");
    pclose(f);
}

static const peak_row *peak_for(const char *name, int *guessed)
{
    for (size_t i = 0; i < sizeof PEAKS / sizeof *PEAKS; i++)
        if (strstr(name, PEAKS[i].match)) {
            *guessed = 0;
            return &PEAKS[i];
        }
    *guessed = 1;
    return &PEAKS[2];
}

static void fill(uint64_t *rng, int32_t *p, size_t n, int V)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (int32_t)(gpt_rng_next(rng) % (uint64_t)V);
}

/* Largest batch (from a descending list) that creates and runs one step; *out
 * keeps that model. */
static int largest_batch(gpt_model **out, const gpt_config *cfg, int T, int32_t *in, int32_t *tg)
{
    static const int tries[] = {64, 48, 40, 32, 24, 16, 12, 8, 4, 2, 1};
    for (size_t i = 0; i < sizeof tries / sizeof *tries; i++) {
        gpt_model *m = NULL;
        int B = tries[i];
        if (gpt_create(&m, cfg, B, T, GPT_BACKEND_CUDA)) {
            printf("  batch %d: %s\n", B, gpt_last_error());
            continue;
        }
        float loss;
        if (gpt_init_weights(m, 1) || gpt_forward(m, in, tg, B, T, 1, &loss)) {
            printf("  batch %d: %s\n", B, gpt_last_error());
            gpt_free(m);
            continue;
        }
        *out = m;
        return B;
    }
    return 0;
}

static int run_math(const char *math, const gpt_config *cfg, int T, int steps, int32_t *in, int32_t *tg,
                    const peak_row *pk, int guessed, int *B_io)
{
    setenv("RUNS_CUDA_MATH", math, 1); /* read by the backend at create */
    gpt_model *m = NULL;
    int B = *B_io;
    if (B == 0) {
        B = largest_batch(&m, cfg, T, in, tg);
        if (!B) {
            printf("%s: no batch size fits\n", math);
            return -1;
        }
        *B_io = B;
    } else if (gpt_create(&m, cfg, B, T, GPT_BACKEND_CUDA) || gpt_init_weights(m, 1)) {
        printf("%s: %s\n", math, gpt_last_error());
        return -1;
    }
    gpt_adamw hp = {0.9f, 0.95f, 1e-8f, 0.1f, 1.0f};
    float loss = 0, norm = 0;
    double t0 = 0;
    for (int k = 0; k < steps + 2; k++) {
        if (k == 2)
            t0 = now_s(); /* two warm-up steps: cuBLAS heuristics, caches */
        if (gpt_forward(m, in, tg, B, T, 1, &loss) || gpt_update(m, &hp, 3e-4f, &norm)) {
            printf("%s: step %d failed: %s\n", math, k, gpt_last_error());
            gpt_free(m);
            return -1;
        }
    }
    double secs = now_s() - t0;
    double N = (double)gpt_num_params(m);
    double tok_s = (double)B * T * steps / secs;
    double flops_tok = 6.0 * N + 12.0 * cfg->n_layer * cfg->n_embd * (double)T;
    double achieved = flops_tok * tok_s / 1e12;
    double achieved_llmc = (6.0 * N + 6.0 * cfg->n_layer * cfg->n_embd * (double)T) * tok_s / 1e12;
    int is_tf32 = !strcmp(math, "tf32"), is_bf16 = !strcmp(math, "bf16");
    double peak = is_tf32 ? pk->tf32 : is_bf16 ? pk->bf16 : pk->fp32;
    const char *env = getenv("RUNS_PEAK_TFLOPS");
    if (env && atof(env) > 0)
        peak = atof(env);
    printf("%s: batch %d x seq %d, %.1f ms/step, %.0f tokens/s, %.1f TFLOPS achieved\n", math, B, T, 1e3 * secs / steps,
           tok_s, achieved);
    printf("%s: MFU %.1f%% of %s %.1f TFLOPS%s (6N + 12LCT); %.1f%% of the BF16 dense peak %.1f "
           "counted as llm.c does (6N + 6LCT, llm.c's yardstick)\n",
           math, 100.0 * achieved / peak,
           is_tf32   ? "TF32"
           : is_bf16 ? "BF16"
                     : "FP32",
           peak, guessed ? " (peak guessed: H100 SXM)" : "", 100.0 * achieved_llmc / pk->bf16, pk->bf16);
    printf("%s: last loss %.4f, grad norm %.4f\n", math, loss, norm);

    if (!strcmp(math, "tf32")) {
        /* checkpoint stall: params + m + v, device -> host */
        size_t bytes = gpt_num_params(m) * sizeof(float);
        float *pin[3] = {NULL, NULL, NULL}, *pag[3] = {NULL, NULL, NULL};
        int ok = 1;
        for (int s = 0; s < 3; s++) {
            pin[s] = gpt_host_alloc(m, bytes);
            pag[s] = malloc(bytes);
            if (!pin[s] || !pag[s]) {
                ok = 0;
                break;
            }
            memset(pag[s], 0, bytes); /* fault the pages in before timing */
        }
        if (!ok) {
            printf("checkpoint: host allocation failed\n");
            for (int s = 0; s < 3; s++) {
                gpt_host_free(m, pin[s]);
                free(pag[s]);
            }
            gpt_free(m);
            return -1;
        }
        static const gpt_slot slots[3] = {GPT_PARAM, GPT_ADAM_M, GPT_ADAM_V};
        double best_pin = 1e9, best_pag = 1e9, worst_pin = 0;
        for (int rep = 0; rep < 3; rep++) {
            double a = now_s();
            for (int s = 0; s < 3; s++)
                if (gpt_read(m, slots[s], pin[s]))
                    printf("read: %s\n", gpt_last_error());
            double b = now_s();
            for (int s = 0; s < 3; s++)
                if (gpt_read(m, slots[s], pag[s]))
                    printf("read: %s\n", gpt_last_error());
            double c = now_s();
            if (b - a < best_pin)
                best_pin = b - a;
            if (b - a > worst_pin)
                worst_pin = b - a;
            if (c - b < best_pag)
                best_pag = c - b;
        }
        printf("checkpoint stall (params+m+v, %.2f GB, best of 3): pinned %.1f ms (%.1f GB/s; worst "
               "%.1f ms), pageable %.1f ms (%.1f GB/s); %.1f%% of one step with pinned\n",
               3.0 * bytes / 1e9, 1e3 * best_pin, 3.0 * bytes / 1e9 / best_pin, 1e3 * worst_pin, 1e3 * best_pag,
               3.0 * bytes / 1e9 / best_pag, 100.0 * best_pin / (secs / steps));
        for (int s = 0; s < 3; s++) {
            gpt_host_free(m, pin[s]);
            free(pag[s]);
        }
    }
    gpt_free(m);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: bench_cuda [STEPS]\nCUDA trainer tokens/s, MFU and checkpoint stall, GPT-2 124M at seq 1024.\n");
        return 0;
    }
    int steps = argc > 1 ? atoi(argv[1]) : 10;
    if (steps < 1)
        steps = 10;
    if (gpt_cuda_device_count() == 0) {
        /* where the backend (build/libruns-cuda.so) could not be loaded, the loader says why */
        const char *why = gpt_last_error();
        printf("bench_cuda: skipped (%s)\n", why && *why ? why : "no CUDA device on this machine");
        return 0;
    }
    char name[128];
    int guessed = 0;
    device_name(name, sizeof name);
    const peak_row *pk = peak_for(name, &guessed);
    gpt_config cfg = {.n_layer = 12, .n_head = 12, .n_embd = 768, .vocab_size = 50257, .block_size = 1024};
    const int T = 1024, maxB = 64;
    int32_t *in = malloc((size_t)maxB * T * sizeof *in), *tg = malloc((size_t)maxB * T * sizeof *tg);
    if (!in || !tg)
        return 1;
    uint64_t rng = 7;
    fill(&rng, in, (size_t)maxB * T, cfg.vocab_size);
    fill(&rng, tg, (size_t)maxB * T, cfg.vocab_size);
    printf("bench_cuda: device %s, commit %s, GPT-2 124M shape, %d timed steps\n", name, RUNS_VERSION, steps);
    int B = 0;
    /* tf32 finds the batch and measures the stall; bf16 is the llm.c comparison
     * (same buffers, so the same batch fits); fp32 is the parity setting, briefly */
    int rc = run_math("tf32", &cfg, T, steps, in, tg, pk, guessed, &B);
    if (rc == 0)
        rc = run_math("bf16", &cfg, T, steps, in, tg, pk, guessed, &B);
    if (rc == 0)
        rc = run_math("fp32", &cfg, T, steps < 3 ? steps : 3, in, tg, pk, guessed, &B);
    free(in);
    free(tg);
    return rc ? 1 : 0;
}
