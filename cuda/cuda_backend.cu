/* cuda/cuda_backend.cu — the CUDA backend of the trainer (gpt_cuda_ops).
 *
 * One translation unit: the kernel headers (encoder, layernorm, matmul,
 * attention, gelu, crossentropy, global_norm, adamw) are included here.
 *
 * Memory: one cudaMalloc holds the four float groups (param, grad, adam m,
 * adam v), every activation kept for backward at max_batch × max_seq, and the
 * scratch buffers, so create either gets everything or fails with one clear
 * message (how much was needed and how much was free), and destroy is one free.
 * The per-layer activations follow llm.c's fp32 trainer, including the
 * [B,NH,T,T] attention matrices; the largest batch that fits is therefore a
 * question for create, which the benchmark asks.
 *
 * Streams: every kernel, cuBLAS call and copy goes on the model's one stream,
 * in order. gpt_forward returns after the loss is on the host; gpt_update
 * after the norm is. read and write are synchronous: they return once the
 * bytes are at their destination, so a checkpoint staged with gpt_read into a
 * pinned buffer (gpt_host_alloc) can be committed in the background while the
 * next steps run — the optimiser cannot touch bytes that are being written,
 * because the copy is finished before gpt_read returns, and nothing is queued
 * behind the caller's back.
 *
 * Math option (no knob in gpt.h, so an environment variable read at create):
 * RUNS_CUDA_MATH=fp32 (default: cuBLAS CUBLAS_COMPUTE_32F, the parity setting),
 * tf32 (CUBLAS_COMPUTE_32F_FAST_TF32) or bf16 (CUBLAS_COMPUTE_32F_FAST_16BF):
 * the GEMMs run on tensor cores with inputs rounded to 10 or 7 mantissa bits and
 * fp32 accumulation; buffers, master weights and AdamW stay fp32. See
 * cuda/matmul.cuh for what bf16 storage would add.
 *
 * Determinism: no atomics anywhere (column sums are two-stage, the embedding
 * backward sorts positions by token on the host), so the same build on the
 * same GPU gives the same bits run to run, given cuBLAS picks the same kernels
 * for the same shapes (its default, non-atomic mode).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/adamw.cuh"
#include "cuda/attention.cuh"
#include "cuda/common.cuh"
#include "cuda/crossentropy.cuh"
#include "cuda/encoder.cuh"
#include "cuda/gelu.cuh"
#include "cuda/global_norm.cuh"
#include "cuda/layernorm.cuh"
#include "cuda/matmul.cuh"

/* Tensor indices (gpt.h order) and per-layer slots. */
enum { T_WTE = 0, T_WPE = 1, T_LAYER0 = 2, T_PER_LAYER = 12 };
enum {
    L_LN1W, L_LN1B, L_ATTNW, L_ATTNB, L_PROJW, L_PROJB,
    L_LN2W, L_LN2B, L_FCW, L_FCB, L_FCPROJW, L_FCPROJB
};

typedef struct {
    size_t off, n;
    int decay;
} adam_run;

typedef struct {
    int L, C, NH, V, Vp, maxB, maxT;
    size_t maxBT, nparams;
    cudaStream_t st;
    gemm_ctx g;
    int have_handle, have_stream;
    void *dev; /* the one allocation */
    size_t dev_bytes;
    float *grp[4]; /* GPT_PARAM, GPT_GRAD, GPT_ADAM_M, GPT_ADAM_V */
    /* activations: per layer (stride in floats beside each) or single */
    float *encoded, *ln1, *ln1_mean, *ln1_rstd, *qkvr, *att, *atty, *res2, *ln2, *ln2_mean,
        *ln2_rstd, *fch, *fch_gelu, *res3, *lnf, *lnf_mean, *lnf_rstd, *logits, *losses;
    size_t s_btc, s_bt, s_att; /* per-layer strides: BTC, BT, B·NH·T·T (max sizes) */
    /* scratch */
    float *s4, *s3, *sa, *sb, *dres, *dln, *satt, *colpart, *norm_scale;
    double *norm_partial;
    int32_t *d_ints;
    /* host side */
    int32_t *h_ints;  /* pinned: inputs, targets, utok, uoff, upos */
    float *h_losses;  /* pinned */
    float *h_norm;    /* pinned, 2 floats */
    int32_t *h_count; /* vocab_size + 1 */
    adam_run *runs;
    int n_runs;
} cuda_impl;

