/* tools/export.c — safetensors and llm.c model files (see tools/export.h). */
#include "tools/export.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "manifests/canon.h"
#include "manifests/config.h"
#include "manifests/manifest.h"
#include "store/publish.h"
#include "store/store.h"

size_t runs_export_num_params(const gpt_config *c)
{
    size_t C = (size_t)c->n_embd, L = (size_t)c->n_layer;
    return (size_t)c->vocab_size * C + (size_t)c->block_size * C + L * (12 * C * C + 13 * C) + 2 * C;
}

int runs_export_tensor_table(gpt_tensor_info **out, int *count, const gpt_config *cfg)
{
    if (gpt_tensor_table(out, count, cfg))
        return runs_error_set(RUNS_EINVALID, "%s", gpt_last_error());
    return 0;
}

/* Writes path through the publish path (store/publish.h), so readers never see
 * half a file and a failure leaves the old one. */
static int write_parts(const char *path, const void *const *parts, const size_t *lens, int nparts)
{
    runs_publish *p = NULL;
    int rc = runs_publish_open(&p, path, 0644);
    if (rc)
        return rc;
    for (int i = 0; i < nparts && !rc; i++)
        rc = runs_publish_write(p, parts[i], lens[i]);
    if (rc) {
        runs_publish_abort(p);
        return rc;
    }
    return runs_publish_commit(p);
}

int runs_export_safetensors(const char *path, const runs_tensor *t, size_t n, const cJSON *metadata)
{
    int rc = 0;
    char *hdr_text = NULL;
    const void **parts = NULL;
    size_t *lens = NULL;
    cJSON *hdr = cJSON_CreateObject();
    if (!hdr)
        return runs_error_set(RUNS_ENOMEM, "safetensors: out of memory");
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i].ndim < 1 || t[i].ndim > 2) {
            rc = runs_error_set(RUNS_EINVALID, "safetensors: tensor %s has %d dimensions", t[i].name, t[i].ndim);
            goto done;
        }
        uint64_t numel = 1;
        for (int d = 0; d < t[i].ndim; d++)
            numel *= (uint64_t)t[i].shape[d];
        if (numel * 4 != t[i].bytes) {
            rc = runs_error_set(RUNS_EINVALID, "safetensors: tensor %s: shape says %llu bytes, data has %zu", t[i].name,
                                (unsigned long long)(numel * 4), t[i].bytes);
            goto done;
        }
        if (!strcmp(t[i].name, "__metadata__") || cJSON_GetObjectItemCaseSensitive(hdr, t[i].name)) {
            rc = runs_error_set(RUNS_EINVALID, "safetensors: tensor name \"%s\" is reserved or repeated", t[i].name);
            goto done;
        }
        cJSON *e = cJSON_AddObjectToObject(hdr, t[i].name);
        cJSON *shape = e ? cJSON_AddArrayToObject(e, "shape") : NULL;
        cJSON *offs = shape ? cJSON_AddArrayToObject(e, "data_offsets") : NULL;
        if (!offs || !cJSON_AddStringToObject(e, "dtype", "F32")) {
            rc = runs_error_set(RUNS_ENOMEM, "safetensors: out of memory");
            goto done;
        }
        for (int d = 0; d < t[i].ndim; d++)
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t[i].shape[d]));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(off + t[i].bytes)));
        off += t[i].bytes;
    }
    if (metadata && cJSON_GetArraySize(metadata) > 0) {
        cJSON *md = cJSON_AddObjectToObject(hdr, "__metadata__");
        const cJSON *it;
        cJSON_ArrayForEach (it, metadata) {
            if (cJSON_IsString(it)) {
                cJSON_AddStringToObject(md, it->string, it->valuestring);
            } else {
                char *s = runs_json_canonical(it);
                if (!s) {
                    rc = runs_error_code() ? runs_error_code() : RUNS_ENOMEM;
                    goto done;
                }
                cJSON_AddStringToObject(md, it->string, s);
                free(s);
            }
        }
    }
    hdr_text = runs_json_canonical(hdr);
    if (!hdr_text) {
        rc = runs_error_code() ? runs_error_code() : RUNS_ENOMEM;
        goto done;
    }
    size_t hl = strlen(hdr_text), padded = (hl + 7) / 8 * 8;
    char *grown = realloc(hdr_text, padded + 1);
    if (!grown) {
        rc = runs_error_set(RUNS_ENOMEM, "safetensors: out of memory");
        goto done;
    }
    hdr_text = grown;
    memset(hdr_text + hl, ' ', padded - hl);
    hdr_text[padded] = 0;
    unsigned char len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    parts = malloc((n + 2) * sizeof *parts);
    lens = malloc((n + 2) * sizeof *lens);
    if (!parts || !lens) {
        rc = runs_error_set(RUNS_ENOMEM, "safetensors: out of memory");
        goto done;
    }
    parts[0] = len8;
    lens[0] = 8;
    parts[1] = hdr_text;
    lens[1] = padded;
    for (size_t i = 0; i < n; i++) {
        parts[i + 2] = t[i].data;
        lens[i + 2] = t[i].bytes;
    }
    rc = write_parts(path, parts, lens, (int)(n + 2));
