/* cuda/cpu/cpu_forward.c — the CPU backend's forward, backward and generation
 * (gpt_cpu_ops.forward, .logits_last). The forward and backward follow gpt.h;
 * the activations and scratch they use are allocated by cpu_backend.c. */
#include <omp.h>
#include <string.h>
#include <time.h>

#include "cuda/cpu/cpu_impl.h"
#include "cuda/cpu/cpu_kernels.h"

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

int cpu__forward(gpt_model *m, const int32_t *inputs, const int32_t *targets, int B, int T, int do_backward,
                 float *loss)
{
    cpu_impl *im = m->impl;
    const gpt_config *c = &m->cfg;
    int N = B * T, C = c->n_embd, V = c->vocab_size;
    float *P = im->group[GPT_PARAM];
    int caller = cpu__threads_begin(im);
    int adapt = do_backward && im->adapt_on && im->adapt.max_nt > 1;
    if (adapt && omp_get_max_threads() != cpu_adapt_threads(&im->adapt))
        omp_set_num_threads(cpu_adapt_threads(&im->adapt)); /* a probe of the other count */
    double w0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_THREAD_CPUTIME_ID), p0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    forward_body(m, inputs, B, T);
    *loss = cpu_classifier(im->dbuf, im->group[GPT_GRAD] + m->info[0].offset, im->losses, im->logits, im->wt, im->lnf,
                           P + m->info[0].offset, targets, N, C, V, do_backward);
    /* The controller times the forward of training steps only (with the output
     * layer's backward, about 40% of a step, the same kernels and shapes as the
     * rest): a probe of the slower count then costs under half a step. The
     * backward runs on the count it chose. The process's CPU time shows the
     * cores all threads got together (a running worker's is counted up to a
     * scheduler tick late, small against a forward). */
    if (adapt) {
        cpu_adapt_record(&im->adapt, clock_s(CLOCK_MONOTONIC) - w0, clock_s(CLOCK_THREAD_CPUTIME_ID) - c0,
                         clock_s(CLOCK_PROCESS_CPUTIME_ID) - p0, N);
        if (omp_get_max_threads() != cpu_adapt_chosen(&im->adapt))
            omp_set_num_threads(cpu_adapt_chosen(&im->adapt));
    }
    if (do_backward)
        backward(m, inputs, B, T);
    cpu__threads_end(caller);
    return 0;
}

int cpu__logits_last(gpt_model *m, const int32_t *tokens, int T, float *logits)
{
    cpu_impl *im = m->impl;
    const gpt_config *c = &m->cfg;
    int C = c->n_embd, V = c->vocab_size;
    if (T < 1 || T > m->max_seq)
        return gpt_set_error("gpt_generate: context of %d tokens outside [1, %d]", T, m->max_seq);
    int caller = cpu__threads_begin(im);
    forward_body(m, tokens, 1, T);
    /* Only the last row is needed: logits = wte · lnf[T−1]. */
    cpu_matvec(logits, im->group[GPT_PARAM] + m->info[0].offset, im->lnf + (size_t)(T - 1) * C, V, C);
    cpu__threads_end(caller);
    return 0;
}
