/* cuda/gpt.c — the backend-independent half of the trainer interface.
 *
 * Validates configs before any allocation, lays out the tensor table (the
 * order and offsets of gpt.h), initialises weights on the host from the RNG so
 * every backend starts from the same bits, samples tokens for gpt_generate,
 * and dispatches the rest through the backend's gpt_ops. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/gpt_backend.h"

#define GPT_MAX_VOCAB 65536
#define GPT_RNG_GAMMA 0x9E3779B97F4A7C15ULL /* splitmix64 increment, as in rng.c */

const char *gpt_backend_name(gpt_backend b)
{
    switch (b) {
    case GPT_BACKEND_CPU: return "cpu";
    case GPT_BACKEND_CUDA: return "cuda";
    }
    return "unknown";
}

int gpt_cuda_available(void)
{
    return gpt_cuda_device_count() > 0;
}

/* Rejects what cannot work, naming the field and the value. No allocation. */
static int check_config(const gpt_config *c, int max_batch, int max_seq)
{
    if (!c)
        return gpt_set_error("gpt_create: config is NULL");
    if (c->n_layer <= 0)
        return gpt_set_error("model.n_layer (%d) must be positive", c->n_layer);
    if (c->n_head <= 0)
        return gpt_set_error("model.n_head (%d) must be positive", c->n_head);
    if (c->n_embd <= 0)
        return gpt_set_error("model.n_embd (%d) must be positive", c->n_embd);
    if (c->vocab_size <= 0)
        return gpt_set_error("model.vocab_size (%d) must be positive", c->vocab_size);
    if (c->block_size <= 0)
        return gpt_set_error("model.block_size (%d) must be positive", c->block_size);
    if (c->n_embd % c->n_head != 0)
        return gpt_set_error("model.n_embd (%d) is not divisible by model.n_head (%d)", c->n_embd, c->n_head);
    if (c->vocab_size > GPT_MAX_VOCAB)
        return gpt_set_error("model.vocab_size (%d) exceeds %d: token shards store uint16 ids", c->vocab_size,
                             GPT_MAX_VOCAB);
    if (max_batch <= 0)
        return gpt_set_error("batch size (%d) must be positive", max_batch);
    if (max_seq <= 0)
        return gpt_set_error("sequence length (%d) must be positive", max_seq);
    if (max_seq > c->block_size)
        return gpt_set_error("sequence length (%d) exceeds model.block_size (%d)", max_seq, c->block_size);
    /* Sizes that would overflow the float counts (size_t) or int indexing. */
    double C = c->n_embd, L = c->n_layer;
    double params = (double)c->vocab_size * C + (double)c->block_size * C + L * (12.0 * C * C + 13.0 * C) + 2.0 * C;
    if (params > 4.0e9)
        return gpt_set_error("model has %.3g parameters; this trainer supports at most 4e9", params);
    if ((double)max_batch * max_seq * (c->vocab_size > 4 * c->n_embd ? c->vocab_size : 4 * c->n_embd) > 2.0e9)
        return gpt_set_error("batch (%d) x sequence (%d) x width is too large for one step; lower "
                             "the batch size or the sequence length",
                             max_batch, max_seq);
    return 0;
}

static void add_tensor(gpt_tensor_info *t, int *n, size_t *off, const char *name, int rows, int cols)
{
    gpt_tensor_info *x = &t[(*n)++];
    memset(x, 0, sizeof *x);
    snprintf(x->name, sizeof x->name, "%s", name);
    x->ndim = cols > 0 ? 2 : 1;
    x->shape[0] = rows;
    x->shape[1] = cols > 0 ? cols : 1;
    x->numel = (size_t)rows * (size_t)x->shape[1];
    x->offset = *off;
    x->decay = x->ndim == 2;
    *off += x->numel;
}

static void build_table(gpt_tensor_info *t, int *n_out, size_t *n_params, const gpt_config *c)
{
    int n = 0, C = c->n_embd;
    size_t off = 0;
    char nm[48];
    add_tensor(t, &n, &off, "wte", c->vocab_size, C);
    add_tensor(t, &n, &off, "wpe", c->block_size, C);
    for (int l = 0; l < c->n_layer; l++) {
#define T(suffix, r, cc) (snprintf(nm, sizeof nm, "h.%d.%s", l, suffix), add_tensor(t, &n, &off, nm, r, cc))
        T("ln_1.w", C, 0);
        T("ln_1.b", C, 0);
        T("attn.c_attn.w", 3 * C, C);
        T("attn.c_attn.b", 3 * C, 0);
        T("attn.c_proj.w", C, C);
        T("attn.c_proj.b", C, 0);
        T("ln_2.w", C, 0);
        T("ln_2.b", C, 0);
        T("mlp.c_fc.w", 4 * C, C);
        T("mlp.c_fc.b", 4 * C, 0);
        T("mlp.c_proj.w", C, 4 * C);
        T("mlp.c_proj.b", C, 0);
#undef T
    }
    add_tensor(t, &n, &off, "ln_f.w", C, 0);
    add_tensor(t, &n, &off, "ln_f.b", C, 0);
    *n_out = n;
    *n_params = off;
}

