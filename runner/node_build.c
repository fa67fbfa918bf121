/* runner/node_build.c — a node's manifest from the session (build), the trainer's
 * tensors as the node's tensor list (snapshot), and a node back into the session
 * (load: weights, m, v, step, cursors, bandit, metrics). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "cuda/gpt.h"
#include "manifests/canon.h"
#include "manifests/config.h"
#include "manifests/diff.h"
#include "manifests/manifest.h"
#include "manifests/merge_patch.h"
#include "runner/bandit.h"
#include "runner/coherence.h"
#include "runner/data.h"
#include "runner/dp.h"
#include "runner/provenance.h"
#include "runner/rundir.h"
#include "runner/schedule.h"
#include "runner/session_int.h"
#include "store/jsonl.h"
#include "store/lineage.h"
#include "store/object.h"
#include "store/publish.h"
#include "store/gc.h"
#include "tools/bpe.h"

static cJSON *metrics_json(const session *sess)
{
    cJSON *m = cJSON_CreateObject();
    if (sess->have_ema) {
        cJSON_AddNumberToObject(m, "loss", sess->last_loss);
        cJSON_AddNumberToObject(m, "loss_ema", sess->loss_ema);
        cJSON_AddNumberToObject(m, "lr", sess->last_lr);
        cJSON_AddNumberToObject(m, "grad_norm", sess->last_gnorm);
    }
    if (sess->last_coherence >= 0)
        cJSON_AddNumberToObject(m, "coherence", sess->last_coherence);
    /* the held-out loss of this node's own weights (runs__session_eval ran at its
     * step), so `runs eval NODE` gives the same bits */
    if (sess->eval_step == sess->step && isfinite(sess->val_loss))
        cJSON_AddNumberToObject(m, "val_loss", sess->val_loss);
    cJSON_AddNumberToObject(m, "gate_low", sess->gate.run);
    if (sess->gate.run > 0)
        cJSON_AddNumberToObject(m, "gate_low_since", (double)sess->gate.run_start);
    return m;
}

/* Builds the manifest of a node at the current step (everything but tensors and
 * the log segment ids, which the committer fills in). */
cJSON *runs__node_build_manifest(const session *sess, const char *kind)
{
    cJSON *m = cJSON_CreateObject();
    char ts[32];
    time_t t = time(NULL);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    cJSON_AddStringToObject(m, "schema", RUNS_MANIFEST_SCHEMA);
    cJSON_AddStringToObject(m, "kind", kind);
    cJSON_AddStringToObject(m, "run", sess->run);
    cJSON_AddNumberToObject(m, "step", (double)sess->step);
    cJSON_AddNumberToObject(m, "tokens", (double)sess->tokens);
    /* the effective batch: tokens per optimizer step over micro-batches (and ranks) */
    cJSON_AddNumberToObject(m, "batch_tokens",
                            (double)sess->cfg.train.batch_size * sess->cfg.train.seq_len * sess->cfg.train.grad_accum *
                                runs_dp_size());
    if (sess->parent[0])
        cJSON_AddStringToObject(m, "parent", sess->parent);
    else
        cJSON_AddNullToObject(m, "parent");
    cJSON_AddItemToObject(m, "config", cJSON_Duplicate(sess->config, 1));
    cJSON *opt = cJSON_AddObjectToObject(m, "optimizer");
    cJSON_AddNumberToObject(opt, "adam_step", (double)gpt_adam_step(sess->model));
    cJSON_AddItemToObject(m, "data", runs_data_cursors_to_json(sess->data));
    if (sess->data_files)
        cJSON_AddItemToObject(m, "data_files", cJSON_Duplicate(sess->data_files, 1));
    cJSON_AddItemToObject(m, "bandit", runs_bandit_to_json(sess->bandit));
    cJSON_AddNullToObject(m, "loss_log");
    cJSON_AddNullToObject(m, "samples_log");
    /* eval rows since the parent, inline: a few per node, and kept with the manifest
     * (no object for gc or verify to track); .eval.json is rebuilt from them */
    if (sess->eval_rows)
        cJSON_AddItemToObject(m, "eval_log", cJSON_Duplicate(sess->eval_rows, 1));
    cJSON_AddItemToObject(m, "metrics", metrics_json(sess));
    cJSON_AddStringToObject(m, "backend", gpt_backend_name(gpt_get_backend(sess->model)));
    cJSON_AddStringToObject(m, "code_version", RUNS_VERSION);
    cJSON_AddStringToObject(m, "created", ts);
    return m;
}

