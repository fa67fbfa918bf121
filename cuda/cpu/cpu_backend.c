/* cuda/cpu/cpu_backend.c — gpt_cpu_ops: the CPU reference backend.
 *
 * Owns four group buffers (param, grad, m, v) of n_params floats, the
 * activations for max_batch × max_seq, and the backward scratch. The forward
 * and backward follow gpt.h; each kernel is thread-count independent (see
 * cpu_kernels.c), so a step gives the same bits for any OMP_NUM_THREADS. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef __AVX512F__
#include <immintrin.h>
#endif

#include "cuda/cpu/cpu_adapt.h"
#include "cuda/cpu/cpu_kernels.h"
#include "cuda/gpt_backend.h"

/* Per-layer parameter pointers into a group buffer. */
typedef struct {
    float *ln1w, *ln1b, *qkvw, *qkvb, *attprojw, *attprojb, *ln2w, *ln2b, *fcw, *fcb, *fcprojw, *fcprojb;
} layer_params;

typedef struct {
    float *ln1, *ln1_mean, *ln1_rstd, *qkv, *atty, *att, *attproj, *res2, *ln2, *ln2_mean, *ln2_rstd, *fch, *fch_gelu,
        *fcproj, *res3;
} layer_acts;

typedef struct {
    float *group[4];                                 /* GPT_PARAM, GPT_GRAD, GPT_ADAM_M, GPT_ADAM_V */
    size_t *moff;                                    /* per tensor: its offset in m and v, NO_MV if not held */
    size_t mv_floats;                                /* floats of m (= of v): n_params unless sharded */
    float *acts;                                     /* one allocation for everything below */
    float *encoded;                                  /* [N,C] */
    layer_acts *layer;                               /* n_layer */
    float *lnf, *lnf_mean, *lnf_rstd, *logits;       /* logits of a block of rows (cpu_classifier) */
    float *dres, *dbuf, *dqkv, *dfch, *dfchg, *datt; /* backward scratch */
    float *wt;                                       /* transposed-weight scratch, max(V·C, 4C·C) */
    float *losses;                                   /* [N] per-row losses */
    cpu_adapt adapt;                                 /* threads per step (cpu_adapt.h) */
    int adapt_on;                                    /* 0 when RUNS_CPU_ADAPT=0: the caller's count always */
} cpu_impl;

#define NO_MV ((size_t)-1)

static void *aligned_floats(size_t n)
{
    size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
    void *p = aligned_alloc(64, bytes ? bytes : 64);
    if (p)
        memset(p, 0, bytes ? bytes : 64);
    return p;
}

static void params_of(const gpt_model *m, float *g, int l, layer_params *lp)
{
    const gpt_tensor_info *t = &m->info[2 + 12 * l];
    lp->ln1w = g + t[0].offset;
    lp->ln1b = g + t[1].offset;
    lp->qkvw = g + t[2].offset;
    lp->qkvb = g + t[3].offset;
    lp->attprojw = g + t[4].offset;
    lp->attprojb = g + t[5].offset;
    lp->ln2w = g + t[6].offset;
    lp->ln2b = g + t[7].offset;
    lp->fcw = g + t[8].offset;
    lp->fcb = g + t[9].offset;
    lp->fcprojw = g + t[10].offset;
    lp->fcprojb = g + t[11].offset;
}

static void cpu_destroy(gpt_model *m)
{
    cpu_impl *im = m->impl;
    if (!im)
        return;
    for (int i = 0; i < 4; i++)
        free(im->group[i]);
    free(im->moff);
    free(im->acts);
    free(im->layer);
    free(im->wt);
    free(im);
    m->impl = NULL;
}

