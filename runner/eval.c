/* runner/eval.c — held-out evaluation (see eval.h). */
#include "runner/eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "manifests/manifest.h"
#include "runner/committer.h"
#include "runner/linewalk.h"
#include "runner/provenance.h"
#include "store/jsonl.h"
#include "store/lineage.h"

int runs_eval_enabled(const runs_config *cfg)
{
    return cfg->eval.every > 0 && cfg->data.heldout[0] != '\0';
}

int runs_eval_loss(runs_eval_result *out, gpt_model *model, runs_data *data, int n_batches, int B, int T)
{
    int rc = RUNS_OK;
    size_t bt = (size_t)B * (size_t)T;
    int32_t *in = NULL, *tg = NULL;
    double sum = 0;
    int finite = 1;
    if (n_batches < 1 || B < 1 || T < 1) {
        rc = runs_error_set(RUNS_EINVALID, "eval: %d batches of %dx%d; eval.batches must be >= 1", n_batches, B, T);
        goto done;
    }
    in = malloc(bt * sizeof *in);
    tg = malloc(bt * sizeof *tg);
    if (!in || !tg) {
        rc = runs_error_set(RUNS_ENOMEM, "eval: out of memory for a batch of %dx%d", B, T);
        goto done;
    }
    /* batch order is fixed and the sum is in double: the same weights give the
     * same bits whichever process evaluates them */
    for (int k = 0; k < n_batches; k++) {
        float loss;
        if ((rc = runs_data_heldout_batch(data, k, B, T, in, tg)))
            goto done;
        if (gpt_forward(model, in, tg, B, T, 0, &loss)) {
            rc = runs_error_set(RUNS_ERROR, "eval: forward pass: %s", gpt_last_error());
            goto done;
        }
        if (!isfinite(loss))
            finite = 0;
        sum += (double)loss;
    }
    out->val_loss = finite ? sum / n_batches : NAN;
    out->batches = n_batches;
    out->tokens = (long)n_batches * (long)bt;
done:
    free(in);
    free(tg);
    return rc;
}

int runs_eval_node(runs_eval_result *out, long *step_out, char **note, runs_store *s, const char *id, int n_batches,
                   gpt_backend backend, const char *data_root, int allow_data_change)
{
    int rc;
    cJSON *m = NULL, *cfgj = NULL;
    runs_data *d = NULL;
    gpt_model *model = NULL;
    float *theta = NULL;
    runs_config cfg;
    if (note)
        *note = NULL;
    if ((rc = runs_node_manifest(&m, s, id)))
        goto done;
    if (!(cfgj = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(m, "config"), 1))) {
        rc = runs_error_set(RUNS_ENOMEM, "eval: out of memory");
        goto done;
    }
    /* the node's data paths are absolute; the shard must still be what it recorded */
    if ((rc = runs_provenance_check(NULL, note, s, cJSON_GetObjectItemCaseSensitive(m, "data_files"), cfgj, data_root,
                                    allow_data_change)) ||
        (rc = runs_config_from_json(&cfg, cfgj, "the node's config")))
        goto done;
    if (!cfg.data.heldout[0]) {
        rc = runs_error_set(RUNS_EINVALID,
                            "node %.12s's config has no data.heldout, so there is no held-out data to "
                            "evaluate on; fork it with -S data.heldout=SOURCE to set one",
                            id);
        goto done;
    }
    if (n_batches <= 0)
        n_batches = cfg.eval.batches;
    int B = cfg.train.batch_size, T = cfg.train.seq_len;
    int si = runs_config_source_index(&cfg, cfg.data.heldout);
    if (si < 0) {
        rc = runs_error_set(RUNS_EINVALID, "node %.12s: data.heldout \"%s\" is not a source", id, cfg.data.heldout);
        goto done;
    }
    /* the held-out source alone: the range training held out (runner/data.h) */
    if ((rc = runs_data_open_one(&d, &cfg, si, B, T)))
        goto done;
    gpt_config gc = {cfg.model.n_layer, cfg.model.n_head, cfg.model.n_embd, cfg.model.vocab_size, cfg.model.block_size};
    /* the same shape the trainer had (max batch B, max sequence T) */
    if (gpt_create(&model, &gc, B, T, backend)) {
        rc = runs_error_set(RUNS_ERROR, "eval: building the model: %s", gpt_last_error());
        goto done;
    }
    size_t bytes = gpt_num_params(model) * sizeof(float);
    if (runs_manifest_group_bytes(m, RUNS_GROUP_WEIGHTS) != bytes) {
        rc = runs_error_set(RUNS_ECORRUPT, "eval: node %.12s has %zu weight bytes, its config needs %zu", id,
                            runs_manifest_group_bytes(m, RUNS_GROUP_WEIGHTS), bytes);
        goto done;
    }
    if (!(theta = gpt_host_alloc(model, bytes))) {
        rc = runs_error_set(RUNS_ENOMEM, "eval: out of memory for %zu weight bytes", bytes);
        goto done;
    }
    if ((rc = runs_node_load_group(s, m, RUNS_GROUP_WEIGHTS, theta, bytes)))
        goto done;
    if (gpt_write(model, GPT_PARAM, theta)) {
        rc = runs_error_set(RUNS_ERROR, "eval: loading the weights: %s", gpt_last_error());
        goto done;
    }
    if ((rc = runs_eval_loss(out, model, d, n_batches, B, T)))
        goto done;
    if (step_out)
        *step_out = (long)cJSON_GetObjectItemCaseSensitive(m, "step")->valuedouble;
