/* runner/dp_loop.c — see dp_loop.h. */
#include "runner/dp_loop.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "manifests/config.h"
#include "manifests/manifest.h"
#include "runner/dp.h"
#include "runner/schedule.h"
#include "runner/signals.h"
#include "store/object.h"
#include "store/store.h"
#include "store/publish.h"

enum { DP_STOP = 0, DP_STEP = 1, DP_SNAP = 2 };
#define HOST_MAX 64

/* rank 0's view of the job; one job per process, so file scope */
static struct {
    int live;    /* the other ranks wait for a step header */
    int n;       /* ranks */
    long *pid;   /* per rank */
    char (*host)[HOST_MAX];
    double *busy; /* seconds of forward+backward, per rank */
    double reduce, step, t0, t_prev, t_written;
    long steps;
} job;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct {
    int64_t pid;
    char host[HOST_MAX];
} rank_id;

static void my_id(rank_id *id)
{
    memset(id, 0, sizeof *id);
    id->pid = getpid();
    if (gethostname(id->host, sizeof id->host - 1))
        snprintf(id->host, sizeof id->host, "?");
}

int runs__dp_start(session *sess, runs_accum_bufs *ab)
{
    size_t n = gpt_num_params(sess->model);
    int N = runs_dp_size();
    cJSON *cur = runs_data_cursors_to_json(sess->data);
    char *cs = cur ? cJSON_PrintUnformatted(cur) : NULL, *cfg = cJSON_PrintUnformatted(sess->config);
    int rc = RUNS_OK;
    free(job.pid);
    free(job.host);
    free(job.busy);
    memset(&job, 0, sizeof job);
    job.pid = calloc((size_t)N, sizeof *job.pid);
    job.host = calloc((size_t)N, sizeof *job.host);
    job.busy = calloc((size_t)N, sizeof *job.busy);
    if (!cs || !cfg || !job.pid || !job.host || !job.busy) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory starting the data-parallel ranks");
        goto done;
    }
    job.n = N;
    int64_t hdr[RUNS_DP_INIT_WORDS] = {(int64_t)strlen(cfg) + 1, (int64_t)strlen(cs) + 1, sess->step,
                                       (int64_t)gpt_adam_step(sess->model), (int64_t)n};
    runs_dp_init_sent();
    if ((rc = runs_dp_bcast(hdr, sizeof hdr)) || (rc = runs_dp_bcast(cfg, (size_t)hdr[0])) ||
        (rc = runs_dp_bcast(cs, (size_t)hdr[1])))
        goto done;
    static const gpt_slot slots[3] = {GPT_PARAM, GPT_ADAM_M, GPT_ADAM_V};
    for (int i = 0; i < 3 && !rc; i++) {
        if (gpt_read(sess->model, slots[i], ab->grad)) {
            rc = runs__gpt_fail("reading the model for the ranks");
            goto done;
        }
        rc = runs_dp_bcast(ab->grad, n * sizeof(float));
    }
    if (rc)
        goto done;
    job.live = 1;
    for (int r = 0; r < N && !rc; r++) {
        rank_id id;
        if (r == 0)
            my_id(&id);
        else if ((rc = runs_dp_recv(&id, sizeof id, r)))
            break;
        id.host[HOST_MAX - 1] = '\0';
        job.pid[r] = (long)id.pid;
        memcpy(job.host[r], id.host, HOST_MAX);
    }
    job.t0 = job.t_prev = now_s();
done:
    cJSON_Delete(cur);
    free(cs);
    free(cfg);
    return rc;
}

