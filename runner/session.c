/* runner/session.c — the run loop; see session.h for the lifecycle diagram.
 *
 * Step numbering: `step` counts completed optimizer steps. Executing step t
 * (0-based) appends {"step": t, ...} to the loss log; afterwards step = t + 1, and
 * a sample audit or checkpoint "at step N" happens when step == N. A node at step N
 * whose parent is at step M carries the loss lines M..N-1 (its loss_log segment)
 * and the sample lines with M < step <= N (its samples_log segment).
 */
#include "runner/session.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
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
#include "runner/provenance.h"
#include "runner/rundir.h"
#include "runner/schedule.h"
#include "store/lineage.h"
#include "store/object.h"
#include "store/gc.h"
#include "tools/bpe.h"

#define EMA_BETA 0.98

/* A growable byte buffer for log segments. */
typedef struct {
    char *buf;
    size_t len, cap;
} seg_buf;

static int seg_append(seg_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *nb = realloc(b->buf, cap);
        if (!nb)
            return runs_error_set(RUNS_ENOMEM, "out of memory growing a log segment");
        b->buf = nb;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
    return RUNS_OK;
}

/* One background commit: owns manifest, tensors and segments until joined. */
typedef struct {
    runs_store *store;
    cJSON *manifest;
    runs_tensor *tensors;
    size_t n_tensors;
    seg_buf loss_seg, samples_seg;
    char run[RUNS_NAME_MAX];
    long keep_last, keep_every;
    int rc;
    char err[1024];
    char id[41];
    volatile int finished;  /* set last by the committer thread, so the loop can join early */
} commit_job;

typedef struct {
    runs_store *store;
    char run[RUNS_NAME_MAX];
    char dir[PATH_MAX - 64]; /* room for "/.samples.json" in PATH_MAX */
    runs_session_opts opts;
    runs_config cfg;
    cJSON *config;          /* full effective config */
    cJSON *data_files;      /* fingerprints of the data this session reads (provenance.h) */
    gpt_model *model;
    runs_data *data;
    runs_bandit *bandit;
    runs_bpe *bpe;
    int32_t *inputs, *targets;
    float *staging;         /* 3 × n_params: weights | m | v */
    long step;
    long tokens;
    char parent[41];
    double loss_ema;
    int have_ema;
    float last_loss, last_lr, last_gnorm;
    double last_coherence;
    runs_gate gate;         /* fed every sample's score, in order */
    seg_buf loss_seg, samples_seg;
    FILE *loss_f, *samples_f;
    int lock_fd;
    /* committer */
    pthread_t thread;
    int committing;
    commit_job *job;
    /* rates */
    double t_start, t_last_status;
    long steps_this_session;
} session;

static volatile sig_atomic_t want_checkpoint, want_stop;

static void on_usr1(int sig) { (void)sig; want_checkpoint = 1; }
static void on_stop(int sig) { (void)sig; want_stop = 1; }

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    want_checkpoint = want_stop = 0;
}

static int gpt_fail(const char *what)
{
    return runs_error_set(RUNS_ERROR, "%s: %s", what, gpt_last_error());
}

/* ---- set-up --------------------------------------------------------------- */

static int pick_backend(gpt_backend *out, const char *want)
{
    if (!strcmp(want, "cpu")) {
        *out = GPT_BACKEND_CPU;
    } else if (!strcmp(want, "cuda")) {
        if (!gpt_cuda_available())
            return runs_error_set(RUNS_EINVALID,
                                  "backend cuda: no CUDA device answers on this machine "
                                  "(or this build has no CUDA); use --backend cpu or auto");
        *out = GPT_BACKEND_CUDA;
    } else if (!strcmp(want, "auto")) {
        *out = gpt_cuda_available() ? GPT_BACKEND_CUDA : GPT_BACKEND_CPU;
    } else {
        return runs_error_set(RUNS_EUSAGE, "--backend %s: expected cpu, cuda or auto", want);
    }
    return RUNS_OK;
}

/* Opens data, tokenizer and model for sess->cfg. Weights are left at zero. */
static int setup(session *sess)
{
    int rc;
    const runs_config *c = &sess->cfg;
    gpt_backend be = GPT_BACKEND_CPU;
    if ((rc = pick_backend(&be, sess->opts.backend ? sess->opts.backend : c->train.backend)))
        return rc;
    runs_gate_init(&sess->gate, c->gate.threshold, c->gate.patience);
    /* without sample audits a missing tokenizer is no error, but one that is there
     * must fit the model: ids past vocab_size would index past the embedding */
    struct stat tst;
    if ((c->sampling.every > 0 || stat(c->data.tokenizer, &tst) == 0) &&
        (rc = runs_bpe_load(&sess->bpe, c->data.tokenizer)))
        return runs_error_wrap(rc, "data.tokenizer (sample audits need it: build it with `make corpus` or set sampling.every to 0)");
    if (sess->bpe && runs_bpe_vocab_size(sess->bpe) > c->model.vocab_size)
        return runs_error_set(RUNS_EINVALID,
                              "data.tokenizer %s has a vocabulary of %d tokens, more than model.vocab_size "
                              "%d; raise model.vocab_size to %d or train the tokenizer with --vocab-size %d",
                              c->data.tokenizer, runs_bpe_vocab_size(sess->bpe), c->model.vocab_size,
                              runs_bpe_vocab_size(sess->bpe), c->model.vocab_size);
    if ((rc = runs_data_open(&sess->data, c)))
        return rc;
    gpt_config gc = {c->model.n_layer, c->model.n_head, c->model.n_embd, c->model.vocab_size,
                     c->model.block_size};
    if (gpt_create(&sess->model, &gc, c->train.batch_size, c->train.seq_len, be))
        return gpt_fail("model");
    size_t n = (size_t)c->train.batch_size * c->train.seq_len;
    sess->inputs = malloc(n * sizeof(int32_t));
    sess->targets = malloc(n * sizeof(int32_t));
    sess->staging = gpt_host_alloc(sess->model, 3 * gpt_num_params(sess->model) * sizeof(float));
    if (!sess->inputs || !sess->targets || !sess->staging)
        return runs_error_set(RUNS_ENOMEM, "out of memory allocating the trainer's buffers");
    return RUNS_OK;
}

