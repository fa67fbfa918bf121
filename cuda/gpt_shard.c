/* cuda/gpt_shard.c — ZeRO-1's half of the trainer interface (gpt.h): the optimizer
 * shard mask, per-tensor copies, the global norm alone and the update of the owned
 * tensors. Checks arguments and ownership here, dispatches to the backend's ops; a
 * backend without them (CUDA) answers one line. */
#include <stdlib.h>

#include "cuda/gpt_backend.h"

/* A backend without the ZeRO-1 calls (CUDA): one line saying so. */
static int no_shard(const gpt_model *m, const char *who)
{
    return gpt_set_error("%s: the %s backend does not shard the optimizer state (CPU backend only)", who,
                         gpt_backend_name(m->backend));
}

int gpt_set_optimizer_shard(gpt_model *m, const unsigned char *owned)
{
    if (!m)
        return gpt_set_error("gpt_set_optimizer_shard: model is NULL");
    if (!m->ops->set_shard)
        return no_shard(m, "gpt_set_optimizer_shard");
    int all = 1;
    for (int i = 0; owned && i < m->n_tensors; i++)
        all &= owned[i] != 0;
    unsigned char *copy = NULL;
    if (!all) {
        if (!(copy = malloc((size_t)m->n_tensors)))
            return gpt_set_error("gpt_set_optimizer_shard: out of memory");
        for (int i = 0; i < m->n_tensors; i++)
            copy[i] = owned[i] != 0;
    }
    if (m->ops->set_shard(m, copy)) {
        free(copy);
        return -1;
    }
    free(m->owned);
    m->owned = copy;
    m->sharded = copy != NULL;
    return 0;
}

int gpt_owns_tensor(const gpt_model *m, int i)
{
    return m && i >= 0 && i < m->n_tensors && (!m->owned || m->owned[i]);
}

size_t gpt_optimizer_floats(const gpt_model *m)
{
    size_t n = 0;
    for (int i = 0; m && i < m->n_tensors; i++)
        if (!m->owned || m->owned[i])
            n += m->info[i].numel;
    return 2 * n;
}

/* Checks a per-tensor copy's arguments; "read" or "write" names it. */
static int check_tensor_io(const gpt_model *m, gpt_slot slot, int i, const void *buf, const char *who)
{
    if (!m || !buf)
        return gpt_set_error("%s: model or buffer is NULL", who);
    if ((int)slot < GPT_PARAM || (int)slot > GPT_ADAM_V)
        return gpt_set_error("%s: bad slot %d", who, (int)slot);
    if (i < 0 || i >= m->n_tensors)
        return gpt_set_error("%s: tensor %d outside [0, %d)", who, i, m->n_tensors);
    if (!m->ops->read_tensor || !m->ops->write_tensor)
        return no_shard(m, who);
    if ((slot == GPT_ADAM_M || slot == GPT_ADAM_V) && !gpt_owns_tensor(m, i))
        return gpt_set_error("%s: the optimizer state of %s is another rank's (not owned here)", who, m->info[i].name);
    return 0;
}

int gpt_read_tensor(const gpt_model *m, gpt_slot slot, int i, float *dst)
{
    if (check_tensor_io(m, slot, i, dst, "gpt_read_tensor"))
        return -1;
    return m->ops->read_tensor(m, slot, i, dst);
}

int gpt_write_tensor(gpt_model *m, gpt_slot slot, int i, const float *src)
{
    if (check_tensor_io(m, slot, i, src, "gpt_write_tensor"))
        return -1;
    return m->ops->write_tensor(m, slot, i, src);
}

int gpt_grad_norm(const gpt_model *m, double *norm)
{
    if (!m || !norm)
        return gpt_set_error("gpt_grad_norm: model or norm is NULL");
    if (!m->ops->grad_norm)
        return no_shard(m, "gpt_grad_norm");
    return m->ops->grad_norm(m, norm);
}

int gpt_update_owned(gpt_model *m, const gpt_adamw *hp, float lr, double norm)
{
    if (gpt__check_hp("gpt_update_owned", m, hp, lr))
        return -1;
    if (!m->ops->update_owned)
        return no_shard(m, "gpt_update_owned");
    m->adam_step++;
    int rc = m->ops->update_owned(m, hp, lr, norm);
    if (rc)
        m->adam_step--;
    return rc;
}
