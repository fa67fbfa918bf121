/* manifests/config.c — config defaults, validation and JSON <-> struct.
 *
 * Table-driven: each section lists its keys with type, range and place in
 * runs_config, so unknown-key suggestions, type/range messages, defaults and
 * runs_config_to_json all come from the one table and cannot drift apart.
 * A file is merged onto the defaults with RFC 7396, then the merged tree is
 * checked key by key; a key removed by a null keeps its default.
 */
#include "manifests/config.h"
#include "manifests/canon.h"
#include "manifests/merge_patch.h"
#include "manifests/suggest.h"
#include "common/error.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SAFE 9007199254740992.0 /* 2^53 */
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

typedef enum { F_INT, F_LONG, F_U64, F_DOUBLE, F_STRING, F_ENUM, F_NAMES, F_PROMPTS, F_SOURCES } ftype;

typedef struct {
    const char *key;
    ftype type;
    size_t off;                 /* into runs_config */
    size_t size;                /* F_STRING/F_ENUM: buffer size */
    double lo, hi;              /* numeric range */
    int lo_open, hi_open;       /* exclusive bounds */
    const char *const *choices; /* F_ENUM, NULL-terminated */
    size_t count_off;           /* F_NAMES/F_PROMPTS: int count in runs_config */
    double cap;                 /* F_DOUBLE open at the top: the largest sane value (0: none) */
} field;

typedef struct {
    const char *name;
    const field *fields;
    size_t n;
    int schedule_only; /* checked by runs_config_load_schedule_only */
} section;

static const char *const backends[] = {"cpu", "cuda", "auto", NULL};
static const char *const schedule_types[] = {"constant", "cosine", "linear", "wsd", "wso", "exp", NULL};
static const char *const stage_types[] = {"constant", "linear", NULL};
static const char *const bandit_types[] = {"ucb1", NULL};

#define OFF(path) offsetof(runs_config, path)
#define INT(sec, k, lo, hi)                                                                                            \
    {                                                                                                                  \
#k, F_INT, OFF(sec.k), 0, lo, hi, 0, 0, NULL, 0, 0                                                             \
    }
#define LONG(sec, k, lo, hi)                                                                                           \
    {                                                                                                                  \
#k, F_LONG, OFF(sec.k), 0, lo, hi, 0, 0, NULL, 0, 0                                                            \
    }
#define U64(sec, k)                                                                                                    \
    {                                                                                                                  \
#k, F_U64, OFF(sec.k), 0, 0, MAX_SAFE, 0, 0, NULL, 0, 0                                                        \
    }
#define DBL(sec, k, lo, hi, lo_open, hi_open)                                                                          \
    {                                                                                                                  \
#k, F_DOUBLE, OFF(sec.k), 0, lo, hi, lo_open, hi_open, NULL, 0, 0                                              \
    }
/* A number bounded below whose top is only a sanity cap: 1e308 as a learning rate
 * is a typo that would otherwise pass validation and poison the run with inf/NaN. */
#define DBLCAP(sec, k, lo, lo_open, cap)                                                                               \
    {                                                                                                                  \
#k, F_DOUBLE, OFF(sec.k), 0, lo, INFINITY, lo_open, 0, NULL, 0, cap                                            \
    }
#define STR(sec, k)                                                                                                    \
    {                                                                                                                  \
#k, F_STRING, OFF(sec.k), sizeof(((runs_config *)0)->sec.k), 0, 0, 0, 0, NULL, 0, 0                            \
    }
#define ENUM(sec, k, set)                                                                                              \
    {                                                                                                                  \
#k, F_ENUM, OFF(sec.k), sizeof(((runs_config *)0)->sec.k), 0, 0, 0, 0, set, 0, 0                               \
    }
#define LIST(sec, k, t, cnt)                                                                                           \
    {                                                                                                                  \
#k, t, OFF(sec.k), sizeof(((runs_config *)0)->sec.k[0]), 0, 0, 0, 0, NULL, OFF(sec.cnt), 0                     \
    }

