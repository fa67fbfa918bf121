/* runner/data.c — per-source shards, sequential wrapping cursors, held-out batches
 * (the layout of regions and cursors is described in data.h). */
#include "runner/data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "tools/shard.h"

typedef struct {
    int open;  /* shard mapped */
    int train; /* has a training region the bandit may use */
    runs_shard shard;
    uint64_t train_len; /* training region: tokens [0, train_len) */
    uint64_t pos;       /* cursor in [0, train_len) */
    uint64_t epoch;
} src_t;

struct runs_data {
    int n;
    char names[RUNS_MAX_SOURCES][RUNS_NAME_MAX];
    src_t src[RUNS_MAX_SOURCES];
    int heldout; /* source index or -1 */
    uint64_t ho_start, ho_len;
};

static int is_excluded(const runs_config *cfg, const char *name)
{
    for (int i = 0; i < cfg->data.n_exclude; i++)
        if (strcmp(cfg->data.exclude[i], name) == 0)
            return 1;
    return 0;
}

void runs_data_free(runs_data *d)
{
    if (!d)
        return;
    for (int i = 0; i < d->n; i++)
        runs_shard_close(&d->src[i].shard);
    free(d);
}

int runs_data_open(runs_data **out, const runs_config *cfg)
{
    *out = NULL;
    int rc = 0;
    runs_data *d = calloc(1, sizeof *d);
    if (!d)
        return runs_error_set(RUNS_ENOMEM, "out of memory opening the data sources");
    d->n = cfg->data.n_sources;
    d->heldout = -1;
    if (d->n < 0 || d->n > RUNS_MAX_SOURCES) {
        rc = runs_error_set(RUNS_EINVALID, "data.sources: %d sources (at most %d)", d->n, RUNS_MAX_SOURCES);
        goto done;
    }
    if (cfg->data.heldout[0]) {
        d->heldout = runs_config_source_index(cfg, cfg->data.heldout);
        if (d->heldout < 0) {
            rc = runs_error_set(RUNS_EINVALID, "data.heldout: '%s' is not one of data.sources", cfg->data.heldout);
            goto done;
        }
    }
    int T = cfg->train.seq_len, B = cfg->train.batch_size;
    if (T < 1 || B < 1) {
        rc = runs_error_set(RUNS_EINVALID, "train.batch_size %d and train.seq_len %d must be >= 1", B, T);
        goto done;
    }
    uint64_t BT = (uint64_t)B * (uint64_t)T;
    for (int i = 0; i < d->n; i++) {
        const runs_source_config *sc = &cfg->data.sources[i];
        src_t *s = &d->src[i];
        snprintf(d->names[i], RUNS_NAME_MAX, "%s", sc->name);
        int trainable = !is_excluded(cfg, sc->name) && sc->cap > 0.0;
        if (!trainable && i != d->heldout)
            continue;
        rc = runs_shard_open(&s->shard, sc->path, cfg->model.vocab_size);
        if (rc == RUNS_ENOTFOUND) {
            rc = runs_error_set(RUNS_ENOTFOUND,
                                "data source '%s': token shard %s does not exist; run `make corpus`, fix "
                                "data.sources.%s.path, or pass --data-root DIR if the corpus moved",
                                sc->name, sc->path, sc->name);
            goto done;
        }
        if (rc) {
            /* the shard's message names file and offset; add which source it is */
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", runs_error_message());
            rc = runs_error_set(rc, "data source '%s': %s", sc->name, msg);
            goto done;
        }
        s->open = 1;
        uint64_t n = s->shard.count;
        if (n == 0) {
            rc = runs_error_set(RUNS_EINVALID,
                                "data source '%s': token shard %s is empty (0 tokens at byte offset 1024); re-encode "
                                "it or set data.sources.%s.cap to 0",
                                sc->name, sc->path, sc->name);
            goto done;
        }
        s->train_len = n;
        if (i == d->heldout) {
            uint64_t r = n / 10, lo = BT + 1, hi = 8 * BT + 1;
            if (r < lo)
                r = lo;
            if (r > hi)
                r = hi;
            if (r >= n || (trainable && n - r < (uint64_t)T + 1)) {
                rc = runs_error_set(RUNS_EINVALID,
                                    "data source '%s' (%s): %llu tokens are too few to hold out %llu for data.heldout "
                                    "and still train; pick a larger source or smaller batches",
                                    sc->name, sc->path, (unsigned long long)n, (unsigned long long)r);
                goto done;
            }
            d->ho_start = n - r;
            d->ho_len = r;
            s->train_len = n - r;
        }
        if (trainable) {
            if (s->train_len < (uint64_t)T + 1) {
                rc = runs_error_set(RUNS_EINVALID,
                                    "data source '%s' (%s): %llu tokens, fewer than one row of train.seq_len + 1 = %d",
                                    sc->name, sc->path, (unsigned long long)s->train_len, T + 1);
                goto done;
            }
            s->train = 1;
        }
    }
    *out = d;
    d = NULL;
done:
    runs_data_free(d);
    return rc;
}