done:
    free(parts);
    free(lens);
    free(hdr_text);
    cJSON_Delete(hdr);
    return rc;
}

/* Sizes (floats) of llm.c's 16 parameter arrays. */
static void llmc_sizes(size_t sz[16], const gpt_config *c, size_t Vp)
{
    size_t C = (size_t)c->n_embd, L = (size_t)c->n_layer;
    size_t s[16] = {Vp * C,
                    (size_t)c->block_size * C,
                    L * C,
                    L * C,
                    L * 3 * C * C,
                    L * 3 * C,
                    L * C * C,
                    L * C,
                    L * C,
                    L * C,
                    L * 4 * C * C,
                    L * 4 * C,
                    L * 4 * C * C,
                    L * C,
                    C,
                    C};
    memcpy(sz, s, sizeof s);
}

/* For each of our per-layer tensors (index within a layer, 0..11) the llm.c array
 * it lives in (2..13, in the same order). */
static int convert(float *llmc, float *ours, const gpt_config *c, size_t Vp, int to_llmc)
{
    gpt_tensor_info *t = NULL;
    int nt = 0;
    size_t sz[16], base[16], acc = 0;
    llmc_sizes(sz, c, Vp);
    for (int i = 0; i < 16; i++) {
        base[i] = acc;
        acc += sz[i];
    }
    int rc = runs_export_tensor_table(&t, &nt, c);
    if (rc)
        return rc;
    size_t C = (size_t)c->n_embd, V = (size_t)c->vocab_size;
#define MOVE(dst_llmc, src_ours, count)                                                                                \
    do {                                                                                                               \
        if (to_llmc)                                                                                                   \
            memcpy(dst_llmc, src_ours, (count) * sizeof(float));                                                       \
        else                                                                                                           \
            memcpy(src_ours, dst_llmc, (count) * sizeof(float));                                                       \
    } while (0)
    MOVE(llmc + base[0], ours + t[0].offset, V * C); /* wte; the Vp-V padding rows stay as they are */
    MOVE(llmc + base[1], ours + t[1].offset, t[1].numel);
    for (int l = 0; l < c->n_layer; l++)
        for (int k = 0; k < 12; k++) {
            const gpt_tensor_info *e = &t[2 + 12 * l + k];
            MOVE(llmc + base[2 + k] + (size_t)l * e->numel, ours + e->offset, e->numel);
        }
    MOVE(llmc + base[14], ours + t[nt - 2].offset, C);
    MOVE(llmc + base[15], ours + t[nt - 1].offset, C);
#undef MOVE
    free(t);
    return 0;
}

static size_t padded_vocab(int V)
{
    return ((size_t)V + 127) / 128 * 128;
}

int runs_export_llmc(const char *path, const gpt_config *cfg, const float *weights)
{
    size_t Vp = padded_vocab(cfg->vocab_size), sz[16], total = 0;
    llmc_sizes(sz, cfg, Vp);
    for (int i = 0; i < 16; i++)
        total += sz[i];
    float *buf = calloc(total, sizeof(float)); /* zero: the padded vocabulary rows */
    if (!buf)
        return runs_error_set(RUNS_ENOMEM, "llm.c export: out of memory for %zu floats", total);
    int rc = convert(buf, (float *)weights, cfg, Vp, 1);
    if (rc) {
        free(buf);
        return rc;
    }
    int32_t hdr[256] = {0};
    hdr[0] = RUNS_LLMC_MAGIC;
    hdr[1] = RUNS_LLMC_VERSION_FP32;
    hdr[2] = cfg->block_size;
    hdr[3] = cfg->vocab_size;
    hdr[4] = cfg->n_layer;
    hdr[5] = cfg->n_head;
    hdr[6] = cfg->n_embd;
    hdr[7] = (int32_t)Vp;
    const void *parts[2] = {hdr, buf};
    size_t lens[2] = {sizeof hdr, total * sizeof(float)};
    rc = write_parts(path, parts, lens, 2);
    free(buf);
    return rc;
}