static const field model_fields[] = {
    INT(model, n_layer, 1, 1024),       INT(model, n_head, 1, 1024),
    INT(model, n_embd, 1, 65536),       INT(model, vocab_size, 2, 65536), /* tokens are uint16 */
    INT(model, block_size, 1, 1 << 20),
};
static const field train_fields[] = {
    LONG(train, total_steps, 1, 1e15),
    INT(train, batch_size, 1, 1 << 20),
    INT(train, seq_len, 1, 1 << 20),
    INT(train, grad_accum, 1, 1 << 16),
    U64(train, seed),
    ENUM(train, backend, backends),
};
static const field optimizer_fields[] = {
    DBLCAP(optimizer, lr, 0, 1, 10), DBL(optimizer, beta1, 0, 1, 0, 1),         DBL(optimizer, beta2, 0, 1, 0, 1),
    DBLCAP(optimizer, eps, 0, 1, 1), DBLCAP(optimizer, weight_decay, 0, 0, 10), DBLCAP(optimizer, grad_clip, 0, 0, 1e6),
};
static const field schedule_fields[] = {
    ENUM(schedule, type, schedule_types),     LONG(schedule, warmup_steps, 0, 1e15),
    DBL(schedule, min_lr_factor, 0, 1, 0, 0), DBL(schedule, stable_ratio, 0, 1, 0, 0),
    DBLCAP(schedule, exp_decay, 0, 0, 1e3),   LONG(schedule, restart_step, 0, 1e15),
    DBLCAP(schedule, restart_lr, 0, 0, 10),   LONG(schedule, stage_start, 0, 1e15),
    ENUM(schedule, stage_type, stage_types),
};
static const field data_fields[] = {
    STR(data, tokenizer),
    {"sources", F_SOURCES, 0, 0, 0, 0, 0, 0, NULL, 0, 0},
    LIST(data, exclude, F_NAMES, n_exclude),
    LONG(data, curriculum_warmup_steps, 0, 1e15),
    LIST(data, warmup_sources, F_NAMES, n_warmup_sources),
    STR(data, heldout),
};
static const field bandit_fields[] = {
    ENUM(bandit, type, bandit_types),
    INT(bandit, pull_min, 1, INT_MAX),
    INT(bandit, pull_max, 1, INT_MAX),
    DBLCAP(bandit, exploration, 0, 0, 1e6),
};
static const field sampling_fields[] = {
    LONG(sampling, every, 0, 1e15),
    INT(sampling, tokens, 1, 1 << 20),
    DBLCAP(sampling, temperature, 0, 0, 100),
    INT(sampling, top_k, 0, 65536),
    U64(sampling, seed),
    LIST(sampling, prompts, F_PROMPTS, n_prompts),
};
static const field gate_fields[] = {
    DBL(gate, threshold, 0, 100, 0, 0),
    INT(gate, patience, 0, INT_MAX),
    DBLCAP(gate, loss_spike_factor, 1, 1, 1e6),
    LONG(gate, loss_spike_steps, 0, 1e15),
};
static const field checkpoint_fields[] = {
    LONG(checkpoint, every, 0, 1e15),
    LONG(checkpoint, boundary, 0, 1e15),
    LONG(checkpoint, keep_last, 0, 1e15),
    LONG(checkpoint, keep_every, 0, 1e15),
};
static const field eval_fields[] = {
    LONG(eval, every, 0, 1e15),
    INT(eval, batches, 1, 100000),
};

/* DESIGN.md names data.curriculum_warmup_sources; the struct calls it warmup_sources. */
static const char *json_key(const field *f)
{
    return f->off == OFF(data.warmup_sources) && f->type == F_NAMES ? "curriculum_warmup_sources" : f->key;
}

#define SEC(name, f, s)                                                                                                \
    {                                                                                                                  \
        name, f, COUNT(f), s                                                                                           \
    }
