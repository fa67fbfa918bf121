/* runner/dp_snap.c — a node's objects written by every rank of a data-parallel job at
 * once (runs__dp_snapshot, runs__dp_worker_snapshot); see dp_loop.h. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "manifests/manifest.h"
#include "runner/dp.h"
#include "runner/dp_loop.h"
#include "store/object.h"
#include "store/store.h"

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
    if (!runs__dp_following() || N <= 1)
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
    int64_t h[3] = {RUNS_DP_SNAP, 0, sess->step};
    if ((rc = runs_dp_bcast(h, sizeof h)))
        goto done;
    /* rank 0's share while the others write theirs; every report is read even after
     * a failure, so no rank is left waiting */
    int rc0 = read_state(md, sess->staging);
    if (!rc0)
        rc0 = write_share(sess->store, md, sess->staging, own, 0, hex);
    char why[sizeof(((snap_status *)0)->err) + 64] = "";
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
    /* the entries runs_node_commit makes (store/commit.c), in its order */
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

int runs__dp_worker_snapshot(session *sess, float **staging)
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
