/* manifests/manifest.c — manifest validation. Messages use "manifest.<path>"
 * so a user reading `runs verify` output can find the field. */
#include "manifests/manifest.h"
#include "manifests/canon.h"
#include "manifests/suggest.h"
#include "common/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SAFE 9007199254740992.0 /* 2^53: beyond this doubles skip integers */

static const char *const top_keys[] = {
    "schema",       "kind",    "run",  "step",    "tokens",    "batch_tokens", "parent",   "config",  "tensors",
    "optimizer",    "rng",     "data", "bandit",  "loss_log",  "samples_log",  "archived", "metrics", "backend",
    "code_version", "created", "note", "changes", "sharpness", "data_files",   "eval_log", "shards"};
static const char *const kinds[] = {RUNS_KIND_START, "checkpoint", "fork",          "restart",
                                    "stage",         "halt",       RUNS_KIND_IMPORT};
static const char *const tensor_keys[] = {"name", "group", "dtype", "shape", "bytes", "sha256"};
const char *const runs_manifest_groups[RUNS_GROUP_COUNT] = {RUNS_GROUP_WEIGHTS, RUNS_GROUP_ADAM_M, RUNS_GROUP_ADAM_V};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

int runs_is_hex(const char *s, size_t n)
{
    if (!s || strlen(s) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

int runs_name_check(const char *name, const char *what)
{
    if (!name || !*name)
        return runs_error_set(RUNS_EINVALID, "%s name is empty; use letters, digits, '.', '_', '-'", what);
    size_t len = strlen(name);
    if (len > 63)
        return runs_error_set(RUNS_EINVALID, "%s name '%.20s…' is %zu characters; at most 63", what, name, len);
    /* '-' first would read as an option wherever the name is given back to `runs` */
    if (name[0] == '.' || name[0] == '-')
        return runs_error_set(RUNS_EINVALID, "%s name '%s' starts with '%c'; start with a letter or digit", what, name,
                              name[0]);
    for (const char *p = name; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return runs_error_set(RUNS_EINVALID, "%s name '%s' has '%c'; use only letters, digits, '.', '_', '-'", what,
                                  name, c);
    }
    if (strstr(name, "..") || (len >= 5 && !strcmp(name + len - 5, ".lock")) || !strcmp(name, "HEAD"))
        return runs_error_set(RUNS_EINVALID, "%s name '%s' is reserved by git (no '..', no '.lock' ending, not HEAD)",
                              what, name);
    if (!strncmp(name, "step_", 5)) {
        const char *p = name + 5;
        while (*p >= '0' && *p <= '9')
            p++;
        if (*p == '\0' && p > name + 5)
            return runs_error_set(RUNS_EINVALID, "%s name '%s' looks like a node name (step_N); choose another", what,
                                  name);
    }
    return 0;
}

static int bad(const char *path, const char *expected, const cJSON *got)
{
    char g[96];
    return runs_error_set(RUNS_EINVALID, "manifest.%s: expected %s, got %s", path, expected,
                          runs_json_describe(g, sizeof g, got));
}

static int is_count(const cJSON *v)
{
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble == floor(v->valuedouble) &&
           v->valuedouble >= 0 && v->valuedouble <= MAX_SAFE;
}

static int in_set(const char *s, const char *const *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, set[i]) == 0)
            return 1;
    return 0;
}

static int set_expect(char *buf, size_t n, const char *const *set, size_t count)
{
    size_t used = 0;
    for (size_t i = 0; i < count && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s\"%s\"", i == 0 ? "one of " : ", ", set[i]);
    return 0;
}