extern "C" int gpt_cuda_device_count(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError(); /* clear it: a GPU-less machine is not an error state */
        return 0;
    }
    return n > 0 ? n : 0;
}

static void impl_free(cuda_impl *im)
{
    if (!im) return;
    if (im->have_stream) cudaStreamSynchronize(im->st);
    if (im->have_handle) cublasDestroy(im->g.h);
    if (im->have_stream) cudaStreamDestroy(im->st);
    if (im->dev) cudaFree(im->dev);
    if (im->h_ints) cudaFreeHost(im->h_ints);
    if (im->h_losses) cudaFreeHost(im->h_losses);
    if (im->h_norm) cudaFreeHost(im->h_norm);
    free(im->h_count);
    free(im->runs);
    free(im);
}

/* Carves the single device allocation: first pass (base NULL) sizes it. */
typedef struct {
    char *base;
    size_t used;
} carver;

static void *carve(carver *c, size_t bytes)
{
    size_t off = (c->used + 255) & ~(size_t)255;
    c->used = off + bytes;
    return c->base ? (void *)(c->base + off) : NULL;
}

static void carve_all(cuda_impl *im, carver *c)
{
    size_t L = (size_t)im->L, C = (size_t)im->C, BT = im->maxBT;
    size_t F = sizeof(float);
    for (int i = 0; i < 4; i++) im->grp[i] = (float *)carve(c, im->nparams * F);
    im->s_btc = BT * C;
    im->s_bt = BT;
    im->s_att = (size_t)im->maxB * im->NH * im->maxT * im->maxT;
    im->encoded = (float *)carve(c, BT * C * F);
    im->ln1 = (float *)carve(c, L * BT * C * F);
    im->ln1_mean = (float *)carve(c, L * BT * F);
    im->ln1_rstd = (float *)carve(c, L * BT * F);
    im->qkvr = (float *)carve(c, L * 3 * BT * C * F);
    im->att = (float *)carve(c, L * im->s_att * F);
    im->atty = (float *)carve(c, L * BT * C * F);
    im->res2 = (float *)carve(c, L * BT * C * F);
    im->ln2 = (float *)carve(c, L * BT * C * F);
    im->ln2_mean = (float *)carve(c, L * BT * F);
    im->ln2_rstd = (float *)carve(c, L * BT * F);
    im->fch = (float *)carve(c, L * 4 * BT * C * F);
    im->fch_gelu = (float *)carve(c, L * 4 * BT * C * F);
    im->res3 = (float *)carve(c, L * BT * C * F);
    im->lnf = (float *)carve(c, BT * C * F);
    im->lnf_mean = (float *)carve(c, BT * F);
    im->lnf_rstd = (float *)carve(c, BT * F);
    im->logits = (float *)carve(c, BT * (size_t)im->Vp * F);
    im->losses = (float *)carve(c, BT * F);
    im->s4 = (float *)carve(c, 4 * BT * C * F);
    im->s3 = (float *)carve(c, 3 * BT * C * F);
    im->sa = (float *)carve(c, BT * C * F);
    im->sb = (float *)carve(c, BT * C * F);
    im->dres = (float *)carve(c, BT * C * F);
    im->dln = (float *)carve(c, BT * C * F);
    im->satt = (float *)carve(c, im->s_att * F);
    im->colpart = (float *)carve(c, (size_t)colsum_chunks((int)BT) * 4 * C * F);
    im->norm_scale = (float *)carve(c, 2 * F);
    im->norm_partial = (double *)carve(c, NORM_BLOCKS * sizeof(double));
    im->d_ints = (int32_t *)carve(c, (5 * BT + 1) * sizeof(int32_t));
}