int gpt_tensor_table(gpt_tensor_info **out, int *count, const gpt_config *cfg)
{
    *out = NULL;
    *count = 0;
    if (!cfg || cfg->n_layer <= 0 || cfg->n_embd <= 0 || cfg->vocab_size <= 0 || cfg->block_size <= 0)
        return gpt_set_error("tensor table: the model's sizes must be positive");
    gpt_tensor_info *t = calloc((size_t)(4 + 12 * cfg->n_layer), sizeof *t);
    if (!t)
        return gpt_set_error("tensor table: out of memory");
    size_t n_params;
    build_table(t, count, &n_params, cfg);
    *out = t;
    return 0;
}

int gpt_create(gpt_model **out, const gpt_config *cfg, int max_batch, int max_seq, gpt_backend backend)
{
    gpt_model *m = NULL;
    int rc = -1;
    if (!out)
        return gpt_set_error("gpt_create: out is NULL");
    *out = NULL;
    if (check_config(cfg, max_batch, max_seq))
        return -1;
    if (backend != GPT_BACKEND_CPU && backend != GPT_BACKEND_CUDA)
        return gpt_set_error("unknown backend %d (expected cpu or cuda)", (int)backend);

    m = calloc(1, sizeof *m);
    if (!m)
        return gpt_set_error("gpt_create: out of memory");
    m->cfg = *cfg;
    m->backend = backend;
    m->max_batch = max_batch;
    m->max_seq = max_seq;
    m->info = calloc((size_t)(4 + 12 * cfg->n_layer), sizeof *m->info);
    if (!m->info) {
        gpt_set_error("gpt_create: out of memory for the tensor table");
        goto done;
    }
    build_table(m->info, &m->n_tensors, &m->n_params, cfg);
    m->ops = backend == GPT_BACKEND_CPU ? &gpt_cpu_ops : &gpt_cuda_ops;
    if (!m->ops->create || m->ops->create(m)) {
        if (!m->ops->create)
            gpt_set_error("backend %s is not available", gpt_backend_name(backend));
        m->impl = NULL;
        goto done;
    }
    *out = m;
    m = NULL;
    rc = 0;
done:
    if (m) {
        free(m->info);
        free(m);
    }
    return rc;
}

void gpt_free(gpt_model *m)
{
    if (!m)
        return;
    if (m->impl && m->ops->destroy)
        m->ops->destroy(m);
    free(m->owned);
    free(m->info);
    free(m);
}

const gpt_config *gpt_get_config(const gpt_model *m)
{
    return &m->cfg;
}
gpt_backend gpt_get_backend(const gpt_model *m)
{
    return m->backend;
}
int gpt_num_tensors(const gpt_model *m)
{
    return m->n_tensors;
}
const gpt_tensor_info *gpt_tensor(const gpt_model *m, int i)
{
    return (i >= 0 && i < m->n_tensors) ? &m->info[i] : NULL;
}
size_t gpt_num_params(const gpt_model *m)
{
    return m->n_params;
}
uint64_t gpt_adam_step(const gpt_model *m)
{
    return m->adam_step;
}
void gpt_set_adam_step(gpt_model *m, uint64_t t)
{
    m->adam_step = t;
}

/* Host-side init: one pass over the tensors in table order, so the draws are
 * the same for every backend; the result goes in through ops->write. */
