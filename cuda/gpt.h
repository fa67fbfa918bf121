/* cuda/gpt.h — the trainer's compute interface, shared by every backend.
 *
 * The run loop (runner/) drives a gpt_model through this header only. Two
 * backends implement it: the CPU reference (cuda/cpu/, C + OpenMP) and CUDA
 * (the .cu files in cuda/: kernels + cuBLAS). cuda/ includes nothing else of the project:
 * it never touches the store; it hands host snapshots up and takes them back.
 *
 * Model (GPT-2 style; both backends compute exactly this):
 *   x = wte[tok] + wpe[pos]
 *   per layer: x += c_proj(attn(ln_1(x)));  x += mlp.c_proj(gelu(mlp.c_fc(ln_2(x))))
 *   logits = ln_f(x) · wteᵀ (tied output); loss = mean cross-entropy over B·T.
 *   LayerNorm eps 1e-5 (biased variance); causal softmax attention with scale
 *   1/sqrt(head_dim); GELU tanh approximation; linear weights row-major [out, in];
 *   c_attn's 3C outputs are [q | k | v], head h uses columns h·hd .. (h+1)·hd−1.
 *
 * Parameters live in one float buffer per group (param, grad, adam m, adam v),
 * each split into tensors in this order (C = n_embd, V = vocab_size):
 *   wte [V,C], wpe [block_size,C], then per layer i:
 *   h.i.ln_1.w [C], h.i.ln_1.b [C], h.i.attn.c_attn.w [3C,C], h.i.attn.c_attn.b [3C],
 *   h.i.attn.c_proj.w [C,C], h.i.attn.c_proj.b [C], h.i.ln_2.w [C], h.i.ln_2.b [C],
 *   h.i.mlp.c_fc.w [4C,C], h.i.mlp.c_fc.b [4C], h.i.mlp.c_proj.w [C,4C], h.i.mlp.c_proj.b [C];
 *   then ln_f.w [C], ln_f.b [C].
 * 2-D tensors take weight decay; 1-D (biases, LayerNorm) do not.
 *
 * Initialisation (host-side, from the model's RNG, identical for every backend):
 * 2-D tensors N(0, 0.02), the two c_proj weights N(0, 0.02/sqrt(2·n_layer)),
 * biases 0, LayerNorm weights 1. Tensors are filled in the order above.
 *
 * Optimiser (gpt_update): global L2 norm of all gradients (accumulated in double);
 * if grad_clip > 0 and norm > grad_clip, gradients are scaled by grad_clip/norm;
 * then AdamW with t = ++adam_step:
 *   m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²;  m̂ = m/(1−β1^t);  v̂ = v/(1−β2^t)
 *   p −= lr·(m̂/(√v̂ + eps) + wd·p)        (wd = weight_decay for 2-D tensors, else 0)
 *
 * Determinism: on the CPU backend the same inputs give the same bits whatever
 * the OpenMP thread count (every reduction has a fixed order).
 *
 * Errors: functions return 0 or -1 and leave a message in gpt_last_error().
 */
#ifndef RUNS_CUDA_GPT_H
#define RUNS_CUDA_GPT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int n_layer, n_head, n_embd, vocab_size, block_size;
} gpt_config;

typedef enum { GPT_BACKEND_CPU = 0, GPT_BACKEND_CUDA = 1 } gpt_backend;

/* Which float group a read/write addresses. */
typedef enum { GPT_PARAM = 0, GPT_GRAD = 1, GPT_ADAM_M = 2, GPT_ADAM_V = 3 } gpt_slot;

typedef struct {
    char name[48]; /* e.g. "h.3.attn.c_attn.w" */
    int ndim;      /* 1 or 2 */
    int shape[2];  /* shape[1] is 1 when ndim == 1 */
    size_t numel;
    size_t offset; /* in floats, within a group buffer */
    int decay;     /* 1: weight decay applies (2-D tensors) */
} gpt_tensor_info;

typedef struct {
    float beta1, beta2, eps, weight_decay, grad_clip;
} gpt_adamw;

typedef struct gpt_model gpt_model;

/* Checks cfg (positive sizes, n_embd % n_head == 0, max_seq <= block_size,
 * vocab_size <= 65536 ...) before allocating anything, then allocates the model
 * for batches up to max_batch × max_seq. Weights are zero until gpt_init_weights
 * or gpt_write. The caller frees *out with gpt_free. */
int gpt_create(gpt_model **out, const gpt_config *cfg, int max_batch, int max_seq, gpt_backend backend);
void gpt_free(gpt_model *m);

/* The tensor table (order, shapes, offsets) of a model of shape cfg, without
 * creating one: export and import use it. *out is malloc'd; the caller frees it. */
int gpt_tensor_table(gpt_tensor_info **out, int *count, const gpt_config *cfg);

/* 1 when a CUDA device answers (and the CUDA backend was built), else 0. */
int gpt_cuda_available(void);
const char *gpt_backend_name(gpt_backend b);