static int cuda_create(gpt_model *m)
{
    cuda_impl *im = NULL;
    int rc = -1;
    const gpt_config *cfg = &m->cfg;
    const char *math = getenv("RUNS_CUDA_MATH");
    size_t free_b = 0, total_b = 0;
    carver c = {NULL, 0};

    {
        /* The runtime's reason (no device, a driver older than this CUDA build, ...)
         * goes into the message: "no device" and "wrong driver" need different fixes. */
        int n_dev = 0;
        cudaError_t e = cudaGetDeviceCount(&n_dev);
        if (e != cudaSuccess || n_dev <= 0) {
            (void)cudaGetLastError();
            gpt_set_error("cuda backend: no CUDA device answers on this machine (%s); use "
                          "--backend cpu (or auto)",
                          e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
            goto done;
        }
    }
    if (m->n_tensors != 4 + T_PER_LAYER * cfg->n_layer) {
        gpt_set_error("cuda backend: %d tensors for %d layers, expected %d (gpt.h layout changed?)",
                      m->n_tensors, cfg->n_layer, 4 + T_PER_LAYER * cfg->n_layer);
        goto done;
    }
    if (!(im = (cuda_impl *)calloc(1, sizeof *im))) {
        gpt_set_error("cuda backend: out of host memory");
        goto done;
    }
    im->L = cfg->n_layer;
    im->C = cfg->n_embd;
    im->NH = cfg->n_head;
    im->V = cfg->vocab_size;
    im->Vp = (cfg->vocab_size + 127) / 128 * 128; /* aligned logits rows for cuBLAS */
    im->maxB = m->max_batch;
    im->maxT = m->max_seq;
    im->maxBT = (size_t)m->max_batch * m->max_seq;
    im->nparams = m->n_params;
    im->g.compute = CUBLAS_COMPUTE_32F;
    if (math && *math) {
        if (!strcmp(math, "tf32"))
            im->g.compute = CUBLAS_COMPUTE_32F_FAST_TF32;
        else if (!strcmp(math, "bf16"))
            im->g.compute = CUBLAS_COMPUTE_32F_FAST_16BF;
        else if (strcmp(math, "fp32")) {
            gpt_set_error("cuda backend: RUNS_CUDA_MATH=%s is not fp32, tf32 or bf16", math);
            goto done;
        }
    }
    if (im->maxBT > (size_t)1 << 30) {
        gpt_set_error("cuda backend: max_batch*max_seq = %zu is too large", im->maxBT);
        goto done;
    }

    carve_all(im, &c); /* sizing pass */
    im->dev_bytes = c.used;
    if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) {
        gpt_set_error("cuda backend: cudaMemGetInfo failed: %s",
                      cudaGetErrorString(cudaGetLastError()));
        goto done;
    }
    /* headroom for cuBLAS's workspace and the launches' own needs */
    if (im->dev_bytes + ((size_t)512 << 20) > free_b) {
        gpt_set_error("cuda backend: batch %d x seq %d needs %.2f GiB of device memory, %.2f GiB "
                      "free of %.2f; lower the batch size",
                      im->maxB, im->maxT, im->dev_bytes / 1073741824.0, free_b / 1073741824.0,
                      total_b / 1073741824.0);
        goto done;
    }
    if (cudaMalloc(&im->dev, im->dev_bytes) != cudaSuccess) {
        cudaGetLastError();
        im->dev = NULL;
        gpt_set_error("cuda backend: cudaMalloc of %.2f GiB failed for batch %d x seq %d; lower "
                      "the batch size",
                      im->dev_bytes / 1073741824.0, im->maxB, im->maxT);
        goto done;
    }
    c.base = (char *)im->dev;
    c.used = 0;
    carve_all(im, &c);
    if (cudaStreamCreateWithFlags(&im->st, cudaStreamNonBlocking) != cudaSuccess) {
        gpt_set_error("cuda backend: cudaStreamCreate failed: %s",
                      cudaGetErrorString(cudaGetLastError()));
        goto done;
    }
    im->have_stream = 1;
    if (cudaMemsetAsync(im->dev, 0, im->dev_bytes, im->st) != cudaSuccess) {
        gpt_set_error("cuda backend: zeroing device memory failed: %s",
                      cudaGetErrorString(cudaGetLastError()));
        goto done;
    }
    {
        cublasStatus_t s = cublasCreate(&im->g.h);
        if (s != CUBLAS_STATUS_SUCCESS) {
            gpt_set_error("cuda backend: cublasCreate failed: %s", cublasGetStatusString(s));
            goto done;
        }
        im->have_handle = 1;
        if ((s = cublasSetStream(im->g.h, im->st)) != CUBLAS_STATUS_SUCCESS ||
            (s = cublasSetMathMode(im->g.h, CUBLAS_DEFAULT_MATH)) != CUBLAS_STATUS_SUCCESS) {
            gpt_set_error("cuda backend: cuBLAS setup failed: %s", cublasGetStatusString(s));
            goto done;
        }
    }
    if (cudaMallocHost(&im->h_ints, (5 * im->maxBT + 1) * sizeof(int32_t)) != cudaSuccess ||
        cudaMallocHost(&im->h_losses, im->maxBT * sizeof(float)) != cudaSuccess ||
        cudaMallocHost(&im->h_norm, 2 * sizeof(float)) != cudaSuccess) {
        gpt_set_error("cuda backend: pinned host allocation failed: %s",
                      cudaGetErrorString(cudaGetLastError()));
        goto done;
    }
    if (!(im->h_count = (int32_t *)calloc((size_t)im->V + 1, sizeof(int32_t))) ||
        !(im->runs = (adam_run *)calloc((size_t)m->n_tensors, sizeof(adam_run)))) {
        gpt_set_error("cuda backend: out of host memory");
        goto done;
    }
    /* AdamW launches: consecutive tensors with the same decay flag merge. */
    for (int i = 0; i < m->n_tensors; i++) {
        const gpt_tensor_info *t = &m->info[i];
        adam_run *r = im->n_runs ? &im->runs[im->n_runs - 1] : NULL;
        if (r && r->decay == t->decay && r->off + r->n == t->offset)
            r->n += t->numel;
        else {
            adam_run nr = {t->offset, t->numel, t->decay};
            im->runs[im->n_runs++] = nr;
        }
    }
    if (cudaStreamSynchronize(im->st) != cudaSuccess) {
        gpt_set_error("cuda backend: create failed: %s", cudaGetErrorString(cudaGetLastError()));
        goto done;
    }
    m->impl = im;
    im = NULL;
    rc = 0;
done:
    impl_free(im);
    return rc;
}