static int new_bandit(session *sess)
{
    int has[RUNS_MAX_SOURCES] = {0};
    for (int i = 0; i < sess->cfg.data.n_sources; i++)
        has[i] = runs_data_has_tokens(sess->data, i);
    runs_bandit_free(sess->bandit);
    sess->bandit = NULL;
    return runs_bandit_create(&sess->bandit, &sess->cfg, has);
}

/* Loads a saved bandit state; the arms it drops (excluded, cap 0, no data: the
 * seed's zombie arm) are reported as warnings on stderr. */
static int load_bandit(session *sess, const cJSON *state)
{
    int rc = new_bandit(sess);
    if (rc || !state || cJSON_IsNull(state))
        return rc;
    char **warn = NULL;
    size_t nw = 0;
    rc = runs_bandit_load_json(sess->bandit, state, &warn, &nw);
    for (size_t i = 0; i < nw; i++) {
        fprintf(stderr, "runs: warning: %s\n", warn[i]);
        free(warn[i]);
    }
    free(warn);
    return rc;
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
static int open_run(session *sess, const char *run, const char *dir_opt, int reuse_dir)
{
    int rc;
    snprintf(sess->run, sizeof sess->run, "%s", run);
    if (!runs_is_run_name(run))
        return runs_error_set(RUNS_EUSAGE,
                              "run name '%s': use letters, digits, '.', '_' or '-' (max 63)", run);
    if ((rc = runs_trainer_lock(&sess->lock_fd, sess->store, run)))
        return rc;
    if (dir_opt)
        snprintf(sess->dir, sizeof sess->dir, "%s", dir_opt);
    else if (!reuse_dir || runs_rundir_get(sess->dir, sizeof sess->dir, sess->store, run))
        default_dir(sess->dir, sizeof sess->dir, sess->store, run);
    if ((rc = mkdirs(sess->dir)))
        return rc;
    /* claim before recording: a copied store must not take the original's directory */
    if ((rc = runs_rundir_claim(sess->store, run, sess->dir)) ||
        (rc = runs_rundir_set(sess->store, run, sess->dir)))
        return rc;
    char real[PATH_MAX];
    if (realpath(sess->dir, real) && strlen(real) < sizeof sess->dir)
        memcpy(sess->dir, real, strlen(real) + 1);
    return RUNS_OK;
}

static void dir_file(char *buf, size_t len, const session *sess, const char *name)
{
    snprintf(buf, len, "%s/%s", sess->dir, name);
}

/* The logs are appended through store/jsonl.h: a torn last line a crash left is
 * cut off first, so the next record starts on a line of its own. */
static int open_logs(session *sess)
{
    char p[PATH_MAX];
    int rc;
    dir_file(p, sizeof p, sess, ".loss.json");
    if ((rc = runs_jsonl_open_append(&sess->loss_f, NULL, p)))
        return rc;
    dir_file(p, sizeof p, sess, ".samples.json");
    return runs_jsonl_open_append(&sess->samples_f, NULL, p);
}

static int write_state_file(session *sess)
{
    char p[PATH_MAX];
    dir_file(p, sizeof p, sess, ".state.json");
    cJSON *st = runs_bandit_to_json(sess->bandit);
    char *text = st ? cJSON_Print(st) : NULL;
    cJSON_Delete(st);
    if (!text)
        return runs_error_set(RUNS_ENOMEM, "out of memory writing %s", p);
    size_t n = strlen(text);
    text[n] = '\n'; /* cJSON_Print leaves room for the NUL we overwrite and restore */
    int rc = runs_file_write_atomic(p, text, n + 1);
    text[n] = '\0';
    free(text);
    return rc;
}

/* ---- nodes ---------------------------------------------------------------- */

static void *commit_thread(void *arg)
{
    commit_job *job = arg;
    runs_oid oid;
    job->rc = RUNS_OK;
    if (job->loss_seg.len) {
        if ((job->rc = runs_object_put(&oid, job->store, job->loss_seg.buf, job->loss_seg.len)))
            goto done;
        cJSON_ReplaceItemInObjectCaseSensitive(job->manifest, "loss_log", cJSON_CreateString(oid.hex));
    }
    if (job->samples_seg.len) {
        if ((job->rc = runs_object_put(&oid, job->store, job->samples_seg.buf, job->samples_seg.len)))
            goto done;
        cJSON_ReplaceItemInObjectCaseSensitive(job->manifest, "samples_log",
                                               cJSON_CreateString(oid.hex));
    }
    if ((job->rc = runs_node_commit(job->id, job->store, job->manifest, job->tensors, job->n_tensors)))
        goto done;
    if (job->keep_last > 0 || job->keep_every > 0) {
        /* retention: thin checkpoints past keep_last / keep_every; when another
         * writer holds the store, the next checkpoint tries again */
        runs_gc_options go = {0, job->keep_last, job->keep_every};
        runs_gc_report gr;
        int grc = runs_gc(&gr, job->store, &go);
        if (grc == RUNS_ELOCKED)
            runs_error_clear();
        else
            job->rc = grc;
    }
done:
    if (job->rc)
        snprintf(job->err, sizeof job->err, "%s", runs_error_message());
    __atomic_store_n(&job->finished, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void free_job(commit_job *job)
{
    if (!job)
        return;
    cJSON_Delete(job->manifest);
    free(job->tensors);
    free(job->loss_seg.buf);
    free(job->samples_seg.buf);
    free(job);
}

/* Waits for the background commit, if any; on success the node becomes the parent. */
static int wait_commit(session *sess, int announce)
{
    if (!sess->committing)
        return RUNS_OK;
    pthread_join(sess->thread, NULL);
    sess->committing = 0;
    commit_job *job = sess->job;
    sess->job = NULL;
    int rc = job->rc;
    if (rc) {
        runs_error_set(rc, "checkpoint: %s", job->err);
    } else {
        memcpy(sess->parent, job->id, 41);
        if (announce && !sess->opts.quiet) {
            cJSON *k = cJSON_GetObjectItemCaseSensitive(job->manifest, "kind");
            cJSON *st = cJSON_GetObjectItemCaseSensitive(job->manifest, "step");
            printf("  node %.12s  %s %s@step_%ld\n", job->id, k ? k->valuestring : "?", sess->run,
                   st ? (long)st->valuedouble : -1L);
            fflush(stdout);
        }
    }
    free_job(job);
    return rc;
}

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
    cJSON_AddNumberToObject(m, "gate_low", sess->gate.run);
    if (sess->gate.run > 0)
        cJSON_AddNumberToObject(m, "gate_low_since", (double)sess->gate.run_start);
    return m;
}

/* Builds the manifest of a node at the current step (everything but tensors and
 * the log segment ids, which the committer fills in). */
static cJSON *build_manifest(const session *sess, const char *kind)
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
    cJSON_AddItemToObject(m, "metrics", metrics_json(sess));
    cJSON_AddStringToObject(m, "backend", gpt_backend_name(gpt_get_backend(sess->model)));
    cJSON_AddStringToObject(m, "code_version", RUNS_VERSION);
    cJSON_AddStringToObject(m, "created", ts);
    return m;
}

/* Copies weights, m and v into the staging buffer and points job's tensor list at it. */
static int snapshot_tensors(session *sess, commit_job *job)
{
    gpt_model *md = sess->model;
    size_t np = gpt_num_params(md);
    if (gpt_read(md, GPT_PARAM, sess->staging) || gpt_read(md, GPT_ADAM_M, sess->staging + np) ||
        gpt_read(md, GPT_ADAM_V, sess->staging + 2 * np))
        return gpt_fail("snapshot");
    int nt = gpt_num_tensors(md);
    if (!(job->tensors = calloc((size_t)nt * 3, sizeof(runs_tensor))))
        return runs_error_set(RUNS_ENOMEM, "out of memory preparing a checkpoint");
    static const char *groups[3] = {"weights", "adam_m", "adam_v"};
    for (int g = 0; g < 3; g++)
        for (int i = 0; i < nt; i++) {
            const gpt_tensor_info *ti = gpt_tensor(md, i);
            runs_tensor *t = &job->tensors[(size_t)g * nt + i];
            t->name = ti->name;
            t->group = groups[g];
            t->ndim = ti->ndim;
            t->shape[0] = ti->shape[0];
            t->shape[1] = ti->ndim > 1 ? ti->shape[1] : 1;
            t->data = sess->staging + (size_t)g * np + ti->offset;
            t->bytes = ti->numel * sizeof(float);
        }
    job->n_tensors = (size_t)nt * 3;
    return RUNS_OK;
}

/* Snapshots the trainer into the staging buffer and starts committing a node of
 * the given kind in the background (waiting first for the previous commit).
 * extra (may be NULL) is merged into the manifest and consumed. */
static int commit_node(session *sess, const char *kind, cJSON *extra, int wait)
{
    int rc;
    if ((rc = wait_commit(sess, 1))) {
        cJSON_Delete(extra);
        return rc;
    }
    /* a node whose extra carries "tensors" (fork, restart) reuses the parent's
     * objects: nothing to snapshot, hash or write */
    int reuse = extra && cJSON_GetObjectItemCaseSensitive(extra, "tensors");
    commit_job *job = calloc(1, sizeof *job);
    if (!job) {
        cJSON_Delete(extra);
        return runs_error_set(RUNS_ENOMEM, "out of memory preparing a checkpoint");
    }
    if (!reuse && (rc = snapshot_tensors(sess, job))) {
        free_job(job);
        cJSON_Delete(extra);
        return rc;
    }
    job->store = sess->store;
    job->manifest = build_manifest(sess, kind);
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
    char lp[PATH_MAX], sp[PATH_MAX];
    dir_file(lp, sizeof lp, sess, ".loss.json");
    dir_file(sp, sizeof sp, sess, ".samples.json");
    if ((sess->loss_f && (rc = runs_jsonl_sync(sess->loss_f, lp))) ||
        (sess->samples_f && (rc = runs_jsonl_sync(sess->samples_f, sp))) || (rc = write_state_file(sess))) {
        free_job(job);
        return rc;
    }
    sess->job = job;
    if (pthread_create(&sess->thread, NULL, commit_thread, job) != 0) {
        sess->job = NULL;
        free_job(job);
        return runs_error_set(RUNS_ERROR, "could not start the checkpoint thread");
    }
    sess->committing = 1;
    return wait ? wait_commit(sess, 1) : RUNS_OK;
}

/* Loads weights, m, v and the scalar state of node manifest m into the session. */
static int load_state(session *sess, const cJSON *m, int keep_bandit_state)
{
    int rc;
    size_t np = gpt_num_params(sess->model);
    size_t bytes = np * sizeof(float);
    if ((rc = runs_node_load_group(sess->store, m, "weights", sess->staging, bytes)) ||
        (rc = runs_node_load_group(sess->store, m, "adam_m", sess->staging + np, bytes)) ||
        (rc = runs_node_load_group(sess->store, m, "adam_v", sess->staging + 2 * np, bytes)))
        return rc;
    if (gpt_write(sess->model, GPT_PARAM, sess->staging) ||
        gpt_write(sess->model, GPT_ADAM_M, sess->staging + np) ||
        gpt_write(sess->model, GPT_ADAM_V, sess->staging + 2 * np))
        return gpt_fail("restore");
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

int runs_lineage_loss_log(char **out, size_t *len, runs_store *s, const char *node_id)
{
    char(*ids)[41] = NULL;
    size_t n = 0;
    seg_buf b = {0};
    int rc = runs_lineage(&ids, &n, s, node_id);
    if (rc)
        goto done;
    for (size_t i = n; i-- > 0;) {
        cJSON *m = NULL;
        if ((rc = runs_node_manifest(&m, s, ids[i])))
            goto done;
        cJSON *seg = cJSON_GetObjectItemCaseSensitive(m, "loss_log");
        if (cJSON_IsString(seg)) {
            void *data = NULL;
            size_t dl = 0;
            rc = runs_object_get(&data, &dl, s, seg->valuestring);
            if (!rc)
                rc = seg_append(&b, data, dl);
            free(data);
        }
        cJSON_Delete(m);
        if (rc)
            goto done;
    }
    if (!b.buf && (rc = seg_append(&b, "", 0)))
        goto done;
    *out = b.buf;
    *len = b.len;
    b.buf = NULL;
done:
    free(ids);
    free(b.buf);
    return rc;
}

/* Rewrites .loss.json as the lineage's history up to node_id, so the log continues
 * without a gap or a repeated step whatever the file held before (a crash, a fork
 * into a fresh directory). Drops .samples.json lines past the node's step. */
static int rebuild_logs(session *sess, const char *node_id, int fresh_samples)
{
    char p[PATH_MAX];
    char *hist = NULL;
    size_t hl = 0;
    int rc = runs_lineage_loss_log(&hist, &hl, sess->store, node_id);
    if (rc)
        return rc;
    dir_file(p, sizeof p, sess, ".loss.json");
    rc = runs_file_write_atomic(p, hist, hl);
    free(hist);
    if (rc)
        return rc;
    dir_file(p, sizeof p, sess, ".samples.json");
    if (fresh_samples)
        return runs_file_write_atomic(p, "", 0);
    return runs_jsonl_truncate_steps(p, sess->step, 1);
}

/* ---- the loop --------------------------------------------------------------- */

static int sample_audit(session *sess)
{
    const runs_sampling_config *sc = &sess->cfg.sampling;
    double sum = 0;
    int rc = RUNS_OK;
    int32_t *gen = malloc(sizeof(int32_t) * (size_t)(sc->tokens > 0 ? sc->tokens : 1));
    if (!gen)
        return runs_error_set(RUNS_ENOMEM, "out of memory in the sample audit");
    for (int p = 0; p < sc->n_prompts && !rc; p++) {
        runs_tokens prompt = {0};
        char *text = NULL;
        size_t tl = 0;
        if ((rc = runs_bpe_encode(sess->bpe, sc->prompts[p], strlen(sc->prompts[p]), RUNS_BPE_SPECIALS,
                                  &prompt)))
            goto next;
        if (prompt.n == 0 && (rc = runs_tokens_push(&prompt, RUNS_BPE_EOT)))
            goto next;
        /* a long prompt keeps its end: the model sees at most block_size tokens */
        int keep = (int)prompt.n;
        if (keep > sess->cfg.model.block_size - 1)
            keep = sess->cfg.model.block_size - 1;
        uint64_t rng = sc->seed;
        if (gpt_generate(sess->model, prompt.ids + (prompt.n - (size_t)keep), keep, sc->tokens,
                         (float)sc->temperature, sc->top_k, &rng, gen)) {
            rc = gpt_fail("sample");
            goto next;
        }
        if ((rc = runs_bpe_decode(sess->bpe, gen, (size_t)sc->tokens, &text, &tl)))
            goto next;
        double score = runs_coherence_score(text, NULL);
        sum += score;
        runs_gate_feed(&sess->gate, sess->step, score);
        cJSON *line = cJSON_CreateObject();
        cJSON_AddNumberToObject(line, "step", (double)sess->step);
        cJSON_AddStringToObject(line, "prompt", sc->prompts[p]);
        cJSON_AddStringToObject(line, "text", text);
        cJSON_AddNumberToObject(line, "score", round(score * 10) / 10);
        char *s = cJSON_PrintUnformatted(line);
        cJSON_Delete(line);
        if (!s) {
            rc = runs_error_set(RUNS_ENOMEM, "out of memory in the sample audit");
            goto next;
        }
        char lp[PATH_MAX];
        dir_file(lp, sizeof lp, sess, ".samples.json");
        size_t sl = strlen(s);
        if (!(rc = runs_jsonl_append(sess->samples_f, lp, s, sl))) {
            s[sl] = '\n';
            rc = seg_append(&sess->samples_seg, s, sl + 1);
        }
        free(s);
        if (!sess->opts.quiet && p == 0) {
            char shown[81];
            size_t k = 0;
            for (const char *c = text; *c && k < 70; c++)
                shown[k++] = (*c == '\n' || *c == '\t') ? ' ' : *c;
            shown[k] = '\0';
            printf("  sample @%ld (score %.0f): %s%s\n", sess->step, score, sc->prompts[p], shown);
        }
    next:
        free(prompt.ids);
        free(text);
    }
    free(gen);
    if (rc)
        return rc;
    sess->last_coherence = sc->n_prompts ? sum / sc->n_prompts : 100;
    return RUNS_OK;
}

static void write_status(session *sess, int final)
{
    double now = now_s();
    if (!final && now - sess->t_last_status < 1.0)
        return;
    sess->t_last_status = now;
    double el = now - sess->t_start;
    double tps = el > 0 ? sess->steps_this_session * (double)sess->cfg.train.batch_size *
                              sess->cfg.train.seq_len / el
                        : 0;
    long total = sess->opts.stop_after > 0 ? sess->opts.stop_after : sess->cfg.train.total_steps;
    double sps = el > 0 ? sess->steps_this_session / el : 0;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "run", sess->run);
    cJSON_AddNumberToObject(j, "pid", getpid());
    cJSON_AddBoolToObject(j, "running", !final);
    cJSON_AddNumberToObject(j, "step", (double)sess->step);
    cJSON_AddNumberToObject(j, "total_steps", (double)sess->cfg.train.total_steps);
    cJSON_AddNumberToObject(j, "loss", sess->last_loss);
    cJSON_AddNumberToObject(j, "loss_ema", sess->loss_ema);
    cJSON_AddNumberToObject(j, "lr", sess->last_lr);
    cJSON_AddNumberToObject(j, "grad_norm", sess->last_gnorm);
    cJSON_AddNumberToObject(j, "tokens_per_s", round(tps));
    cJSON_AddNumberToObject(j, "eta_s", sps > 0 ? round((total - sess->step) / sps) : -1);
    cJSON_AddNumberToObject(j, "updated", (double)time(NULL));
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (s) {
        char p[PATH_MAX];
        dir_file(p, sizeof p, sess, ".status.json");
        /* best effort: status is advisory and must never stop training */
        if (runs_file_write_atomic(p, s, strlen(s)))
            runs_error_clear();
        free(s);
    }
}

static int train(session *sess)
{
    const runs_config *c = &sess->cfg;
    int B = c->train.batch_size, T = c->train.seq_len;
    long end = c->train.total_steps;
    if (sess->opts.stop_after > 0 && sess->opts.stop_after < end)
        end = sess->opts.stop_after;
    long print_every = c->train.total_steps / 40 > 0 ? c->train.total_steps / 40 : 1;
    gpt_adamw hp = {(float)c->optimizer.beta1, (float)c->optimizer.beta2, (float)c->optimizer.eps,
                    (float)c->optimizer.weight_decay, (float)c->optimizer.grad_clip};
    int rc = RUNS_OK;
    sess->t_start = now_s();
    install_signals();
    if (!sess->opts.quiet && sess->step < end) {
        printf("training %s from step %ld to %ld (%s, %zu params, batch %d x %d)\n", sess->run,
               sess->step, end, gpt_backend_name(gpt_get_backend(sess->model)),
               gpt_num_params(sess->model), B, T);
        fflush(stdout);
    }
    while (sess->step < end) {
        long t = sess->step;
        int src = runs_bandit_source_for_step(sess->bandit, t);
        if (src < 0)
            return runs_error_set(RUNS_EINVALID, "no data source can be drawn at step %ld: every "
                                                 "source is excluded, capped at 0 or empty", t);
        if ((rc = runs_data_next_batch(sess->data, src, B, T, sess->inputs, sess->targets)))
            return rc;
        float loss, gnorm;
        if (gpt_forward(sess->model, sess->inputs, sess->targets, B, T, 1, &loss))
            return gpt_fail("forward");
        if (!isfinite(loss))
            return runs_error_set(RUNS_ERROR, "loss is %f at step %ld; resume from an earlier node "
                                              "with a lower lr (runs fork NODE --config PATCH)",
                                  loss, t);
        double lr = runs_schedule_lr(c, t);
        if (gpt_update(sess->model, &hp, (float)lr, &gnorm))
            return gpt_fail("update");
        runs_bandit_observe(sess->bandit, src, t, loss,
                            runs_batch_diversity(sess->inputs, (size_t)B * T));
        sess->last_loss = loss;
        sess->last_lr = (float)lr;
        sess->last_gnorm = gnorm;
        sess->loss_ema = sess->have_ema ? EMA_BETA * sess->loss_ema + (1 - EMA_BETA) * loss : loss;
        sess->have_ema = 1;
        char line[256];
        int n = snprintf(line, sizeof line,
                         "{\"step\":%ld,\"loss\":%.6g,\"lr\":%.9g,\"grad_norm\":%.6g,\"source\":\"%s\"}\n",
                         t, loss, lr, gnorm, c->data.sources[src].name);
        char lp[PATH_MAX];
        dir_file(lp, sizeof lp, sess, ".loss.json");
        if (n <= 0 || (size_t)n >= sizeof line)
            return runs_error_set(RUNS_EINVALID, "step %ld: loss-log line too long (source name '%s'); use a "
                                                 "shorter source name", t, c->data.sources[src].name);
        if ((rc = runs_jsonl_append(sess->loss_f, lp, line, (size_t)n - 1)) ||
            (rc = seg_append(&sess->loss_seg, line, (size_t)n)))
            return rc;
        sess->step = t + 1;
        sess->tokens += (long)B * T;
        sess->steps_this_session++;
        if (!sess->opts.quiet && (sess->step % print_every == 0 || sess->step == end)) {
            double el = now_s() - sess->t_start;
            printf("step %6ld/%ld  loss %.4f (ema %.4f)  lr %.3e  |g| %.3f  %-10s %6.0f tok/s\n",
                   sess->step, c->train.total_steps, loss, sess->loss_ema, lr, gnorm,
                   c->data.sources[src].name, el > 0 ? sess->steps_this_session * (double)B * T / el : 0);
            fflush(stdout);
        }
        write_status(sess, 0);
        /* announce a finished background commit as soon as it lands */
        if (sess->committing && __atomic_load_n(&sess->job->finished, __ATOMIC_ACQUIRE) &&
            (rc = wait_commit(sess, 1)))
            return rc;
        if (c->sampling.every > 0 && sess->step % c->sampling.every == 0) {
            if ((rc = sample_audit(sess)))
                return rc;
            if (sess->gate.fired) {
                cJSON *extra = cJSON_CreateObject();
                cJSON_AddStringToObject(extra, "note",
                                        "coherence gate: sample scores stayed below the threshold");
                if ((rc = commit_node(sess, "halt", extra, 1)))
                    return rc;
                return runs_error_set(RUNS_EHALT,
                                      "coherence gate halted %s at step %ld: %d consecutive samples "
                                      "scored below %g (mean of the last audit %.1f); read "
                                      ".samples.json, then fork a fix from an earlier node",
                                      sess->run, sess->step, sess->gate.run, c->gate.threshold,
                                      sess->last_coherence);
            }
        }
        int at_boundary = c->checkpoint.boundary > 0 ? sess->step % c->checkpoint.boundary == 0 : 1;
        int due = (c->checkpoint.every > 0 && sess->step % c->checkpoint.every == 0) ||
                  sess->step == end || want_stop || (want_checkpoint && at_boundary);
        if (due) {
            if (want_checkpoint && at_boundary)
                want_checkpoint = 0;
            if ((rc = commit_node(sess, "checkpoint", NULL, sess->step == end || want_stop)))
                return rc;
        }
        if (want_stop) {
            if (!sess->opts.quiet)
                printf("stopped by signal at step %ld; continue with: runs resume %s\n", sess->step,
                       sess->run);
            break;
        }
    }
    return wait_commit(sess, 1);
}

static void session_close(session *sess)
{
    if (sess->committing)
        wait_commit(sess, 0);
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
    cJSON_Delete(sess->config);
    cJSON_Delete(sess->data_files);
    if (sess->lock_fd > 0) {
        write_status(sess, 1);
        close(sess->lock_fd);
    }
}

static int session_init(session *sess, runs_store *s, const runs_session_opts *o)
{
    memset(sess, 0, sizeof *sess);
    sess->store = s;
    sess->opts = *o;
    sess->last_coherence = -1;
    sess->lock_fd = -1;
    runs_gate_init(&sess->gate, 0, 0);
    return RUNS_OK;
}

static int finish(session *sess, int rc)
{
    if (rc == RUNS_OK && !sess->opts.quiet && !sess->opts.no_train)
        printf("done: %s at step %ld, loss ema %.4f\n", sess->run, sess->step, sess->loss_ema);
    session_close(sess);
    return rc;
}

/* The node's data, as the session will read it: remapped under --data-root, and
 * refused when it no longer hashes as node m recorded (unless --allow-data-change,
 * then a warning). Sets sess->data_files for the nodes to come. */
static int check_data(session *sess, const cJSON *m)
{
    char *note = NULL;
    int rc = runs_provenance_check(&sess->data_files, &note, sess->store,
                                   cJSON_GetObjectItemCaseSensitive(m, "data_files"), sess->config,
                                   sess->opts.data_root, sess->opts.allow_data_change);
    if (note)
        fprintf(stderr, "runs: warning: %s\n", note);
    free(note);
    return rc;
}

int runs_session_start(runs_store *s, const cJSON *config, const runs_session_opts *o)
{
    session sess;
    session_init(&sess, s, o);
    char tip[41];
    int rc;
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
    if ((rc = setup(&sess)) || (rc = new_bandit(&sess)) ||
        (rc = runs_provenance_fingerprint(&sess.data_files, s, sess.config)) ||
        (rc = open_run(&sess, o->run, o->dir, 0)))
        goto done;
    if (gpt_init_weights(sess.model, sess.cfg.train.seed)) {
        rc = gpt_fail("init");
        goto done;
    }
    char p[PATH_MAX];
    dir_file(p, sizeof p, &sess, ".loss.json");
    if ((rc = runs_file_write_atomic(p, "", 0)))
        goto done;
    dir_file(p, sizeof p, &sess, ".samples.json");
    if ((rc = runs_file_write_atomic(p, "", 0)) || (rc = open_logs(&sess)))
        goto done;
    if ((rc = commit_node(&sess, "start", NULL, 1)) || (rc = runs_head_set(s, o->run)))
        goto done;
    if (!o->no_train)
        rc = train(&sess);
done:
    return finish(&sess, rc);
}

int runs_session_resume(runs_store *s, const char *node_id, const runs_session_opts *o)
{
    session sess;
    session_init(&sess, s, o);
    cJSON *m = NULL;
    char id[41];
    int rc;
    if (node_id)
        snprintf(id, sizeof id, "%s", node_id);
    else if ((rc = runs_run_tip(id, s, o->run)))
        goto done;
    if ((rc = runs_node_manifest(&m, s, id)))
        goto done;
    if (!(sess.config = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(m, "config"), 1)) ||
        (rc = check_data(&sess, m)) ||
        (rc = runs_config_from_json(&sess.cfg, sess.config, "the node's config")))
        goto done;
    cJSON *kind = cJSON_GetObjectItemCaseSensitive(m, "kind");
    if (cJSON_IsString(kind) && !strcmp(kind->valuestring, "halt") && !node_id) {
        rc = runs_error_set(RUNS_EINVALID,
                            "run '%s' was halted by the coherence gate at this node; resume from an "
                            "earlier node (runs resume NODE) or fork it with a fix",
                            o->run);
        goto done;
    }
    if ((rc = open_run(&sess, o->run, o->dir, 1)) || (rc = setup(&sess)) || (rc = load_state(&sess, m, 1)))
        goto done;
    memcpy(sess.parent, id, 41);
    if ((rc = rebuild_logs(&sess, id, 0)) || (rc = open_logs(&sess)) || (rc = runs_head_set(s, o->run)))
        goto done;
    if (!o->quiet)
        printf("resuming %s from %.12s (step %ld)\n", o->run, id, sess.step);
    if (!o->no_train)
        rc = train(&sess);
done:
    cJSON_Delete(m);
    return finish(&sess, rc);
}

