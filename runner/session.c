/* runner/session.c — a session's set-up and teardown, `runs start` and `runs resume`,
 * and staging a node for the committer. See session.h for the lifecycle diagram
 * and the list of rooms. */
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
#include "runner/backend.h"
#include "runner/bandit.h"
#include "runner/coherence.h"
#include "runner/data.h"
#include "runner/dp.h"
#include "runner/dp_loop.h"
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

void runs__session_emit(const session *sess, runs_session_event *ev)
{
    if (!sess->opts.on_event)
        return;
    if (!ev->run)
        ev->run = sess->run[0] ? sess->run : sess->opts.run;
    sess->opts.on_event(sess->opts.event_ctx, ev);
}

int runs__gpt_fail(const char *what)
{
    return runs_error_set(RUNS_ERROR, "%s: %s", what, gpt_last_error());
}

gpt_adamw runs__session_adamw(const runs_config *c)
{
    gpt_adamw hp = {(float)c->optimizer.beta1, (float)c->optimizer.beta2, (float)c->optimizer.eps,
                    (float)c->optimizer.weight_decay, (float)c->optimizer.grad_clip};
    return hp;
}

/* ---- set-up --------------------------------------------------------------- */

/* Opens data, tokenizer and model for sess->cfg. Weights are left at zero. */
int runs__session_setup(session *sess)
{
    int rc;
    const runs_config *c = &sess->cfg;
    gpt_backend be = GPT_BACKEND_CPU;
    if ((rc = runs_backend_pick(&be, sess->opts.backend ? sess->opts.backend : c->train.backend)))
        return rc;
    runs_gate_init(&sess->gate, c->gate.threshold, c->gate.patience);
    /* without sample audits a missing tokenizer is no error, but one that is there
     * must fit the model: ids past vocab_size would index past the embedding */
    struct stat tst;
    if ((c->sampling.every > 0 || stat(c->data.tokenizer, &tst) == 0) &&
        (rc = runs_bpe_load(&sess->bpe, c->data.tokenizer)))
        return runs_error_wrap(
            rc, "data.tokenizer (sample audits need it: build it with `make corpus` or set sampling.every to 0)");
    if (sess->bpe && runs_bpe_vocab_size(sess->bpe) > c->model.vocab_size)
        return runs_error_set(RUNS_EINVALID,
                              "data.tokenizer %s has a vocabulary of %d tokens, more than model.vocab_size "
                              "%d; raise model.vocab_size to %d or train the tokenizer with --vocab-size %d",
                              c->data.tokenizer, runs_bpe_vocab_size(sess->bpe), c->model.vocab_size,
                              runs_bpe_vocab_size(sess->bpe), c->model.vocab_size);
    if ((rc = runs_data_open(&sess->data, c)))
        return rc;
    gpt_config gc = {c->model.n_layer, c->model.n_head, c->model.n_embd, c->model.vocab_size, c->model.block_size};
    if (gpt_create(&sess->model, &gc, c->train.batch_size, c->train.seq_len, be))
        return runs__gpt_fail("model");
    size_t n = (size_t)c->train.batch_size * c->train.seq_len;
    sess->inputs = malloc(n * sizeof(int32_t));
    sess->targets = malloc(n * sizeof(int32_t));
    sess->staging = gpt_host_alloc(sess->model, 3 * gpt_num_params(sess->model) * sizeof(float));
    if (!sess->inputs || !sess->targets || !sess->staging)
        return runs_error_set(RUNS_ENOMEM, "out of memory allocating the trainer's buffers");
    return RUNS_OK;
}

int runs__session_new_bandit(session *sess)
{
    int has[RUNS_MAX_SOURCES] = {0};
    for (int i = 0; i < sess->cfg.data.n_sources; i++)
        has[i] = runs_data_has_tokens(sess->data, i);
    runs_bandit_free(sess->bandit);
    sess->bandit = NULL;
    return runs_bandit_create(&sess->bandit, &sess->cfg, has);
}