static const section sections[] = {
    SEC("model", model_fields, 0),       SEC("train", train_fields, 1), SEC("optimizer", optimizer_fields, 1),
    SEC("schedule", schedule_fields, 1), SEC("data", data_fields, 0),   SEC("bandit", bandit_fields, 0),
    SEC("sampling", sampling_fields, 0), SEC("gate", gate_fields, 0),   SEC("checkpoint", checkpoint_fields, 0),
    SEC("eval", eval_fields, 0),
};
static const char *const source_keys[] = {"path", "cap", "floor"};

/* ---------- defaults ---------- */

static void copy_str(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src);
}

/* The defaults: a small model that trains in minutes on a CPU. */
void runs_config_default(runs_config *c)
{
    static const char *const prompts[] = {"Once upon a time", "The meaning of life is", "Here is a short story about",
                                          "In the beginning"};
    memset(c, 0, sizeof *c);
    c->model = (runs_model_config){.n_layer = 4, .n_head = 4, .n_embd = 128, .vocab_size = 4096, .block_size = 256};
    c->train = (runs_train_config){.total_steps = 2000, .batch_size = 8, .seq_len = 256, .grad_accum = 1, .seed = 1337};
    copy_str(c->train.backend, sizeof c->train.backend, "cpu");
    c->optimizer = (runs_optimizer_config){
        .lr = 4e-4, .beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .weight_decay = 0.01, .grad_clip = 1.0};
    c->schedule.warmup_steps = 200;
    c->schedule.min_lr_factor = 0.0;
    c->schedule.stable_ratio = 0.75;
    c->schedule.exp_decay = 1e-3;
    copy_str(c->schedule.type, sizeof c->schedule.type, "cosine");
    copy_str(c->schedule.stage_type, sizeof c->schedule.stage_type, "constant");
    copy_str(c->data.tokenizer, sizeof c->data.tokenizer, "data/tokenizer.bin");
    copy_str(c->bandit.type, sizeof c->bandit.type, "ucb1");
    c->bandit.pull_min = 7;
    c->bandit.pull_max = 42;
    c->bandit.exploration = 1.0;
    c->sampling.every = 100;
    c->sampling.tokens = 64;
    c->sampling.temperature = 0.8;
    c->sampling.top_k = 40;
    c->sampling.seed = 42;
    c->sampling.n_prompts = (int)COUNT(prompts);
    for (size_t i = 0; i < COUNT(prompts); i++)
        copy_str(c->sampling.prompts[i], RUNS_PROMPT_MAX, prompts[i]);
    /* loss spike: 3x and 50 steps never fire on a healthy run (source swings move
     * the EMA by at most ~2x: chat ~3.5 vs jargon ~7 nats) yet catch the seed's
     * lr-1.0 divergence (EMA 308 against a best near 4) within a few dozen steps */
    c->gate = (runs_gate_config){.threshold = 30, .patience = 5, .loss_spike_factor = 3.0, .loss_spike_steps = 50};
    c->checkpoint = (runs_checkpoint_config){.every = 500, .boundary = 100, .keep_last = 10, .keep_every = 5000};
    /* on by default and cheap: 4 forward passes per 100 steps is ~1.3% of training's
     * work (a step's forward + backward costs about 3 forwards) */
    c->eval = (runs_eval_config){.every = 100, .batches = 4};
}

/* ---------- struct -> JSON ---------- */