static int cpu_create(gpt_model *m)
{
    const gpt_config *c = &m->cfg;
    size_t N = (size_t)m->max_batch * m->max_seq, C = c->n_embd, V = c->vocab_size, L = c->n_layer;
    size_t H = c->n_head, T = m->max_seq, B = m->max_batch;
    cpu_impl *im = calloc(1, sizeof *im);
    if (!im)
        return gpt_set_error("cpu backend: out of memory");
    m->impl = im;
    /* RUNS_CPU_ADAPT=0 keeps the caller's thread count on every step (benches
     * compare the two; the bits are the same either way). */
    const char *ad = getenv("RUNS_CPU_ADAPT");
    im->adapt_on = !(ad && strcmp(ad, "0") == 0);
    cpu_adapt_init(&im->adapt, omp_get_max_threads());
    for (int i = 0; i < 4; i++) {
        im->group[i] = aligned_floats(m->n_params);
        if (!im->group[i])
            goto oom;
    }
    /* unsharded, m and v are laid out as the other groups */
    if (!(im->moff = malloc((size_t)m->n_tensors * sizeof *im->moff)))
        goto oom;
    for (int i = 0; i < m->n_tensors; i++)
        im->moff[i] = m->info[i].offset;
    im->mv_floats = m->n_params;
    size_t att = B * H * T * T;
    size_t per_layer = N * C /*ln1*/ + 2 * N + N * 3 * C + N * C /*atty*/ + att + N * C /*attproj*/ + N * C /*res2*/ +
                       N * C /*ln2*/ + 2 * N + N * 4 * C * 2 + N * C /*fcproj*/ + N * C /*res3*/;
    size_t lg = (size_t)cpu_classifier_rows((int)N, (int)C, (int)V) * V;
    size_t total = N * C + L * per_layer + N * C + 2 * N + lg + N * C /*dres*/ + N * C /*dbuf*/ + N * 3 * C +
                   2 * N * 4 * C + att + N /*losses*/;
    im->acts = aligned_floats(total);
    im->layer = calloc(L, sizeof *im->layer);
    size_t wt = V * C > 4 * C * C ? V * C : 4 * C * C;
    im->wt = aligned_floats(wt);
    if (!im->acts || !im->layer || !im->wt)
        goto oom;
    float *p = im->acts;
#define TAKE(dst, n) (dst = p, p += (n))
    TAKE(im->encoded, N * C);
    for (size_t l = 0; l < L; l++) {
        layer_acts *a = &im->layer[l];
        TAKE(a->ln1, N * C);
        TAKE(a->ln1_mean, N);
        TAKE(a->ln1_rstd, N);
        TAKE(a->qkv, N * 3 * C);
        TAKE(a->atty, N * C);
        TAKE(a->att, att);
        TAKE(a->attproj, N * C);
        TAKE(a->res2, N * C);
        TAKE(a->ln2, N * C);
        TAKE(a->ln2_mean, N);
        TAKE(a->ln2_rstd, N);
        TAKE(a->fch, N * 4 * C);
        TAKE(a->fch_gelu, N * 4 * C);
        TAKE(a->fcproj, N * C);
        TAKE(a->res3, N * C);
    }
    TAKE(im->lnf, N * C);
    TAKE(im->lnf_mean, N);
    TAKE(im->lnf_rstd, N);
    TAKE(im->logits, lg);
    TAKE(im->dres, N * C);
    TAKE(im->dbuf, N * C);
    TAKE(im->dqkv, N * 3 * C);
    TAKE(im->dfch, N * 4 * C);
    TAKE(im->dfchg, N * 4 * C);
    TAKE(im->datt, att);
    TAKE(im->losses, N);
#undef TAKE
    return 0;
oom:
    cpu_destroy(m);
    return gpt_set_error("cpu backend: out of memory allocating %zu parameters and activations for "
                         "batch %d x seq %d; lower the batch size or the sequence length",
                         m->n_params, m->max_batch, m->max_seq);
}

