/* cuda/cpu/cpu_update.c — the CPU backend's optimizer: the global gradient
 * norm, clipping + AdamW (gpt_cpu_ops.update, .grad_norm, .update_owned), and the
 * ZeRO-1 shard of m and v (.set_shard, .read_tensor, .write_tensor). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef __AVX512F__
#include <immintrin.h>
#endif

#include "cuda/cpu/cpu_impl.h"
#include "cuda/cpu/cpu_kernels.h"

typedef struct {
    float b1, b2, eps, lr, gscale, ibc1, ibc2;
} adam_consts;

/* AdamW on n elements. m̂/(√v̂+eps) is computed as (m·ibc1)/(√(v·ibc2)+eps) with
 * the bias corrections' reciprocals (1 ulp from dividing; one divide and one
 * square root per element so the loop stays vectorised). Clipped gradients
 * are written back, so the GRAD group holds what the update used: in the same
 * pass that reads them (a separate scaling pass over the chunk first cost about
 * 15% of the CPU time of a clipped update of (b)). */
__attribute__((noinline)) static void adam_chunk(float *restrict p, float *restrict g, float *restrict mm,
                                                 float *restrict vv, size_t n, float wd, const adam_consts *k)
{
    float b1 = k->b1, b2 = k->b2, c1 = 1.0f - k->b1, c2 = 1.0f - k->b2, eps = k->eps, lr = k->lr, s = k->gscale,
          ibc1 = k->ibc1, ibc2 = k->ibc2;
    int clip = s != 1.0f;
    size_t i = 0;
#ifdef __AVX512F__
    /* Explicit vectors: sqrtf's errno branch keeps the compiler's loop scalar.
     * Chunks start at fixed offsets, so which elements take this path does not
     * depend on the thread count. */
    __m512 vb1 = _mm512_set1_ps(b1), vb2 = _mm512_set1_ps(b2), vc1 = _mm512_set1_ps(c1), vc2 = _mm512_set1_ps(c2),
           veps = _mm512_set1_ps(eps), vlr = _mm512_set1_ps(lr), vi1 = _mm512_set1_ps(ibc1), vi2 = _mm512_set1_ps(ibc2),
           vwd = _mm512_set1_ps(wd), vs = _mm512_set1_ps(s);
    for (; i + 16 <= n; i += 16) {
        __m512 gi = _mm512_loadu_ps(g + i), pi = _mm512_loadu_ps(p + i);
        if (clip) {
            gi = _mm512_mul_ps(gi, vs);
            _mm512_storeu_ps(g + i, gi);
        }
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
        if (clip)
            g[i] = gi = gi * s;
        float mi = b1 * mm[i] + c1 * gi;
        float vi = b2 * vv[i] + c2 * gi * gi;
        mm[i] = mi;
        vv[i] = vi;
        p[i] -= lr * ((mi * ibc1) / (sqrtf(vi * ibc2) + eps) + wd * p[i]);
    }
}

/* Global norm: fixed chunks summed in double, chunk sums added in order. Within
 * a chunk, lane l (of 8) sums the squares of the elements i ≡ l mod 8 in order,
 * then a fixed tree adds the lanes. */
#define NORM_CHUNK 65536
/* Chunks summed side by side: one chunk's 8 lanes are one chain of dependent
 * adds, which one at a time bounds the pass by the add latency (the scalar
 * loop ran at 15 GB/s on 2 threads, a third of what memory gives); four chains
 * keep the adder busy. Each chunk's own order is unchanged. */
#define NORM_GROUP 4

static double lanes_tree(const double a[8])
{
    return ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
}

/* part[c] = the sum of squares of chunk c of k chunks, each of len floats,
 * stride floats apart from g. A float's square is exact in double, so a fused
 * multiply-add gives the bits of a multiply then an add: the compiler's
 * contraction (or its absence under SAN=1) cannot change the sum. */