static cJSON *field_to_json(const runs_config *c, const field *f)
{
    const char *base = (const char *)c + f->off;
    switch (f->type) {
    case F_INT: return cJSON_CreateNumber(*(const int *)base);
    case F_LONG: return cJSON_CreateNumber((double)*(const long *)base);
    case F_U64: return cJSON_CreateNumber((double)*(const uint64_t *)base);
    case F_DOUBLE: return cJSON_CreateNumber(*(const double *)base);
    case F_STRING:
    case F_ENUM: return cJSON_CreateString(base);
    case F_NAMES:
    case F_PROMPTS: {
        cJSON *a = cJSON_CreateArray();
        int n = *(const int *)((const char *)c + f->count_off);
        for (int i = 0; a && i < n; i++) {
            cJSON *s = cJSON_CreateString(base + (size_t)i * f->size);
            if (!s) {
                cJSON_Delete(a);
                return NULL;
            }
            cJSON_AddItemToArray(a, s);
        }
        return a;
    }
    case F_SOURCES: {
        cJSON *o = cJSON_CreateObject();
        for (int i = 0; o && i < c->data.n_sources; i++) {
            const runs_source_config *s = &c->data.sources[i];
            cJSON *so = cJSON_CreateObject();
            if (!so || !cJSON_AddStringToObject(so, "path", s->path) || !cJSON_AddNumberToObject(so, "cap", s->cap) ||
                !cJSON_AddNumberToObject(so, "floor", s->floor)) {
                cJSON_Delete(so);
                cJSON_Delete(o);
                return NULL;
            }
            cJSON_AddItemToObject(o, s->name, so);
        }
        return o;
    }
    }
    return NULL;
}

/* The full config as JSON (every key present, sources by name). Caller cJSON_Delete()s;
 * NULL on out of memory (error set). */
cJSON *runs_config_to_json(const runs_config *c)
{
    cJSON *root = cJSON_CreateObject();
    if (!root)
        goto oom;
    for (size_t s = 0; s < COUNT(sections); s++) {
        cJSON *sec = cJSON_CreateObject();
        if (!sec)
            goto oom;
        cJSON_AddItemToObject(root, sections[s].name, sec);
        for (size_t i = 0; i < sections[s].n; i++) {
            cJSON *v = field_to_json(c, &sections[s].fields[i]);
            if (!v)
                goto oom;
            cJSON_AddItemToObject(sec, json_key(&sections[s].fields[i]), v);
        }
    }
    return root;
oom:
    cJSON_Delete(root);
    runs_error_set(RUNS_ENOMEM, "config: out of memory");
    return NULL;
}

cJSON *runs_config_default_json(void)
{
    runs_config c;
    runs_config_default(&c);
    return runs_config_to_json(&c);
}

/* ---------- checking ---------- */

typedef struct {
    const char *origin; /* message prefix, may be NULL */
} ctx;

static int fail(const ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(const ctx *x, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (x->origin)
        return runs_error_set(RUNS_EINVALID, "%s: %s", x->origin, msg);
    return runs_error_set(RUNS_EINVALID, "%s", msg);
}

static const char *fmt_num(char *buf, size_t n, double x)
{
    snprintf(buf, n, "%.15g", x);
    return buf;
}

/* "an integer >= 1", "a number in [0, 1)", "one of \"cpu\", \"cuda\"" ... */
static const char *expectation(char *buf, size_t n, const field *f)
{
    char lo[32], hi[32];
    fmt_num(lo, sizeof lo, f->lo);
    fmt_num(hi, sizeof hi, f->hi);
    switch (f->type) {
    case F_INT:
    case F_LONG:
    case F_U64: {
        int open_top = f->hi >= (f->type == F_INT ? (double)INT_MAX : 1e15);
        if (f->type == F_U64)
            snprintf(buf, n, "an integer in [0, 2^53]");
        else if (open_top)
            snprintf(buf, n, "an integer >= %s", lo);
        else
            snprintf(buf, n, "an integer in [%s, %s]", lo, hi);
        break;
    }
    case F_DOUBLE:
        if (isinf(f->hi))
            snprintf(buf, n, "a number %s %s", f->lo_open ? ">" : ">=", lo);
        else
            snprintf(buf, n, "a number in %c%s, %s%c", f->lo_open ? '(' : '[', lo, hi, f->hi_open ? ')' : ']');
        break;
    case F_STRING: snprintf(buf, n, "a string of at most %zu bytes", f->size - 1); break;
    case F_ENUM: {
        size_t used = (size_t)snprintf(buf, n, "one of ");
        for (int i = 0; f->choices[i] && used < n; i++)
            used += (size_t)snprintf(buf + used, n - used, "%s\"%s\"", i ? ", " : "", f->choices[i]);
        break;
    }
    case F_NAMES: snprintf(buf, n, "an array of source names"); break;
    case F_PROMPTS:
        snprintf(buf, n, "an array of at most %d non-empty strings, each under %d bytes", RUNS_MAX_PROMPTS,
                 RUNS_PROMPT_MAX);
        break;
    case F_SOURCES: snprintf(buf, n, "an object NAME -> {\"path\", \"cap\", \"floor\"}"); break;
    }
    return buf;
}

static int bad_value(const ctx *x, const char *path, const field *f, const cJSON *v)
{
    char e[256], g[96];
    return fail(x, "%s: expected %s, got %s", path, expectation(e, sizeof e, f), runs_json_describe(g, sizeof g, v));
}

static int in_range(const field *f, double d)
{
    if (isnan(d))
        return 0;
    if (d < f->lo || (f->lo_open && d == f->lo))
        return 0;
    if (d > f->hi || (f->hi_open && d == f->hi))
        return 0;
    return 1;
}

static int is_source_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= RUNS_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
              ch == '_' || ch == '-'))
            return 0;
    }
    return 1;
}