/* Refuses a config change that alters the model's shape: the weights could not follow. */
static int check_same_shape(const cJSON *a, const cJSON *b)
{
    runs_diff_entry *d = NULL;
    size_t n = 0;
    int rc = runs_json_diff(&d, &n, cJSON_GetObjectItemCaseSensitive(a, "model"),
                            cJSON_GetObjectItemCaseSensitive(b, "model"));
    if (rc)
        return rc;
    if (n > 0) {
        char av[64], bv[64];
        rc = runs_error_set(RUNS_EINVALID,
                            "the patch changes model.%s (%s -> %s); a fork keeps the model's shape "
                            "(weights carry over); start a new run for a new shape",
                            d[0].path, runs_json_describe(av, sizeof av, d[0].a),
                            runs_json_describe(bv, sizeof bv, d[0].b));
    }
    runs_diff_free(d, n);
    return rc;
}

/* Reads file dir/name into the store; sets *oid_out ("" when the file is absent). */
static int archive_file(runs_oid *oid_out, runs_store *s, const char *dir, const char *name)
{
    char p[PATH_MAX];
    char *data = NULL;
    size_t len = 0;
    oid_out->hex[0] = '\0';
    snprintf(p, sizeof p, "%s/%s", dir, name);
    int rc = runs_read_file(&data, &len, p);
    if (rc == RUNS_ENOTFOUND) {
        runs_error_clear();
        return RUNS_OK;
    }
    if (!rc)
        rc = runs_object_put(oid_out, s, data, len);
    free(data);
    return rc;
}