int runs_data_has_tokens(const runs_data *d, int i)
{
    return d && i >= 0 && i < d->n && d->src[i].train;
}

uint64_t runs_data_train_tokens(const runs_data *d, int i)
{
    return runs_data_has_tokens(d, i) ? d->src[i].train_len : 0;
}

int runs_data_next_batch(runs_data *d, int i, int B, int T, int32_t *inputs, int32_t *targets)
{
    if (!runs_data_has_tokens(d, i))
        return runs_error_set(RUNS_EINVALID,
                              "data source %d (%s) has no training data open (excluded, cap 0 or unknown)", i,
                              i >= 0 && d && i < d->n ? d->names[i] : "?");
    if (B < 1 || T < 1)
        return runs_error_set(RUNS_EINVALID, "batch %dx%d: B and T must be >= 1", B, T);
    src_t *s = &d->src[i];
    const uint16_t *tok = s->shard.tokens;
    uint64_t L = s->train_len, p = s->pos, n = (uint64_t)B * T;
    /* prev = token at p; each step emits (prev, next) */
    int32_t prev = tok[p];
    for (uint64_t k = 0; k < n; k++) {
        if (++p == L)
            p = 0;
        int32_t next = tok[p];
        inputs[k] = prev;
        targets[k] = next;
        prev = next;
    }
    uint64_t np = s->pos + n;
    s->epoch += np / L;
    s->pos = np % L;
    return 0;
}

int runs_data_heldout_batch(runs_data *d, int k, int B, int T, int32_t *in, int32_t *tgt)
{
    if (!d || d->heldout < 0)
        return runs_error_set(RUNS_EINVALID, "no held-out source: set data.heldout to a source name");
    if (k < 0 || B < 1 || T < 1)
        return runs_error_set(RUNS_EINVALID, "held-out batch %d of %dx%d: bad arguments", k, B, T);
    if ((uint64_t)T + 1 > d->ho_len)
        return runs_error_set(RUNS_EINVALID, "held-out region of '%s' has %llu tokens, fewer than seq_len + 1 = %d",
                              d->names[d->heldout], (unsigned long long)d->ho_len, T + 1);
    const uint16_t *tok = d->src[d->heldout].shard.tokens + d->ho_start;
    uint64_t span = d->ho_len - (uint64_t)T;
    for (int b = 0; b < B; b++) {
        uint64_t off = (((uint64_t)k * B + b) * (uint64_t)T) % span;
        for (int t = 0; t < T; t++) {
            in[(size_t)b * T + t] = tok[off + t];
            tgt[(size_t)b * T + t] = tok[off + t + 1];
        }
    }
    return 0;
}

cJSON *runs_data_cursors_to_json(const runs_data *d)
{
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return NULL;
    for (int i = 0; i < d->n; i++) {
        const src_t *s = &d->src[i];
        if (!s->train)
            continue;
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToObject(j, d->names[i], o) ||
            !cJSON_AddNumberToObject(o, "position", (double)s->pos) ||
            !cJSON_AddNumberToObject(o, "epoch", (double)s->epoch) ||
            !cJSON_AddNumberToObject(o, "tokens", (double)s->train_len)) {
            cJSON_Delete(j);
            return NULL;
        }
    }
    return j;
}

static int get_u64(const cJSON *o, const char *key, const char *name, uint64_t *v)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(x) || x->valuedouble < 0 || x->valuedouble > 9007199254740992.0 ||
        x->valuedouble != (double)(uint64_t)x->valuedouble)
        return runs_error_set(RUNS_EINVALID, "data cursors: %s.%s must be a whole number >= 0", name, key);
    *v = (uint64_t)x->valuedouble;
    return 0;
}