static int cmp_source(const void *a, const void *b)
{
    return strcmp(((const runs_source_config *)a)->name, ((const runs_source_config *)b)->name);
}

static int parse_sources(const ctx *x, runs_config *c, const cJSON *v)
{
    if (!cJSON_IsObject(v)) {
        char g[96];
        return fail(x, "data.sources: expected an object NAME -> {\"path\", \"cap\", \"floor\"}, got %s",
                    runs_json_describe(g, sizeof g, v));
    }
    c->data.n_sources = 0;
    for (const cJSON *s = v->child; s; s = s->next) {
        char g[96];
        if (!is_source_name(s->string))
            return fail(x, "data.sources: source name \"%s\" must be 1-%d letters, digits, '.', '_' or '-'", s->string,
                        RUNS_NAME_MAX - 1);
        if (c->data.n_sources >= RUNS_MAX_SOURCES)
            return fail(x, "data.sources: more than %d sources", RUNS_MAX_SOURCES);
        if (!cJSON_IsObject(s))
            return fail(x, "data.sources.%s: expected an object {\"path\", \"cap\", \"floor\"}, got %s", s->string,
                        runs_json_describe(g, sizeof g, s));
        runs_source_config *src = &c->data.sources[c->data.n_sources++];
        memset(src, 0, sizeof *src);
        copy_str(src->name, sizeof src->name, s->string);
        src->cap = 1.0;
        src->floor = 0.0;
        const cJSON *path = cJSON_GetObjectItemCaseSensitive(s, "path");
        if (!cJSON_IsString(path) || !path->valuestring[0] || strlen(path->valuestring) >= RUNS_PATH_MAX)
            return fail(x,
                        "data.sources.%s.path: expected a token shard path (a non-empty string under %d bytes), "
                        "got %s",
                        s->string, RUNS_PATH_MAX, runs_json_describe(g, sizeof g, path));
        copy_str(src->path, sizeof src->path, path->valuestring);
        static const char *const share[] = {"cap", "floor"};
        for (int k = 0; k < 2; k++) {
            const cJSON *n = cJSON_GetObjectItemCaseSensitive(s, share[k]);
            if (!n || cJSON_IsNull(n))
                continue;
            if (!cJSON_IsNumber(n) || !(n->valuedouble >= 0 && n->valuedouble <= 1))
                return fail(x, "data.sources.%s.%s: expected a share of steps in [0, 1], got %s", s->string, share[k],
                            runs_json_describe(g, sizeof g, n));
            *(k ? &src->floor : &src->cap) = n->valuedouble;
        }
        if (src->floor > src->cap)
            return fail(x, "data.sources.%s: floor (%g) is above cap (%g)", s->string, src->floor, src->cap);
    }
    qsort(c->data.sources, (size_t)c->data.n_sources, sizeof c->data.sources[0], cmp_source);
    return 0;
}