static void cuda_destroy(gpt_model *m)
{
    impl_free((cuda_impl *)m->impl);
    m->impl = NULL;
}

static float *P(const gpt_model *m, int slot, int tensor)
{
    return ((cuda_impl *)m->impl)->grp[slot] + m->info[tensor].offset;
}

static int LT(int l, int k) { return T_LAYER0 + T_PER_LAYER * l + k; }

/* Copies tokens (and targets) to the device; with backward, also the positions
 * grouped by token for the deterministic embedding backward (*n_unique set). */
static int stage_tokens(gpt_model *m, const int32_t *inputs, const int32_t *targets, int BT,
                        int backward, int *n_unique)
{
    cuda_impl *im = (cuda_impl *)m->impl;
    int32_t *in = im->h_ints, *tg = in + BT, *utok = in + 2 * BT, *uoff = in + 3 * BT,
            *upos = in + 4 * BT + 1;
    for (int i = 0; i < BT; i++) {
        if (inputs[i] < 0 || inputs[i] >= im->V)
            return gpt_set_error("cuda forward: input token %d at %d is outside [0, %d)", inputs[i],
                                 i, im->V);
        if (targets && (targets[i] < 0 || targets[i] >= im->V))
            return gpt_set_error("cuda forward: target token %d at %d is outside [0, %d)",
                                 targets[i], i, im->V);
    }
    memcpy(in, inputs, (size_t)BT * sizeof(int32_t));
    if (targets) memcpy(tg, targets, (size_t)BT * sizeof(int32_t));
    size_t n_copy = targets ? 2 * (size_t)BT : (size_t)BT;
    *n_unique = 0;
    if (backward) {
        /* counting sort: utok ascending, positions ascending within a token */
        int32_t *cnt = im->h_count;
        int U = 0;
        for (int i = 0; i < BT; i++) cnt[inputs[i]]++;
        int off = 0;
        for (int v = 0; v < im->V; v++) {
            if (!cnt[v]) continue;
            utok[U] = v;
            uoff[U] = off;
            off += cnt[v];
            cnt[v] = uoff[U]; /* becomes the write cursor */
            U++;
        }
        uoff[U] = off;
        for (int i = 0; i < BT; i++) upos[cnt[inputs[i]]++] = i;
        for (int u = 0; u < U; u++) cnt[utok[u]] = 0; /* leave the table zeroed */
        *n_unique = U;
        n_copy = 5 * (size_t)BT + 1;
    }
    CUDA_TRY(cudaMemcpyAsync(im->d_ints, in, n_copy * sizeof(int32_t), cudaMemcpyHostToDevice,
                             im->st),
             "copying tokens to the device");
    return 0;
}