int runs__dp_accumulate(session *sess, runs_accum_bufs *ab, int src, long t, float *loss, double *diversity)
{
    const runs_config *c = &sess->cfg;
    int B = c->train.batch_size, T = c->train.seq_len, A = c->train.grad_accum, N = runs_dp_size();
    size_t n = gpt_num_params(sess->model);
    double lsum = 0, dsum = 0, t_in = now_s(), t_red = 0;
    float bad = 0;
    int have_bad = 0, flags = 0, rc;
    /* the time from one step's start to the next: the step as a whole (update, logs) */
    if (job.steps++)
        job.step += t_in - job.t_prev;
    job.t_prev = t_in;
    int64_t h[3] = {DP_STEP, src, t};
    if ((rc = runs_dp_bcast(h, sizeof h)))
        return rc;
    for (int k = 0; k < A; k++) {
        for (int r = 0; r < N; r++) {
            if ((rc = runs_data_next_batch(sess->data, src, B, T, sess->inputs, sess->targets)))
                return rc;
            dsum += runs_batch_diversity(sess->inputs, (size_t)B * T);
            if (r)
                continue;
            float l;
            double t_b = now_s();
            if (gpt_forward(sess->model, sess->inputs, sess->targets, B, T, 1, &l))
                return runs__gpt_fail("forward");
            if (gpt_read(sess->model, GPT_GRAD, k == 0 ? ab->sum : ab->grad))
                return runs__gpt_fail("reading gradients");
            job.busy[0] += now_s() - t_b;
            if (k > 0)
                runs_dp_grad_add(ab->sum, ab->grad, n);
            lsum += l;
            if (!isfinite(l) && !have_bad++)
                bad = l;
        }
        for (int r = 1; r < N; r++) {
            double t_r = now_s();
            if ((rc = runs_dp_recv(ab->grad, (n + RUNS_DP_TAIL) * sizeof(float), r)))
                return rc;
            t_red += now_s() - t_r;
            runs_dp_grad_add(ab->sum, ab->grad, n);
            float l = ab->grad[n];
            lsum += l;
            if (!isfinite(l) && !have_bad++)
                bad = l;
            flags |= (int)ab->grad[n + 1];
            job.busy[r] += ab->grad[n + 2];
        }
    }
    /* another rank's signal becomes rank 0's: the loop decides on it after this step */
    runs_signals_raise(flags);
    int32_t ok = !have_bad;
    double t_b = now_s();
    if ((rc = runs_dp_bcast(&ok, sizeof ok)))
        return rc;
    *diversity = dsum / ((double)N * A);
    if (!ok) {
        job.live = 0; /* the other ranks have stopped */
        *loss = bad;
        return RUNS_OK;
    }
    runs_dp_grad_mean(ab->sum, n, N * A);
    if ((rc = runs_dp_bcast(ab->sum, n * sizeof(float))))
        return rc;
    job.reduce += t_red + (now_s() - t_b);
    if (gpt_write(sess->model, GPT_GRAD, ab->sum))
        return runs__gpt_fail("writing gradients");
    *loss = (float)(lsum / ((double)N * A));
    return RUNS_OK;
}

/* The writer of each of the node's 3 x n_tensors objects (weights, then m, then v,
 * in tensor order): the largest first, each to the rank with the fewest bytes so
 * far (the lowest rank on a tie). Depends only on the model and N, so every rank
 * computes the same table. */
static int *owners(const gpt_model *md, int N)
{
    int nt = gpt_num_tensors(md), n = 3 * nt;
    int *own = malloc(sizeof(int) * (size_t)n), *order = malloc(sizeof(int) * (size_t)n);
    double *load = calloc((size_t)N, sizeof *load);
    if (!own || !order || !load) {
        free(own);
        own = NULL;
        goto done;
    }
    for (int j = 0; j < n; j++)
        order[j] = j;
    for (int a = 1; a < n; a++) { /* insertion sort by size, descending; stable */
        int x = order[a], b = a;
        size_t nx = gpt_tensor(md, x % nt)->numel;
        while (b > 0 && gpt_tensor(md, order[b - 1] % nt)->numel < nx) {
            order[b] = order[b - 1];
            b--;
        }
        order[b] = x;
    }
    for (int a = 0; a < n; a++) {
        int best = 0;
        for (int r = 1; r < N; r++)
            if (load[r] < load[best])
                best = r;
        own[order[a]] = best;
        load[best] += (double)gpt_tensor(md, order[a] % nt)->numel;
    }
done:
    free(order);
    free(load);
    return own;
}