static int parse_list(const ctx *x, runs_config *c, const field *f, const char *path, const cJSON *v)
{
    char g[96];
    int max = f->type == F_PROMPTS ? RUNS_MAX_PROMPTS : RUNS_MAX_SOURCES;
    if (!cJSON_IsArray(v))
        return bad_value(x, path, f, v);
    int n = cJSON_GetArraySize(v);
    if (n > max)
        return fail(x, "%s: at most %d entries, got %d", path, max, n);
    char *base = (char *)c + f->off;
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        if (f->type == F_PROMPTS) {
            if (!cJSON_IsString(e) || !e->valuestring[0])
                return fail(x, "%s[%d]: expected a non-empty string, got %s", path, i,
                            runs_json_describe(g, sizeof g, e));
            if (strlen(e->valuestring) >= RUNS_PROMPT_MAX)
                return fail(x, "%s[%d]: prompt is %zu bytes, the limit is %d", path, i, strlen(e->valuestring),
                            RUNS_PROMPT_MAX - 1);
        } else if (!cJSON_IsString(e) || !is_source_name(e->valuestring)) {
            return fail(x, "%s[%d]: expected a source name (letters, digits, '.', '_', '-'), got %s", path, i,
                        runs_json_describe(g, sizeof g, e));
        }
        copy_str(base + (size_t)i * f->size, f->size, e->valuestring);
    }
    *(int *)((char *)c + f->count_off) = n;
    return 0;
}

static int parse_field(const ctx *x, runs_config *c, const field *f, const char *path, const cJSON *v)
{
    char *base = (char *)c + f->off;
    switch (f->type) {
    case F_INT:
    case F_LONG:
    case F_U64: {
        if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || !in_range(f, v->valuedouble))
            return bad_value(x, path, f, v);
        if (f->type == F_INT)
            *(int *)base = (int)v->valuedouble;
        else if (f->type == F_LONG)
            *(long *)base = (long)v->valuedouble;
        else
            *(uint64_t *)base = (uint64_t)v->valuedouble;
        return 0;
    }
    case F_DOUBLE:
        if (!cJSON_IsNumber(v) || !in_range(f, v->valuedouble))
            return bad_value(x, path, f, v);
        if (!isfinite(v->valuedouble) || (f->cap > 0 && v->valuedouble > f->cap)) {
            char lo[32], cap[32], g[96];
            return fail(x, "%s: expected a finite number in %c%s, %s], got %s", path, f->lo_open ? '(' : '[',
                        fmt_num(lo, sizeof lo, f->lo), fmt_num(cap, sizeof cap, f->cap),
                        runs_json_describe(g, sizeof g, v));
        }
        *(double *)base = v->valuedouble;
        return 0;
    case F_STRING:
        if (!cJSON_IsString(v) || strlen(v->valuestring) >= f->size)
            return bad_value(x, path, f, v);
        copy_str(base, f->size, v->valuestring);
        return 0;
    case F_ENUM:
        if (cJSON_IsString(v))
            for (int i = 0; f->choices[i]; i++)
                if (strcmp(v->valuestring, f->choices[i]) == 0) {
                    copy_str(base, f->size, v->valuestring);
                    return 0;
                }
        return bad_value(x, path, f, v);
    case F_NAMES:
    case F_PROMPTS: return parse_list(x, c, f, path, v);
    case F_SOURCES: return parse_sources(x, c, v);
    }
    return 0;
}

static const section *find_section(const char *name)
{
    for (size_t s = 0; s < COUNT(sections); s++)
        if (strcmp(sections[s].name, name) == 0)
            return &sections[s];
    return NULL;
}

static const field *find_field(const section *sec, const char *key)
{
    for (size_t i = 0; i < sec->n; i++)
        if (strcmp(json_key(&sec->fields[i]), key) == 0)
            return &sec->fields[i];
    return NULL;
}

/* Pass 1: every key everywhere is known (runs first, so a typo is reported as a
 * typo even when some other value is also wrong). */