static void default_dir(char *buf, size_t len, runs_store *s, const char *run)
{
    char base[PATH_MAX - 128];
    snprintf(base, sizeof base, "%s", runs_store_dir(s));
    char *slash = strrchr(base, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(base, sizeof base, ".");
    snprintf(buf, len, "%s/runs/%s", base, run);
}

static int mkdirs(const char *path)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return runs_error_sys(RUNS_EIO, "mkdir", tmp);
            *p = '/';
        }
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return runs_error_sys(RUNS_EIO, "mkdir", tmp);
    return RUNS_OK;
}

/* Takes the trainer lock, creates and records the run directory. */
int runs__session_open_run(session *sess, const char *run, const char *dir_opt, int reuse_dir)
{
    int rc;
    snprintf(sess->run, sizeof sess->run, "%s", run);
    if ((rc = runs_name_check(run, "run")))
        return rc;
    if ((rc = runs_trainer_lock(&sess->lock_fd, sess->store, run)))
        return rc;
    if (dir_opt)
        snprintf(sess->dir, sizeof sess->dir, "%s", dir_opt);
    else if (!reuse_dir || runs_rundir_get(sess->dir, sizeof sess->dir, sess->store, run))
        default_dir(sess->dir, sizeof sess->dir, sess->store, run);
    if ((rc = mkdirs(sess->dir)))
        return rc;
    /* claim before recording: a copied store must not take the original's directory */
    if ((rc = runs_rundir_claim(sess->store, run, sess->dir)) || (rc = runs_rundir_set(sess->store, run, sess->dir)))
        return rc;
    char real[PATH_MAX];
    if (realpath(sess->dir, real) && strlen(real) < sizeof sess->dir)
        memcpy(sess->dir, real, strlen(real) + 1);
    return RUNS_OK;
}

void runs__session_path(char *buf, size_t len, const session *sess, const char *name)
{
    snprintf(buf, len, "%s/%s", sess->dir, name);
}

/* Waits for the background commit, if any; on success the node becomes the parent. */
int runs__session_wait_commit(session *sess, int announce)
{
    runs_commit_job *job = NULL;
    int rc = runs_committer_wait(&job, &sess->committer);
    if (!job)
        return rc;
    if (!rc) {
        memcpy(sess->parent, job->id, 41);
        if (announce && !sess->opts.quiet) {
            cJSON *k = cJSON_GetObjectItemCaseSensitive(job->manifest, "kind");
            cJSON *st = cJSON_GetObjectItemCaseSensitive(job->manifest, "step");
            runs_session_event ev = {.kind = RUNS_EV_NODE,
                                     .node = job->id,
                                     .node_kind = k ? k->valuestring : "?",
                                     .step = st ? (long)st->valuedouble : -1L};
            runs__session_emit(sess, &ev);
        }
    }
    runs_commit_job_free(job);
    return rc;
}

/* Snapshots the trainer into the staging buffer and starts committing a node of
 * the given kind in the background (waiting first for the previous commit).
 * extra (may be NULL) is merged into the manifest and consumed. */