int runs_import_llmc(gpt_config *cfg, float **weights, size_t *n, const char *path)
{
    int rc = 0;
    float *buf = NULL, *ours = NULL;
    *weights = NULL;
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return runs_error_sys(errno == ENOENT ? RUNS_ENOTFOUND : RUNS_EIO, "open", path);
    int32_t h[256];
    if (fread(h, sizeof(int32_t), 256, f) != 256) {
        rc = runs_error_set(RUNS_EINVALID, "%s: shorter than llm.c's 1024-byte header", path);
        goto done;
    }
    if (h[0] != RUNS_LLMC_MAGIC) {
        rc = runs_error_set(RUNS_EINVALID, "%s: not an llm.c model file (magic %d, want %d)", path, h[0],
                            RUNS_LLMC_MAGIC);
        goto done;
    }
    if (h[1] != RUNS_LLMC_VERSION_FP32) {
        rc = runs_error_set(RUNS_EINVALID, "%s: llm.c model version %d is not supported (want %d, fp32%s)", path, h[1],
                            RUNS_LLMC_VERSION_FP32, h[1] == 5 ? "; version 5 is bf16" : "");
        goto done;
    }
    gpt_config c = {.block_size = h[2], .vocab_size = h[3], .n_layer = h[4], .n_head = h[5], .n_embd = h[6]};
    long long Vp = h[7];
    if (c.block_size <= 0 || c.vocab_size <= 0 || c.n_layer <= 0 || c.n_head <= 0 || c.n_embd <= 0 ||
        Vp < c.vocab_size || c.n_embd % c.n_head || c.vocab_size > 65536 || c.n_layer > 4096 || c.n_embd > 65536 ||
        c.block_size > (1 << 20) || Vp > (1 << 22)) {
        rc = runs_error_set(RUNS_EINVALID,
                            "%s: header describes no model we can build (maxT %d, V %d, L %d, NH %d, C %d, Vp %lld)",
                            path, c.block_size, c.vocab_size, c.n_layer, c.n_head, c.n_embd, Vp);
        goto done;
    }
    size_t sz[16], total = 0;
    llmc_sizes(sz, &c, (size_t)Vp);
    for (int i = 0; i < 16; i++)
        total += sz[i];
    if (fseek(f, 0, SEEK_END)) {
        rc = runs_error_sys(RUNS_EIO, "seek", path);
        goto done;
    }
    long size = ftell(f);
    if (size < 0 || (unsigned long long)size != 1024ull + total * 4ull) {
        rc = runs_error_set(RUNS_EINVALID, "%s: %ld bytes, but its header describes %llu (1024 + %zu floats)", path,
                            size, 1024ull + total * 4ull, total);
        goto done;
    }
    fseek(f, 1024, SEEK_SET);
    size_t np = runs_export_num_params(&c);
    buf = malloc(total * sizeof(float));
    ours = malloc(np * sizeof(float));
    if (!buf || !ours) {
        rc = runs_error_set(RUNS_ENOMEM, "llm.c import: out of memory for %zu floats", total + np);
        goto done;
    }
    if (fread(buf, sizeof(float), total, f) != total) {
        rc = runs_error_sys(RUNS_EIO, "read", path);
        goto done;
    }
    if ((rc = convert(buf, ours, &c, (size_t)Vp, 0)))
        goto done;
    *cfg = c;
    *weights = ours;
    *n = np;
    ours = NULL;
done:
    free(buf);
    free(ours);
    fclose(f);
    return rc;
}

/* The imported config: the given one (or the defaults) with the model section from the
 * header; a config that says otherwise about the model is refused rather than silently
 * overridden. *out is the caller's (cJSON_Delete). */