static int check_keys(const ctx *x, const cJSON *root)
{
    char hint[600];
    const char *names[32];
    for (size_t s = 0; s < COUNT(sections); s++)
        names[s] = sections[s].name;
    for (const cJSON *sj = root->child; sj; sj = sj->next) {
        const section *sec = find_section(sj->string);
        if (!sec)
            return fail(x, "%s: unknown key%s", sj->string,
                        runs_suggest_hint(hint, sizeof hint, sj->string, names, COUNT(sections)));
        if (!cJSON_IsObject(sj))
            continue; /* the type check in pass 2 reports it */
        const char *keys[32];
        for (size_t i = 0; i < sec->n; i++)
            keys[i] = json_key(&sec->fields[i]);
        for (const cJSON *k = sj->child; k; k = k->next) {
            const field *f = find_field(sec, k->string);
            if (!f)
                return fail(x, "%s.%s: unknown key%s", sec->name, k->string,
                            runs_suggest_hint(hint, sizeof hint, k->string, keys, sec->n));
            if (f->type != F_SOURCES || !cJSON_IsObject(k))
                continue;
            for (const cJSON *src = k->child; src; src = src->next) {
                if (!cJSON_IsObject(src))
                    continue;
                for (const cJSON *sk = src->child; sk; sk = sk->next)
                    if (strcmp(sk->string, "path") && strcmp(sk->string, "cap") && strcmp(sk->string, "floor"))
                        return fail(x, "data.sources.%s.%s: unknown key%s", src->string, sk->string,
                                    runs_suggest_hint(hint, sizeof hint, sk->string, source_keys, COUNT(source_keys)));
            }
        }
    }
    return 0;
}

/* Pass 2: types and ranges, filling c (already holding the defaults). */
static int parse_sections(const ctx *x, runs_config *c, const cJSON *root, int schedule_only)
{
    for (const cJSON *sj = root->child; sj; sj = sj->next) {
        const section *sec = find_section(sj->string);
        if (schedule_only && !sec->schedule_only)
            continue;
        if (!cJSON_IsObject(sj)) {
            char g[96];
            return fail(x, "%s: expected an object, got %s", sec->name, runs_json_describe(g, sizeof g, sj));
        }
        for (const cJSON *k = sj->child; k; k = k->next) {
            if (cJSON_IsNull(k))
                continue; /* merge patch already removed these; keep the default */
            const field *f = find_field(sec, k->string);
            char path[160];
            snprintf(path, sizeof path, "%s.%s", sec->name, k->string);
            int rc = parse_field(x, c, f, path, k);
            if (rc)
                return rc;
        }
    }
    return 0;
}

static int has_source(const runs_config *c, const char *name)
{
    return runs_config_source_index(c, name) >= 0;
}

static int check_schedule(const ctx *x, const runs_config *c)
{
    const runs_schedule_config *s = &c->schedule;
    long T = c->train.total_steps;
    if (s->warmup_steps != 0 && s->warmup_steps >= T)
        return fail(x, "schedule.warmup_steps (%ld) must be below train.total_steps (%ld) (or 0 for no warmup)",
                    s->warmup_steps, T);
    if (s->restart_step != 0 && s->restart_step >= T)
        return fail(x, "schedule.restart_step (%ld) must be below train.total_steps (%ld) (or 0 for no restart)",
                    s->restart_step, T);
    if (s->restart_step != 0 && !(s->restart_lr > 0))
        return fail(x, "schedule.restart_lr: expected a number > 0 when schedule.restart_step is set (%ld), got %g",
                    s->restart_step, s->restart_lr);
    if (s->stage_start != 0 && s->stage_start >= T)
        return fail(x, "schedule.stage_start (%ld) must be below train.total_steps (%ld) (or 0 for no stage)",
                    s->stage_start, T);
    return 0;
}