int runs_data_cursors_from_json(runs_data *d, const cJSON *j)
{
    if (!cJSON_IsObject(j))
        return runs_error_set(RUNS_EINVALID, "data cursors: expected a JSON object of sources");
    uint64_t pos[RUNS_MAX_SOURCES] = {0}, ep[RUNS_MAX_SOURCES] = {0};
    /* validate everything first so a bad cursor leaves d unchanged */
    for (int i = 0; i < d->n; i++) {
        if (!d->src[i].train)
            continue;
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(j, d->names[i]);
        if (!o)
            continue;
        if (!cJSON_IsObject(o))
            return runs_error_set(RUNS_EINVALID, "data cursors: %s must be an object", d->names[i]);
        int rc = get_u64(o, "position", d->names[i], &pos[i]);
        if (!rc)
            rc = get_u64(o, "epoch", d->names[i], &ep[i]);
        if (rc)
            return rc;
        if (pos[i] >= d->src[i].train_len)
            return runs_error_set(RUNS_EINVALID,
                                  "data cursors: %s.position %llu is outside its training region of %llu tokens (the "
                                  "shard changed since the checkpoint); re-encode the original data",
                                  d->names[i], (unsigned long long)pos[i], (unsigned long long)d->src[i].train_len);
    }
    for (int i = 0; i < d->n; i++) {
        if (!d->src[i].train)
            continue;
        d->src[i].pos = pos[i];
        d->src[i].epoch = ep[i];
    }
    return 0;
}

int runs_data_measure_batches(int32_t **inputs, int32_t **targets, const char **source_used, int *heldout,
                              const runs_config *cfg, const char *source, int n_batches, int B, int T)
{
    runs_data *d = NULL;
    int32_t *in = NULL, *tg = NULL;
    int rc = 0, held = 1, si;
    if (T > cfg->model.block_size) {
        rc = runs_error_set(RUNS_EINVALID, "rows of %d tokens exceed the model's block_size %d", T,
                            cfg->model.block_size);
        goto done;
    }
    /* Which source, and is it really held out? */
    if (source) {
        held = !strcmp(source, cfg->data.heldout);
    } else if (cfg->data.heldout[0]) {
        source = cfg->data.heldout;
    } else {
        if (cfg->data.n_sources == 0) {
            rc = runs_error_set(RUNS_EINVALID, "the config has no data sources to measure on (data.sources)");
            goto done;
        }
        source = cfg->data.sources[0].name;
        held = 0;
    }
    if ((si = runs_config_source_index(cfg, source)) < 0) {
        rc = runs_error_set(RUNS_ENOTFOUND, "no source \"%s\" in the config's data.sources", source);
        goto done;
    }
    if ((rc = runs_data_open_one(&d, cfg, si, B, T)))
        goto done;
    size_t bt = (size_t)B * (size_t)T;
    in = malloc((size_t)n_batches * bt * sizeof *in);
    tg = malloc((size_t)n_batches * bt * sizeof *tg);
    if (!in || !tg) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory for %d batches of %d×%d", n_batches, B, T);
        goto done;
    }
    for (int k = 0; k < n_batches; k++)
        if ((rc = runs_data_heldout_batch(d, k, B, T, in + k * bt, tg + k * bt)))
            goto done;
    *inputs = in;
    *targets = tg;
    in = tg = NULL;
    *source_used = cfg->data.sources[si].name;
    *heldout = held;
done:
    free(in);
    free(tg);
    runs_data_free(d);
    return rc;
}

int runs_data_open_one(runs_data **out, const runs_config *cfg, int si, int B, int T)
{
    runs_config *one = NULL;
    int rc;
    if (si < 0 || si >= cfg->data.n_sources) {
        rc = runs_error_set(RUNS_EINVALID, "source index %d: the config has %d data sources", si, cfg->data.n_sources);
        goto done;
    }
    /* The config is large (fixed arrays), so the copy lives on the heap. */
    if (!(one = malloc(sizeof *one))) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory for a one-source config");
        goto done;
    }
    *one = *cfg;
    runs_source_config only = cfg->data.sources[si];
    only.cap = 1.0;
    only.floor = 0.0;
    one->data.sources[0] = only;
    one->data.n_sources = 1;
    one->data.n_exclude = 0;
    one->data.n_warmup_sources = 0;
    one->data.curriculum_warmup_steps = 0;
    snprintf(one->data.heldout, sizeof one->data.heldout, "%s", only.name);
    one->train.batch_size = B;
    one->train.seq_len = T;
    rc = runs_data_open(out, one);
done:
    free(one);
    return rc;
}
