/* cuda/cpu/cpu_backend.c — gpt_cpu_ops: the CPU reference backend.
 *
 * Owns four group buffers (param, grad, m, v) of n_params floats, the
 * activations for max_batch × max_seq, and the backward scratch (cpu_impl.h).
 * This file creates and frees them, sets each call's thread count, copies whole
 * groups, and holds the ops table; the forward and backward are in
 * cpu_forward.c, the optimizer in cpu_update.c. Each kernel is thread-count
 * independent (see cpu_kernels.c), so a step gives the same bits for any
 * OMP_NUM_THREADS. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cuda/cpu/cpu_impl.h"
#include "cuda/cpu/cpu_kernels.h"

/* Buffers from this size up are placed on transparent huge pages, which this
 * kernel gives only on request (THP "madvise" mode). A 2 MB page covers what
 * 512 4 KB pages do, so passes that jump across memory stop walking page
 * tables: the logits' dinp reads the 154 MB embedding table of (b) in rows 3 KB
 * apart (a new 4 KB page every 1.3 rows), and the weight gradients read the
 * logits by column. Below it a buffer keeps 4 KB pages: rounding it up to 2 MB
 * would waste more than it saves. */
#define HUGE_MIN (4u << 20)
#define HUGE_PAGE (2u << 20)

/* RUNS_CPU_HUGEPAGES=0 keeps every buffer on 4 KB pages (benches compare the
 * two; the bits are the same either way). Read at each allocation. */
static int hugepages_on(void)
{
    const char *e = getenv("RUNS_CPU_HUGEPAGES");
    return !(e && strcmp(e, "0") == 0);
}

float *cpu_alloc_floats(size_t n)
{
    size_t bytes = (n * sizeof(float) + 63) / 64 * 64, align = 64;
    if (!bytes)
        bytes = 64;
    if (bytes >= HUGE_MIN && hugepages_on()) {
        align = HUGE_PAGE;
        bytes = (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    }
    float *p = aligned_alloc(align, bytes);
    if (!p)
        return NULL;
#ifdef MADV_HUGEPAGE
    /* Advice only, before the first touch (the zeroing below faults the pages
     * in): where the kernel has no THP it fails and the buffer keeps 4 KB pages. */
    if (align == HUGE_PAGE)
        (void)madvise(p, bytes, MADV_HUGEPAGE);
#endif
    memset(p, 0, bytes);
    return p;
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
        im->group[i] = cpu_alloc_floats(m->n_params);
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
    im->acts = cpu_alloc_floats(total);
    im->layer = calloc(L, sizeof *im->layer);
    size_t wt = V * C > 4 * C * C ? V * C : 4 * C * C;
    im->wt = cpu_alloc_floats(wt);
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

/* Sets this call's thread count (the controller's chosen one, cpu_adapt.h; a
 * training forward that is a probe sets its own) and returns the caller's,
 * which cpu__threads_end puts back: the caller's OpenMP setting is never
 * changed. A caller that changed its own count since the last call restarts
 * the controller at the new count. */
int cpu__threads_begin(cpu_impl *im)
{
    int caller = omp_get_max_threads();
    if (caller != im->adapt.max_nt)
        cpu_adapt_init(&im->adapt, caller);
    int nt = im->adapt_on ? cpu_adapt_chosen(&im->adapt) : caller;
    if (nt != caller)
        omp_set_num_threads(nt);
    return caller;
}

void cpu__threads_end(int caller)
{
    if (omp_get_max_threads() != caller)
        omp_set_num_threads(caller);
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
    .forward = cpu__forward,
    .update = cpu__update,
    .read = cpu_read,
    .write = cpu_write,
    .logits_last = cpu__logits_last,
    .host_alloc = cpu_host_alloc,
    .host_free = cpu_host_free,
    .set_shard = cpu__set_shard,
    .read_tensor = cpu__read_tensor,
    .write_tensor = cpu__write_tensor,
    .grad_norm = cpu__grad_norm,
    .update_owned = cpu__update_owned,
};
