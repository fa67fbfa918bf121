/* runner/bandit.c — the curriculum bandit (the policy is documented in bandit.h). */
#include "runner/bandit.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

#define GAMMA 0x9e3779b97f4a7c15ULL
#define SEED_MASK ((1ULL << 53) - 1)
#define VALUE_EMA 0.1  /* arm value: mean for the first 1/VALUE_EMA pulls, then EMA */
#define SCALE_EMA 0.05 /* reward normaliser */
#define SCHEMA "runs.bandit/1"

typedef struct {
    char name[RUNS_NAME_MAX];
    double cap, floor;
    int excluded, has_data, warmup;
    long steps, total_steps, pulls;
    double value;
    int has_baseline;
    double baseline;
} arm;

typedef struct {
    int src;         /* -1: no pull in progress */
    long start, end; /* steps [start, end) */
    long observed;
    double loss_sum, div_sum;
    double first_sum, second_sum;
    long first_n, second_n;
} pull;

struct runs_bandit {
    int n;
    arm arms[RUNS_MAX_SOURCES];
    int pull_min, pull_max;
    double c;
    long warmup_steps;
    int has_warmup_list;
    uint64_t seed, draws;
    int phase; /* 0 curriculum warmup, 1 main */
    long phase_steps;
    long total_pulls, scored;
    double scale;
    long last_step;
    int last_src;
    pull cur;
};

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* splitmix64 with its state written as seed + draws·γ, so both halves stay exact
 * JSON numbers. */
static uint64_t rng_next(runs_bandit *b)
{
    b->draws++;
    return mix64(b->seed + b->draws * GAMMA);
}

static int active(const arm *a)
{
    return !a->excluded && a->cap > 0.0 && a->has_data;
}

static int eligible(const runs_bandit *b, int i)
{
    const arm *a = &b->arms[i];
    return active(a) && (b->phase == 1 || a->warmup);
}

static int in_list(const char (*list)[RUNS_NAME_MAX], int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(list[i], name))
            return 1;
    return 0;
}

int runs_bandit_create(runs_bandit **out, const runs_config *cfg, const int *has_data)
{
    int rc = 0;
    runs_bandit *b = calloc(1, sizeof *b);
    *out = NULL;
    if (!b)
        return runs_error_set(RUNS_ENOMEM, "out of memory creating the bandit");
    const runs_data_config *d = &cfg->data;
    b->n = d->n_sources;
    b->pull_min = cfg->bandit.pull_min > 0 ? cfg->bandit.pull_min : 1;
    b->pull_max = cfg->bandit.pull_max >= b->pull_min ? cfg->bandit.pull_max : b->pull_min;
    b->c = cfg->bandit.exploration;
    b->warmup_steps = d->curriculum_warmup_steps;
    b->has_warmup_list = d->n_warmup_sources > 0 && d->curriculum_warmup_steps > 0;
    b->seed = mix64(cfg->train.seed ^ 0x62616e646974ULL /* "bandit" */) & SEED_MASK;
    b->phase = b->has_warmup_list ? 0 : 1;
    b->last_step = -1;
    b->last_src = -1;
    b->cur.src = -1;
    int n_active = 0, n_warm = 0;
    for (int i = 0; i < b->n; i++) {
        arm *a = &b->arms[i];
        snprintf(a->name, sizeof a->name, "%s", d->sources[i].name);
        a->cap = d->sources[i].cap;
        a->floor = d->sources[i].floor;
        a->excluded = in_list(d->exclude, d->n_exclude, a->name);
        a->has_data = has_data ? has_data[i] != 0 : 1;
        a->warmup = in_list(d->warmup_sources, d->n_warmup_sources, a->name);
        n_active += active(a);
        n_warm += active(a) && a->warmup;
    }
    if (!n_active) {
        rc = runs_error_set(RUNS_EINVALID, "data.sources: no source can be drawn from (each is excluded, has cap 0.0 "
                                           "or has no data); add a source or lift an exclusion");
        goto done;
    }
    if (b->has_warmup_list && !n_warm) {
        rc = runs_error_set(RUNS_EINVALID, "data.curriculum_warmup_sources: none of the listed sources can be drawn "
                                           "from (missing, excluded, cap 0.0 or no data); list an active source");
        goto done;
    }
    *out = b;
    b = NULL;
done:
    free(b);
    return rc;
}