static inline __attribute__((always_inline)) void sumsq_chunks(double *part, const float *g, size_t stride, int k,
                                                               size_t len)
{
#ifdef __AVX512F__
    __m512d acc[NORM_GROUP];
    for (int c = 0; c < k; c++)
        acc[c] = _mm512_setzero_pd();
    size_t i = 0;
    for (; i + 8 <= len; i += 8)
        for (int c = 0; c < k; c++) {
            __m512d x = _mm512_cvtps_pd(_mm256_loadu_ps(g + c * stride + i));
            acc[c] = _mm512_fmadd_pd(x, x, acc[c]);
        }
    if (i < len) { /* the lanes past the end keep their sums */
        __mmask8 mk = (__mmask8)((1u << (len - i)) - 1);
        for (int c = 0; c < k; c++) {
            __m512d x = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(mk, g + c * stride + i));
            acc[c] = _mm512_mask3_fmadd_pd(x, x, acc[c], mk);
        }
    }
    for (int c = 0; c < k; c++) {
        double a[8];
        _mm512_storeu_pd(a, acc[c]);
        part[c] = lanes_tree(a);
    }
#else
    for (int c = 0; c < k; c++) {
        const float *x = g + c * stride;
        double a[8] = {0};
        size_t i = 0;
        for (; i + 8 <= len; i += 8)
            for (int l = 0; l < 8; l++)
                a[l] += (double)x[i + l] * x[i + l];
        for (int l = 0; i + l < len; l++)
            a[l] += (double)x[i + l] * x[i + l];
        part[c] = lanes_tree(a);
    }
#endif
}

/* The global norm of the GRAD group (gpt_update's, gpt_grad_norm's); -1 when out of
 * memory (error set). */
static int norm_body(const gpt_model *m, double *norm)
{
    const cpu_impl *im = m->impl;
    const float *G = im->group[GPT_GRAD];
    size_t n = m->n_params;
    long nch = (long)((n + NORM_CHUNK - 1) / NORM_CHUNK), ngr = (nch + NORM_GROUP - 1) / NORM_GROUP;
    double *part = malloc((size_t)nch * sizeof *part);
    if (!part)
        return gpt_set_error("gpt_update: out of memory");
#pragma omp parallel for schedule(static)
    for (long gr = 0; gr < ngr; gr++) {
        long c0 = gr * NORM_GROUP;
        if ((size_t)(c0 + NORM_GROUP) * NORM_CHUNK <= n) {
            sumsq_chunks(part + c0, G + (size_t)c0 * NORM_CHUNK, NORM_CHUNK, NORM_GROUP, NORM_CHUNK);
            continue;
        }
        for (long ch = c0; ch < nch && ch < c0 + NORM_GROUP; ch++) { /* the last group: chunk by chunk */
            size_t i0 = (size_t)ch * NORM_CHUNK, i1 = i0 + NORM_CHUNK < n ? i0 + NORM_CHUNK : n;
            sumsq_chunks(part + ch, G + i0, 0, 1, i1 - i0);
        }
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
int cpu__update(gpt_model *m, const gpt_adamw *hp, float lr, float *grad_norm)
{
    int caller = cpu__threads_begin(m->impl);
    int rc = update_body(m, hp, lr, grad_norm);
    cpu__threads_end(caller);
    return rc;
}

int cpu__grad_norm(const gpt_model *m, double *norm)
{
    int caller = cpu__threads_begin(m->impl);
    int rc = norm_body(m, norm);
    cpu__threads_end(caller);
    return rc;
}

int cpu__update_owned(gpt_model *m, const gpt_adamw *hp, float lr, double norm)
{
    int caller = cpu__threads_begin(m->impl);
    adam_body(m, hp, lr, norm);
    cpu__threads_end(caller);
    return 0;
}

/* Where tensor i of a group lives (m and v by moff; NULL for m, v not held). */
static float *tensor_at(const gpt_model *m, gpt_slot slot, int i)
{
    const cpu_impl *im = m->impl;
    size_t o = slot == GPT_ADAM_M || slot == GPT_ADAM_V ? im->moff[i] : m->info[i].offset;
    return o == NO_MV ? NULL : im->group[slot] + o;
}

int cpu__read_tensor(const gpt_model *m, gpt_slot slot, int i, float *dst)
{
    const float *p = tensor_at(m, slot, i);
    if (!p)
        return gpt_set_error("gpt_read_tensor: %s's optimizer state is not held here", m->info[i].name);
    memcpy(dst, p, m->info[i].numel * sizeof(float));
    return 0;
}

int cpu__write_tensor(gpt_model *m, gpt_slot slot, int i, const float *src)
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
int cpu__set_shard(gpt_model *m, const unsigned char *owned)
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
    if (!(nm = cpu_alloc_floats(total)) || !(nv = cpu_alloc_floats(total)))
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