static int check_tensor(const cJSON *t, int i)
{
    char path[96], sub[128], g[96];
    snprintf(path, sizeof path, "tensors[%d]", i);
    if (!cJSON_IsObject(t))
        return bad(path, "an object {name, group, dtype, shape, bytes, sha256}", t);
    for (const cJSON *k = t->child; k; k = k->next) {
        if (!in_set(k->string, tensor_keys, COUNT(tensor_keys))) {
            char hint[200];
            return runs_error_set(RUNS_EINVALID, "manifest.%s.%s: unknown key%s", path, k->string,
                                  runs_suggest_hint(hint, sizeof hint, k->string, tensor_keys, COUNT(tensor_keys)));
        }
    }
    for (size_t j = 0; j < COUNT(tensor_keys); j++)
        if (!cJSON_GetObjectItemCaseSensitive(t, tensor_keys[j]))
            return runs_error_set(RUNS_EINVALID,
                                  "manifest.%s.%s: missing (every tensor needs name, group, dtype, "
                                  "shape, bytes, sha256)",
                                  path, tensor_keys[j]);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(t, "name");
    if (!cJSON_IsString(name) || !name->valuestring[0]) {
        snprintf(sub, sizeof sub, "%s.name", path);
        return bad(sub, "a non-empty string", name);
    }
    const cJSON *group = cJSON_GetObjectItemCaseSensitive(t, "group");
    if (!cJSON_IsString(group) || !in_set(group->valuestring, runs_manifest_groups, RUNS_GROUP_COUNT)) {
        char e[96];
        set_expect(e, sizeof e, runs_manifest_groups, RUNS_GROUP_COUNT);
        snprintf(sub, sizeof sub, "%s.group", path);
        return bad(sub, e, group);
    }
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(t, "dtype");
    if (!cJSON_IsString(dtype) || strcmp(dtype->valuestring, "f32") != 0) {
        snprintf(sub, sizeof sub, "%s.dtype", path);
        return bad(sub, "\"f32\"", dtype);
    }
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(t, "shape");
    if (!cJSON_IsArray(shape)) {
        snprintf(sub, sizeof sub, "%s.shape", path);
        return bad(sub, "an array of non-negative integers", shape);
    }
    double elems = 1;
    int d = 0;
    for (const cJSON *x = shape->child; x; x = x->next, d++) {
        if (!is_count(x)) {
            snprintf(sub, sizeof sub, "%s.shape[%d]", path, d);
            return bad(sub, "a non-negative integer", x);
        }
        elems *= x->valuedouble;
    }
    const cJSON *bytes = cJSON_GetObjectItemCaseSensitive(t, "bytes");
    if (!is_count(bytes)) {
        snprintf(sub, sizeof sub, "%s.bytes", path);
        return bad(sub, "a non-negative integer", bytes);
    }
    if (bytes->valuedouble != 4 * elems) {
        char *sh = runs_json_canonical(shape);
        int rc = runs_error_set(RUNS_EINVALID, "manifest.%s.bytes: expected %.0f (4 bytes x shape %s), got %s", path,
                                4 * elems, sh ? sh : "?", runs_json_describe(g, sizeof g, bytes));
        free(sh);
        return rc;
    }
    const cJSON *sha = cJSON_GetObjectItemCaseSensitive(t, "sha256");
    if (!cJSON_IsString(sha) || !runs_is_hex(sha->valuestring, 64)) {
        snprintf(sub, sizeof sub, "%s.sha256", path);
        return bad(sub, "64 lowercase hex digits", sha);
    }
    return 0;
}

/* A tensor's (name, group) and its position, for the uniqueness check. */
typedef struct {
    const char *name, *group;
    int index;
} tensor_key;

static int by_key(const void *a, const void *b)
{
    const tensor_key *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c == 0)
        c = strcmp(x->group, y->group);
    return c != 0 ? c : (x->index > y->index) - (x->index < y->index);
}

/* (name, group) must be unique: restore writes one file per pair. Sorted rather than
 * compared pairwise, so a 444-tensor manifest costs microseconds, not milliseconds.
 * The tensors were checked by check_tensor. */
static int check_unique(const cJSON *tensors, int n)
{
    if (n < 2)
        return 0;
    tensor_key *k = malloc((size_t)n * sizeof *k);
    if (!k)
        return runs_error_set(RUNS_ENOMEM, "out of memory checking %d tensors", n);
    int i = 0, rc = 0;
    for (const cJSON *t = tensors->child; t; t = t->next, i++) {
        k[i].name = cJSON_GetObjectItemCaseSensitive(t, "name")->valuestring;
        k[i].group = cJSON_GetObjectItemCaseSensitive(t, "group")->valuestring;
        k[i].index = i;
    }
    qsort(k, (size_t)n, sizeof *k, by_key);
    /* report the later entry against the first one, as a reader scanning the file would */
    int dup = -1, first = -1;
    for (i = 1; i < n; i++)
        if (strcmp(k[i].name, k[i - 1].name) == 0 && strcmp(k[i].group, k[i - 1].group) == 0) {
            int f = i - 1;
            while (f > 0 && strcmp(k[f - 1].name, k[i].name) == 0 && strcmp(k[f - 1].group, k[i].group) == 0)
                f--;
            if (dup < 0 || k[i].index < dup) {
                dup = k[i].index;
                first = k[f].index;
            }
        }
    if (dup >= 0) {
        const cJSON *t = cJSON_GetArrayItem(tensors, dup);
        rc = runs_error_set(RUNS_EINVALID, "manifest.tensors[%d]: duplicate of tensors[%d] (%s in %s)", dup, first,
                            cJSON_GetObjectItemCaseSensitive(t, "name")->valuestring,
                            cJSON_GetObjectItemCaseSensitive(t, "group")->valuestring);
    }
    free(k);
    return rc;
}

