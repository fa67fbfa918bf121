/* tests/unit/store_test_util.h — helpers shared by the test_store_*.c tests:
 * a scratch store, hand-written manifests, deterministic synthetic tensors. */
#ifndef RUNS_TESTS_STORE_TEST_UTIL_H
#define RUNS_TESTS_STORE_TEST_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cJSON.h>

#include "common/error.h"
#include "store/gc.h"
#include "store/lineage.h"
#include "store/object.h"
#include "store/sha256.h"
#include "store/store.h"
#include "store/verify.h"

typedef struct {
    char dir[256];
    runs_store *s;
} scratch;

static inline void scratch_open(scratch *x)
{
    snprintf(x->dir, sizeof x->dir, "%s/runs-unit-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(x->dir))
        abort();
    if (runs_store_init(x->dir) != 0 || runs_store_open(&x->s, x->dir) != 0) {
        fprintf(stderr, "scratch store: %s\n", runs_error_message());
        abort();
    }
}

static inline void scratch_close(scratch *x)
{
    char cmd[512];
    runs_store_free(x->s);
    x->s = NULL;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", x->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", x->dir);
}

/* A manifest with the fields the trainer fills; parent NULL = root. */
static inline cJSON *make_manifest(const char *kind, const char *run, long step, const char *parent)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "schema", "runs.manifest/1");
    cJSON_AddStringToObject(m, "kind", kind);
    cJSON_AddStringToObject(m, "run", run);
    cJSON_AddNumberToObject(m, "step", (double)step);
    cJSON_AddNumberToObject(m, "tokens", (double)step * 1024);
    if (parent)
        cJSON_AddStringToObject(m, "parent", parent);
    else
        cJSON_AddNullToObject(m, "parent");
    cJSON *cfg = cJSON_AddObjectToObject(m, "config");
    cJSON *opt = cJSON_AddObjectToObject(cfg, "optimizer");
    cJSON_AddNumberToObject(opt, "lr", 4e-4);
    cJSON *o = cJSON_AddObjectToObject(m, "optimizer");
    cJSON_AddNumberToObject(o, "adam_step", (double)step);
    cJSON *met = cJSON_AddObjectToObject(m, "metrics");
    cJSON_AddNumberToObject(met, "loss", 5.0 - step * 0.001);
    cJSON_AddNullToObject(m, "loss_log");
    cJSON_AddStringToObject(m, "backend", "cpu");
    cJSON_AddStringToObject(m, "created", "2026-01-01T00:00:00Z");
    return m;
}

/* Deterministic floats for (seed, i). */
static inline void fill(float *p, size_t n, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 12345u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (float)(x & 0xffff) / 65536.0f - 0.5f;
    }
}

/* Three groups x two tensors, data derived from seed; buffers owned by the caller
 * (buf must hold 3 * (64 + 32) floats). */
static inline void make_tensors(runs_tensor t[6], float *buf, uint32_t seed)
{
    static const char *groups[] = {"weights", "adam_m", "adam_v"};
    static const char *names[] = {"h.0.attn.c_attn.w", "h.0.ln_1.b"};
    size_t off = 0;
    for (int g = 0; g < 3; g++)
        for (int k = 0; k < 2; k++) {
            runs_tensor *x = &t[g * 2 + k];
            size_t elems = k == 0 ? 64 : 32;
            fill(buf + off, elems, seed * 10 + (uint32_t)(g * 2 + k));
            x->name = names[k];
            x->group = groups[g];
            x->ndim = k == 0 ? 2 : 1;
            x->shape[0] = k == 0 ? 8 : 32;
            x->shape[1] = k == 0 ? 8 : 0;
            x->data = buf + off;
            x->bytes = elems * 4;
            off += elems;
        }
}

/* Commits a synthetic node; returns 0 and its id. */
static inline int commit_node(char id[41], runs_store *s, const char *kind, const char *run, long step,
                              const char *parent, uint32_t seed)
{
    runs_tensor t[6];
    float buf[3 * 96];
    make_tensors(t, buf, seed);
    cJSON *m = make_manifest(kind, run, step, parent);
    int rc = runs_node_commit(id, s, m, t, 6);
    cJSON_Delete(m);
    return rc;
}

/* Flips one byte of object hex (objects are 0444: chmod first). */
static inline void flip_byte(runs_store *s, const char *hex, long off)
{
    char p[512];
    snprintf(p, sizeof p, "%s/objects/%.2s/%s", runs_store_dir(s), hex, hex + 2);
    chmod(p, 0644);
    FILE *f = fopen(p, "r+b");
    if (!f)
        abort();
    fseek(f, off, SEEK_SET);
    int c = fgetc(f);
    fseek(f, off, SEEK_SET);
    fputc(c ^ 0x40, f);
    fclose(f);
    chmod(p, 0444);
}

#endif