int gpt_init_weights(gpt_model *m, uint64_t seed)
{
    int rc = -1;
    float *p = NULL;
    if (!m)
        return gpt_set_error("gpt_init_weights: model is NULL");
    if (m->sharded)
        return gpt_set_error("gpt_init_weights: the optimizer state is sharded; gpt_set_optimizer_shard(m, "
                             "NULL) first");
    p = gpt_host_alloc(m, m->n_params * sizeof(float));
    if (!p) {
        gpt_set_error("gpt_init_weights: out of host memory (%zu floats)", m->n_params);
        goto done;
    }
    uint64_t rng = seed;
    float proj_std = 0.02f / sqrtf(2.0f * (float)m->cfg.n_layer);
    for (int i = 0; i < m->n_tensors; i++) {
        const gpt_tensor_info *t = &m->info[i];
        float *dst = p + t->offset;
        size_t len = strlen(t->name);
        if (t->ndim == 2) {
            int is_proj = len >= 8 && strcmp(t->name + len - 8, "c_proj.w") == 0;
            float sd = is_proj ? proj_std : 0.02f;
            /* splitmix64 is a counter: the state after k draws is seed + k·γ, so
             * element j (draws 2j, 2j+1 of this tensor) can be computed on any
             * thread and the result equals the sequential fill bit for bit. */
            uint64_t base = rng;
            long n = (long)t->numel;
#pragma omp parallel for schedule(static)
            for (long j = 0; j < n; j++) {
                uint64_t s = base + 2u * (uint64_t)j * GPT_RNG_GAMMA;
                dst[j] = sd * gpt_rng_normal(&s);
            }
            rng = base + 2u * (uint64_t)n * GPT_RNG_GAMMA;
        } else {
            /* The only 1-D weights (".w") are LayerNorm gains; biases end in ".b". */
            float v = t->name[len - 1] == 'w' ? 1.0f : 0.0f;
            for (size_t j = 0; j < t->numel; j++)
                dst[j] = v;
        }
    }
    if (m->ops->write(m, GPT_PARAM, p))
        goto done;
    memset(p, 0, m->n_params * sizeof(float));
    if (m->ops->write(m, GPT_ADAM_M, p) || m->ops->write(m, GPT_ADAM_V, p))
        goto done;
    m->adam_step = 0;
    rc = 0;
done:
    if (p)
        gpt_host_free(m, p);
    return rc;
}

static int check_tokens(const char *what, const int32_t *tok, size_t n, int V)
{
    for (size_t i = 0; i < n; i++)
        if (tok[i] < 0 || tok[i] >= V)
            return gpt_set_error("%s[%zu] = %d is outside the vocabulary [0, %d)", what, i, (int)tok[i], V);
    return 0;
}

int gpt_forward(gpt_model *m, const int32_t *inputs, const int32_t *targets, int B, int T, int backward, float *loss)
{
    if (!m || !inputs || !targets)
        return gpt_set_error("gpt_forward: model, inputs or targets is NULL");
    if (B <= 0 || B > m->max_batch)
        return gpt_set_error("gpt_forward: batch %d outside [1, %d] (the model's max_batch)", B, m->max_batch);
    if (T <= 0 || T > m->max_seq)
        return gpt_set_error("gpt_forward: sequence length %d outside [1, %d] (the model's max_seq)", T, m->max_seq);
    size_t n = (size_t)B * T;
    if (check_tokens("inputs", inputs, n, m->cfg.vocab_size) || check_tokens("targets", targets, n, m->cfg.vocab_size))
        return -1;
    float dummy;
    return m->ops->forward(m, inputs, targets, B, T, backward, loss ? loss : &dummy);
}

int gpt__check_hp(const char *who, const gpt_model *m, const gpt_adamw *hp, float lr)
{
    if (!m || !hp)
        return gpt_set_error("%s: model or hyper-parameters is NULL", who);
    if (!(lr >= 0.0f) || isinf(lr))
        return gpt_set_error("learning rate (%g) must be finite and >= 0", lr);
    if (!(hp->beta1 >= 0.0f && hp->beta1 < 1.0f))
        return gpt_set_error("optimizer.beta1 (%g) must be in [0, 1)", hp->beta1);
    if (!(hp->beta2 >= 0.0f && hp->beta2 < 1.0f))
        return gpt_set_error("optimizer.beta2 (%g) must be in [0, 1)", hp->beta2);
    if (!(hp->eps > 0.0f))
        return gpt_set_error("optimizer.eps (%g) must be positive", hp->eps);
    if (!(hp->weight_decay >= 0.0f))
        return gpt_set_error("optimizer.weight_decay (%g) must be >= 0", hp->weight_decay);
    if (isnan(hp->grad_clip))
        return gpt_set_error("optimizer.grad_clip is NaN");
    return 0;
}

int gpt_update(gpt_model *m, const gpt_adamw *hp, float lr, float *grad_norm)
{
    if (gpt__check_hp("gpt_update", m, hp, lr))
        return -1;
    if (m->sharded)
        return gpt_set_error("gpt_update: the optimizer state is sharded (gpt_set_optimizer_shard); "
                             "use gpt_grad_norm and gpt_update_owned");
    m->adam_step++;
    float dummy;
    int rc = m->ops->update(m, hp, lr, grad_norm ? grad_norm : &dummy);
    if (rc)
        m->adam_step--;
    return rc;
}

int gpt_read(const gpt_model *m, gpt_slot slot, float *dst)
{
    if (!m || !dst)
        return gpt_set_error("gpt_read: model or destination is NULL");
    if ((int)slot < GPT_PARAM || (int)slot > GPT_ADAM_V)
        return gpt_set_error("gpt_read: bad slot %d", (int)slot);
    if (m->sharded && (slot == GPT_ADAM_M || slot == GPT_ADAM_V))
        return gpt_set_error("gpt_read: the optimizer state is sharded (this model holds only its own "
                             "tensors' m and v); use gpt_read_tensor");
    return m->ops->read(m, slot, dst);
}