/* Runs the layers and ln_f on B×T tokens (activations left in im). */
static void forward_body(gpt_model *m, const int32_t *inputs, int B, int T)
{
    cpu_impl *im = m->impl;
    const gpt_config *c = &m->cfg;
    int C = c->n_embd, NH = c->n_head, N = B * T;
    float *P = im->group[GPT_PARAM];
    float *wte = P + m->info[0].offset, *wpe = P + m->info[1].offset;
    const gpt_tensor_info *tf = &m->info[2 + 12 * c->n_layer];
    cpu_embedding_fwd(im->encoded, inputs, wte, wpe, B, T, C);
    float *res = im->encoded;
    for (int l = 0; l < c->n_layer; l++) {
        layer_params lp;
        layer_acts *a = &im->layer[l];
        params_of(m, P, l, &lp);
        cpu_layernorm_fwd(a->ln1, a->ln1_mean, a->ln1_rstd, res, lp.ln1w, lp.ln1b, N, C);
        cpu_matmul_fwd(a->qkv, a->ln1, lp.qkvw, lp.qkvb, N, C, 3 * C, im->wt);
        cpu_attention_fwd(a->atty, a->att, a->qkv, B, T, C, NH);
        cpu_matmul_fwd(a->attproj, a->atty, lp.attprojw, lp.attprojb, N, C, C, im->wt);
        cpu_add(a->res2, res, a->attproj, (size_t)N * C);
        cpu_layernorm_fwd(a->ln2, a->ln2_mean, a->ln2_rstd, a->res2, lp.ln2w, lp.ln2b, N, C);
        cpu_matmul_fwd(a->fch, a->ln2, lp.fcw, lp.fcb, N, C, 4 * C, im->wt);
        cpu_gelu_fwd(a->fch_gelu, a->fch, (size_t)N * 4 * C);
        cpu_matmul_fwd(a->fcproj, a->fch_gelu, lp.fcprojw, lp.fcprojb, N, 4 * C, C, im->wt);
        cpu_add(a->res3, a->res2, a->fcproj, (size_t)N * C);
        res = a->res3;
    }
    cpu_layernorm_fwd(im->lnf, im->lnf_mean, im->lnf_rstd, res, P + tf[0].offset, P + tf[1].offset, N, C);
}

static void backward(gpt_model *m, const int32_t *inputs, int B, int T)
{
    cpu_impl *im = m->impl;
    const gpt_config *c = &m->cfg;
    int C = c->n_embd, NH = c->n_head, N = B * T, L = c->n_layer;
    float *P = im->group[GPT_PARAM], *G = im->group[GPT_GRAD];
    const gpt_tensor_info *tf = &m->info[2 + 12 * L];
    float *dwte = G + m->info[0].offset, *dwpe = G + m->info[1].offset;

    /* The output layer's gradients came with the loss (cpu_classifier): dbuf is
     * dlnf, dwte holds dlogitsᵀ·lnf, which the embedding's scatter adds to. */
    memset(im->dres, 0, (size_t)N * C * sizeof(float));
    float *res_last = L > 0 ? im->layer[L - 1].res3 : im->encoded;
    cpu_layernorm_bwd(im->dres, G + tf[0].offset, G + tf[1].offset, im->dbuf, res_last, P + tf[0].offset, im->lnf_mean,
                      im->lnf_rstd, N, C);
    for (int l = L - 1; l >= 0; l--) {
        layer_params lp, lg;
        layer_acts *a = &im->layer[l];
        params_of(m, P, l, &lp);
        params_of(m, G, l, &lg);
        float *res_in = l > 0 ? im->layer[l - 1].res3 : im->encoded;
        /* MLP: dres is the gradient of res3 (and, through the skip, of res2). */
        /* Separate in/out buffers: an in-place GELU backward would defeat vectorisation. */
        cpu_matmul_bwd(im->dfchg, lg.fcprojw, lg.fcprojb, im->dres, a->fch_gelu, lp.fcprojw, N, 4 * C, C, 0);
        cpu_gelu_bwd(im->dfch, a->fch, im->dfchg, (size_t)N * 4 * C);
        cpu_matmul_bwd(im->dbuf, lg.fcw, lg.fcb, im->dfch, a->ln2, lp.fcw, N, C, 4 * C, 0);
        cpu_layernorm_bwd(im->dres, lg.ln2w, lg.ln2b, im->dbuf, a->res2, lp.ln2w, a->ln2_mean, a->ln2_rstd, N, C);
        /* Attention: dres is now the gradient of res2 (and of res_in). */
        cpu_matmul_bwd(im->dbuf, lg.attprojw, lg.attprojb, im->dres, a->atty, lp.attprojw, N, C, C, 0);
        cpu_attention_bwd(im->dqkv, im->datt, im->dbuf, a->qkv, a->att, B, T, C, NH);
        cpu_matmul_bwd(im->dbuf, lg.qkvw, lg.qkvb, im->dqkv, a->ln1, lp.qkvw, N, C, 3 * C, 0);
        cpu_layernorm_bwd(im->dres, lg.ln1w, lg.ln1b, im->dbuf, res_in, lp.ln1w, a->ln1_mean, a->ln1_rstd, N, C);
    }
    /* Positions the batch did not reach get zero gradient. */
    memset(dwpe + (size_t)T * C, 0, (size_t)(c->block_size - T) * C * sizeof(float));
    cpu_embedding_bwd(dwte, dwpe, im->dres, inputs, B, T, C);
}

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Sets this call's thread count (cpu_adapt.h) and returns the caller's, which
 * threads_end puts back: the caller's OpenMP setting is never changed. A
 * caller that changed its own count since the last call restarts the
 * controller at the new count. */