int runs_session_branch(runs_store *s, const char *node_id, const cJSON *patch, double peak_lr,
                        const runs_session_opts *o)
{
    session sess;
    session_init(&sess, s, o);
    cJSON *m = NULL, *extra = NULL, *restart_patch = NULL;
    runs_diff_entry *d = NULL;
    size_t nd = 0;
    int rc;
    const char *kind = patch ? "fork" : "restart";
    char tip[41];
    if (runs_run_tip(tip, s, o->run) == RUNS_OK) {
        rc = runs_error_set(RUNS_EEXISTS, "run '%s' already exists; pick another --name", o->run);
        goto done;
    }
    runs_error_clear();
    if ((rc = runs_node_manifest(&m, s, node_id)))
        goto done;
    const cJSON *parent_cfg = cJSON_GetObjectItemCaseSensitive(m, "config");
    long node_step = (long)cJSON_GetObjectItemCaseSensitive(m, "step")->valuedouble;
    if (!patch) {
        restart_patch = cJSON_CreateObject();
        cJSON *sch = cJSON_AddObjectToObject(restart_patch, "schedule");
        cJSON_AddNumberToObject(sch, "restart_step", (double)node_step);
        cJSON_AddNumberToObject(sch, "restart_lr", peak_lr);
        patch = restart_patch;
    }
    if (!(sess.config = runs_merge_patch(parent_cfg, patch))) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory applying the patch");
        goto done;
    }
    if ((rc = check_same_shape(parent_cfg, sess.config)) || (rc = check_data(&sess, m)) ||
        (rc = runs_config_from_json(&sess.cfg, sess.config, "the patched config")))
        goto done;
    if (sess.cfg.train.total_steps <= node_step) {
        rc = runs_error_set(RUNS_EINVALID,
                            "train.total_steps (%ld) is not past the node's step %ld; raise it in "
                            "the patch to train further",
                            sess.cfg.train.total_steps, node_step);
        goto done;
    }
    if ((rc = setup(&sess)) || (rc = load_state(&sess, m, o->keep_bandit)) ||
        (rc = open_run(&sess, o->run, o->dir, 0)))
        goto done;
    memcpy(sess.parent, node_id, 41);
    extra = cJSON_CreateObject();
    cJSON_AddItemToObject(extra, "tensors",
                          cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(m, "tensors"), 1));
    cJSON *changes = cJSON_AddObjectToObject(extra, "changes");
    if ((rc = runs_json_diff(&d, &nd, parent_cfg, sess.config)))
        goto done;
    cJSON_AddItemToObject(changes, "config", runs_diff_to_json(d, nd));
    cJSON_AddStringToObject(changes, "from_run",
                            cJSON_GetObjectItemCaseSensitive(m, "run")->valuestring);
    if (peak_lr > 0)
        cJSON_AddNumberToObject(changes, "peak_lr", peak_lr);
    if (!strcmp(kind, "fork"))
        cJSON_AddBoolToObject(changes, "bandit_kept", o->keep_bandit != 0);
    /* the parent run's audit log and bandit state, as they stand now */
    char pdir[PATH_MAX];
    const char *prun = cJSON_GetObjectItemCaseSensitive(m, "run")->valuestring;
    if (!strcmp(kind, "fork") && runs_rundir_get(pdir, sizeof pdir, s, prun) == RUNS_OK) {
        runs_oid so, st;
        if ((rc = archive_file(&so, s, pdir, ".samples.json")) ||
            (rc = archive_file(&st, s, pdir, ".state.json")))
            goto done;
        cJSON *arch = cJSON_AddObjectToObject(extra, "archived");
        if (so.hex[0])
            cJSON_AddStringToObject(arch, "samples", so.hex);
        if (st.hex[0])
            cJSON_AddStringToObject(arch, "state", st.hex);
    }
    runs_error_clear();
    if ((rc = rebuild_logs(&sess, node_id, 1)) || (rc = open_logs(&sess)))
        goto done;
    rc = commit_node(&sess, kind, extra, 1);
    extra = NULL;
    if (rc || (rc = runs_head_set(s, o->run)))
        goto done;
    if (!o->quiet) {
        printf("%s %s from %.12s at step %ld", kind, o->run, node_id, sess.step);
        for (size_t i = 0; i < nd && i < 8; i++) {
            char *av = d[i].a ? runs_json_canonical(d[i].a) : NULL;
            char *bv = d[i].b ? runs_json_canonical(d[i].b) : NULL;
            printf("%s %s: %.40s -> %.40s", i ? "," : ";", d[i].path, av ? av : "(none)", bv ? bv : "(none)");
            free(av);
            free(bv);
        }
        printf("%s\n", nd > 8 ? ", ..." : "");
    }
    if (!o->no_train)
        rc = train(&sess);
done:
    runs_diff_free(d, nd);
    cJSON_Delete(extra);
    cJSON_Delete(restart_patch);
    cJSON_Delete(m);
    return finish(&sess, rc);
}
