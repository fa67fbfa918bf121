/* tools/sharpness.c — Hutchinson's trace estimator with finite-difference HVPs. */
#include "tools/sharpness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "manifests/config.h"
#include "manifests/manifest.h"
#include "store/lineage.h"
#include "store/notes.h"

int runs_sharpness_hvp(float *hv, size_t n, const float *theta, const float *v, double eps, runs_grad_fn grad,
                       void *ctx, float *scratch)
{
    int rc = 0;
    float *own = NULL;
    if (!(eps > 0) || !isfinite(eps))
        return runs_error_set(RUNS_EINVALID, "sharpness: eps must be a finite number > 0, got %g", eps);
    if (!scratch) {
        own = scratch = malloc(3 * n * sizeof(float));
        if (!own)
            return runs_error_set(RUNS_ENOMEM, "sharpness: out of memory for 3 × %zu floats", n);
    }
    float *tp = scratch, *gp = scratch + n, *gm = scratch + 2 * n;
    for (size_t i = 0; i < n; i++)
        tp[i] = (float)((double)theta[i] + eps * v[i]);
    if ((rc = grad(ctx, tp, gp, NULL)))
        goto done;
    for (size_t i = 0; i < n; i++)
        tp[i] = (float)((double)theta[i] - eps * v[i]);
    if ((rc = grad(ctx, tp, gm, NULL)))
        goto done;
    for (size_t i = 0; i < n; i++)
        hv[i] = (float)(((double)gp[i] - (double)gm[i]) / (2 * eps));
done:
    free(own);
    return rc;
}

int runs_sharpness_hutchinson(runs_sharpness_result *out, double *per_sample, size_t n, const float *theta,
                              runs_grad_fn grad, void *ctx, const runs_sharpness_opts *o)
{
    int rc = 0;
    float *buf = NULL;
    memset(out, 0, sizeof *out);
    if (o->samples < 1)
        return runs_error_set(RUNS_EINVALID, "sharpness: --samples must be >= 1, got %d", o->samples);
    if (!(o->eps > 0) || !isfinite(o->eps))
        return runs_error_set(RUNS_EINVALID, "sharpness: --eps must be a finite number > 0, got %g", o->eps);
    if (n == 0)
        return runs_error_set(RUNS_EINVALID, "sharpness: the model has no parameters");
    buf = malloc(5 * n * sizeof(float));
    if (!buf)
        return runs_error_set(RUNS_ENOMEM, "sharpness: out of memory for 5 × %zu floats", n);
    float *v = buf, *hv = buf + n, *scratch = buf + 2 * n;
    double loss = NAN;
    /* The loss at θ itself, for the record (the differences never evaluate there). */
    if ((rc = grad(ctx, theta, hv, &loss)))
        goto done;
    uint64_t rng = o->seed;
    double mean = 0, m2 = 0; /* Welford */
    for (int k = 0; k < o->samples; k++) {
        uint64_t bits = 0;
        for (size_t i = 0; i < n; i++) {
            if ((i & 63) == 0)
                bits = gpt_rng_next(&rng);
            v[i] = (bits >> (i & 63)) & 1 ? 1.0f : -1.0f;
        }
        if ((rc = runs_sharpness_hvp(hv, n, theta, v, o->eps, grad, ctx, scratch)))
            goto done;
        double q = 0;
        for (size_t i = 0; i < n; i++)
            q += (double)v[i] * (double)hv[i];
        if (!isfinite(q)) {
            rc = runs_error_set(
                RUNS_ECORRUPT,
                "sharpness: sample %d gave a non-finite vᵀHv (loss diverges within eps=%g; try a smaller --eps)", k + 1,
                o->eps);
            goto done;
        }
        if (per_sample)
            per_sample[k] = q;
        double d = q - mean;
        mean += d / (k + 1);
        m2 += d * (q - mean);
        if (o->progress)
            o->progress(o->progress_arg, k + 1, o->samples);
    }
    out->trace = mean;
    out->sd = o->samples > 1 ? sqrt(m2 / (o->samples - 1)) : NAN;
    out->stderr_ = o->samples > 1 ? out->sd / sqrt((double)o->samples) : NAN;
    out->loss = loss;
    out->samples = o->samples;
    out->eps = o->eps;
    out->seed = o->seed;
done:
    free(buf);
    return rc;
}

int runs_sharpness_gpt_grad(void *ctx, const float *theta, float *grad, double *loss)
{
    runs_sharpness_gpt *g = ctx;
    size_t n = gpt_num_params(g->model);
    if (!g->tmp && !(g->tmp = malloc(n * sizeof(float))))
        return runs_error_set(RUNS_ENOMEM, "sharpness: out of memory for %zu floats", n);
    if (gpt_write(g->model, GPT_PARAM, theta))
        return runs_error_set(RUNS_ERROR, "sharpness: writing weights: %s", gpt_last_error());
    double total = 0;
    size_t bt = (size_t)g->B * (size_t)g->T;
    for (int b = 0; b < g->n_batches; b++) {
        float l = 0;
        if (gpt_forward(g->model, g->inputs + b * bt, g->targets + b * bt, g->B, g->T, 1, &l))
            return runs_error_set(RUNS_ERROR, "sharpness: forward/backward on batch %d: %s", b, gpt_last_error());
        float *dst = b == 0 ? grad : g->tmp;
        if (gpt_read(g->model, GPT_GRAD, dst))
            return runs_error_set(RUNS_ERROR, "sharpness: reading gradients: %s", gpt_last_error());
        if (b > 0)
            for (size_t i = 0; i < n; i++)
                grad[i] += g->tmp[i];
        total += l;
    }
    if (g->n_batches > 1) {
        float s = 1.0f / (float)g->n_batches;
        for (size_t i = 0; i < n; i++)
            grad[i] *= s;
    }
    if (loss)
        *loss = total / g->n_batches;
    return 0;
}