/* Forward through the blocks and ln_f on B×T tokens already staged. */
static int forward_blocks(gpt_model *m, int B, int T)
{
    cuda_impl *im = (cuda_impl *)m->impl;
    cudaStream_t st = im->st;
    const gemm_ctx *g = &im->g;
    int L = im->L, C = im->C, NH = im->NH, BT = B * T;
    const int32_t *d_in = im->d_ints;

    if (encoder_forward(st, im->encoded, d_in, P(m, 0, T_WTE), P(m, 0, T_WPE), B, T, C) < 0)
        return -1;
    if (L == 0)
        return residual_layernorm_forward(st, NULL, im->lnf, im->lnf_mean, im->lnf_rstd,
                                          im->encoded, NULL, NULL, P(m, 0, 2), P(m, 0, 3), BT, C);
    if (residual_layernorm_forward(st, NULL, im->ln1, im->ln1_mean, im->ln1_rstd, im->encoded, NULL,
                                   NULL, P(m, 0, LT(0, L_LN1W)), P(m, 0, LT(0, L_LN1B)), BT, C) < 0)
        return -1;
    for (int l = 0; l < L; l++) {
        const float *resid = l == 0 ? im->encoded : im->res3 + (l - 1) * im->s_btc;
        float *ln1 = im->ln1 + l * im->s_btc, *qkvr = im->qkvr + 3 * l * im->s_btc,
              *att = im->att + l * im->s_att, *atty = im->atty + l * im->s_btc,
              *res2 = im->res2 + l * im->s_btc, *ln2 = im->ln2 + l * im->s_btc,
              *ln2m = im->ln2_mean + l * im->s_bt, *ln2r = im->ln2_rstd + l * im->s_bt,
              *fch = im->fch + 4 * l * im->s_btc, *fchg = im->fch_gelu + 4 * l * im->s_btc,
              *res3 = im->res3 + l * im->s_btc;
        if (matmul_forward(g, im->s4, 3 * C, ln1, P(m, 0, LT(l, L_ATTNW)), BT, C, 3 * C,
                           "c_attn forward") < 0 ||
            attention_forward(g, st, atty, qkvr, att, im->satt, im->sa, im->s4,
                              P(m, 0, LT(l, L_ATTNB)), B, T, C, NH) < 0 ||
            matmul_forward(g, im->sb, C, atty, P(m, 0, LT(l, L_PROJW)), BT, C, C,
                           "attn c_proj forward") < 0 ||
            residual_layernorm_forward(st, res2, ln2, ln2m, ln2r, resid, im->sb,
                                       P(m, 0, LT(l, L_PROJB)), P(m, 0, LT(l, L_LN2W)),
                                       P(m, 0, LT(l, L_LN2B)), BT, C) < 0 ||
            matmul_forward(g, im->s4, 4 * C, ln2, P(m, 0, LT(l, L_FCW)), BT, C, 4 * C,
                           "mlp c_fc forward") < 0 ||
            gelu_bias_forward(st, fch, fchg, im->s4, P(m, 0, LT(l, L_FCB)), BT, 4 * C) < 0 ||
            matmul_forward(g, im->sb, C, fchg, P(m, 0, LT(l, L_FCPROJW)), BT, 4 * C, C,
                           "mlp c_proj forward") < 0)
            return -1;
        int last = l == L - 1;
        float *nout = last ? im->lnf : im->ln1 + (l + 1) * im->s_btc;
        float *nmean = last ? im->lnf_mean : im->ln1_mean + (l + 1) * im->s_bt;
        float *nrstd = last ? im->lnf_rstd : im->ln1_rstd + (l + 1) * im->s_bt;
        const float *nw = last ? P(m, 0, T_LAYER0 + T_PER_LAYER * L) : P(m, 0, LT(l + 1, L_LN1W));
        const float *nb = last ? P(m, 0, T_LAYER0 + T_PER_LAYER * L + 1) : P(m, 0, LT(l + 1, L_LN1B));
        if (residual_layernorm_forward(st, res3, nout, nmean, nrstd, res2, im->sb,
                                       P(m, 0, LT(l, L_FCPROJB)), nw, nb, BT, C) < 0)
            return -1;
    }
    return 0;
}

