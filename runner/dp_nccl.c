/* runner/dp_nccl.c — see dp_nccl.h. */
#include "runner/dp_nccl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "cuda/gpt_dist.h"
#include "manifests/config.h"
#include "runner/dp.h"
#include "runner/schedule.h"
#include "runner/signals.h"

/* a rank's answer to the start: 0 or its RUNS_E* code, and its error line */
typedef struct {
    int32_t rc;
    char msg[508];
} rank_status;

/* rank 0's view of the job; one job per process, so file scope */
static struct {
    int live; /* the other ranks wait for a step header */
    gpt_dist *dist;
    float *losses; /* N·A, in global micro-batch order */
    float *tail;   /* A + 2: a rank's losses, signal flags, busy seconds */
} job;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The A micro-batches of this rank (global index k·N + me) of one step from source
 * src: each rank reads all N·A, so the cursors stay equal. Their gradients are
 * summed on the host in k order (as runner/loop.c folds one rank's) and the sum left
 * in the model's GRAD group, undivided: the all-reduce divides by N·A. losses[k]
 * gets micro-step k's loss; *dsum adds every batch's diversity when not NULL. */
static int local_micro_batches(session *sess, float *sum, float *grad, int src, float *losses, double *dsum,
                               double *busy)
{
    const runs_config *c = &sess->cfg;
    int B = c->train.batch_size, T = c->train.seq_len, A = c->train.grad_accum;
    int N = runs_dp_size(), me = runs_dp_rank(), rc;
    size_t n = gpt_num_params(sess->model);
    for (int k = 0; k < A; k++)
        for (int r = 0; r < N; r++) {
            if ((rc = runs_data_next_batch(sess->data, src, B, T, sess->inputs, sess->targets)))
                return rc;
            if (dsum)
                *dsum += runs_batch_diversity(sess->inputs, (size_t)B * T);
            if (r != me)
                continue;
            double t_b = now_s();
            if (gpt_forward(sess->model, sess->inputs, sess->targets, B, T, 1, &losses[k]))
                return runs__gpt_fail("forward");
            /* one micro-batch: its gradient stays on the device as it is */
            if (A > 1 && gpt_read(sess->model, GPT_GRAD, k == 0 ? sum : grad))
                return runs__gpt_fail("reading gradients");
            if (k > 0)
                runs_dp_grad_add(sum, grad, n);
            *busy += now_s() - t_b;
        }
    if (A > 1 && gpt_write(sess->model, GPT_GRAD, sum))
        return runs__gpt_fail("writing gradients");
    return RUNS_OK;
}

int runs__dp_nccl_start(session *sess, runs_accum_bufs *ab)
{
    size_t n = gpt_num_params(sess->model);
    int N = runs_dp_size(), A = sess->cfg.train.grad_accum, rc = RUNS_OK;
    unsigned char id[GPT_DIST_ID_BYTES];
    cJSON *cur = NULL;
    char *cs = NULL, *cfg = NULL;
    /* before anything is sent: the other ranks are released by runs_dp_release */
    if (!gpt_dist_available())
        return runs_error_set(RUNS_EINVALID, "%d ranks on --backend cuda: %s", N, gpt_last_error());
    if (gpt_dist_unique_id(id))
        return runs__gpt_fail("making the NCCL id");
    free(job.losses);
    free(job.tail);
    memset(&job, 0, sizeof job);
    cur = runs_data_cursors_to_json(sess->data);
    cs = cur ? cJSON_PrintUnformatted(cur) : NULL;
    cfg = cJSON_PrintUnformatted(sess->config);
    job.losses = calloc((size_t)N * A, sizeof *job.losses);
    job.tail = calloc((size_t)A + 2, sizeof *job.tail);
    if (!cs || !cfg || !job.losses || !job.tail) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory starting the data-parallel ranks");
        goto done;
    }
    int64_t hdr[RUNS_DP_INIT_WORDS] = {(int64_t)strlen(cfg) + 1, (int64_t)strlen(cs) + 1, sess->step,
                                       (int64_t)gpt_adam_step(sess->model), (int64_t)n};
    runs_dp_init_sent();
    if ((rc = runs_dp_bcast(hdr, sizeof hdr)) || (rc = runs_dp_bcast(cfg, (size_t)hdr[0])) ||
        (rc = runs_dp_bcast(cs, (size_t)hdr[1])))
        goto done;
    int32_t go = 1;
    for (int r = 1; r < N; r++) {
        rank_status st;
        if ((rc = runs_dp_recv(&st, sizeof st, r)))
            goto done;
        st.msg[sizeof st.msg - 1] = '\0';
        if (st.rc && go) {
            go = 0;
            rc = runs_error_set(st.rc < 0 ? st.rc : RUNS_ERROR, "rank %d: %s", r, st.msg);
        }
    }
    int rc2 = runs_dp_bcast(&go, sizeof go);
    if (rc || (rc = rc2))
        goto done;
    static const gpt_slot slots[3] = {GPT_PARAM, GPT_ADAM_M, GPT_ADAM_V};
    for (int i = 0; i < 3; i++) {
        if (gpt_read(sess->model, slots[i], ab->grad)) {
            rc = runs__gpt_fail("reading the model for the ranks");
            goto done;
        }
        if ((rc = runs_dp_bcast(ab->grad, n * sizeof(float))))
            goto done;
    }
    if ((rc = runs_dp_bcast(id, sizeof id)))
        goto done;
    job.live = 1; /* from here the ranks wait for step headers: runs__dp_nccl_stop ends them */
    if (gpt_dist_create(&job.dist, sess->model, id, N, 0))
        rc = runs__gpt_fail("joining the NCCL communicator");
done:
    if (rc)
        runs__dp_nccl_stop(); /* the ranks that wait for a step header stop */
    cJSON_Delete(cur);
    free(cs);
    free(cfg);
    return rc;
}

