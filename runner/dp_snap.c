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

/* what a rank reports after writing its share */
typedef struct {
    int32_t rc;
    char err[244];
} snap_status;

/* This rank's tensors (ZeRO-1's owner table, dp_zero.c) into staging, packed in
 * tensor order: weights | m | v, k floats each (k = runs__dp_zero_floats). */
static int read_state(gpt_model *md, int me, float *staging)
{
    size_t k = runs__dp_zero_floats(md, me);
    int rc;
    if ((rc = runs__dp_zero_pack(md, GPT_PARAM, me, staging)) ||
        (rc = runs__dp_zero_pack(md, GPT_ADAM_M, me, staging + k)) ||
        (rc = runs__dp_zero_pack(md, GPT_ADAM_V, me, staging + 2 * k)))
        return rc;
    return RUNS_OK;
}

/* Writes the weights, m and v objects of this rank's tensors from staging (read_state's
 * packing) and fills hex[j] (65 bytes each; j = group x n_tensors + tensor, the
 * manifest's order) for the objects it wrote. */
static int write_share(runs_store *s, const gpt_model *md, const float *staging, const int *own, int me, char *hex)
{
    int nt = gpt_num_tensors(md), n = 3 * nt, k = 0;
    size_t mine = runs__dp_zero_floats(md, me), at = 0;
    runs_put *items = calloc((size_t)n, sizeof *items);
    int *idx = malloc(sizeof(int) * (size_t)n);
    int rc = RUNS_OK;
    if (!items || !idx) {
        rc = runs_error_set(RUNS_ENOMEM, "rank %d: out of memory writing its share of a checkpoint", me);
        goto done;
    }
    for (int t = 0; t < nt; t++) {
        if (own[t] != me)
            continue;
        size_t numel = gpt_tensor(md, t)->numel;
        for (int g = 0; g < 3; g++) {
            items[k].data = staging + (size_t)g * mine + at;
            items[k].len = numel * sizeof(float);
            idx[k++] = g * nt + t;
        }
        at += numel;
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

int runs__dp_snapshot(session *sess, cJSON **tensors, cJSON **shards)
{
    int N = runs_dp_size();
    if (N <= 1 || !runs__dp_sharded())
        return RUNS_ENOTFOUND;
    if (!runs__dp_following()) /* never a node without every rank's m and v */
        return runs_error_set(RUNS_EIO, "the other ranks hold their tensors' optimizer state and have stopped; "
                                        "no node was committed (resume from the last node)");
    gpt_model *md = sess->model;
    int nt = gpt_num_tensors(md), n = 3 * nt, rc;
    const int *own = runs__dp_zero_owner();
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
    int rc0 = read_state(md, 0, sess->staging);
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
            if (own[j % nt] == r)
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
        cJSON_AddItemToArray(ranks, cJSON_CreateNumber(own[j % nt]));
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
    free(hex);
    free(other);
    return rc;
}

int runs__dp_worker_snapshot(session *sess, float **staging)
{
    gpt_model *md = sess->model;
    int me = runs_dp_rank(), n = 3 * gpt_num_tensors(md), rc;
    const int *own = runs__dp_zero_owner();
    char *hex = calloc((size_t)n, 65);
    snap_status st = {0};
    if (!*staging) /* its own tensors' weights, m and v */
        *staging = malloc((3 * runs__dp_zero_floats(md, me) + 1) * sizeof(float));
    /* a handle of its own for the write, freed after it: a writer holds the store's
     * gc lock shared until its handle goes, and rank 0's retention gc (after each
     * commit, before the next snapshot) must find it free */
    runs_store *ws = NULL;
    if (!own || !hex || !*staging)
        st.rc = runs_error_set(RUNS_ENOMEM, "rank %d: out of memory for its share of a checkpoint", me);
    else if (!(st.rc = read_state(md, me, *staging)) && !(st.rc = runs_store_open(&ws, runs_store_dir(sess->store))))
        st.rc = write_share(ws, md, *staging, own, me, hex);
    runs_store_free(ws);
    if (st.rc)
        snprintf(st.err, sizeof st.err, "%s", runs_error_message());
    if (!hex) /* no report of the size rank 0 waits for: this rank ends, and the job with it */
        rc = st.rc;
    else if (!(rc = runs_dp_send0(&st, sizeof st)))
        rc = runs_dp_send0(hex, (size_t)n * 65);
    free(hex);
    return rc;
}