/* Backward from dlogits (in im->logits) to every gradient (GRAD zeroed first). */
static int backward_all(gpt_model *m, int B, int T, int n_unique)
{
    cuda_impl *im = (cuda_impl *)m->impl;
    cudaStream_t st = im->st;
    const gemm_ctx *g = &im->g;
    int L = im->L, C = im->C, NH = im->NH, BT = B * T;
    const int32_t *d = im->d_ints;
    float *part = im->colpart;
    int lnf_w = T_LAYER0 + T_PER_LAYER * L, lnf_b = lnf_w + 1;

    CUDA_TRY(cudaMemsetAsync(im->grp[GPT_GRAD], 0, im->nparams * sizeof(float), st),
             "zeroing gradients");
    CUDA_TRY(cudaMemsetAsync(im->dres, 0, (size_t)BT * C * sizeof(float), st),
             "zeroing the residual gradient");
    if (matmul_backward(g, st, im->dln, P(m, 1, T_WTE), NULL, part, im->logits, im->Vp, im->lnf,
                        P(m, 0, T_WTE), BT, C, im->V, "lm_head backward") < 0)
        return -1;
    const float *last_res = L ? im->res3 + (L - 1) * im->s_btc : im->encoded;
    if (layernorm_backward(st, im->dres, P(m, 1, lnf_w), P(m, 1, lnf_b), part, im->dln, last_res,
                           im->lnf_mean, im->lnf_rstd, P(m, 0, lnf_w), BT, C) < 0)
        return -1;
    for (int l = L - 1; l >= 0; l--) {
        const float *resid = l == 0 ? im->encoded : im->res3 + (l - 1) * im->s_btc;
        const float *ln1 = im->ln1 + l * im->s_btc, *ln1m = im->ln1_mean + l * im->s_bt,
                    *ln1r = im->ln1_rstd + l * im->s_bt, *qkvr = im->qkvr + 3 * l * im->s_btc,
                    *att = im->att + l * im->s_att, *atty = im->atty + l * im->s_btc,
                    *res2 = im->res2 + l * im->s_btc, *ln2 = im->ln2 + l * im->s_btc,
                    *ln2m = im->ln2_mean + l * im->s_bt, *ln2r = im->ln2_rstd + l * im->s_bt,
                    *fch = im->fch + 4 * l * im->s_btc, *fchg = im->fch_gelu + 4 * l * im->s_btc;
        if (matmul_backward(g, st, im->s4, P(m, 1, LT(l, L_FCPROJW)), P(m, 1, LT(l, L_FCPROJB)),
                            part, im->dres, C, fchg, P(m, 0, LT(l, L_FCPROJW)), BT, 4 * C, C,
                            "mlp c_proj backward") < 0 ||
            gelu_backward(st, im->s4, fch, BT, 4 * C) < 0 ||
            matmul_backward(g, st, im->dln, P(m, 1, LT(l, L_FCW)), P(m, 1, LT(l, L_FCB)), part,
                            im->s4, 4 * C, ln2, P(m, 0, LT(l, L_FCW)), BT, C, 4 * C,
                            "mlp c_fc backward") < 0 ||
            layernorm_backward(st, im->dres, P(m, 1, LT(l, L_LN2W)), P(m, 1, LT(l, L_LN2B)), part,
                               im->dln, res2, ln2m, ln2r, P(m, 0, LT(l, L_LN2W)), BT, C) < 0 ||
            matmul_backward(g, st, im->sa, P(m, 1, LT(l, L_PROJW)), P(m, 1, LT(l, L_PROJB)), part,
                            im->dres, C, atty, P(m, 0, LT(l, L_PROJW)), BT, C, C,
                            "attn c_proj backward") < 0 ||
            attention_backward(g, st, im->s4, im->sb, im->satt, im->s3, im->sa, qkvr, att, B, T, C,
                               NH) < 0 ||
            matmul_backward(g, st, im->dln, P(m, 1, LT(l, L_ATTNW)), P(m, 1, LT(l, L_ATTNB)), part,
                            im->s4, 3 * C, ln1, P(m, 0, LT(l, L_ATTNW)), BT, C, 3 * C,
                            "c_attn backward") < 0 ||
            layernorm_backward(st, im->dres, P(m, 1, LT(l, L_LN1W)), P(m, 1, LT(l, L_LN1B)), part,
                               im->dln, resid, ln1m, ln1r, P(m, 0, LT(l, L_LN1W)), BT, C) < 0)
            return -1;
    }
    const int32_t *utok = d + 2 * BT, *uoff = d + 3 * BT, *upos = d + 4 * BT + 1;
    return encoder_backward(st, P(m, 1, T_WTE), P(m, 1, T_WPE), im->dres, utok, uoff, upos,
                            n_unique, B, T, C);
}