int runs__dp_nccl_accumulate(session *sess, runs_accum_bufs *ab, int src, long t, float *loss, double *diversity)
{
    int A = sess->cfg.train.grad_accum, N = runs_dp_size(), flags = 0, rc;
    double dsum = 0, busy = 0, lsum = 0;
    int64_t h[3] = {RUNS_DP_STEP, src, t};
    if ((rc = runs_dp_bcast(h, sizeof h)))
        return rc;
    if ((rc = local_micro_batches(sess, ab->sum, ab->grad, src, job.tail, &dsum, &busy)))
        return rc;
    for (int k = 0; k < A; k++)
        job.losses[(size_t)k * N] = job.tail[k];
    for (int r = 1; r < N; r++) {
        if ((rc = runs_dp_recv(job.tail, ((size_t)A + 2) * sizeof(float), r)))
            return rc;
        for (int k = 0; k < A; k++)
            job.losses[(size_t)k * N + r] = job.tail[k];
        flags |= (int)job.tail[A];
    }
    /* another rank's signal becomes rank 0's: the loop decides on it after this step */
    runs_signals_raise(flags);
    /* the losses in global order, as one rank with grad_accum N·A adds them */
    int32_t ok = 1;
    for (size_t g = 0; g < (size_t)N * A; g++) {
        if (!isfinite(job.losses[g]) && ok) {
            ok = 0;
            *loss = job.losses[g];
        }
        lsum += job.losses[g];
    }
    *diversity = dsum / ((double)N * A);
    if ((rc = runs_dp_bcast(&ok, sizeof ok)))
        return rc;
    if (!ok) {
        job.live = 0; /* the other ranks have stopped */
        return RUNS_OK;
    }
    if (gpt_dist_allreduce_grad(job.dist, sess->model, N * A))
        return runs__gpt_fail("all-reducing the gradients");
    *loss = (float)(lsum / ((double)N * A));
    return RUNS_OK;
}

int runs__dp_nccl_active(void)
{
    return job.dist != NULL || job.live;
}

int runs__dp_nccl_stop(void)
{
    int rc = RUNS_OK;
    if (job.live) {
        int64_t h[3] = {RUNS_DP_STOP, 0, 0};
        rc = runs_dp_bcast(h, sizeof h);
    }
    gpt_dist_free(job.dist);
    free(job.losses);
    free(job.tail);
    memset(&job, 0, sizeof job);
    return rc;
}

