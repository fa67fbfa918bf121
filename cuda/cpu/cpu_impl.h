/* cuda/cpu/cpu_impl.h — the CPU backend's private state and the helpers its
 * files share (cpu_backend.c: create, destroy, threads, the ops table;
 * cpu_forward.c: forward, backward, generation; cpu_update.c: norm, AdamW, the
 * ZeRO-1 shard calls). Module-internal: nothing outside cuda/cpu/ includes it;
 * the shared names carry a cpu__ prefix. */
#ifndef RUNS_CUDA_CPU_IMPL_H
#define RUNS_CUDA_CPU_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "cuda/cpu/cpu_adapt.h"
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

/* Sets this call's thread count and returns the caller's, which cpu__threads_end
 * puts back (cpu_backend.c). */
int cpu__threads_begin(cpu_impl *im);
void cpu__threads_end(int caller);

/* gpt_cpu_ops entries defined in cpu_forward.c. */
int cpu__forward(gpt_model *m, const int32_t *inputs, const int32_t *targets, int B, int T, int do_backward,
                 float *loss);
int cpu__logits_last(gpt_model *m, const int32_t *tokens, int T, float *logits);

/* gpt_cpu_ops entries defined in cpu_update.c. */
int cpu__update(gpt_model *m, const gpt_adamw *hp, float lr, float *grad_norm);
int cpu__grad_norm(const gpt_model *m, double *norm);
int cpu__update_owned(gpt_model *m, const gpt_adamw *hp, float lr, double norm);
int cpu__read_tensor(const gpt_model *m, gpt_slot slot, int i, float *dst);
int cpu__write_tensor(gpt_model *m, gpt_slot slot, int i, const float *src);
int cpu__set_shard(gpt_model *m, const unsigned char *owned);

#endif