int runs__session_commit_node(session *sess, const char *kind, cJSON *extra, int wait)
{
    int rc;
    if ((rc = runs__session_wait_commit(sess, 1)) || (rc = runs__session_eval(sess))) {
        cJSON_Delete(extra);
        return rc;
    }
    /* a data-parallel job: every rank writes its share of the objects now */
    if (!(extra && cJSON_GetObjectItemCaseSensitive(extra, "tensors"))) {
        cJSON *tensors = NULL, *shards = NULL;
        rc = runs__dp_snapshot(sess, &tensors, &shards);
        if (rc == RUNS_OK) {
            if (!extra && !(extra = cJSON_CreateObject())) {
                cJSON_Delete(tensors);
                cJSON_Delete(shards);
                return runs_error_set(RUNS_ENOMEM, "out of memory preparing a checkpoint");
            }
            cJSON_AddItemToObject(extra, "tensors", tensors);
            cJSON_AddItemToObject(extra, "shards", shards);
        } else if (rc != RUNS_ENOTFOUND) {
            cJSON_Delete(extra);
            return rc;
        }
    }
    /* a node whose extra carries "tensors" (fork, restart, the ranks' shares)
     * reuses objects already in the store: nothing to snapshot, hash or write */
    int reuse = extra && cJSON_GetObjectItemCaseSensitive(extra, "tensors");
    runs_commit_job *job = calloc(1, sizeof *job);
    if (!job) {
        cJSON_Delete(extra);
        return runs_error_set(RUNS_ENOMEM, "out of memory preparing a checkpoint");
    }
    if (!reuse && (rc = runs__node_build_snapshot(sess, job))) {
        runs_commit_job_free(job);
        cJSON_Delete(extra);
        return rc;
    }
    job->store = sess->store;
    job->manifest = runs__node_build_manifest(sess, kind);
    /* the eval rows since the parent are in the manifest now (its eval_log) */
    cJSON_Delete(sess->eval_rows);
    sess->eval_rows = NULL;
    if (extra) {
        cJSON *it = extra->child;
        while (it) {
            cJSON *next = it->next;
            char key[64];
            snprintf(key, sizeof key, "%s", it->string);
            cJSON_DetachItemViaPointer(extra, it);
            /* cJSON re-duplicates the key, so it must not alias it->string */
            cJSON_DeleteItemFromObjectCaseSensitive(job->manifest, key);
            cJSON_AddItemToObject(job->manifest, key, it);
            it = next;
        }
        cJSON_Delete(extra);
    }
    job->loss_seg = sess->loss_seg;
    job->samples_seg = sess->samples_seg;
    memset(&sess->loss_seg, 0, sizeof sess->loss_seg);
    memset(&sess->samples_seg, 0, sizeof sess->samples_seg);
    snprintf(job->run, sizeof job->run, "%s", sess->run);
    if (!strcmp(kind, "checkpoint")) {
        job->keep_last = sess->cfg.checkpoint.keep_last;
        job->keep_every = sess->cfg.checkpoint.keep_every;
    }
    /* .loss.json lines up to here must be durable before a node names them */
    char lp[PATH_MAX], sp[PATH_MAX], ep[PATH_MAX];
    runs__session_path(lp, sizeof lp, sess, ".loss.json");
    runs__session_path(sp, sizeof sp, sess, ".samples.json");
    runs__session_path(ep, sizeof ep, sess, ".eval.json");
    if ((sess->loss_f && (rc = runs_jsonl_sync(sess->loss_f, lp))) ||
        (sess->samples_f && (rc = runs_jsonl_sync(sess->samples_f, sp))) ||
        (sess->eval_f && (rc = runs_jsonl_sync(sess->eval_f, ep))) || (rc = runs__runlog_write_state(sess))) {
        runs_commit_job_free(job);
        return rc;
    }
    if ((rc = runs_committer_start(&sess->committer, job)))
        return rc;
    return wait ? runs__session_wait_commit(sess, 1) : RUNS_OK;
}

static void session_close(session *sess)
{
    if (runs_committer_state(&sess->committer) != RUNS_COMMIT_IDLE)
        runs__session_wait_commit(sess, 0);
    if (sess->model && sess->staging)
        gpt_host_free(sess->model, sess->staging);
    gpt_free(sess->model);
    runs_data_free(sess->data);
    runs_bandit_free(sess->bandit);
    runs_bpe_free(sess->bpe);
    free(sess->inputs);
    free(sess->targets);
    free(sess->loss_seg.buf);
    free(sess->samples_seg.buf);
    if (sess->loss_f)
        fclose(sess->loss_f);
    if (sess->samples_f)
        fclose(sess->samples_f);
    if (sess->eval_f)
        fclose(sess->eval_f);
    cJSON_Delete(sess->eval_rows);
    cJSON_Delete(sess->config);
    cJSON_Delete(sess->data_files);
    if (sess->lock_fd > 0) {
        runs__runlog_status(sess, 1);
        close(sess->lock_fd);
    }
}

int runs__session_init(session *sess, runs_store *s, const runs_session_opts *o)
{
    memset(sess, 0, sizeof *sess);
    sess->store = s;
    sess->opts = *o;
    sess->last_coherence = -1;
    sess->lock_fd = -1;
    sess->eval_step = sess->eval_logged_step = -1;
    runs_gate_init(&sess->gate, 0, 0);
    return RUNS_OK;
}