void runs_bandit_free(runs_bandit *b)
{
    free(b);
}

/* ---- pulls ---- */

static void finish_pull(runs_bandit *b)
{
    pull *p = &b->cur;
    if (p->src < 0)
        return;
    arm *a = &b->arms[p->src];
    a->pulls++;
    b->total_pulls++;
    if (p->observed > 0) {
        double lbar = p->loss_sum / (double)p->observed, progress = 0.0;
        if (a->has_baseline)
            progress = a->baseline - lbar;
        else if (p->first_n > 0 && p->second_n > 0)
            progress = p->first_sum / (double)p->first_n - p->second_sum / (double)p->second_n;
        a->baseline = lbar;
        a->has_baseline = 1;
        double div = p->div_sum / (double)p->observed;
        div = div < 0 ? 0 : div > 1 ? 1 : div;
        double raw = (progress > 0 ? progress : 0.0) * div;
        double reward = raw <= 0 ? 0.0 : b->scale > 0 ? raw / (raw + b->scale) : 1.0;
        b->scale = b->scored == 0 ? raw : b->scale + SCALE_EMA * (raw - b->scale);
        b->scored++;
        double w = 1.0 / (double)a->pulls;
        if (w < VALUE_EMA)
            w = VALUE_EMA;
        a->value += w * (reward - a->value);
    }
    memset(p, 0, sizeof *p);
    p->src = -1;
}

/* Chooses the arm for a pull of L steps starting now (policy in bandit.h). */
static int choose(const runs_bandit *b, long L)
{
    double n = (double)b->phase_steps, nl = n + (double)L;
    int pick = -1;
    double best = 0;
    int fits[RUNS_MAX_SOURCES] = {0}, any_fit = 0;

    for (int i = 0; i < b->n; i++) {
        const arm *a = &b->arms[i];
        if (!eligible(b, i))
            continue;
        fits[i] = (double)(a->steps + L) <= a->cap * nl + (double)b->pull_max;
        any_fit |= fits[i];
    }
    /* floors first: the arm that would end furthest below its floor */
    for (int i = 0; i < b->n; i++) {
        const arm *a = &b->arms[i];
        if (!fits[i] || a->floor <= 0 || (double)a->steps >= a->floor * nl)
            continue;
        double r = (double)a->steps / (a->floor * nl);
        if (pick < 0 || r < best)
            pick = i, best = r;
    }
    if (pick >= 0)
        return pick;
    if (!any_fit) {
        /* caps cannot all hold: least overloaded relative to its cap */
        for (int i = 0; i < b->n; i++) {
            if (!eligible(b, i))
                continue;
            double r = (double)(b->arms[i].steps + L) / (b->arms[i].cap * nl);
            if (pick < 0 || r < best)
                pick = i, best = r;
        }
        return pick;
    }
    for (int i = 0; i < b->n; i++)
        if (fits[i] && b->arms[i].pulls == 0)
            return i;
    double lnN = log((double)(b->total_pulls > 1 ? b->total_pulls : 1));
    for (int i = 0; i < b->n; i++) {
        if (!fits[i])
            continue;
        const arm *a = &b->arms[i];
        double idx = a->value + b->c * sqrt(lnN / (double)a->pulls);
        if (pick < 0 || idx > best)
            pick = i, best = idx;
    }
    return pick;
}

