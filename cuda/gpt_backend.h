/* cuda/gpt_backend.h — what a backend implements (internal to cuda/).
 *
 * cuda/gpt.c owns struct gpt_model's common part: it validates the config, fills
 * info[], and dispatches through ops. A backend keeps its buffers in impl.
 */
#ifndef RUNS_CUDA_GPT_BACKEND_H
#define RUNS_CUDA_GPT_BACKEND_H

#include "cuda/gpt.h"

#ifdef __cplusplus
extern "C" {
#endif

struct gpt_ops;

struct gpt_model {
    gpt_config cfg;
    gpt_backend backend;
    int max_batch, max_seq;
    int n_tensors;
    gpt_tensor_info *info; /* n_tensors entries, order of gpt.h */
    size_t n_params;
    uint64_t adam_step;
    unsigned char *owned; /* n_tensors flags of gpt_set_optimizer_shard, NULL: all owned */
    int sharded;          /* 1 when some tensor is not owned */
    const struct gpt_ops *ops;
    void *impl; /* backend-owned */
};

struct gpt_ops {
    /* Allocates m->impl (all groups zeroed). info/n_params are already set. */
    int (*create)(gpt_model *m);
    void (*destroy)(gpt_model *m);
    /* See gpt_forward. */
    int (*forward)(gpt_model *m, const int32_t *inputs, const int32_t *targets, int B, int T, int backward,
                   float *loss);
    /* Clip + AdamW; m->adam_step has already been incremented to t. */
    int (*update)(gpt_model *m, const gpt_adamw *hp, float lr, float *grad_norm);
    int (*read)(const gpt_model *m, gpt_slot slot, float *dst);
    int (*write)(gpt_model *m, gpt_slot slot, const float *src);
    /* Logits (vocab_size floats) of the last position of a 1×T sequence. */
    int (*logits_last)(gpt_model *m, const int32_t *tokens, int T, float *logits);
    void *(*host_alloc)(size_t bytes);
    void (*host_free)(void *p);
    /* ZeRO-1 (gpt.h); NULL in a backend without them (then gpt.c answers -1).
     * set_shard runs before m->owned changes (it still holds the old mask); gpt.c
     * has checked slot, index and ownership before the others. */
    int (*set_shard)(gpt_model *m, const unsigned char *owned);
    int (*read_tensor)(const gpt_model *m, gpt_slot slot, int i, float *dst);
    int (*write_tensor)(gpt_model *m, gpt_slot slot, int i, const float *src);
    int (*grad_norm)(const gpt_model *m, double *norm);
    /* m->adam_step has already been incremented to t */
    int (*update_owned)(gpt_model *m, const gpt_adamw *hp, float lr, double norm);
};

extern const struct gpt_ops gpt_cpu_ops;
extern const struct gpt_ops gpt_cuda_ops; /* libruns.a: cuda/cuda_loader.c (loads the .so on create) */
int gpt_cuda_device_count(void);          /* 0 where none answers or the backend cannot be loaded */

/* The hyper-parameters gpt_update and gpt_update_owned refuse (gpt.c), naming the
 * field and `who`; 0 or -1 with gpt_last_error set. */
int gpt__check_hp(const char *who, const gpt_model *m, const gpt_adamw *hp, float lr);

/* Sets gpt_last_error (printf-style); returns -1. */
int gpt_set_error(const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 1, 2)))
#endif
    ;

#ifdef __cplusplus
}
#endif
#endif