void runs_sharpness_gpt_free(runs_sharpness_gpt *g)
{
    free(g->tmp);
    g->tmp = NULL;
}

static cJSON *num_or_null(double v)
{
    return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

cJSON *runs_sharpness_to_json(const runs_sharpness_result *r)
{
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return NULL;
    cJSON_AddItemToObject(j, "trace", num_or_null(r->trace));
    cJSON_AddItemToObject(j, "stderr", num_or_null(r->stderr_));
    cJSON_AddItemToObject(j, "sd", num_or_null(r->sd));
    cJSON_AddItemToObject(j, "loss", num_or_null(r->loss));
    cJSON_AddNumberToObject(j, "samples", r->samples);
    cJSON_AddNumberToObject(j, "eps", r->eps);
    /* JSON numbers are doubles: keep the seed exact. */
    if (r->seed < (1ull << 53))
        cJSON_AddNumberToObject(j, "seed", (double)r->seed);
    else {
        char s[24];
        snprintf(s, sizeof s, "%llu", (unsigned long long)r->seed);
        cJSON_AddStringToObject(j, "seed", s);
    }
    return j;
}

int runs_sharpness_node(runs_sharpness_result *out, runs_store *s, const char *id, gpt_backend backend,
                        const int32_t *inputs, const int32_t *targets, int n_batches, int B, int T,
                        const runs_sharpness_opts *opts)
{
    int rc = 0;
    cJSON *m = NULL;
    gpt_model *model = NULL;
    float *theta = NULL;
    runs_sharpness_gpt g = {0};
    runs_config cfg;
    if ((rc = runs_node_manifest(&m, s, id)))
        goto done;
    if ((rc = runs_config_from_json(&cfg, cJSON_GetObjectItemCaseSensitive(m, "config"), "node config")))
        goto done;
    gpt_config gc = {cfg.model.n_layer, cfg.model.n_head, cfg.model.n_embd, cfg.model.vocab_size, cfg.model.block_size};
    if (gpt_create(&model, &gc, B, T, backend)) {
        rc = runs_error_set(RUNS_ERROR, "sharpness: building the model: %s", gpt_last_error());
        goto done;
    }
    size_t n = gpt_num_params(model), bytes = runs_manifest_group_bytes(m, RUNS_GROUP_WEIGHTS);
    if (bytes != n * sizeof(float)) {
        rc = runs_error_set(RUNS_ECORRUPT, "sharpness: node %.12s has %zu weight bytes, its config needs %zu", id,
                            bytes, n * sizeof(float));
        goto done;
    }
    theta = malloc(bytes);
    if (!theta) {
        rc = runs_error_set(RUNS_ENOMEM, "sharpness: out of memory for %zu weight bytes", bytes);
        goto done;
    }
    if ((rc = runs_node_load_group(s, m, RUNS_GROUP_WEIGHTS, theta, bytes)))
        goto done;
    g.model = model;
    g.n_batches = n_batches;
    g.B = B;
    g.T = T;
    g.inputs = inputs;
    g.targets = targets;
    rc = runs_sharpness_hutchinson(out, NULL, n, theta, runs_sharpness_gpt_grad, &g, opts);
done:
    runs_sharpness_gpt_free(&g);
    free(theta);
    gpt_free(model);
    cJSON_Delete(m);
    return rc;
}

int runs_sharpness_record(runs_store *s, const char *id, const runs_sharpness_result *r, const char *source,
                          int heldout, int n_batches, int B, int T, gpt_backend backend)
{
    cJSON *patch = cJSON_CreateObject(), *j = runs_sharpness_to_json(r);
    int rc = 0;
    if (!patch || !j) {
        rc = runs_error_set(RUNS_ENOMEM, "sharpness: out of memory");
        goto done;
    }
    cJSON_AddStringToObject(j, "source", source ? source : "");
    cJSON_AddBoolToObject(j, "heldout", heldout);
    cJSON_AddNumberToObject(j, "batches", n_batches);
    cJSON_AddNumberToObject(j, "batch_size", B);
    cJSON_AddNumberToObject(j, "seq_len", T);
    cJSON_AddStringToObject(j, "backend", gpt_backend_name(backend));
    /* Merge-patch semantics would merge old and new fields; replace the whole entry. */
    cJSON *del = cJSON_CreateObject();
    if (!del) {
        rc = runs_error_set(RUNS_ENOMEM, "sharpness: out of memory");
        goto done;
    }
    cJSON_AddItemToObject(del, "sharpness", cJSON_CreateNull());
    rc = runs_note_merge(s, id, del);
    cJSON_Delete(del);
    if (rc)
        goto done;
    cJSON_AddItemToObject(patch, "sharpness", j);
    j = NULL;
    rc = runs_note_merge(s, id, patch);
done:
    cJSON_Delete(j);
    cJSON_Delete(patch);
    return rc;
}