static int threads_begin(cpu_impl *im)
{
    int caller = omp_get_max_threads();
    if (caller != im->adapt.max_nt)
        cpu_adapt_init(&im->adapt, caller);
    int nt = im->adapt_on ? cpu_adapt_threads(&im->adapt) : caller;
    if (nt != caller)
        omp_set_num_threads(nt);
    return caller;
}

static void threads_end(int caller)
{
    if (omp_get_max_threads() != caller)
        omp_set_num_threads(caller);
}

static int cpu_forward(gpt_model *m, const int32_t *inputs, const int32_t *targets, int B, int T, int do_backward,
                       float *loss)
{
    cpu_impl *im = m->impl;
    const gpt_config *c = &m->cfg;
    int N = B * T, C = c->n_embd, V = c->vocab_size;
    float *P = im->group[GPT_PARAM];
    int caller = threads_begin(im);
    double w0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
    forward_body(m, inputs, B, T);
    *loss = cpu_classifier(im->dbuf, im->group[GPT_GRAD] + m->info[0].offset, im->losses, im->logits, im->wt, im->lnf,
                           P + m->info[0].offset, targets, N, C, V, do_backward);
    /* The controller times the forward of training steps only (with the output
     * layer's backward, about 40% of a step, the same kernels and shapes as the
     * rest): a probe of the slower count then costs under half a step. The
     * backward runs on the count it chose. */
    if (do_backward && im->adapt_on && im->adapt.max_nt > 1) {
        cpu_adapt_record(&im->adapt, clock_s(CLOCK_MONOTONIC) - w0, clock_s(CLOCK_THREAD_CPUTIME_ID) - c0, N);
        if (omp_get_max_threads() != cpu_adapt_threads(&im->adapt))
            omp_set_num_threads(cpu_adapt_threads(&im->adapt));
    }
    if (do_backward)
        backward(m, inputs, B, T);
    threads_end(caller);
    return 0;
}

static int cpu_logits_last(gpt_model *m, const int32_t *tokens, int T, float *logits)
{
    cpu_impl *im = m->impl;
    const gpt_config *c = &m->cfg;
    int C = c->n_embd, V = c->vocab_size;
    if (T < 1 || T > m->max_seq)
        return gpt_set_error("gpt_generate: context of %d tokens outside [1, %d]", T, m->max_seq);
    int caller = threads_begin(im);
    forward_body(m, tokens, 1, T);
    /* Only the last row is needed: logits = wte · lnf[T−1]. */
    cpu_matvec(logits, im->group[GPT_PARAM] + m->info[0].offset, im->lnf + (size_t)(T - 1) * C, V, C);
    threads_end(caller);
    return 0;
}

typedef struct {
    float b1, b2, eps, lr, gscale, ibc1, ibc2;
} adam_consts;