int runs_bandit_source_for_step(runs_bandit *b, long step)
{
    if (step == b->last_step && b->last_src >= 0)
        return b->last_src;
    int want = b->has_warmup_list && step < b->warmup_steps ? 0 : 1;
    if (want != b->phase) {
        finish_pull(b);
        b->phase = want;
        b->phase_steps = 0;
        for (int i = 0; i < b->n; i++)
            b->arms[i].steps = 0;
    }
    pull *p = &b->cur;
    if (p->src < 0 || step < p->start || step >= p->end || !eligible(b, p->src)) {
        finish_pull(b);
        long span = (long)b->pull_max - b->pull_min + 1;
        long L = b->pull_min + (long)(rng_next(b) % (uint64_t)span);
        int src = choose(b, L);
        if (src < 0) {
            runs_error_set(RUNS_EINVALID, "bandit: no data source can be drawn from at step %ld", step);
            return -1;
        }
        p->src = src;
        p->start = step;
        p->end = step + L;
    }
    arm *a = &b->arms[p->src];
    a->steps++;
    a->total_steps++;
    b->phase_steps++;
    b->last_step = step;
    b->last_src = p->src;
    return p->src;
}

void runs_bandit_observe(runs_bandit *b, int source, long step, float loss, double diversity)
{
    pull *p = &b->cur;
    if (p->src < 0 || source != p->src || step < p->start || step >= p->end || !isfinite(loss))
        return;
    if (!isfinite(diversity))
        diversity = 0.0;
    p->observed++;
    p->loss_sum += loss;
    p->div_sum += diversity;
    if (2 * (step - p->start) < p->end - p->start) {
        p->first_sum += loss;
        p->first_n++;
    } else {
        p->second_sum += loss;
        p->second_n++;
    }
    if (step == p->end - 1)
        finish_pull(b);
}

double runs_batch_diversity(const int32_t *tokens, size_t n)
{
    if (!tokens || n < 2)
        return 0.0;
    size_t cap = 16;
    while (cap < 2 * (n - 1))
        cap *= 2;
    uint64_t *set = calloc(cap, sizeof *set); /* 0 = empty; keys are stored + 1 */
    if (!set)
        return 1.0; /* out of memory: neutral, never penalise a source for it */
    size_t distinct = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        uint64_t key = ((uint64_t)(uint32_t)tokens[i] << 32 | (uint32_t)tokens[i + 1]) + 1;
        if (key == 0)
            key = 1; /* (0xffffffff, 0xffffffff) wraps; collides harmlessly with (0, 0) */
        size_t h = (size_t)mix64(key) & (cap - 1);
        while (set[h] && set[h] != key)
            h = (h + 1) & (cap - 1);
        if (!set[h]) {
            set[h] = key;
            distinct++;
        }
    }
    free(set);
    return (double)distinct / (double)(n - 1);
}

/* ---- introspection ---- */

int runs_bandit_n_arms(const runs_bandit *b)
{
    return b->n;
}

void runs_bandit_arm(const runs_bandit *b, int i, runs_bandit_arm_info *info)
{
    const arm *a = &b->arms[i];
    info->name = a->name;
    info->active = active(a);
    info->steps = a->steps;
    info->total_steps = a->total_steps;
    info->pulls = a->pulls;
    info->value = a->value;
}

long runs_bandit_phase_steps(const runs_bandit *b)
{
    return b->phase_steps;
}

/* ---- JSON ---- */

static int index_of(const runs_bandit *b, const char *name)
{
    for (int i = 0; i < b->n; i++)
        if (!strcmp(b->arms[i].name, name))
            return i;
    return -1;
}