/* Copies weights, m and v into the staging buffer and points job's tensor list at it. */
int runs__node_build_snapshot(session *sess, runs_commit_job *job)
{
    gpt_model *md = sess->model;
    size_t np = gpt_num_params(md);
    if (gpt_read(md, GPT_PARAM, sess->staging) || gpt_read(md, GPT_ADAM_M, sess->staging + np) ||
        gpt_read(md, GPT_ADAM_V, sess->staging + 2 * np))
        return runs__gpt_fail("snapshot");
    int nt = gpt_num_tensors(md);
    if (!(job->tensors = calloc((size_t)nt * 3, sizeof(runs_tensor))))
        return runs_error_set(RUNS_ENOMEM, "out of memory preparing a checkpoint");
    for (int g = 0; g < 3; g++)
        for (int i = 0; i < nt; i++) {
            const gpt_tensor_info *ti = gpt_tensor(md, i);
            runs_tensor *t = &job->tensors[(size_t)g * nt + i];
            t->name = ti->name;
            t->group = runs_manifest_groups[g];
            t->ndim = ti->ndim;
            t->shape[0] = ti->shape[0];
            t->shape[1] = ti->ndim > 1 ? ti->shape[1] : 1;
            t->data = sess->staging + (size_t)g * np + ti->offset;
            t->bytes = ti->numel * sizeof(float);
        }
    job->n_tensors = (size_t)nt * 3;
    return RUNS_OK;
}

/* Loads a saved bandit state; the arms it drops (excluded, cap 0, no data: the
 * seed's zombie arm) are reported as RUNS_EV_WARNING events. */
static int load_bandit(session *sess, const cJSON *state)
{
    int rc = runs__session_new_bandit(sess);
    if (rc || !state || cJSON_IsNull(state))
        return rc;
    char **warn = NULL;
    size_t nw = 0;
    rc = runs_bandit_load_json(sess->bandit, state, &warn, &nw);
    for (size_t i = 0; i < nw; i++) {
        runs_session_event ev = {.kind = RUNS_EV_WARNING, .message = warn[i]};
        runs__session_emit(sess, &ev);
        free(warn[i]);
    }
    free(warn);
    return rc;
}

/* Loads weights, m, v and the scalar state of node manifest m into the session. */
int runs__node_build_load(session *sess, const cJSON *m, int keep_bandit_state)
{
    int rc;
    size_t np = gpt_num_params(sess->model);
    size_t bytes = np * sizeof(float);
    if ((rc = runs_node_load_group(sess->store, m, RUNS_GROUP_WEIGHTS, sess->staging, bytes)) ||
        (rc = runs_node_load_group(sess->store, m, RUNS_GROUP_ADAM_M, sess->staging + np, bytes)) ||
        (rc = runs_node_load_group(sess->store, m, RUNS_GROUP_ADAM_V, sess->staging + 2 * np, bytes)))
        return rc;
    if (gpt_write(sess->model, GPT_PARAM, sess->staging) || gpt_write(sess->model, GPT_ADAM_M, sess->staging + np) ||
        gpt_write(sess->model, GPT_ADAM_V, sess->staging + 2 * np))
        return runs__gpt_fail("restore");
    cJSON *opt = cJSON_GetObjectItemCaseSensitive(m, "optimizer");
    cJSON *as = opt ? cJSON_GetObjectItemCaseSensitive(opt, "adam_step") : NULL;
    gpt_set_adam_step(sess->model, cJSON_IsNumber(as) ? (uint64_t)as->valuedouble : 0);
    sess->step = (long)cJSON_GetObjectItemCaseSensitive(m, "step")->valuedouble;
    sess->tokens = (long)cJSON_GetObjectItemCaseSensitive(m, "tokens")->valuedouble;
    cJSON *data = cJSON_GetObjectItemCaseSensitive(m, "data");
    if (data && (rc = runs_data_cursors_from_json(sess->data, data)))
        return rc;
    if ((rc = load_bandit(sess, keep_bandit_state ? cJSON_GetObjectItemCaseSensitive(m, "bandit") : NULL)))
        return rc;
    cJSON *met = cJSON_GetObjectItemCaseSensitive(m, "metrics");
    cJSON *v;
    if (met && cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(met, "loss_ema"))) {
        sess->loss_ema = v->valuedouble;
        sess->have_ema = 1;
        if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(met, "loss")))
            sess->last_loss = (float)v->valuedouble;
        if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(met, "lr")))
            sess->last_lr = (float)v->valuedouble;
        if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(met, "grad_norm")))
            sess->last_gnorm = (float)v->valuedouble;
    }
    if (met && cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(met, "coherence")))
        sess->last_coherence = v->valuedouble;
    if (met && cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(met, "gate_low")))
        sess->gate.run = (int)v->valuedouble;
    if (met && cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(met, "gate_low_since")))
        sess->gate.run_start = (long)v->valuedouble;
    return RUNS_OK;
}