int runs__session_finish(session *sess, int rc)
{
    /* rank 0 that stopped before training: the other ranks wait for it to start */
    if (!sess->opts.no_train)
        runs_dp_release();
    if (rc == RUNS_OK && !sess->opts.quiet && !sess->opts.no_train) {
        runs_session_event ev = {.kind = RUNS_EV_DONE, .step = sess->step, .loss_ema = sess->loss_ema};
        runs__session_emit(sess, &ev);
    }
    /* the session's per-step tags go into packed-refs (one file for every listing to
     * read, not one per node); their values do not change, so a failure only costs speed.
     * Not after a failure: its message must survive (the next session or gc packs). */
    size_t packed = 0;
    if (rc == RUNS_OK && !sess->opts.no_train && sess->run[0] && sess->store && runs_dp_rank() == 0 &&
        runs_refs_pack(&packed, sess->store, sess->run) != RUNS_OK) {
        char note[1200];
        snprintf(note, sizeof note, "could not pack the step tags of %s (%.500s); they stay loose files, which "
                 "`runs gc` packs later", sess->run, runs_error_message());
        runs_error_clear();
        runs_session_event ev = {.kind = RUNS_EV_WARNING, .message = note};
        runs__session_emit(sess, &ev);
    }
    session_close(sess);
    return rc;
}

/* The node's data, as the session will read it: remapped under --data-root, and
 * refused when it no longer hashes as node m recorded (unless --allow-data-change,
 * then a warning). Sets sess->data_files for the nodes to come. */
int runs__session_check_data(session *sess, const cJSON *m)
{
    char *note = NULL;
    int rc =
        runs_provenance_check(&sess->data_files, &note, sess->store, cJSON_GetObjectItemCaseSensitive(m, "data_files"),
                              sess->config, sess->opts.data_root, sess->opts.allow_data_change);
    if (note) {
        runs_session_event ev = {.kind = RUNS_EV_WARNING, .message = note};
        runs__session_emit(sess, &ev);
    }
    free(note);
    return rc;
}

int runs_session_start(runs_store *s, const cJSON *config, const runs_session_opts *o)
{
    session sess;
    runs__session_init(&sess, s, o);
    char tip[41];
    int rc;
    /* under mpirun every rank runs this: refuse before any of them touches the store */
    if ((rc = runs_dp_check_launch()))
        goto done;
    if (runs_dp_rank() > 0) { /* a follower: rank 0 owns the run */
        rc = runs__session_worker(&sess);
        goto done;
    }
    if (runs_run_tip(tip, s, o->run) == RUNS_OK) {
        rc = runs_error_set(RUNS_EEXISTS,
                            "run '%s' already exists; continue it with `runs resume %s` or pick "
                            "another --name",
                            o->run, o->run);
        goto done;
    }
    runs_error_clear();
    if (!(sess.config = cJSON_Duplicate(config, 1))) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = runs_config_from_json(&sess.cfg, sess.config, "config")))
        goto done;
    /* everything that can refuse the config comes before the run directory exists */
    if ((rc = runs__session_setup(&sess)) || (rc = runs__session_new_bandit(&sess)) ||
        (rc = runs_provenance_fingerprint(&sess.data_files, s, sess.config)) ||
        (rc = runs__session_open_run(&sess, o->run, o->dir, 0)))
        goto done;
    if (gpt_init_weights(sess.model, sess.cfg.train.seed)) {
        rc = runs__gpt_fail("init");
        goto done;
    }
    char p[PATH_MAX];
    runs__session_path(p, sizeof p, &sess, ".loss.json");
    if ((rc = runs_file_write_atomic(p, "", 0)))
        goto done;
    runs__session_path(p, sizeof p, &sess, ".samples.json");
    if ((rc = runs_file_write_atomic(p, "", 0)))
        goto done;
    runs__session_path(p, sizeof p, &sess, ".eval.json");
    if ((rc = runs_file_write_atomic(p, "", 0)) || (rc = runs__runlog_open(&sess)))
        goto done;
    if ((rc = runs__session_commit_node(&sess, "start", NULL, 1)) || (rc = runs_head_set(s, o->run)))
        goto done;
    if (!o->no_train)
        rc = runs__session_train(&sess);
done:
    return runs__session_finish(&sess, rc);
}