/* Fills the weights from seed as described above; zeroes m, v and adam_step. */
int gpt_init_weights(gpt_model *m, uint64_t seed);

const gpt_config *gpt_get_config(const gpt_model *m);
gpt_backend gpt_get_backend(const gpt_model *m);
int gpt_num_tensors(const gpt_model *m);
const gpt_tensor_info *gpt_tensor(const gpt_model *m, int i);
size_t gpt_num_params(const gpt_model *m);

/* Forward pass on B×T tokens (inputs and targets are row-major [B,T], values in
 * [0, vocab)); *loss = mean cross-entropy. With backward != 0, the gradients of
 * that loss replace whatever the GRAD group held. */
int gpt_forward(gpt_model *m, const int32_t *inputs, const int32_t *targets, int B, int T, int backward, float *loss);

/* Clip + AdamW as above at learning rate lr; *grad_norm (may be NULL) gets the
 * norm before clipping. Increments adam_step. */
int gpt_update(gpt_model *m, const gpt_adamw *hp, float lr, float *grad_norm);

uint64_t gpt_adam_step(const gpt_model *m);
void gpt_set_adam_step(gpt_model *m, uint64_t t);

/* Copies a whole group (gpt_num_params floats, tensors at their offsets)
 * to or from host memory. */
int gpt_read(const gpt_model *m, gpt_slot slot, float *dst);
int gpt_write(gpt_model *m, gpt_slot slot, const float *src);

/* ZeRO-1 (runner/dp_loop.c): on N data-parallel ranks each model keeps AdamW m and v
 * only for the tensors it owns and updates only those; the caller moves gradients and
 * weights between ranks. Tensor granularity: a tensor's m and v live whole in one
 * model. CPU backend only: the CUDA backend answers -1 with a message.
 *
 * gpt_set_optimizer_shard: owned has gpt_num_tensors flags (non-zero: this model keeps
 * m and v of tensor i), or is NULL for every tensor (the unsharded model). The m, v of
 * tensors owned before and after keep their values, newly owned ones start at zero,
 * the rest is freed: the model then holds 2 x (owned floats), not 2 x n_params. The
 * mask is copied. While some tensor is not owned, gpt_read/gpt_write of GPT_ADAM_M or
 * GPT_ADAM_V (whole groups) fail: use the per-tensor calls. */
int gpt_set_optimizer_shard(gpt_model *m, const unsigned char *owned);

/* 1 when tensor i's m and v live in this model (every tensor when unsharded). */
int gpt_owns_tensor(const gpt_model *m, int i);

/* Floats of AdamW state (m and v together) this model holds: 2 x n_params unsharded. */
size_t gpt_optimizer_floats(const gpt_model *m);

/* Copies tensor i of a group (its numel floats) to or from host memory; GPT_ADAM_M/V
 * only for an owned tensor. */
int gpt_read_tensor(const gpt_model *m, gpt_slot slot, int i, float *dst);
int gpt_write_tensor(gpt_model *m, gpt_slot slot, int i, const float *src);

/* *norm = the global L2 norm of the whole GRAD group, computed exactly as gpt_update
 * computes it (same chunks, same order, in double), so the same bits. */
int gpt_grad_norm(const gpt_model *m, double *norm);

/* gpt_update with the global norm given (gpt_grad_norm's, from the full gradient):
 * the clip factor comes from norm, then AdamW on the owned tensors only; the other
 * tensors' weights and GRAD are neither read nor written. Each owned tensor gets the
 * bits gpt_update gives it. Increments adam_step. */
int gpt_update_owned(gpt_model *m, const gpt_adamw *hp, float lr, double norm);

/* Host memory suited to gpt_read/gpt_write (pinned on CUDA, aligned on CPU).
 * Free with gpt_host_free. */
void *gpt_host_alloc(const gpt_model *m, size_t bytes);
void gpt_host_free(const gpt_model *m, void *p);

/* Generates n_new tokens after prompt[0..n_prompt) (n_prompt >= 1), sampling
 * with temperature (<= 0 means greedy) and top_k (<= 0 means whole vocab) from
 * *rng_state, which advances. The context slides when it exceeds max_seq
 * (activations exist for max_seq <= block_size positions; logits_last takes T <= max_seq).
 * out receives the n_new tokens. */
int gpt_generate(gpt_model *m, const int32_t *prompt, int n_prompt, int n_new, float temperature, int top_k,
                 uint64_t *rng_state, int32_t *out);

/* The message of the last failed call on this thread. */
const char *gpt_last_error(void);

/* Deterministic RNG (splitmix64): the trainer's, the sampler's, the data
 * loader's. State is one uint64_t, so it checkpoints as a number. */
uint64_t gpt_rng_next(uint64_t *state);
float gpt_rng_uniform(uint64_t *state); /* [0, 1) with 24 random bits */
float gpt_rng_normal(uint64_t *state);  /* N(0,1), Box–Muller */

#ifdef __cplusplus
}
#endif
#endif
