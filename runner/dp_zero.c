/* runner/dp_zero.c — ZeRO-1 for the CPU data-parallel ranks (dp_loop.h): which rank
 * owns each tensor (runs_dp_shard_owners), the packing of one rank's tensors into a
 * contiguous message, and the weights' all-gather after each rank's update. */
#include <stdlib.h>

#include "common/error.h"
#include "runner/dp.h"
#include "runner/dp_loop.h"

/* one job per process, so file scope: every rank holds the same table */
static int *owner, n_owner;

int runs__dp_zero_table(const gpt_model *md, int ranks)
{
    int nt = gpt_num_tensors(md), rc;
    size_t *numel = malloc(sizeof *numel * (size_t)nt);
    int *own = malloc(sizeof *own * (size_t)nt);
    if (!numel || !own) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory sharing the optimizer state over %d ranks", ranks);
        goto done;
    }
    for (int i = 0; i < nt; i++)
        numel[i] = gpt_tensor(md, i)->numel;
    if ((rc = runs_dp_shard_owners(own, numel, nt, ranks)))
        goto done;
    free(owner);
    owner = own;
    own = NULL;
    n_owner = nt;
done:
    free(numel);
    free(own);
    return rc;
}

const int *runs__dp_zero_owner(void)
{
    return owner;
}

int runs__dp_zero_shard(gpt_model *md, int me)
{
    int nt = gpt_num_tensors(md), rc = RUNS_OK;
    unsigned char *mask = malloc((size_t)nt);
    if (!owner || n_owner != nt || !mask) {
        rc = mask ? runs_error_set(RUNS_EINVALID, "rank %d: no owner table for the model (internal)", me)
                  : runs_error_set(RUNS_ENOMEM, "rank %d: out of memory sharding the optimizer state", me);
        goto done;
    }
    for (int i = 0; i < nt; i++)
        mask[i] = owner[i] == me;
    if (gpt_set_optimizer_shard(md, mask))
        rc = runs__gpt_fail("sharding the optimizer state");
done:
    free(mask);
    return rc;
}

size_t runs__dp_zero_floats(const gpt_model *md, int r)
{
    size_t n = 0;
    for (int i = 0; owner && i < n_owner; i++)
        if (owner[i] == r)
            n += gpt_tensor(md, i)->numel;
    return n;
}

int runs__dp_zero_pack(const gpt_model *md, gpt_slot slot, int r, float *dst)
{
    for (int i = 0; i < n_owner; i++) {
        if (owner[i] != r)
            continue;
        if (gpt_read_tensor(md, slot, i, dst))
            return runs__gpt_fail("packing a rank's tensors");
        dst += gpt_tensor(md, i)->numel;
    }
    return RUNS_OK;
}

int runs__dp_zero_unpack(gpt_model *md, gpt_slot slot, int r, const float *src)
{
    for (int i = 0; i < n_owner; i++) {
        if (owner[i] != r)
            continue;
        if (gpt_write_tensor(md, slot, i, src))
            return runs__gpt_fail("unpacking a rank's tensors");
        src += gpt_tensor(md, i)->numel;
    }
    return RUNS_OK;
}

void runs__dp_zero_pack_host(const gpt_model *md, int r, const float *full, float *dst)
{
    for (int i = 0; i < n_owner; i++) {
        if (owner[i] != r)
            continue;
        const gpt_tensor_info *t = gpt_tensor(md, i);
        for (size_t k = 0; k < t->numel; k++)
            dst[k] = full[t->offset + k];
        dst += t->numel;
    }
}

int runs__dp_zero_gather(gpt_model *md, int me, int ranks, float *buf)
{
    int rc = RUNS_OK;
    for (int r = 0; r < ranks && !rc; r++) {
        size_t k = runs__dp_zero_floats(md, r);
        if (r == me && (rc = runs__dp_zero_pack(md, GPT_PARAM, r, buf)))
            break;
        if ((rc = runs_dp_bcast_from(buf, k * sizeof(float), r)))
            break;
        if (r != me)
            rc = runs__dp_zero_unpack(md, GPT_PARAM, r, buf);
    }
    return rc;
}