/* AdamW on n elements. m̂/(√v̂+eps) is computed as (m·ibc1)/(√(v·ibc2)+eps) with
 * the bias corrections' reciprocals (1 ulp from dividing; one divide and one
 * square root per element so the loop stays vectorised). Clipped gradients
 * are written back, so the GRAD group holds what the update used. */
__attribute__((noinline)) static void adam_chunk(float *restrict p, float *restrict g, float *restrict mm,
                                                 float *restrict vv, size_t n, float wd, const adam_consts *k)
{
    float b1 = k->b1, b2 = k->b2, c1 = 1.0f - k->b1, c2 = 1.0f - k->b2, eps = k->eps, lr = k->lr, s = k->gscale,
          ibc1 = k->ibc1, ibc2 = k->ibc2;
    if (s != 1.0f)
        for (size_t i = 0; i < n; i++)
            g[i] *= s;
    size_t i = 0;
#ifdef __AVX512F__
    /* Explicit vectors: sqrtf's errno branch keeps the compiler's loop scalar.
     * Chunks start at fixed offsets, so which elements take this path does not
     * depend on the thread count. */
    __m512 vb1 = _mm512_set1_ps(b1), vb2 = _mm512_set1_ps(b2), vc1 = _mm512_set1_ps(c1), vc2 = _mm512_set1_ps(c2),
           veps = _mm512_set1_ps(eps), vlr = _mm512_set1_ps(lr), vi1 = _mm512_set1_ps(ibc1), vi2 = _mm512_set1_ps(ibc2),
           vwd = _mm512_set1_ps(wd);
    for (; i + 16 <= n; i += 16) {
        __m512 gi = _mm512_loadu_ps(g + i), pi = _mm512_loadu_ps(p + i);
        __m512 mi = _mm512_fmadd_ps(vb1, _mm512_loadu_ps(mm + i), _mm512_mul_ps(vc1, gi));
        __m512 vi = _mm512_fmadd_ps(vb2, _mm512_loadu_ps(vv + i), _mm512_mul_ps(_mm512_mul_ps(vc2, gi), gi));
        _mm512_storeu_ps(mm + i, mi);
        _mm512_storeu_ps(vv + i, vi);
        __m512 den = _mm512_add_ps(_mm512_sqrt_ps(_mm512_mul_ps(vi, vi2)), veps);
        __m512 upd = _mm512_fmadd_ps(vwd, pi, _mm512_div_ps(_mm512_mul_ps(mi, vi1), den));
        _mm512_storeu_ps(p + i, _mm512_fnmadd_ps(vlr, upd, pi));
    }
#endif
    for (; i < n; i++) {
        float gi = g[i];
        float mi = b1 * mm[i] + c1 * gi;
        float vi = b2 * vv[i] + c2 * gi * gi;
        mm[i] = mi;
        vv[i] = vi;
        p[i] -= lr * ((mi * ibc1) / (sqrtf(vi * ibc2) + eps) + wd * p[i]);
    }
}

/* Global norm: fixed chunks summed in double, chunk sums added in order. */
#define NORM_CHUNK 65536

/* The global norm of the GRAD group (gpt_update's, gpt_grad_norm's); -1 when out of
 * memory (error set). */
static int norm_body(const gpt_model *m, double *norm)
{
    const cpu_impl *im = m->impl;
    const float *G = im->group[GPT_GRAD];
    size_t n = m->n_params;
    long nch = (long)((n + NORM_CHUNK - 1) / NORM_CHUNK);
    double *part = malloc((size_t)nch * sizeof *part);
    if (!part)
        return gpt_set_error("gpt_update: out of memory");
#pragma omp parallel for schedule(static)
    for (long ch = 0; ch < nch; ch++) {
        size_t i0 = (size_t)ch * NORM_CHUNK, i1 = i0 + NORM_CHUNK < n ? i0 + NORM_CHUNK : n;
        double acc[8] = {0};
        size_t i = i0;
        for (; i + 8 <= i1; i += 8)
            for (int l = 0; l < 8; l++)
                acc[l] += (double)G[i + l] * G[i + l];
        for (int l = 0; i + l < i1; l++)
            acc[l] += (double)G[i + l] * G[i + l];
        part[ch] = ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
    }
    double sq = 0.0;
    for (long ch = 0; ch < nch; ch++)
        sq += part[ch];
    free(part);
    *norm = sqrt(sq);
    return 0;
}