done:
    if (rc && note) {
        free(*note);
        *note = NULL;
    }
    if (theta)
        gpt_host_free(model, theta);
    gpt_free(model);
    runs_data_free(d);
    cJSON_Delete(cfgj);
    cJSON_Delete(m);
    return rc;
}

int runs_eval_format_line(char *buf, size_t n, long step, const runs_eval_result *r)
{
    char v[40];
    if (isfinite(r->val_loss))
        snprintf(v, sizeof v, "%.17g", r->val_loss);
    else
        snprintf(v, sizeof v, "null");
    int k = snprintf(buf, n, "{\"step\":%ld,\"val_loss\":%s,\"tokens\":%ld}", step, v, r->tokens);
    return k < 0 || (size_t)k >= n ? -1 : k;
}

/* Appends node manifest m's eval_log rows past *last to b. */
static int append_rows(runs_seg *b, long *last, const cJSON *m, const char *id)
{
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(m, "eval_log"), *row;
    const cJSON *arr = cJSON_IsArray(rows) ? rows : NULL;
    cJSON_ArrayForEach (row, arr) {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(row, "step");
        const cJSON *vl = cJSON_GetObjectItemCaseSensitive(row, "val_loss");
        const cJSON *tk = cJSON_GetObjectItemCaseSensitive(row, "tokens");
        if (!cJSON_IsNumber(st) || !cJSON_IsNumber(tk) || !(cJSON_IsNumber(vl) || cJSON_IsNull(vl)))
            return runs_error_set(RUNS_ECORRUPT,
                                  "node %.12s: an eval_log row is not {step, val_loss, tokens}; "
                                  "run `runs verify`",
                                  id);
        long step = (long)st->valuedouble;
        if (step <= *last)
            continue;
        runs_eval_result r = {cJSON_IsNumber(vl) ? vl->valuedouble : NAN, 0, (long)tk->valuedouble};
        char line[128];
        int n = runs_eval_format_line(line, sizeof line - 1, step, &r);
        if (n < 0)
            return runs_error_set(RUNS_ECORRUPT, "node %.12s: an eval_log row does not fit a line", id);
        line[n++] = '\n';
        int rc = runs_seg_append(b, line, (size_t)n);
        if (rc)
            return rc;
        *last = step;
    }
    return RUNS_OK;
}

/* The walk's step for .eval.json: ctx is the last step written so far. */
static int eval_node_rows(runs_seg *b, runs_store *s, const cJSON *m, const char *id, void *ctx)
{
    return append_rows(b, ctx, m, id);
}

int runs_eval_lineage_log(char **out, size_t *len, runs_store *s, const char *node_id)
{
    long last = -1;
    return runs_linewalk_concat(out, len, s, node_id, eval_node_rows, &last);
}
