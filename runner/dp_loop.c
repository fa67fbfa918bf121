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
#include "runner/backend.h"
#include "runner/dp.h"
#include "runner/dp_nccl.h"
#include "runner/schedule.h"
#include "runner/signals.h"
#include "store/publish.h"

#define HOST_MAX 64

/* rank 0's view of the job; one job per process, so file scope */
static struct {
    int live;  /* the other ranks wait for a step header */
    int n;     /* ranks */
    long *pid; /* per rank */
    char (*host)[HOST_MAX];
    double *busy;  /* seconds of forward+backward, per rank */
    double *adam;  /* AdamW floats (m and v) each rank holds */
    int sharded;   /* ZeRO-1: each rank holds its own tensors' m and v */
    int abandoned; /* the step's loss was not finite: no update follows */
    double norm;   /* the step's global gradient norm */
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
    int64_t adam_floats; /* gpt_optimizer_floats after sharding */
} rank_id;

/* the step's verdict, rank 0 → all */
typedef struct {
    double norm;
    int32_t ok, pad;
} step_ok;

static void my_id(rank_id *id, const gpt_model *md)
{
    memset(id, 0, sizeof *id);
    id->pid = getpid();
    id->adam_floats = (int64_t)gpt_optimizer_floats(md);
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
    free(job.adam);
    memset(&job, 0, sizeof job);
    job.pid = calloc((size_t)N, sizeof *job.pid);
    job.host = calloc((size_t)N, sizeof *job.host);
    job.busy = calloc((size_t)N, sizeof *job.busy);
    job.adam = calloc((size_t)N, sizeof *job.adam);
    if (!cs || !cfg || !job.pid || !job.host || !job.busy || !job.adam) {
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
    if (gpt_read(sess->model, GPT_PARAM, ab->grad)) {
        rc = runs__gpt_fail("reading the model for the ranks");
        goto done;
    }
    if ((rc = runs_dp_bcast(ab->grad, n * sizeof(float))) || (rc = runs__dp_zero_table(sess->model, N)))
        goto done;
    /* each rank gets m and v of its own tensors only; then rank 0 drops the others' */
    static const gpt_slot mv[2] = {GPT_ADAM_M, GPT_ADAM_V};
    for (int i = 0; i < 2; i++) {
        if (gpt_read(sess->model, mv[i], ab->sum)) {
            rc = runs__gpt_fail("reading the optimizer state for the ranks");
            goto done;
        }
        for (int r = 1; r < N; r++) {
            runs__dp_zero_pack_host(sess->model, r, ab->sum, ab->grad);
            if ((rc = runs_dp_send(ab->grad, runs__dp_zero_floats(sess->model, r) * sizeof(float), r)))
                goto done;
        }
    }
    if ((rc = runs__dp_zero_shard(sess->model, 0)))
        goto done;
    job.live = job.sharded = 1;
    for (int r = 0; r < N && !rc; r++) {
        rank_id id;
        if (r == 0)
            my_id(&id, sess->model);
        else if ((rc = runs_dp_recv(&id, sizeof id, r)))
            break;
        id.host[HOST_MAX - 1] = '\0';
        job.pid[r] = (long)id.pid;
        job.adam[r] = (double)id.adam_floats;
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
    int64_t h[3] = {RUNS_DP_STEP, src, t};
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
    step_ok v = {.ok = !have_bad};
    *diversity = dsum / ((double)N * A);
    if (v.ok) {
        /* the norm from the full mean gradient, as gpt_update computes it */
        runs_dp_grad_mean(ab->sum, n, N * A);
        if (gpt_write(sess->model, GPT_GRAD, ab->sum) || gpt_grad_norm(sess->model, &v.norm))
            return runs__gpt_fail("writing gradients");
    }
    double t_b = now_s();
    if ((rc = runs_dp_bcast(&v, sizeof v)))
        return rc;
    job.abandoned = !v.ok;
    if (!v.ok) { /* the other ranks wait for the halt node (they hold its m and v) */
        *loss = bad;
        return RUNS_OK;
    }
    job.norm = v.norm;
    for (int r = 1; r < N; r++) {
        runs__dp_zero_pack_host(sess->model, r, ab->sum, ab->grad);
        if ((rc = runs_dp_send(ab->grad, runs__dp_zero_floats(sess->model, r) * sizeof(float), r)))
            return rc;
    }
    job.reduce += t_red + (now_s() - t_b);
    *loss = (float)(lsum / ((double)N * A));
    return RUNS_OK;
}

int runs__dp_update(session *sess, runs_accum_bufs *ab, const gpt_adamw *hp, float lr, float *grad_norm)
{
    if (job.abandoned)
        return runs_error_set(RUNS_EINVALID, "an update after a step with a non-finite loss (internal)");
    if (gpt_update_owned(sess->model, hp, lr, job.norm))
        return runs__gpt_fail("update");
    *grad_norm = (float)job.norm;
    double t_b = now_s();
    int rc = runs__dp_zero_gather(sess->model, 0, job.n, ab->grad);
    job.reduce += now_s() - t_b;
    return rc;
}

int runs__dp_sharded(void)
{
    return job.sharded;
}

int runs__dp_following(void)
{
    return job.live;
}

int runs__dp_stop(void)
{
    if (!job.live)
        return RUNS_OK;
    job.live = 0;
    int64_t h[3] = {RUNS_DP_STOP, 0, 0};
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
    /* ZeRO-1: the AdamW floats each rank holds, by rank (outside per_rank, which
     * runs status shows as it is) */
    cJSON *adam = cJSON_AddArrayToObject(j, "adam_floats");
    for (int r = 0; adam && r < job.n; r++)
        cJSON_AddItemToArray(adam, cJSON_CreateNumber(job.adam[r]));
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

int runs__dp_worker_open(session *sess, size_t n, const cJSON *cur, gpt_backend be)
{
    const runs_config *c = &sess->cfg;
    int B = c->train.batch_size, T = c->train.seq_len, me = runs_dp_rank(), rc;
    gpt_config gc = {c->model.n_layer, c->model.n_head, c->model.n_embd, c->model.vocab_size, c->model.block_size};
    if (gpt_create(&sess->model, &gc, B, T, be))
        return runs__gpt_fail(be == GPT_BACKEND_CUDA ? "creating the model on the CUDA backend" : "creating the model");
    if (gpt_num_params(sess->model) != n)
        return runs_error_set(RUNS_EINVALID, "rank %d: the model has %zu parameters, rank 0's %zu (internal)", me,
                              gpt_num_params(sess->model), n);
    if ((rc = runs_data_open(&sess->data, c)) || (rc = runs_data_cursors_from_json(sess->data, cur)))
        return rc;
    if (!(sess->inputs = malloc(sizeof(int32_t) * (size_t)B * T)) ||
        !(sess->targets = malloc(sizeof(int32_t) * (size_t)B * T)))
        return runs_error_set(RUNS_ENOMEM, "rank %d: out of memory for a batch", me);
    return RUNS_OK;
}

int runs__session_worker(session *sess)
{
    int me = runs_dp_rank(), N = runs_dp_size();
    char *cfg = NULL, *cs = NULL;
    cJSON *cur = NULL;
    float *g = NULL, *staging = NULL;
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
    if (!(cfg = malloc((size_t)hdr[0])) || !(cs = malloc((size_t)hdr[1])) ||
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
    /* a CUDA job all-reduces with NCCL (runner/dp_nccl.h); the rule is runs__session_setup's */
    gpt_backend be = GPT_BACKEND_CPU;
    if (runs_backend_pick(&be, sess->opts.backend ? sess->opts.backend : sess->cfg.train.backend) ||
        be == GPT_BACKEND_CUDA) {
        rc = runs__dp_nccl_worker(sess, hdr, cur);
        goto done;
    }
    const runs_config *c = &sess->cfg;
    int B = c->train.batch_size, T = c->train.seq_len, A = c->train.grad_accum;
    /* m and v of this rank's tensors only, from the start */
    if ((rc = runs__dp_worker_open(sess, n, cur, GPT_BACKEND_CPU)) || (rc = runs__dp_zero_table(sess->model, N)) ||
        (rc = runs__dp_zero_shard(sess->model, me)))
        goto done;
    if ((rc = runs_dp_bcast(g, n * sizeof(float))))
        goto done;
    if (gpt_write(sess->model, GPT_PARAM, g)) {
        rc = runs__gpt_fail("loading rank 0's model");
        goto done;
    }
    size_t mine = runs__dp_zero_floats(sess->model, me);
    static const gpt_slot mv[2] = {GPT_ADAM_M, GPT_ADAM_V};
    for (int i = 0; i < 2; i++)
        if ((rc = runs_dp_recv(g, mine * sizeof(float), 0)) || (rc = runs__dp_zero_unpack(sess->model, mv[i], me, g)))
            goto done;
    gpt_set_adam_step(sess->model, (uint64_t)hdr[3]);
    rank_id id;
    my_id(&id, sess->model);
    if ((rc = runs_dp_send0(&id, sizeof id)))
        goto done;
    gpt_adamw hp = runs__session_adamw(c);
    for (;;) {
        int64_t h[3];
        if ((rc = runs_dp_bcast(h, sizeof h)) || h[0] == RUNS_DP_STOP)
            break;
        if (h[0] == RUNS_DP_SNAP) { /* a failed write is rank 0's to report; the job goes on to its stop */
            if ((rc = runs__dp_worker_snapshot(sess, &staging)))
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
        step_ok v = {0};
        if (rc || (rc = runs_dp_bcast(&v, sizeof v)))
            break;
        if (!v.ok) /* a non-finite loss: rank 0 halts; this rank writes its share of the halt node */
            continue;
        if ((rc = runs_dp_recv(g, mine * sizeof(float), 0)) ||
            (rc = runs__dp_zero_unpack(sess->model, GPT_GRAD, me, g)))
            break;
        if (gpt_update_owned(sess->model, &hp, (float)runs_schedule_lr(c, (long)h[2]), v.norm)) {
            rc = runs__gpt_fail("update");
            break;
        }
        if ((rc = runs__dp_zero_gather(sess->model, me, N, g)))
            break;
    }
done:
    cJSON_Delete(cur);
    free(cfg);
    free(cs);
    free(g);
    free(staging);
    return rc;
}