/* Clip (from the global norm) + AdamW on every tensor whose m and v this model holds:
 * all of them unsharded, the owned ones under ZeRO-1 (the same bits per tensor). */
static void adam_body(gpt_model *m, const gpt_adamw *hp, float lr, double norm)
{
    cpu_impl *im = m->impl;
    float *P = im->group[GPT_PARAM], *G = im->group[GPT_GRAD], *M = im->group[GPT_ADAM_M], *Vv = im->group[GPT_ADAM_V];
    float gscale = 1.0f;
    if (hp->grad_clip > 0.0f && norm > hp->grad_clip)
        gscale = (float)(hp->grad_clip / norm);

    uint64_t t = m->adam_step;
    adam_consts k = {.b1 = hp->beta1,
                     .b2 = hp->beta2,
                     .eps = hp->eps,
                     .lr = lr,
                     .gscale = gscale,
                     .ibc1 = (float)(1.0 / (1.0 - pow((double)hp->beta1, (double)t))),
                     .ibc2 = (float)(1.0 / (1.0 - pow((double)hp->beta2, (double)t)))};
    const size_t *moff = im->moff;
    /* Tensors are independent, so threads move on without a barrier (nowait);
     * each element's arithmetic is the same whichever thread runs it. */
#pragma omp parallel
    for (int ti = 0; ti < m->n_tensors; ti++) {
        const gpt_tensor_info *inf = &m->info[ti];
        if (moff[ti] == NO_MV) /* another rank's tensor (every thread skips it) */
            continue;
        float wd = inf->decay ? hp->weight_decay : 0.0f;
        size_t o = inf->offset, mo = moff[ti];
        long tch = (long)((inf->numel + 4095) / 4096);
#pragma omp for schedule(static) nowait
        for (long ch = 0; ch < tch; ch++) {
            size_t i0 = (size_t)ch * 4096, i1 = i0 + 4096 < inf->numel ? i0 + 4096 : inf->numel;
            adam_chunk(P + o + i0, G + o + i0, M + mo + i0, Vv + mo + i0, i1 - i0, wd, &k);
        }
    }
}

static int update_body(gpt_model *m, const gpt_adamw *hp, float lr, float *grad_norm)
{
    double norm;
    if (norm_body(m, &norm))
        return -1;
    *grad_norm = (float)norm;
    adam_body(m, hp, lr, norm);
    return 0;
}

/* AdamW runs on the step's thread count too (it is the tail of the step). */
static int cpu_update(gpt_model *m, const gpt_adamw *hp, float lr, float *grad_norm)
{
    int caller = threads_begin(m->impl);
    int rc = update_body(m, hp, lr, grad_norm);
    threads_end(caller);
    return rc;
}

static int cpu_grad_norm(const gpt_model *m, double *norm)
{
    int caller = threads_begin(m->impl);
    int rc = norm_body(m, norm);
    threads_end(caller);
    return rc;
}

static int cpu_update_owned(gpt_model *m, const gpt_adamw *hp, float lr, double norm)
{
    int caller = threads_begin(m->impl);
    adam_body(m, hp, lr, norm);
    threads_end(caller);
    return 0;
}

/* Where tensor i of a group lives (m and v by moff; NULL for m, v not held). */
static float *tensor_at(const gpt_model *m, gpt_slot slot, int i)
{
    const cpu_impl *im = m->impl;
    size_t o = slot == GPT_ADAM_M || slot == GPT_ADAM_V ? im->moff[i] : m->info[i].offset;
    return o == NO_MV ? NULL : im->group[slot] + o;
}

