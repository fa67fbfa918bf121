/* tools/sharpness.h — sharpness as the trace of the loss Hessian (Hutchinson).
 *
 * tr(H) = E[vᵀHv] for Rademacher v (entries ±1 with equal probability), so the mean of
 * vᵀHv over K independent v is an unbiased estimate (Hutchinson 1989; the WSO paper's
 * Appendix H uses 50 samples). We have gradients but no second-order autodiff, so each
 * Hessian-vector product is a central difference of gradients:
 *     Hv ≈ (∇L(θ + εv) − ∇L(θ − εv)) / (2ε)       (error O(ε²) plus fp32 rounding / ε)
 * and vᵀHv is accumulated in double. Cost: 2 gradient evaluations per sample.
 *
 * The estimator works on any gradient oracle (runs_grad_fn); runs_sharpness_gpt_*
 * wrap a cuda/gpt.h model and a fixed set of batches (the loss is the mean over them).
 * runs_sharpness_node (sharpness_node.c) measures a stored lineage node on held-out data.
 */
#ifndef RUNS_TOOLS_SHARPNESS_H
#define RUNS_TOOLS_SHARPNESS_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "cuda/gpt.h"
#include "store/store.h"

/* Gradient of the loss at theta (n floats) into grad (n floats); *loss (may be NULL)
 * gets the loss. Returns 0 or a negative RUNS_E* code with the error set. */
typedef int (*runs_grad_fn)(void *ctx, const float *theta, float *grad, double *loss);

#define RUNS_SHARPNESS_DEFAULT_EPS 1e-3
#define RUNS_SHARPNESS_DEFAULT_SAMPLES 50

typedef struct {
    int samples;   /* K >= 1 Rademacher vectors */
    double eps;    /* finite-difference step ε > 0 (parameter units, per coordinate) */
    uint64_t seed; /* Rademacher stream (gpt_rng_next) */
    /* Called after each sample (may be NULL), e.g. for a progress bar. */
    void (*progress)(void *arg, int done, int total);
    void *progress_arg;
} runs_sharpness_opts;

typedef struct {
    double trace;   /* mean of vᵀHv: the estimate of tr(H) */
    double stderr_; /* standard error of that mean (NaN when samples < 2) */
    double sd;      /* sample standard deviation of vᵀHv (NaN when samples < 2) */
    double loss;    /* loss at θ */
    int samples;
    double eps;
    uint64_t seed;
} runs_sharpness_result;

/* Hutchinson's estimate at theta (n floats, left unchanged). per_sample (may be NULL)
 * receives the K values vᵀHv. Returns 0 or a negative RUNS_E* code. */
int runs_sharpness_hutchinson(runs_sharpness_result *out, double *per_sample, size_t n, const float *theta,
                              runs_grad_fn grad, void *ctx, const runs_sharpness_opts *opts);

/* One finite-difference Hessian-vector product: hv (n floats) ≈ H(theta)·v with step eps.
 * scratch: 3n floats (or NULL: allocated here). Also used by tests with v = basis vectors
 * to build the exact diagonal. Returns 0 or a negative RUNS_E* code. */
int runs_sharpness_hvp(float *hv, size_t n, const float *theta, const float *v, double eps, runs_grad_fn grad,
                       void *ctx, float *scratch);

/* ---- a cuda/gpt.h model as the oracle ---- */

typedef struct {
    gpt_model *model; /* created for batch B × seq T (borrowed) */
    int n_batches, B, T;
    const int32_t *inputs; /* n_batches × B × T (borrowed) */
    const int32_t *targets;
    float *tmp; /* internal: gpt_num_params floats */
} runs_sharpness_gpt;

/* runs_grad_fn for a runs_sharpness_gpt: writes theta as the model's weights and
 * returns the gradient of the mean loss over the batches. */
int runs_sharpness_gpt_grad(void *ctx, const float *theta, float *grad, double *loss);
void runs_sharpness_gpt_free(runs_sharpness_gpt *g); /* frees tmp only */

/* ---- a stored lineage node ---- */

/* Measures node id of store s: builds a model of the node's config.model on backend
 * (batches B × T), loads its weights (verified), and runs the estimator on the
 * n_batches held-out batches inputs/targets (n_batches × B × T each, chosen by the
 * caller: the CLI takes them from the config's data.heldout source). */
int runs_sharpness_node(runs_sharpness_result *out, runs_store *s, const char *id, gpt_backend backend,
                        const int32_t *inputs, const int32_t *targets, int n_batches, int B, int T,
                        const runs_sharpness_opts *opts);

/* Records r in node id's note (store/notes.h) as {"sharpness": {result fields,
 * "source", "heldout" (bool: the run never trained on those tokens), "batches", "batch_size",
 * "seq_len", "backend"}}, replacing an earlier one. */
int runs_sharpness_record(runs_store *s, const char *id, const runs_sharpness_result *r, const char *source,
                          int heldout, int n_batches, int B, int T, gpt_backend backend);

/* The result as JSON: {"trace","stderr","sd","loss","samples","eps","seed"} (NaN → null).
 * Caller cJSON_Delete()s; NULL on out-of-memory. */
cJSON *runs_sharpness_to_json(const runs_sharpness_result *r);

#endif