/* what a rank reports after writing its share */
typedef struct {
    int32_t rc;
    char err[244];
} snap_status;

/* Writes this rank's share of the objects from staging (3 x n_params: weights | m |
 * v) and fills hex[j] (65 bytes each) for the objects it wrote. */
static int write_share(runs_store *s, const gpt_model *md, const float *staging, const int *own, int me, char *hex)
{
    int nt = gpt_num_tensors(md), n = 3 * nt, k = 0;
    size_t np = gpt_num_params(md);
    runs_put *items = calloc((size_t)n, sizeof *items);
    int *idx = malloc(sizeof(int) * (size_t)n);
    int rc = RUNS_OK;
    if (!items || !idx) {
        rc = runs_error_set(RUNS_ENOMEM, "rank %d: out of memory writing its share of a checkpoint", me);
        goto done;
    }
    for (int j = 0; j < n; j++) {
        if (own[j] != me)
            continue;
        const gpt_tensor_info *ti = gpt_tensor(md, j % nt);
        items[k].data = staging + (size_t)(j / nt) * np + ti->offset;
        items[k].len = ti->numel * sizeof(float);
        idx[k++] = j;
    }
    if (k && (rc = runs_object_put_many(s, items, (size_t)k, NULL)))
        goto done;
    for (int i = 0; i < k; i++)
        memcpy(hex + (size_t)idx[i] * 65, items[i].oid.hex, 65);
done:
    free(items);
    free(idx);
    return rc;
}

static int read_state(gpt_model *md, float *staging)
{
    size_t np = gpt_num_params(md);
    if (gpt_read(md, GPT_PARAM, staging) || gpt_read(md, GPT_ADAM_M, staging + np) ||
        gpt_read(md, GPT_ADAM_V, staging + 2 * np))
        return runs__gpt_fail("snapshot");
    return RUNS_OK;
}