int gpt_write(gpt_model *m, gpt_slot slot, const float *src)
{
    if (!m || !src)
        return gpt_set_error("gpt_write: model or source is NULL");
    if ((int)slot < GPT_PARAM || (int)slot > GPT_ADAM_V)
        return gpt_set_error("gpt_write: bad slot %d", (int)slot);
    if (m->sharded && (slot == GPT_ADAM_M || slot == GPT_ADAM_V))
        return gpt_set_error("gpt_write: the optimizer state is sharded (this model holds only its own "
                             "tensors' m and v); use gpt_write_tensor");
    return m->ops->write(m, slot, src);
}

void *gpt_host_alloc(const gpt_model *m, size_t bytes)
{
    if (!m)
        return NULL;
    return m->ops->host_alloc(bytes ? bytes : 1);
}

void gpt_host_free(const gpt_model *m, void *p)
{
    if (m && p)
        m->ops->host_free(p);
}

/* Picks a token from logits (modified in place). Ties are broken towards the
 * lower id so the choice never depends on sort stability. */
typedef struct {
    float v;
    int i;
} scored;

static int scored_cmp(const void *pa, const void *pb)
{
    const scored *a = pa, *b = pb;
    if (a->v > b->v)
        return -1;
    if (a->v < b->v)
        return 1;
    return (a->i > b->i) - (a->i < b->i);
}

static int sample_token(float *logits, int V, float temperature, int top_k, uint64_t *rng, scored *work)
{
    if (temperature <= 0.0f) {
        int best = 0;
        for (int i = 1; i < V; i++)
            if (logits[i] > logits[best])
                best = i;
        return best;
    }
    for (int i = 0; i < V; i++) {
        work[i].v = logits[i] / temperature;
        work[i].i = i;
    }
    int n = V;
    if (top_k > 0 && top_k < V) {
        qsort(work, (size_t)V, sizeof *work, scored_cmp);
        n = top_k;
    }
    float mx = work[0].v;
    for (int i = 1; i < n; i++)
        if (work[i].v > mx)
            mx = work[i].v;
    double sum = 0.0;
    for (int i = 0; i < n; i++)
        sum += exp((double)work[i].v - mx);
    double u = (double)gpt_rng_uniform(rng) * sum, acc = 0.0;
    for (int i = 0; i < n; i++) {
        acc += exp((double)work[i].v - mx);
        if (u < acc)
            return work[i].i;
    }
    return work[n - 1].i;
}

int gpt_generate(gpt_model *m, const int32_t *prompt, int n_prompt, int n_new, float temperature, int top_k,
                 uint64_t *rng_state, int32_t *out)
{
    int rc = -1, V, window;
    int32_t *ctx = NULL;
    float *logits = NULL;
    scored *work = NULL;
    if (!m || !prompt || !rng_state || (n_new > 0 && !out))
        return gpt_set_error("gpt_generate: model, prompt, rng_state or out is NULL");
    if (n_prompt < 1)
        return gpt_set_error("gpt_generate: the prompt needs at least one token (got %d)", n_prompt);
    if (n_new < 0)
        return gpt_set_error("gpt_generate: n_new (%d) is negative", n_new);
    V = m->cfg.vocab_size;
    if (check_tokens("prompt", prompt, (size_t)n_prompt, V))
        return -1;
    if (isnan(temperature))
        return gpt_set_error("gpt_generate: temperature is NaN");
    /* Activations exist for max_seq positions (<= block_size), so the window
     * slides at max_seq. */
    window = m->max_seq;
    size_t total = (size_t)n_prompt + (size_t)n_new;
    ctx = malloc(total * sizeof *ctx);
    logits = malloc((size_t)V * sizeof *logits);
    work = malloc((size_t)V * sizeof *work);
    if (!ctx || !logits || !work) {
        gpt_set_error("gpt_generate: out of memory");
        goto done;
    }
    memcpy(ctx, prompt, (size_t)n_prompt * sizeof *ctx);
    size_t len = (size_t)n_prompt;
    for (int k = 0; k < n_new; k++) {
        size_t T = len < (size_t)window ? len : (size_t)window;
        if (m->ops->logits_last(m, ctx + len - T, (int)T, logits))
            goto done;
        int tok = sample_token(logits, V, temperature, top_k, rng_state, work);
        ctx[len++] = tok;
        out[k] = tok;
    }
    rc = 0;
done:
    free(ctx);
    free(logits);
    free(work);
    return rc;
}