cJSON *runs_bandit_to_json(const runs_bandit *b)
{
    cJSON *j = cJSON_CreateObject(), *arms = NULL, *o;
    if (!j)
        return NULL;
    int ok = cJSON_AddStringToObject(j, "schema", SCHEMA) && cJSON_AddStringToObject(j, "type", "ucb1");
    cJSON *rng = cJSON_AddObjectToObject(j, "rng");
    ok = ok && rng && cJSON_AddNumberToObject(rng, "seed", (double)b->seed) &&
         cJSON_AddNumberToObject(rng, "draws", (double)b->draws);
    ok = ok && cJSON_AddStringToObject(j, "phase", b->phase ? "main" : "warmup") &&
         cJSON_AddNumberToObject(j, "phase_steps", (double)b->phase_steps) &&
         cJSON_AddNumberToObject(j, "total_pulls", (double)b->total_pulls) &&
         cJSON_AddNumberToObject(j, "scored_pulls", (double)b->scored) &&
         cJSON_AddNumberToObject(j, "reward_scale", b->scale) &&
         cJSON_AddNumberToObject(j, "last_step", (double)b->last_step);
    if (ok)
        ok = b->last_src >= 0 ? cJSON_AddStringToObject(j, "last_source", b->arms[b->last_src].name) != NULL
                              : cJSON_AddNullToObject(j, "last_source") != NULL;
    if (ok && b->cur.src < 0) {
        ok = cJSON_AddNullToObject(j, "pull") != NULL;
    } else if (ok) {
        const pull *p = &b->cur;
        o = cJSON_AddObjectToObject(j, "pull");
        ok = o && cJSON_AddStringToObject(o, "source", b->arms[p->src].name) &&
             cJSON_AddNumberToObject(o, "start", (double)p->start) &&
             cJSON_AddNumberToObject(o, "end", (double)p->end) &&
             cJSON_AddNumberToObject(o, "observed", (double)p->observed) &&
             cJSON_AddNumberToObject(o, "loss_sum", p->loss_sum) &&
             cJSON_AddNumberToObject(o, "diversity_sum", p->div_sum) &&
             cJSON_AddNumberToObject(o, "first_sum", p->first_sum) &&
             cJSON_AddNumberToObject(o, "first_n", (double)p->first_n) &&
             cJSON_AddNumberToObject(o, "second_sum", p->second_sum) &&
             cJSON_AddNumberToObject(o, "second_n", (double)p->second_n);
    }
    ok = ok && (arms = cJSON_AddObjectToObject(j, "arms"));
    for (int i = 0; ok && i < b->n; i++) {
        const arm *a = &b->arms[i];
        if (!active(a))
            continue; /* an inactive arm in a state file is what made the zombie */
        o = cJSON_AddObjectToObject(arms, a->name);
        ok = o && cJSON_AddNumberToObject(o, "steps", (double)a->steps) &&
             cJSON_AddNumberToObject(o, "total_steps", (double)a->total_steps) &&
             cJSON_AddNumberToObject(o, "pulls", (double)a->pulls) && cJSON_AddNumberToObject(o, "value", a->value) &&
             (a->has_baseline ? cJSON_AddNumberToObject(o, "baseline", a->baseline) != NULL
                              : cJSON_AddNullToObject(o, "baseline") != NULL);
    }
    if (!ok) {
        cJSON_Delete(j);
        runs_error_set(RUNS_ENOMEM, "out of memory writing the bandit state");
        return NULL;
    }
    return j;
}

/* Reads a finite number at key (or fails with a message naming the key). */
static int get_num(const cJSON *o, const char *where, const char *key, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return runs_error_set(RUNS_ECORRUPT, "bandit state: %s%s: expected a number", where, key);
    *out = v->valuedouble;
    return 0;
}

/* An integer in [lo, 2^53]. */
static int get_int(const cJSON *o, const char *where, const char *key, double lo, long *out)
{
    double d = 0;
    int rc = get_num(o, where, key, &d);
    if (rc)
        return rc;
    if (d != floor(d) || d < lo || d > 9007199254740992.0)
        return runs_error_set(RUNS_ECORRUPT, "bandit state: %s%s: expected an integer >= %.0f, got %.17g", where, key,
                              lo, d);
    *out = (long)d;
    return 0;
}