int runs__dp_snapshot(session *sess, cJSON **tensors, cJSON **shards)
{
    int N = runs_dp_size();
    if (!job.live || N <= 1)
        return RUNS_ENOTFOUND;
    gpt_model *md = sess->model;
    int nt = gpt_num_tensors(md), n = 3 * nt, rc;
    int *own = owners(md, N);
    char *hex = calloc((size_t)n, 65), *other = calloc((size_t)n, 65);
    cJSON *arr = NULL, *sh = NULL, *ranks = NULL;
    if (!own || !hex || !other) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory preparing a checkpoint");
        goto done;
    }
    int64_t h[3] = {DP_SNAP, 0, sess->step};
    if ((rc = runs_dp_bcast(h, sizeof h)))
        goto done;
    /* rank 0's share while the others write theirs; every report is read even after
     * a failure, so no rank is left waiting */
    int rc0 = read_state(md, sess->staging);
    if (!rc0)
        rc0 = write_share(sess->store, md, sess->staging, own, 0, hex);
    char why[300] = "";
    if (rc0)
        snprintf(why, sizeof why, "%s", runs_error_message());
    for (int r = 1; r < N; r++) {
        snap_status st;
        if ((rc = runs_dp_recv(&st, sizeof st, r)) || (rc = runs_dp_recv(other, (size_t)n * 65, r)))
            goto done;
        st.err[sizeof st.err - 1] = '\0';
        if (st.rc && !why[0])
            snprintf(why, sizeof why, "rank %d could not write its share of the checkpoint: %s", r, st.err);
        for (int j = 0; j < n; j++)
            if (own[j] == r)
                memcpy(hex + (size_t)j * 65, other + (size_t)j * 65, 65);
    }
    if (why[0]) {
        rc = runs_error_set(rc0 ? rc0 : RUNS_EIO, "%s; no node was committed", why);
        goto done;
    }
    if (!(arr = cJSON_CreateArray()) || !(sh = cJSON_CreateObject()) || !(ranks = cJSON_CreateArray())) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory preparing a checkpoint");
        goto done;
    }
    /* the entries runs_node_commit makes (store/lineage.c), in its order */
    for (int j = 0; j < n; j++) {
        const gpt_tensor_info *ti = gpt_tensor(md, j % nt);
        cJSON *e = cJSON_CreateObject(), *shape = cJSON_CreateArray();
        if (!e || !shape) {
            cJSON_Delete(e);
            cJSON_Delete(shape);
            rc = runs_error_set(RUNS_ENOMEM, "out of memory preparing a checkpoint");
            goto done;
        }
        cJSON_AddStringToObject(e, "name", ti->name);
        cJSON_AddStringToObject(e, "group", runs_manifest_groups[j / nt]);
        cJSON_AddStringToObject(e, "dtype", "f32");
        for (int d = 0; d < ti->ndim; d++)
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)ti->shape[d]));
        cJSON_AddItemToObject(e, "shape", shape);
        cJSON_AddNumberToObject(e, "bytes", (double)(ti->numel * sizeof(float)));
        cJSON_AddStringToObject(e, "sha256", hex + (size_t)j * 65);
        cJSON_AddItemToArray(arr, e);
        cJSON_AddItemToArray(ranks, cJSON_CreateNumber(own[j]));
    }
    cJSON_AddNumberToObject(sh, "ranks", N);
    cJSON_AddItemToObject(sh, "rank", ranks);
    ranks = NULL;
    *tensors = arr;
    *shards = sh;
    arr = sh = NULL;
done:
    cJSON_Delete(arr);
    cJSON_Delete(sh);
    cJSON_Delete(ranks);
    free(own);
    free(hex);
    free(other);
    return rc;
}

/* a rank > 0's side of runs__dp_snapshot */
static int worker_snapshot(session *sess, float **staging)
{
    gpt_model *md = sess->model;
    int me = runs_dp_rank(), n = 3 * gpt_num_tensors(md), rc;
    int *own = owners(md, runs_dp_size());
    char *hex = calloc((size_t)n, 65);
    snap_status st = {0};
    if (!*staging)
        *staging = malloc(3 * gpt_num_params(md) * sizeof(float));
    /* a handle of its own for the write, freed after it: a writer holds the store's
     * gc lock shared until its handle goes, and rank 0's retention gc (after each
     * commit, before the next snapshot) must find it free */
    runs_store *ws = NULL;
    if (!own || !hex || !*staging)
        st.rc = runs_error_set(RUNS_ENOMEM, "rank %d: out of memory for its share of a checkpoint", me);
    else if (!(st.rc = read_state(md, *staging)) && !(st.rc = runs_store_open(&ws, runs_store_dir(sess->store))))
        st.rc = write_share(ws, md, *staging, own, me, hex);
    runs_store_free(ws);
    if (st.rc)
        snprintf(st.err, sizeof st.err, "%s", runs_error_message());
    if (!hex) /* no report of the size rank 0 waits for: this rank ends, and the job with it */
        rc = st.rc;
    else if (!(rc = runs_dp_send0(&st, sizeof st)))
        rc = runs_dp_send0(hex, (size_t)n * 65);
    free(own);
    free(hex);
    return rc;
}

int runs__dp_stop(void)
{
    if (!job.live)
        return RUNS_OK;
    job.live = 0;
    int64_t h[3] = {DP_STOP, 0, 0};
    return runs_dp_bcast(h, sizeof h);
}