static int cpu_read_tensor(const gpt_model *m, gpt_slot slot, int i, float *dst)
{
    const float *p = tensor_at(m, slot, i);
    if (!p)
        return gpt_set_error("gpt_read_tensor: %s's optimizer state is not held here", m->info[i].name);
    memcpy(dst, p, m->info[i].numel * sizeof(float));
    return 0;
}

static int cpu_write_tensor(gpt_model *m, gpt_slot slot, int i, const float *src)
{
    float *p = tensor_at(m, slot, i);
    if (!p)
        return gpt_set_error("gpt_write_tensor: %s's optimizer state is not held here", m->info[i].name);
    memcpy(p, src, m->info[i].numel * sizeof(float));
    return 0;
}

/* Compacts m and v to the tensors of owned (NULL: all, in the groups' layout): new
 * buffers of exactly the owned floats, the values of tensors held before and after
 * carried over, the old buffers freed. */
static int cpu_set_shard(gpt_model *m, const unsigned char *owned)
{
    cpu_impl *im = m->impl;
    int nt = m->n_tensors, rc = -1;
    size_t *moff = malloc((size_t)nt * sizeof *moff), total = 0;
    float *nm = NULL, *nv = NULL;
    if (!moff)
        goto oom;
    for (int i = 0; i < nt; i++) {
        moff[i] = !owned || owned[i] ? total : NO_MV;
        total += moff[i] == NO_MV ? 0 : m->info[i].numel;
    }
    if (!(nm = aligned_floats(total)) || !(nv = aligned_floats(total)))
        goto oom;
    for (int i = 0; i < nt; i++)
        if (moff[i] != NO_MV && im->moff[i] != NO_MV) {
            memcpy(nm + moff[i], im->group[GPT_ADAM_M] + im->moff[i], m->info[i].numel * sizeof(float));
            memcpy(nv + moff[i], im->group[GPT_ADAM_V] + im->moff[i], m->info[i].numel * sizeof(float));
        }
    free(im->group[GPT_ADAM_M]);
    free(im->group[GPT_ADAM_V]);
    free(im->moff);
    im->group[GPT_ADAM_M] = nm;
    im->group[GPT_ADAM_V] = nv;
    im->moff = moff;
    im->mv_floats = total;
    nm = nv = NULL;
    moff = NULL;
    rc = 0;
oom:
    if (rc)
        gpt_set_error("gpt_set_optimizer_shard: out of memory for %zu floats of m and v", 2 * total);
    free(moff);
    free(nm);
    free(nv);
    return rc;
}

static int cpu_read(const gpt_model *m, gpt_slot slot, float *dst)
{
    cpu_impl *im = m->impl;
    if ((slot == GPT_ADAM_M || slot == GPT_ADAM_V) && im->mv_floats != m->n_params)
        return gpt_set_error("gpt_read: the optimizer state is sharded; use gpt_read_tensor");
    memcpy(dst, im->group[slot], m->n_params * sizeof(float));
    return 0;
}

static int cpu_write(gpt_model *m, gpt_slot slot, const float *src)
{
    cpu_impl *im = m->impl;
    if ((slot == GPT_ADAM_M || slot == GPT_ADAM_V) && im->mv_floats != m->n_params)
        return gpt_set_error("gpt_write: the optimizer state is sharded; use gpt_write_tensor");
    memcpy(im->group[slot], src, m->n_params * sizeof(float));
    return 0;
}

static void *cpu_host_alloc(size_t bytes)
{
    return aligned_alloc(64, (bytes + 63) / 64 * 64);
}

static void cpu_host_free(void *p)
{
    free(p);
}

const struct gpt_ops gpt_cpu_ops = {
    .create = cpu_create,
    .destroy = cpu_destroy,
    .forward = cpu_forward,
    .update = cpu_update,
    .read = cpu_read,
    .write = cpu_write,
    .logits_last = cpu_logits_last,
    .host_alloc = cpu_host_alloc,
    .host_free = cpu_host_free,
    .set_shard = cpu_set_shard,
    .read_tensor = cpu_read_tensor,
    .write_tensor = cpu_write_tensor,
    .grad_norm = cpu_grad_norm,
    .update_owned = cpu_update_owned,
};