/* A session on a rank count other than the one that wrote node m keeps the node's
 * global batch (the run's contract: batch_tokens; B x T x A before the field
 * existed, one rank): train.grad_accum is scaled in sess->cfg and
 * sess->config (which the following ranks take their config from, and which a
 * fork's change list is diffed from, so the scaling shows there), and one warning
 * says so, starting with verb ("resuming", "forking", "restarting"). Refused with
 * runs_dp_fit_accum's line where the ranks cannot share a step's micro-batches.
 * Used by resume here and by fork/restart in branch.c. */
int runs__session_fit_ranks(session *sess, const cJSON *m, const char *verb)
{
    runs_train_config *t = &sess->cfg.train;
    const cJSON *bt = cJSON_GetObjectItemCaseSensitive(m, "batch_tokens");
    long tokens = cJSON_IsNumber(bt) ? (long)bt->valuedouble : (long)t->batch_size * t->seq_len * t->grad_accum;
    int ranks = runs_dp_size(), accum = 0;
    int rc = runs_dp_fit_accum(&accum, tokens, t->batch_size, t->seq_len, ranks);
    if (rc || accum == t->grad_accum)
        return rc;
    cJSON *train = cJSON_GetObjectItemCaseSensitive(sess->config, "train");
    cJSON *v = cJSON_CreateNumber(accum);
    if (!cJSON_IsObject(train) || !v) {
        cJSON_Delete(v);
        return runs_error_set(RUNS_EINVALID, "the node's config has no train section (internal)");
    }
    if (cJSON_GetObjectItemCaseSensitive(train, "grad_accum"))
        cJSON_ReplaceItemInObjectCaseSensitive(train, "grad_accum", v);
    else
        cJSON_AddItemToObject(train, "grad_accum", v);
    char note[200];
    snprintf(note, sizeof note,
             "%s on %d rank%s: train.grad_accum %d -> %d keeps the global batch of %ld tokens a step", verb, ranks,
             ranks > 1 ? "s" : "", t->grad_accum, accum, tokens);
    t->grad_accum = accum;
    runs_session_event ev = {.kind = RUNS_EV_WARNING, .message = note};
    runs__session_emit(sess, &ev);
    return RUNS_OK;
}

int runs_session_resume(runs_store *s, const char *node_id, const runs_session_opts *o)
{
    session sess;
    runs__session_init(&sess, s, o);
    cJSON *m = NULL;
    char id[41];
    int rc;
    /* under mpirun every rank runs this: refuse before any of them touches the store */
    if ((rc = runs_dp_check_launch()))
        goto done;
    if (runs_dp_rank() > 0) { /* a follower: rank 0 owns the run */
        rc = runs__session_worker(&sess);
        goto done;
    }
    if (node_id)
        snprintf(id, sizeof id, "%s", node_id);
    else if ((rc = runs_run_tip(id, s, o->run)))
        goto done;
    if ((rc = runs_node_manifest(&m, s, id)))
        goto done;
    if (!(sess.config = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(m, "config"), 1)) ||
        (rc = runs__session_check_data(&sess, m)) ||
        (rc = runs_config_from_json(&sess.cfg, sess.config, "the node's config")) ||
        (rc = runs__session_fit_ranks(&sess, m, "resuming")))
        goto done;
    cJSON *kind = cJSON_GetObjectItemCaseSensitive(m, "kind");
    if (cJSON_IsString(kind) && !strcmp(kind->valuestring, "halt") && !node_id) {
        rc = runs_error_set(RUNS_EINVALID,
                            "run '%s' was halted by the coherence gate at this node; resume from an "
                            "earlier node (runs resume NODE) or fork it with a fix",
                            o->run);
        goto done;
    }
    if ((rc = runs__session_open_run(&sess, o->run, o->dir, 1)) || (rc = runs__session_setup(&sess)) ||
        (rc = runs__node_build_load(&sess, m, 1)))
        goto done;
    memcpy(sess.parent, id, 41);
    if ((rc = runs__runlog_rebuild(&sess, id, 0)) || (rc = runs__runlog_open(&sess)) || (rc = runs_head_set(s, o->run)))
        goto done;
    if (!o->quiet) {
        runs_session_event ev = {.kind = RUNS_EV_RESUMING, .node = id, .step = sess.step};
        runs__session_emit(&sess, &ev);
    }
    if (!o->no_train)
        rc = runs__session_train(&sess);
done:
    cJSON_Delete(m);
    return runs__session_finish(&sess, rc);
}