static int import_config(cJSON **out, const gpt_config *gc, const char *path, const char *config_path)
{
    cJSON *config = NULL;
    runs_config cfg;
    int rc = 0;
    if (config_path) {
        if ((rc = runs_config_load(&cfg, &config, config_path)))
            goto done;
    } else if (!(config = runs_config_default_json())) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory building the default config for %s", path);
        goto done;
    }
    cJSON *model = cJSON_GetObjectItemCaseSensitive(config, "model");
    if (!model && !(model = cJSON_AddObjectToObject(config, "model"))) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory building the config for %s", path);
        goto done;
    }
    const char *keys[5] = {"n_layer", "n_head", "n_embd", "vocab_size", "block_size"};
    int vals[5] = {gc->n_layer, gc->n_head, gc->n_embd, gc->vocab_size, gc->block_size};
    for (int i = 0; i < 5; i++) {
        const cJSON *cur = cJSON_GetObjectItemCaseSensitive(model, keys[i]);
        if (config_path && cJSON_IsNumber(cur) && (int)cur->valuedouble != vals[i]) {
            rc = runs_error_set(RUNS_EINVALID, "%s: model.%s is %d but %s says %d; drop the key or fix it", config_path,
                                keys[i], (int)cur->valuedouble, path, vals[i]);
            goto done;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(model, keys[i]);
        cJSON_AddNumberToObject(model, keys[i], vals[i]);
    }
    /* The default sequence length may not fit a small imported model. */
    cJSON *train = cJSON_GetObjectItemCaseSensitive(config, "train");
    const cJSON *sl = cJSON_GetObjectItemCaseSensitive(train, "seq_len");
    if (train && cJSON_IsNumber(sl) && sl->valuedouble > gc->block_size) {
        cJSON_DeleteItemFromObjectCaseSensitive(train, "seq_len");
        cJSON_AddNumberToObject(train, "seq_len", gc->block_size);
    }
    /* Likewise sampling.top_k for a vocabulary smaller than the default k. */
    cJSON *samp = cJSON_GetObjectItemCaseSensitive(config, "sampling");
    const cJSON *tk = cJSON_GetObjectItemCaseSensitive(samp, "top_k");
    if (samp && cJSON_IsNumber(tk) && tk->valuedouble > gc->vocab_size) {
        cJSON_DeleteItemFromObjectCaseSensitive(samp, "top_k");
        cJSON_AddNumberToObject(samp, "top_k", gc->vocab_size);
    }
    if ((rc = runs_config_from_json(&cfg, config, path)))
        goto done;
    *out = config;
    config = NULL;
done:
    cJSON_Delete(config);
    return rc;
}

int runs_import_node(char out_id[41], gpt_config *cfg, size_t *n_weights, runs_store *s, const char *run,
                     const char *path, const char *config_path)
{
    float *w = NULL, *zeros = NULL;
    size_t n = 0;
    gpt_tensor_info *table = NULL;
    runs_tensor *ts = NULL;
    int nt = 0, rc;
    cJSON *config = NULL, *man = NULL;
    char tip[41];
    if ((rc = runs_name_check(run, "run")))
        goto done;
    if (runs_run_tip(tip, s, run) == 0) {
        rc = runs_error_set(RUNS_EEXISTS, "run %s already exists; pick another --run name", run);
        goto done;
    }
    runs_error_clear();
    if ((rc = runs_import_llmc(cfg, &w, &n, path)))
        goto done;
    if ((rc = import_config(&config, cfg, path, config_path)))
        goto done;
    if ((rc = runs_export_tensor_table(&table, &nt, cfg)))
        goto done;
    zeros = calloc(n, sizeof *zeros);
    ts = calloc((size_t)nt * RUNS_GROUP_COUNT, sizeof *ts);
    man = cJSON_CreateObject();
    if (!zeros || !ts || !man) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory importing %s", path);
        goto done;
    }
    for (int g = 0; g < RUNS_GROUP_COUNT; g++)
        for (int i = 0; i < nt; i++) {
            runs_tensor *t = &ts[g * nt + i];
            t->name = table[i].name;
            t->group = runs_manifest_groups[g];
            t->ndim = table[i].ndim;
            t->shape[0] = table[i].shape[0];
            t->shape[1] = table[i].shape[1];
            t->data = (g == 0 ? w : zeros) + table[i].offset;
            t->bytes = table[i].numel * sizeof(float);
        }
    char note[600];
    snprintf(note, sizeof note, "imported from llm.c model file %s", path);
    /* kind "import": a root like "start", but its weights came from elsewhere, which
     * `runs show`/`log` should say rather than pass it off as a fresh initialisation */
    cJSON_AddStringToObject(man, "schema", RUNS_MANIFEST_SCHEMA);
    cJSON_AddStringToObject(man, "kind", RUNS_KIND_IMPORT);
    cJSON_AddStringToObject(man, "run", run);
    cJSON_AddNumberToObject(man, "step", 0);
    cJSON_AddNumberToObject(man, "tokens", 0);
    cJSON_AddNullToObject(man, "parent");
    cJSON_AddItemToObject(man, "config", config);
    config = NULL;
    cJSON_AddStringToObject(man, "note", note);
    if ((rc = runs_node_commit(out_id, s, man, ts, (size_t)nt * RUNS_GROUP_COUNT)))
        goto done;
    /* a new run becomes the current one, as with start (`runs switch` goes back) */
    if ((rc = runs_head_set(s, run)))
        goto done;
    *n_weights = n;
done:
    free(w);
    free(zeros);
    free(ts);
    free(table);
    cJSON_Delete(config);
    cJSON_Delete(man);
    return rc;
}