int runs_manifest_validate(const cJSON *m)
{
    char e[160];
    if (!cJSON_IsObject(m)) {
        char g[96];
        return runs_error_set(RUNS_EINVALID, "manifest: expected an object, got %s",
                              runs_json_describe(g, sizeof g, m));
    }
    for (const cJSON *k = m->child; k; k = k->next) {
        if (!in_set(k->string, top_keys, COUNT(top_keys))) {
            char hint[400];
            return runs_error_set(RUNS_EINVALID, "manifest.%s: unknown key%s", k->string,
                                  runs_suggest_hint(hint, sizeof hint, k->string, top_keys, COUNT(top_keys)));
        }
    }
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(m, "schema");
    if (!cJSON_IsString(schema) || strcmp(schema->valuestring, RUNS_MANIFEST_SCHEMA) != 0)
        return bad("schema", "\"" RUNS_MANIFEST_SCHEMA "\"", schema);

    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(m, "kind");
    if (!cJSON_IsString(kind) || !in_set(kind->valuestring, kinds, COUNT(kinds))) {
        set_expect(e, sizeof e, kinds, COUNT(kinds));
        return bad("kind", e, kind);
    }
    const cJSON *run = cJSON_GetObjectItemCaseSensitive(m, "run");
    if (!cJSON_IsString(run) || runs_name_check(run->valuestring, "run") != 0)
        return bad("run", "a run name of letters, digits, '.', '_' or '-' (under 64 bytes, not starting with '.')",
                   run);
    const cJSON *step = cJSON_GetObjectItemCaseSensitive(m, "step");
    if (!is_count(step))
        return bad("step", "a non-negative integer", step);
    const cJSON *tokens = cJSON_GetObjectItemCaseSensitive(m, "tokens");
    if (!is_count(tokens))
        return bad("tokens", "a non-negative integer", tokens);
    /* optional: nodes written before gradient accumulation do not carry it */
    const cJSON *batch_tokens = cJSON_GetObjectItemCaseSensitive(m, "batch_tokens");
    if (batch_tokens && !is_count(batch_tokens))
        return bad("batch_tokens", "a non-negative integer", batch_tokens);
    /* optional: which rank of a data-parallel job wrote each tensors[] object; the
     * checkpoint itself is the tensors array, whoever wrote it */
    const cJSON *shards = cJSON_GetObjectItemCaseSensitive(m, "shards");
    if (shards) {
        const cJSON *nr = cJSON_GetObjectItemCaseSensitive(shards, "ranks");
        const cJSON *rk = cJSON_GetObjectItemCaseSensitive(shards, "rank");
        const cJSON *tv = cJSON_GetObjectItemCaseSensitive(m, "tensors");
        if (!cJSON_IsObject(shards) || !is_count(nr) || nr->valuedouble < 1)
            return bad("shards", "an object {\"ranks\": N >= 1, \"rank\": [...]}", shards);
        if (!cJSON_IsArray(rk) || (cJSON_IsArray(tv) && cJSON_GetArraySize(rk) != cJSON_GetArraySize(tv)))
            return bad("shards.rank", "an array with one rank per tensors entry", rk);
        const cJSON *r;
        cJSON_ArrayForEach (r, rk) {
            if (!is_count(r) || r->valuedouble >= nr->valuedouble)
                return bad("shards.rank", "ranks from 0 to shards.ranks - 1", r);
        }
    }

    int rootish = strcmp(kind->valuestring, RUNS_KIND_START) == 0 || strcmp(kind->valuestring, RUNS_KIND_IMPORT) == 0;
    const cJSON *parent = cJSON_GetObjectItemCaseSensitive(m, "parent");
    if (rootish) {
        if (parent && !cJSON_IsNull(parent) && !(cJSON_IsString(parent) && runs_is_hex(parent->valuestring, 40)))
            return bad("parent", "null or a 40-hex commit id", parent);
    } else if (!cJSON_IsString(parent) || !runs_is_hex(parent->valuestring, 40)) {
        snprintf(e, sizeof e, "a 40-hex commit id (a \"%s\" node has a parent)", kind->valuestring);
        return bad("parent", e, parent);
    }

    const cJSON *config = cJSON_GetObjectItemCaseSensitive(m, "config");
    if (!cJSON_IsObject(config))
        return bad("config", "an object (the full effective config)", config);

    const cJSON *tensors = cJSON_GetObjectItemCaseSensitive(m, "tensors");
    if (!cJSON_IsArray(tensors))
        return bad("tensors", "an array", tensors);
    int i = 0;
    for (const cJSON *t = tensors->child; t; t = t->next, i++) {
        int rc = check_tensor(t, i);
        if (rc)
            return rc;
    }
    int rc = check_unique(tensors, i);
    if (rc)
        return rc;

    static const char *const objects[] = {"optimizer", "rng", "data", "bandit", "metrics", "changes", "sharpness"};
    for (size_t o = 0; o < COUNT(objects); o++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, objects[o]);
        if (v && !cJSON_IsObject(v))
            return bad(objects[o], "an object", v);
    }
    static const char *const strings[] = {"backend", "code_version", "created", "note"};
    for (size_t s = 0; s < COUNT(strings); s++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, strings[s]);
        if (v && !cJSON_IsString(v))
            return bad(strings[s], "a string", v);
    }
    static const char *const logs[] = {"loss_log", "samples_log"};
    for (size_t l = 0; l < COUNT(logs); l++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, logs[l]);
        if (v && !cJSON_IsNull(v) && !(cJSON_IsString(v) && runs_is_hex(v->valuestring, 64)))
            return bad(logs[l], "null or a 64-hex object id", v);
    }
    /* eval_log: [{"step", "val_loss", "tokens"}], the held-out evals since the parent
     * (runner/eval.h), inline; val_loss null where the loss was not finite */
    const cJSON *el = cJSON_GetObjectItemCaseSensitive(m, "eval_log");
    if (el && !cJSON_IsNull(el)) {
        if (!cJSON_IsArray(el))
            return bad("eval_log", "an array of {step, val_loss, tokens}", el);
        int k = 0;
        for (const cJSON *r = el->child; r; r = r->next, k++) {
            char p[64];
            const cJSON *rv = cJSON_GetObjectItemCaseSensitive(r, "val_loss");
            snprintf(p, sizeof p, "eval_log[%d]", k);
            if (!cJSON_IsObject(r))
                return bad(p, "an object {step, val_loss, tokens}", r);
            snprintf(p, sizeof p, "eval_log[%d].step", k);
            if (!is_count(cJSON_GetObjectItemCaseSensitive(r, "step")))
                return bad(p, "a non-negative integer", cJSON_GetObjectItemCaseSensitive(r, "step"));
            snprintf(p, sizeof p, "eval_log[%d].tokens", k);
            if (!is_count(cJSON_GetObjectItemCaseSensitive(r, "tokens")))
                return bad(p, "a non-negative integer", cJSON_GetObjectItemCaseSensitive(r, "tokens"));
            snprintf(p, sizeof p, "eval_log[%d].val_loss", k);
            if (!cJSON_IsNull(rv) && !(cJSON_IsNumber(rv) && isfinite(rv->valuedouble)))
                return bad(p, "a finite number or null", rv);
        }
    }
    /* data_files: [{"path", "bytes", "sha256"}], the data the node was trained on
     * (runner/provenance.h); entries are read by name, so extra keys are allowed */
    const cJSON *df = cJSON_GetObjectItemCaseSensitive(m, "data_files");
    if (df) {
        if (!cJSON_IsArray(df))
            return bad("data_files", "an array of {path, bytes, sha256}", df);
        int k = 0;
        for (const cJSON *f = df->child; f; f = f->next, k++) {
            char p[64];
            const cJSON *fp = cJSON_GetObjectItemCaseSensitive(f, "path");
            const cJSON *fb = cJSON_GetObjectItemCaseSensitive(f, "bytes");
            const cJSON *fs = cJSON_GetObjectItemCaseSensitive(f, "sha256");
            snprintf(p, sizeof p, "data_files[%d]", k);
            if (!cJSON_IsObject(f))
                return bad(p, "an object {path, bytes, sha256}", f);
            snprintf(p, sizeof p, "data_files[%d].path", k);
            if (!cJSON_IsString(fp) || !fp->valuestring[0])
                return bad(p, "a non-empty string", fp);
            snprintf(p, sizeof p, "data_files[%d].bytes", k);
            if (!is_count(fb))
                return bad(p, "a non-negative integer", fb);
            snprintf(p, sizeof p, "data_files[%d].sha256", k);
            if (!cJSON_IsString(fs) || !runs_is_hex(fs->valuestring, 64))
                return bad(p, "64 lowercase hex digits", fs);
        }
    }
    const cJSON *arch = cJSON_GetObjectItemCaseSensitive(m, "archived");
    if (arch) {
        if (!cJSON_IsObject(arch))
            return bad("archived", "an object of name -> 64-hex object id", arch);
        for (const cJSON *a = arch->child; a; a = a->next) {
            if (!cJSON_IsString(a) || !runs_is_hex(a->valuestring, 64)) {
                char p[160];
                snprintf(p, sizeof p, "archived.%s", a->string);
                return bad(p, "a 64-hex object id", a);
            }
        }
    }
    return 0;
}