static int check_shape(const cuda_impl *im, int B, int T, const char *who)
{
    if (B < 1 || T < 1 || B > im->maxB || T > im->maxT)
        return gpt_set_error("%s: batch %d x seq %d is outside the model's 1..%d x 1..%d", who, B, T,
                             im->maxB, im->maxT);
    return 0;
}

static int cuda_forward(gpt_model *m, const int32_t *inputs, const int32_t *targets, int B, int T,
                        int backward, float *loss)
{
    cuda_impl *im = (cuda_impl *)m->impl;
    int BT = B * T, n_unique = 0;
    if (check_shape(im, B, T, "cuda forward") < 0) return -1;
    if (!inputs || (!targets && (backward || loss)))
        return gpt_set_error("cuda forward: inputs and targets are required");
    if (stage_tokens(m, inputs, targets, BT, backward, &n_unique) < 0) return -1;
    if (forward_blocks(m, B, T) < 0) return -1;
    if (!targets) return 0;
    if (matmul_forward(&im->g, im->logits, im->Vp, im->lnf, P(m, 0, T_WTE), BT, im->C, im->V,
                       "lm_head forward") < 0 ||
        crossentropy_forward(im->st, im->losses, im->logits, im->d_ints + BT, BT, im->Vp, im->V,
                             backward) < 0)
        return -1;
    if (backward && backward_all(m, B, T, n_unique) < 0) return -1;
    CUDA_TRY(cudaMemcpyAsync(im->h_losses, im->losses, (size_t)BT * sizeof(float),
                             cudaMemcpyDeviceToHost, im->st),
             "copying losses to the host");
    CUDA_TRY(cudaStreamSynchronize(im->st), backward ? "forward+backward" : "forward");
    double s = 0.0;
    for (int i = 0; i < BT; i++) s += im->h_losses[i];
    if (loss) *loss = (float)(s / BT);
    return 0;
}

static int cuda_logits_last(gpt_model *m, const int32_t *tokens, int T, float *logits)
{
    cuda_impl *im = (cuda_impl *)m->impl;
    int n_unique = 0;
    if (check_shape(im, 1, T, "cuda logits") < 0) return -1;
    if (stage_tokens(m, tokens, NULL, T, 0, &n_unique) < 0 || forward_blocks(m, 1, T) < 0 ||
        matmul_forward(&im->g, im->logits, im->Vp, im->lnf + (size_t)(T - 1) * im->C,
                       P(m, 0, T_WTE), 1, im->C, im->V, "lm_head (last position)") < 0)
        return -1;
    CUDA_TRY(cudaMemcpyAsync(logits, im->logits, (size_t)im->V * sizeof(float),
                             cudaMemcpyDeviceToHost, im->st),
             "copying logits to the host");
    CUDA_TRY(cudaStreamSynchronize(im->st), "logits forward");
    return 0;
}