static int add_warning(char ***w, size_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int add_warning(char ***w, size_t *n, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char **nw = realloc(*w, (*n + 1) * sizeof **w);
    if (!nw)
        return runs_error_set(RUNS_ENOMEM, "out of memory");
    *w = nw;
    if (!(nw[*n] = strdup(buf)))
        return runs_error_set(RUNS_ENOMEM, "out of memory");
    (*n)++;
    return 0;
}

/* A dropped arm's count at key, at most `from` (what it can take off a total); 0
 * when missing or malformed: the arm is gone either way. */
static long dropped_count(const cJSON *o, const char *key, long from)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || !(v->valuedouble > 0))
        return 0;
    return v->valuedouble >= (double)from ? from : (long)v->valuedouble;
}

int runs_bandit_load_json(runs_bandit *b, const cJSON *state, char ***warnings, size_t *n_warnings)
{
    int rc = 0;
    char **w = NULL;
    size_t nw = 0;
    runs_bandit *t = malloc(sizeof *t); /* built aside, committed only on success */
    long v;
    if (warnings)
        *warnings = NULL;
    if (n_warnings)
        *n_warnings = 0;
    if (!t)
        return runs_error_set(RUNS_ENOMEM, "out of memory loading the bandit state");
    *t = *b;
    if (!cJSON_IsObject(state)) {
        rc = runs_error_set(RUNS_ECORRUPT, "bandit state: expected a JSON object");
        goto done;
    }
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(state, "schema");
    if (!cJSON_IsString(schema) || strcmp(schema->valuestring, SCHEMA)) {
        rc = runs_error_set(RUNS_ECORRUPT, "bandit state: schema is not \"%s\"", SCHEMA);
        goto done;
    }
    const cJSON *rng = cJSON_GetObjectItemCaseSensitive(state, "rng");
    if (!cJSON_IsObject(rng)) {
        rc = runs_error_set(RUNS_ECORRUPT, "bandit state: rng: expected an object");
        goto done;
    }
    if ((rc = get_int(rng, "rng.", "seed", 0, &v)))
        goto done;
    t->seed = (uint64_t)v;
    if ((rc = get_int(rng, "rng.", "draws", 0, &v)))
        goto done;
    t->draws = (uint64_t)v;
    if ((rc = get_int(state, "", "phase_steps", 0, &t->phase_steps)) ||
        (rc = get_int(state, "", "total_pulls", 0, &t->total_pulls)) ||
        (rc = get_int(state, "", "scored_pulls", 0, &t->scored)) ||
        (rc = get_num(state, "", "reward_scale", &t->scale)) ||
        (rc = get_int(state, "", "last_step", -1, &t->last_step)))
        goto done;
    const cJSON *phase = cJSON_GetObjectItemCaseSensitive(state, "phase");
    if (!cJSON_IsString(phase) || (strcmp(phase->valuestring, "main") && strcmp(phase->valuestring, "warmup"))) {
        rc = runs_error_set(RUNS_ECORRUPT, "bandit state: phase: expected \"warmup\" or \"main\"");
        goto done;
    }
    t->phase = !strcmp(phase->valuestring, "main");

    /* arms: start from fresh stats, take over those of active arms */
    for (int i = 0; i < t->n; i++) {
        arm *a = &t->arms[i];
        a->steps = a->total_steps = a->pulls = 0;
        a->value = a->baseline = 0;
        a->has_baseline = 0;
    }
    const cJSON *arms = cJSON_GetObjectItemCaseSensitive(state, "arms"), *o;
    if (!cJSON_IsObject(arms)) {
        rc = runs_error_set(RUNS_ECORRUPT, "bandit state: arms: expected an object");
        goto done;
    }
    cJSON_ArrayForEach (o, arms) {
        char where[RUNS_NAME_MAX + 16];
        snprintf(where, sizeof where, "arms.%.*s.", RUNS_NAME_MAX, o->string);
        if (!cJSON_IsObject(o)) {
            rc = runs_error_set(RUNS_ECORRUPT, "bandit state: %s: expected an object", o->string);
            goto done;
        }
        double value = 0;
        const cJSON *val = cJSON_GetObjectItemCaseSensitive(o, "value");
        if (cJSON_IsNumber(val))
            value = val->valuedouble;
        int i = index_of(t, o->string);
        const char *why = i < 0                   ? "is not in the config's data.sources"
                          : t->arms[i].excluded   ? "is excluded by data.exclude"
                          : !(t->arms[i].cap > 0) ? "has cap 0.0"
                          : !t->arms[i].has_data  ? "has no data (missing or empty shard)"
                                                  : NULL;
        if (why) {
            if ((rc = add_warning(&w, &nw, "bandit state: arm '%s' (value %g) %s; dropped", o->string, value, why)))
                goto done;
            /* no residue: its pulls and steps leave the totals too, or UCB's ln N and
             * the shares' denominator would keep counting an arm that is gone */
            t->total_pulls -= dropped_count(o, "pulls", t->total_pulls);
            t->phase_steps -= dropped_count(o, "steps", t->phase_steps);
            continue;
        }
        arm *a = &t->arms[i];
        if ((rc = get_int(o, where, "steps", 0, &a->steps)) ||
            (rc = get_int(o, where, "total_steps", 0, &a->total_steps)) ||
            (rc = get_int(o, where, "pulls", 0, &a->pulls)) || (rc = get_num(o, where, "value", &a->value)))
            goto done;
        const cJSON *bl = cJSON_GetObjectItemCaseSensitive(o, "baseline");
        if (cJSON_IsNull(bl)) {
            a->has_baseline = 0;
        } else {
            if ((rc = get_num(o, where, "baseline", &a->baseline)))
                goto done;
            a->has_baseline = 1;
        }
    }

    const cJSON *ls = cJSON_GetObjectItemCaseSensitive(state, "last_source");
    t->last_src = cJSON_IsString(ls) ? index_of(t, ls->valuestring) : -1;
    if (t->last_src < 0 || !active(&t->arms[t->last_src])) {
        t->last_src = -1;
        t->last_step = -1;
    }

    memset(&t->cur, 0, sizeof t->cur);
    t->cur.src = -1;
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(state, "pull");
    if (cJSON_IsObject(p)) {
        const cJSON *src = cJSON_GetObjectItemCaseSensitive(p, "source");
        if (!cJSON_IsString(src)) {
            rc = runs_error_set(RUNS_ECORRUPT, "bandit state: pull.source: expected a string");
            goto done;
        }
        pull q = {0};
        if ((rc = get_int(p, "pull.", "start", 0, &q.start)) || (rc = get_int(p, "pull.", "end", 0, &q.end)) ||
            (rc = get_int(p, "pull.", "observed", 0, &q.observed)) ||
            (rc = get_num(p, "pull.", "loss_sum", &q.loss_sum)) ||
            (rc = get_num(p, "pull.", "diversity_sum", &q.div_sum)) ||
            (rc = get_num(p, "pull.", "first_sum", &q.first_sum)) ||
            (rc = get_int(p, "pull.", "first_n", 0, &q.first_n)) ||
            (rc = get_num(p, "pull.", "second_sum", &q.second_sum)) ||
            (rc = get_int(p, "pull.", "second_n", 0, &q.second_n)))
            goto done;
        if (q.end <= q.start) {
            rc = runs_error_set(RUNS_ECORRUPT, "bandit state: pull: end %ld is not after start %ld", q.end, q.start);
            goto done;
        }
        q.src = index_of(t, src->valuestring);
        /* a pull of a dropped arm is abandoned (its warning was given with the arm) */
        if (q.src >= 0 && active(&t->arms[q.src]))
            t->cur = q;
    } else if (p && !cJSON_IsNull(p)) {
        rc = runs_error_set(RUNS_ECORRUPT, "bandit state: pull: expected an object or null");
        goto done;
    }
    *b = *t;
    if (warnings) {
        *warnings = w;
        w = NULL;
    }
    if (n_warnings)
        *n_warnings = nw;
done:
    if (w)
        for (size_t i = 0; i < nw; i++)
            free(w[i]);
    free(w);
    free(t);
    return rc;
}