void runs__dp_write_ranks(session *sess, int final)
{
    char p[PATH_MAX];
    runs__session_path(p, sizeof p, sess, ".ranks.json");
    if (final < 0 || runs_dp_size() <= 1) {
        unlink(p); /* a past job's ranks are not this session's */
        return;
    }
    double now = now_s();
    if (!job.n || (!final && now - job.t_written < 1.0))
        return;
    job.t_written = now;
    double wall = now - job.t0;
    long micro = (long)sess->cfg.train.batch_size * sess->cfg.train.seq_len * sess->cfg.train.grad_accum;
    long done = sess->steps_this_session;
    cJSON *j = cJSON_CreateObject(), *per = cJSON_AddArrayToObject(j, "per_rank");
    char *s = NULL;
    if (!j || !per)
        goto done;
    cJSON_AddNumberToObject(j, "ranks", job.n);
    cJSON_AddNumberToObject(j, "pid", (double)job.pid[0]);
    cJSON_AddNumberToObject(j, "steps", (double)done);
    cJSON_AddNumberToObject(j, "tokens_per_s", wall > 0 ? round(done * (double)micro * job.n / wall) : 0);
    cJSON_AddNumberToObject(j, "reduce_s", job.reduce);
    cJSON_AddNumberToObject(j, "step_s", job.step);
    cJSON_AddNumberToObject(j, "reduce_share", job.step > 0 ? job.reduce / job.step : 0);
    for (int r = 0; r < job.n; r++) {
        cJSON *o = cJSON_CreateObject();
        if (!o)
            goto done;
        cJSON_AddNumberToObject(o, "rank", r);
        cJSON_AddNumberToObject(o, "pid", (double)job.pid[r]);
        cJSON_AddStringToObject(o, "host", job.host[r]);
        /* each rank computes B x T x A tokens a step: its share of the job's rate */
        cJSON_AddNumberToObject(o, "tokens_per_s", wall > 0 ? round(done * (double)micro / wall) : 0);
        cJSON_AddNumberToObject(o, "busy", wall > 0 ? round(job.busy[r] / wall * 1000) / 1000 : 0);
        cJSON_AddItemToArray(per, o);
    }
    if ((s = cJSON_PrintUnformatted(j)) && runs_file_write_advisory(p, s, strlen(s)))
        runs_error_clear(); /* advisory: never stops training */
done:
    cJSON_Delete(j);
    free(s);
}