static int cuda_update(gpt_model *m, const gpt_adamw *hp, float lr, float *grad_norm)
{
    cuda_impl *im = (cuda_impl *)m->impl;
    double t = (double)m->adam_step;
    float bc1 = (float)(1.0 - pow((double)hp->beta1, t));
    float bc2 = (float)(1.0 - pow((double)hp->beta2, t));
    float *p = im->grp[GPT_PARAM], *g = im->grp[GPT_GRAD], *mm = im->grp[GPT_ADAM_M],
          *vv = im->grp[GPT_ADAM_V];
    if (global_norm_clip(im->st, g, im->nparams, im->norm_partial, im->norm_scale, hp->grad_clip) < 0)
        return -1;
    for (int i = 0; i < im->n_runs; i++) {
        const adam_run *r = &im->runs[i];
        if (adamw_update(im->st, p + r->off, g + r->off, mm + r->off, vv + r->off, r->n, lr,
                         hp->beta1, hp->beta2, bc1, bc2, hp->eps,
                         r->decay ? hp->weight_decay : 0.0f) < 0)
            return -1;
    }
    CUDA_TRY(cudaMemcpyAsync(im->h_norm, im->norm_scale, 2 * sizeof(float), cudaMemcpyDeviceToHost,
                             im->st),
             "copying the gradient norm to the host");
    CUDA_TRY(cudaStreamSynchronize(im->st), "update");
    if (grad_norm) *grad_norm = im->h_norm[0];
    return 0;
}

/* Synchronous: returns when the whole group is in dst (see the top comment). */
static int cuda_read(const gpt_model *m, gpt_slot slot, float *dst)
{
    cuda_impl *im = (cuda_impl *)m->impl;
    if ((int)slot < 0 || (int)slot > 3) return gpt_set_error("cuda read: bad slot %d", (int)slot);
    CUDA_TRY(cudaMemcpyAsync(dst, im->grp[slot], im->nparams * sizeof(float),
                             cudaMemcpyDeviceToHost, im->st),
             "copying a group to the host");
    CUDA_TRY(cudaStreamSynchronize(im->st), "read (device to host copy)");
    return 0;
}

static int cuda_write(gpt_model *m, gpt_slot slot, const float *src)
{
    cuda_impl *im = (cuda_impl *)m->impl;
    if ((int)slot < 0 || (int)slot > 3) return gpt_set_error("cuda write: bad slot %d", (int)slot);
    CUDA_TRY(cudaMemcpyAsync(im->grp[slot], src, im->nparams * sizeof(float),
                             cudaMemcpyHostToDevice, im->st),
             "copying a group to the device");
    CUDA_TRY(cudaStreamSynchronize(im->st), "write (host to device copy)");
    return 0;
}

static void *cuda_host_alloc(size_t bytes)
{
    void *p = NULL;
    if (cudaMallocHost(&p, bytes ? bytes : 1) != cudaSuccess) {
        gpt_set_error("cuda: cudaMallocHost(%zu bytes) failed: %s", bytes,
                      cudaGetErrorString(cudaGetLastError()));
        return NULL;
    }
    return p;
}

static void cuda_host_free(void *p)
{
    if (p) cudaFreeHost(p);
}

/* Positional: C++17 has no designated initialisers. Order of struct gpt_ops. */
extern "C" const struct gpt_ops gpt_cuda_ops = {
    cuda_create, cuda_destroy, cuda_forward,  cuda_update,     cuda_read,
    cuda_write,  cuda_logits_last, cuda_host_alloc, cuda_host_free,
};

/* For cuda/nccl_dist.cu (data-parallel training): the GRAD group on the device, its
 * length in floats and the model's stream, so the all-reduce queues behind the
 * backward pass that wrote it. Owned by the model. */
extern "C" float *gpt_cuda_grad_buffer(gpt_model *m, size_t *n, cudaStream_t *st)
{
    cuda_impl *im = (cuda_impl *)m->impl;
    *n = im->nparams;
    *st = im->st;
    return im->grp[GPT_GRAD];
}