static int check_cross(const ctx *x, const runs_config *c)
{
    const runs_model_config *m = &c->model;
    if (m->n_embd % m->n_head != 0)
        return fail(x, "model.n_embd (%d) is not divisible by model.n_head (%d)", m->n_embd, m->n_head);
    if (c->train.seq_len > m->block_size)
        return fail(x, "train.seq_len (%d) is longer than model.block_size (%d)", c->train.seq_len, m->block_size);
    if (c->bandit.pull_min > c->bandit.pull_max)
        return fail(x, "bandit.pull_min (%d) is above bandit.pull_max (%d)", c->bandit.pull_min, c->bandit.pull_max);
    if (c->sampling.top_k > m->vocab_size)
        return fail(x, "sampling.top_k (%d) is above model.vocab_size (%d)", c->sampling.top_k, m->vocab_size);
    if (c->sampling.every > 0 && c->sampling.n_prompts == 0)
        return fail(x,
                    "sampling.prompts: expected at least one prompt while sampling.every is %ld (set it to 0 to "
                    "turn the sample audit off)",
                    c->sampling.every);
    double floors = 0;
    for (int i = 0; i < c->data.n_sources; i++)
        floors += c->data.sources[i].floor;
    if (floors > 1 + 1e-12)
        return fail(x, "data.sources: the floors add up to %g, more than 1 (every step would be over-committed)",
                    floors);
    for (int i = 0; i < c->data.n_warmup_sources; i++)
        if (!has_source(c, c->data.warmup_sources[i]))
            return fail(x, "data.curriculum_warmup_sources[%d]: \"%s\" is not a source in data.sources", i,
                        c->data.warmup_sources[i]);
    if (c->data.heldout[0] && !has_source(c, c->data.heldout))
        return fail(x, "data.heldout: \"%s\" is not a source in data.sources", c->data.heldout);
    return 0;
}

static int from_json(runs_config *out, cJSON **merged_out, const cJSON *j, const char *origin, int schedule_only)
{
    ctx x = {origin};
    cJSON *defaults = NULL, *merged = NULL;
    runs_config c;
    int rc = 0;
    runs_config_default(&c);
    if (!cJSON_IsObject(j)) {
        char g[96];
        rc = fail(&x, "expected a JSON object with sections model, train, optimizer, ..., got %s",
                  runs_json_describe(g, sizeof g, j));
        goto done;
    }
    defaults = runs_config_to_json(&c);
    if (!defaults || !(merged = runs_merge_patch(defaults, j))) {
        rc = runs_error_code();
        goto done;
    }
    if ((rc = check_keys(&x, merged)))
        goto done;
    if ((rc = parse_sections(&x, &c, merged, schedule_only)))
        goto done;
    if ((rc = check_schedule(&x, &c)))
        goto done;
    if (!schedule_only && (rc = check_cross(&x, &c)))
        goto done;
    *out = c;
    if (merged_out) {
        *merged_out = runs_config_to_json(&c);
        if (!*merged_out)
            rc = runs_error_code();
    }
done:
    cJSON_Delete(defaults);
    cJSON_Delete(merged);
    return rc;
}

int runs_config_from_json(runs_config *out, const cJSON *j, const char *origin)
{
    return from_json(out, NULL, j, origin, 0);
}

int runs_config_load(runs_config *out, cJSON **json_out, const char *path)
{
    cJSON *j = NULL;
    if (json_out)
        *json_out = NULL;
    int rc = runs_json_parse_file(&j, path);
    if (!rc)
        rc = from_json(out, json_out, j, path, 0);
    cJSON_Delete(j);
    return rc;
}

int runs_config_load_schedule_only(runs_config *out, const char *path)
{
    cJSON *j = NULL;
    int rc = runs_json_parse_file(&j, path);
    if (!rc)
        rc = from_json(out, NULL, j, path, 1);
    cJSON_Delete(j);
    return rc;
}

int runs_config_source_index(const runs_config *cfg, const char *name)
{
    for (int i = 0; i < cfg->data.n_sources; i++)
        if (strcmp(cfg->data.sources[i].name, name) == 0)
            return i;
    return -1;
}