/* a follower's set-up: its model on its device, the data at rank 0's cursors */
static int worker_setup(session *sess, const int64_t *hdr, const cJSON *cur, float **sum, float **grad)
{
    size_t n = (size_t)hdr[4];
    int rc = runs__dp_worker_open(sess, n, cur, GPT_BACKEND_CUDA);
    if (rc)
        return rc;
    *sum = gpt_host_alloc(sess->model, n * sizeof(float));
    *grad = gpt_host_alloc(sess->model, n * sizeof(float));
    if (!*sum || !*grad)
        return runs_error_set(RUNS_ENOMEM, "rank %d: out of memory for the gradients", runs_dp_rank());
    return RUNS_OK;
}

int runs__dp_nccl_worker(session *sess, const int64_t *hdr, const cJSON *cur)
{
    const runs_config *c = &sess->cfg;
    int N = runs_dp_size(), me = runs_dp_rank(), A = c->train.grad_accum, rc;
    size_t n = (size_t)hdr[4];
    float *sum = NULL, *grad = NULL, *tail = NULL;
    gpt_dist *dist = NULL;
    unsigned char id[GPT_DIST_ID_BYTES];
    /* a failed set-up is rank 0's to report (one line for the job), so this rank
     * sends it and stops quietly */
    rank_status st = {0};
    st.rc = worker_setup(sess, hdr, cur, &sum, &grad);
    if (!st.rc && !(tail = calloc((size_t)A + 2, sizeof *tail)))
        st.rc = runs_error_set(RUNS_ENOMEM, "rank %d: out of memory", me);
    if (st.rc)
        snprintf(st.msg, sizeof st.msg, "%s", runs_error_message());
    int32_t go = 0;
    if ((rc = runs_dp_send0(&st, sizeof st)) || (rc = runs_dp_bcast(&go, sizeof go)) || !go) {
        runs_error_clear();
        goto done;
    }
    static const gpt_slot slots[3] = {GPT_PARAM, GPT_ADAM_M, GPT_ADAM_V};
    for (int i = 0; i < 3; i++) {
        if ((rc = runs_dp_bcast(sum, n * sizeof(float))))
            goto done;
        if (gpt_write(sess->model, slots[i], sum)) {
            rc = runs__gpt_fail("loading rank 0's model");
            goto done;
        }
    }
    gpt_set_adam_step(sess->model, (uint64_t)hdr[3]);
    if ((rc = runs_dp_bcast(id, sizeof id)))
        goto done;
    if (gpt_dist_create(&dist, sess->model, id, N, me)) {
        rc = runs__gpt_fail("joining the NCCL communicator");
        goto done;
    }
    gpt_adamw hp = runs__session_adamw(c);
    for (;;) {
        int64_t h[3];
        if ((rc = runs_dp_bcast(h, sizeof h)) || h[0] == RUNS_DP_STOP)
            break;
        double busy = 0;
        if ((rc = local_micro_batches(sess, sum, grad, (int)h[1], tail, NULL, &busy)))
            break;
        tail[A] = (float)runs_signals_take();
        tail[A + 1] = (float)busy;
        int32_t ok = 0;
        if ((rc = runs_dp_send0(tail, ((size_t)A + 2) * sizeof(float))) || (rc = runs_dp_bcast(&ok, sizeof ok)) || !ok)
            break;
        if (gpt_dist_allreduce_grad(dist, sess->model, N * A)) {
            rc = runs__gpt_fail("all-reducing the gradients");
            break;
        }
        if (gpt_update(sess->model, &hp, (float)runs_schedule_lr(c, (long)h[2]), NULL)) {
            rc = runs__gpt_fail("update");
            break;
        }
    }
done:
    gpt_dist_free(dist);
    if (sum)
        gpt_host_free(sess->model, sum);
    if (grad)
        gpt_host_free(sess->model, grad);
    free(tail);
    return rc;
}