int runs__session_worker(session *sess)
{
    int me = runs_dp_rank(), N = runs_dp_size();
    char *cfg = NULL, *cs = NULL;
    cJSON *cur = NULL;
    float *sum = NULL, *g = NULL, *staging = NULL;
    int rc;
    sess->opts.quiet = 1; /* rank 0 speaks for the job */
    if (sess->opts.no_train)
        return RUNS_OK;
    /* from here a signal is passed to rank 0, never acted on alone */
    runs_signals_install();
    int64_t hdr[RUNS_DP_INIT_WORDS];
    if ((rc = runs_dp_bcast(hdr, sizeof hdr)))
        goto done;
    if (hdr[0] == 0) /* rank 0 stopped before training: its own line says why */
        goto done;
    size_t n = (size_t)hdr[4];
    if (!(cfg = malloc((size_t)hdr[0])) || !(cs = malloc((size_t)hdr[1])) || !(sum = malloc(n * sizeof *sum)) ||
        !(g = malloc((n + RUNS_DP_TAIL) * sizeof *g))) {
        rc = runs_error_set(RUNS_ENOMEM, "rank %d: out of memory for the model", me);
        goto done;
    }
    if ((rc = runs_dp_bcast(cfg, (size_t)hdr[0])) || (rc = runs_dp_bcast(cs, (size_t)hdr[1])))
        goto done;
    if (!(sess->config = cJSON_Parse(cfg)) || !(cur = cJSON_Parse(cs))) {
        rc = runs_error_set(RUNS_EINVALID, "rank %d: rank 0's config or cursors do not parse (internal)", me);
        goto done;
    }
    if ((rc = runs_config_from_json(&sess->cfg, sess->config, "rank 0's config")))
        goto done;
    const runs_config *c = &sess->cfg;
    int B = c->train.batch_size, T = c->train.seq_len, A = c->train.grad_accum;
    gpt_config gc = {c->model.n_layer, c->model.n_head, c->model.n_embd, c->model.vocab_size, c->model.block_size};
    if (gpt_create(&sess->model, &gc, B, T, GPT_BACKEND_CPU)) {
        rc = runs__gpt_fail("creating the model");
        goto done;
    }
    if (gpt_num_params(sess->model) != n) {
        rc = runs_error_set(RUNS_EINVALID, "rank %d: the model has %zu parameters, rank 0's %zu (internal)", me,
                            gpt_num_params(sess->model), n);
        goto done;
    }
    if ((rc = runs_data_open(&sess->data, c)) || (rc = runs_data_cursors_from_json(sess->data, cur)))
        goto done;
    if (!(sess->inputs = malloc(sizeof(int32_t) * (size_t)B * T)) ||
        !(sess->targets = malloc(sizeof(int32_t) * (size_t)B * T))) {
        rc = runs_error_set(RUNS_ENOMEM, "rank %d: out of memory for a batch", me);
        goto done;
    }
    static const gpt_slot slots[3] = {GPT_PARAM, GPT_ADAM_M, GPT_ADAM_V};
    for (int i = 0; i < 3; i++) {
        if ((rc = runs_dp_bcast(g, n * sizeof(float))))
            goto done;
        if (gpt_write(sess->model, slots[i], g)) {
            rc = runs__gpt_fail("loading rank 0's model");
            goto done;
        }
    }
    gpt_set_adam_step(sess->model, (uint64_t)hdr[3]);
    rank_id id;
    my_id(&id);
    if ((rc = runs_dp_send0(&id, sizeof id)))
        goto done;
    gpt_adamw hp = {(float)c->optimizer.beta1, (float)c->optimizer.beta2, (float)c->optimizer.eps,
                    (float)c->optimizer.weight_decay, (float)c->optimizer.grad_clip};
    for (;;) {
        int64_t h[3];
        if ((rc = runs_dp_bcast(h, sizeof h)) || h[0] == DP_STOP)
            break;
        if (h[0] == DP_SNAP) { /* a failed write is rank 0's to report; the job goes on to its stop */
            if ((rc = worker_snapshot(sess, &staging)))
                break;
            continue;
        }
        int src = (int)h[1];
        for (int k = 0; k < A && !rc; k++)
            for (int r = 0; r < N && !rc; r++) {
                if ((rc = runs_data_next_batch(sess->data, src, B, T, sess->inputs, sess->targets)))
                    break;
                if (r != me)
                    continue;
                double t_b = now_s();
                if (gpt_forward(sess->model, sess->inputs, sess->targets, B, T, 1, &g[n]) ||
                    gpt_read(sess->model, GPT_GRAD, g)) {
                    rc = runs__gpt_fail("forward");
                    break;
                }
                g[n + 1] = (float)runs_signals_take();
                g[n + 2] = (float)(now_s() - t_b);
                rc = runs_dp_send0(g, (n + RUNS_DP_TAIL) * sizeof(float));
            }
        int32_t ok = 0;
        if (rc || (rc = runs_dp_bcast(&ok, sizeof ok)) || !ok)
            break;
        if ((rc = runs_dp_bcast(sum, n * sizeof(float))))
            break;
        if (gpt_write(sess->model, GPT_GRAD, sum) ||
            gpt_update(sess->model, &hp, (float)runs_schedule_lr(c, (long)h[2]), NULL)) {
            rc = runs__gpt_fail("update");
            break;
        }
    }
done:
    cJSON_Delete(cur);
    free(cfg);
    free(cs);
    free(sum);
    free(g);
    free(staging);
    return rc;
}
