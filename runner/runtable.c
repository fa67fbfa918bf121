/* runner/runtable.c — see runtable.h. */
#include "runner/runtable.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "manifests/canon.h"
#include "manifests/suggest.h"
#include "runner/rundir.h"
#include "store/lineage.h"
#include "store/nodecache.h"

static const char *const columns[] = {"run", "step", "state", "parent", "loss", "val_loss", "tokens", "updated"};
#define N_COLUMNS (sizeof columns / sizeof columns[0])

static const cJSON *get(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

/* Appends the leaves under v to the row, named prefix.key...; arrays are leaves
 * because a list (prompts, exclude) is one setting, not many. */
static int flatten(runs_runtable_row *r, const cJSON *v, const char *prefix)
{
    if (cJSON_IsObject(v) && v->child) {
        for (const cJSON *c = v->child; c; c = c->next) {
            size_t len = strlen(prefix) + strlen(c->string) + 2;
            char *p = malloc(len);
            if (!p)
                return runs_error_set(RUNS_ENOMEM, "out of memory flattening a config");
            snprintf(p, len, "%s%s%s", prefix, *prefix ? "." : "", c->string);
            int rc = flatten(r, c, p);
            free(p);
            if (rc)
                return rc;
        }
        return RUNS_OK;
    }
    char **np = realloc(r->paths, (r->n_paths + 1) * sizeof *np);
    if (np)
        r->paths = np;
    const cJSON **nv = realloc(r->values, (r->n_paths + 1) * sizeof *nv);
    if (nv)
        r->values = nv;
    char *dup = np && nv ? strdup(prefix) : NULL;
    if (!dup)
        return runs_error_set(RUNS_ENOMEM, "out of memory flattening a config");
    r->paths[r->n_paths] = dup;
    r->values[r->n_paths++] = v;
    return RUNS_OK;
}

const cJSON *runs_runtable_config_get(const runs_runtable_row *r, const char *path)
{
    for (size_t i = 0; i < r->n_paths; i++)
        if (!strcmp(r->paths[i], path))
            return r->values[i];
    return NULL;
}

/* "RUN@step_N" of the node where the lineage of tip leaves run (the fork, restart or
 * cross-run resume point) into out, "" when the lineage never leaves it (a root). */
static int branch_point(char *out, size_t n, runs_store *s, const char *tip, const char *run)
{
    runs_nodes ln; /* run and step of each node from the node cache, not one manifest each */
    int rc = runs_nodecache_lineage(&ln, s, tip);
    out[0] = '\0';
    for (size_t i = 1; !rc && i < ln.n; i++) {
        const runs_node_info *in = &ln.v[i];
        if (in->run && strcmp(in->run, run)) {
            snprintf(out, n, "%s@step_%.0f", in->run, in->flags & RUNS_NODE_HAS_STEP ? in->step : -1.0);
            break;
        }
    }
    runs_nodecache_free(&ln);
    return rc;
}

/* Fills the row of the node tip (of run): everything but state and parent. */
static int fill_row(runs_runtable_row *r, runs_store *s, const char *tip)
{
    cJSON *m = NULL;
    int rc = runs_node_manifest(&m, s, tip);
    if (rc)
        goto done;
    memcpy(r->tip, tip, 41);
    const cJSON *v;
    if (cJSON_IsString(v = get(m, "run")))
        snprintf(r->run, sizeof r->run, "%s", v->valuestring);
    if (cJSON_IsString(v = get(m, "kind")))
        snprintf(r->kind, sizeof r->kind, "%s", v->valuestring);
    if (cJSON_IsNumber(v = get(m, "step")))
        r->step = (long)v->valuedouble;
    if (cJSON_IsNumber(v = get(m, "tokens")))
        r->tokens = v->valuedouble;
    if (cJSON_IsString(v = get(m, "created")))
        snprintf(r->updated, sizeof r->updated, "%s", v->valuestring);
    const cJSON *met = get(m, "metrics");
    if (cJSON_IsNumber(v = get(met, "loss_ema"))) {
        r->has_loss = 1;
        r->loss_ema = v->valuedouble;
    }
    if (cJSON_IsNumber(v = get(met, "val_loss"))) {
        r->has_val = 1;
        r->val_loss = v->valuedouble;
    }
    /* the config is detached from the manifest so the rest can go now */
    r->config = cJSON_DetachItemFromObjectCaseSensitive(m, "config");
    if (!r->config && !(r->config = cJSON_CreateObject())) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory reading node %.12s", tip);
        goto done;
    }
    rc = flatten(r, r->config, "");
done:
    cJSON_Delete(m);
    return rc;
}

static int add_row(runs_runtable_row **out, runs_runtable *t)
{
    runs_runtable_row *nr = realloc(t->rows, (t->n + 1) * sizeof *nr);
    if (!nr)
        return runs_error_set(RUNS_ENOMEM, "out of memory building the run table");
    t->rows = nr;
    memset(&nr[t->n], 0, sizeof *nr);
    *out = &nr[t->n++];
    return RUNS_OK;
}

static int live_rows(runs_runtable *t, runs_store *s)
{
    char **names = NULL;
    size_t nn = 0;
    int rc = runs_run_list(&names, &nn, s);
    for (size_t i = 0; !rc && i < nn; i++) {
        char tip[41];
        runs_runtable_row *r = NULL;
        if ((rc = runs_run_tip(tip, s, names[i])) || (rc = add_row(&r, t)) || (rc = fill_row(r, s, tip)))
            break;
        /* the ref names the run; a manifest's "run" could only differ after a rename */
        snprintf(r->run, sizeof r->run, "%s", names[i]);
        if ((rc = branch_point(r->parent, sizeof r->parent, s, tip, r->run)))
            break;
        const cJSON *total = get(get(r->config, "train"), "total_steps");
        if (runs_trainer_pid(s, r->run) > 0)
            r->state = "running";
        else if (!strcmp(r->kind, "halt"))
            r->state = "halted";
        else if (cJSON_IsNumber(total) && r->step >= (long)total->valuedouble)
            r->state = "finished";
        else
            r->state = "stopped";
    }
    runs_strings_free(names, nn);
    return rc;
}

static int in_set(char (*ids)[41], size_t n, const char *id)
{
    return bsearch(id, ids, n, sizeof *ids, (int (*)(const void *, const void *))strcmp) != NULL;
}

/* A row per rewound tip: a node of the rewound set that is no other rewound
 * node's parent. Its branch point is where its lineage re-enters live history. */
static int rewound_rows(runs_runtable *t, runs_store *s)
{
    char(*ids)[41] = NULL;
    char(*lin)[41] = NULL;
    size_t n = 0, nl = 0;
    char *is_parent = NULL;
    int rc = runs_node_rewound(&ids, &n, s);
    if (rc || n == 0)
        goto done;
    if (!(is_parent = calloc(n, 1))) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory listing rewound tips");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        char p[41];
        if ((rc = runs_node_parent(p, s, ids[i])))
            goto done;
        char(*hit)[41] = p[0] ? bsearch(p, ids, n, sizeof *ids, (int (*)(const void *, const void *))strcmp) : NULL;
        if (hit)
            is_parent[hit - ids] = 1;
    }
    for (size_t i = 0; i < n; i++) {
        if (is_parent[i])
            continue;
        runs_runtable_row *r = NULL;
        if ((rc = add_row(&r, t)) || (rc = fill_row(r, s, ids[i])))
            goto done;
        r->state = "rewound";
        free(lin);
        lin = NULL;
        if ((rc = runs_lineage(&lin, &nl, s, ids[i])))
            goto done;
        for (size_t k = 1; k < nl; k++)
            if (!in_set(ids, n, lin[k])) {
                cJSON *m = NULL;
                if ((rc = runs_node_manifest(&m, s, lin[k])))
                    goto done;
                const cJSON *mr = get(m, "run"), *st = get(m, "step");
                snprintf(r->parent, sizeof r->parent, "%s@step_%.0f", cJSON_IsString(mr) ? mr->valuestring : "?",
                         cJSON_IsNumber(st) ? st->valuedouble : -1.0);
                cJSON_Delete(m);
                break;
            }
    }
done:
    free(is_parent);
    free(lin);
    free(ids);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The paths whose values are not all equal across the rows. */
static int differing_keys(runs_runtable *t)
{
    if (t->n < 2)
        return RUNS_OK;
    for (size_t i = 0; i < t->n; i++)
        for (size_t p = 0; p < t->rows[i].n_paths; p++) {
            const char *path = t->rows[i].paths[p];
            int seen = 0, differs = 0;
            for (size_t k = 0; k < t->n_keys && !seen; k++)
                seen = !strcmp(t->keys[k], path);
            if (seen)
                continue;
            const cJSON *v0 = t->rows[i].values[p];
            for (size_t j = 0; j < t->n && !differs; j++)
                differs = !runs_json_equal(v0, runs_runtable_config_get(&t->rows[j], path));
            if (!differs)
                continue;
            char **nk = realloc(t->keys, (t->n_keys + 1) * sizeof *nk);
            if (!nk || !(nk[t->n_keys] = strdup(path))) {
                if (nk)
                    t->keys = nk;
                return runs_error_set(RUNS_ENOMEM, "out of memory comparing configs");
            }
            t->keys = nk;
            t->n_keys++;
        }
    qsort(t->keys, t->n_keys, sizeof *t->keys, cmp_str);
    return RUNS_OK;
}

int runs_runtable_load(runs_runtable *t, runs_store *s, int all)
{
    memset(t, 0, sizeof *t);
    int rc = live_rows(t, s);
    if (!rc && all)
        rc = rewound_rows(t, s);
    if (!rc)
        rc = differing_keys(t);
    return rc;
}

void runs_runtable_free(runs_runtable *t)
{
    for (size_t i = 0; i < t->n; i++) {
        runs_runtable_row *r = &t->rows[i];
        for (size_t p = 0; p < r->n_paths; p++)
            free(r->paths[p]);
        free(r->paths);
        free(r->values);
        cJSON_Delete(r->config);
    }
    for (size_t k = 0; k < t->n_keys; k++)
        free(t->keys[k]);
    free(t->keys);
    free(t->rows);
    memset(t, 0, sizeof *t);
}

/* ---- sorting ---- */

typedef struct {
    size_t index;
    int has, numeric;
    double num;
    char *text; /* owned */
} sort_key;

static int sort_desc; /* qsort has no context argument */

/* The value of row r under key into k (text for strings, num for numbers). */
static int key_of(sort_key *k, const runs_runtable_row *r, const char *key)
{
    const cJSON *v = NULL;
    k->has = 1;
    k->numeric = 1;
    if (!strcmp(key, "step"))
        k->num = (double)r->step;
    else if (!strcmp(key, "tokens"))
        k->num = r->tokens;
    else if (!strcmp(key, "loss"))
        k->has = r->has_loss, k->num = r->loss_ema;
    else if (!strcmp(key, "val_loss"))
        k->has = r->has_val, k->num = r->val_loss;
    else {
        k->numeric = 0;
        const char *txt = !strcmp(key, "run")       ? r->run
                          : !strcmp(key, "state")   ? r->state
                          : !strcmp(key, "parent")  ? r->parent
                          : !strcmp(key, "updated") ? r->updated
                                                    : NULL;
        if (!txt) {
            v = runs_runtable_config_get(r, key);
            k->has = v != NULL;
            if (cJSON_IsNumber(v)) {
                k->numeric = 1;
                k->num = v->valuedouble;
                return RUNS_OK;
            }
            if (cJSON_IsString(v))
                txt = v->valuestring;
        }
        k->text = txt ? strdup(txt) : v ? runs_json_canonical(v) : strdup("");
        if (!k->text)
            return runs_error_set(RUNS_ENOMEM, "out of memory sorting the run table");
        if (txt && !*txt)
            k->has = 0; /* a root's empty parent sorts with the missing */
    }
    return RUNS_OK;
}

static int cmp_key(const void *pa, const void *pb)
{
    const sort_key *a = pa, *b = pb;
    int c = 0;
    if (a->has != b->has)
        return a->has ? -1 : 1; /* missing last, whichever direction */
    if (a->has) {
        if (a->numeric && b->numeric)
            c = (a->num > b->num) - (a->num < b->num);
        else if (a->numeric != b->numeric)
            c = a->numeric ? -1 : 1;
        else
            c = strcmp(a->text, b->text);
        if (sort_desc)
            c = -c;
    }
    return c ? c : (a->index > b->index) - (a->index < b->index);
}

int runs_runtable_sort(runs_runtable *t, const char *key)
{
    sort_key *keys = NULL;
    runs_runtable_row *sorted = NULL;
    const char **known = NULL;
    int rc = RUNS_OK, desc = key[0] == '-';
    const char *name = key + desc;
    int found = 0;
    for (size_t i = 0; i < N_COLUMNS && !found; i++)
        found = !strcmp(columns[i], name);
    for (size_t i = 0; i < t->n && !found; i++)
        found = runs_runtable_config_get(&t->rows[i], name) != NULL;
    if (!found) {
        size_t nk = N_COLUMNS;
        for (size_t i = 0; i < t->n; i++)
            nk += t->rows[i].n_paths;
        if (!(known = malloc(nk * sizeof *known))) {
            rc = runs_error_set(RUNS_ENOMEM, "out of memory");
            goto done;
        }
        nk = 0;
        for (size_t i = 0; i < N_COLUMNS; i++)
            known[nk++] = columns[i];
        for (size_t i = 0; i < t->n; i++)
            for (size_t p = 0; p < t->rows[i].n_paths; p++)
                known[nk++] = t->rows[i].paths[p];
        const char *near = runs_nearest_name(name, known, nk);
        char hint[256];
        if (near)
            snprintf(hint, sizeof hint, " (did you mean \"%s\"?)", near);
        else
            snprintf(hint, sizeof hint,
                     "; use a column (run, step, state, parent, loss, val_loss, tokens, "
                     "updated) or a config path such as optimizer.lr");
        rc = runs_error_set(RUNS_EINVALID, "--sort: no column or config path '%s'%s", name, hint);
        goto done;
    }
    if (t->n < 2)
        goto done;
    if (!(keys = calloc(t->n, sizeof *keys)) || !(sorted = malloc(t->n * sizeof *sorted))) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory sorting the run table");
        goto done;
    }
    for (size_t i = 0; i < t->n; i++) {
        keys[i].index = i;
        if ((rc = key_of(&keys[i], &t->rows[i], name)))
            goto done;
    }
    sort_desc = desc;
    qsort(keys, t->n, sizeof *keys, cmp_key);
    for (size_t i = 0; i < t->n; i++)
        sorted[i] = t->rows[keys[i].index];
    memcpy(t->rows, sorted, t->n * sizeof *sorted);
done:
    if (keys)
        for (size_t i = 0; i < t->n; i++)
            free(keys[i].text);
    free(keys);
    free(sorted);
    free(known);
    return rc;
}

/* ---- JSON ---- */

static cJSON *num_or_null(int has, double v)
{
    return has ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

cJSON *runs_runtable_json(const runs_runtable *t)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < t->n; i++) {
        const runs_runtable_row *r = &t->rows[i];
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(arr, o))
            goto oom;
        cJSON *cfg = cJSON_CreateObject();
        if (!cfg || !cJSON_AddItemToObject(o, "config", cfg))
            goto oom;
        for (size_t k = 0; k < t->n_keys; k++) {
            const cJSON *v = runs_runtable_config_get(r, t->keys[k]);
            if (!cJSON_AddItemToObject(cfg, t->keys[k], v ? cJSON_Duplicate(v, 1) : cJSON_CreateNull()))
                goto oom;
        }
        if (!cJSON_AddStringToObject(o, "run", r->run) || !cJSON_AddNumberToObject(o, "step", (double)r->step) ||
            !cJSON_AddStringToObject(o, "state", r->state) ||
            !cJSON_AddItemToObject(o, "parent", r->parent[0] ? cJSON_CreateString(r->parent) : cJSON_CreateNull()) ||
            !cJSON_AddStringToObject(o, "tip", r->tip) || !cJSON_AddStringToObject(o, "kind", r->kind) ||
            !cJSON_AddItemToObject(o, "loss", num_or_null(r->has_loss, r->loss_ema)) ||
            !cJSON_AddItemToObject(o, "val_loss", num_or_null(r->has_val, r->val_loss)) ||
            !cJSON_AddNumberToObject(o, "tokens", r->tokens) ||
            !cJSON_AddItemToObject(o, "updated", r->updated[0] ? cJSON_CreateString(r->updated) : cJSON_CreateNull()))
            goto oom;
    }
    if (arr)
        return arr;
oom:
    cJSON_Delete(arr);
    runs_error_set(RUNS_ENOMEM, "out of memory printing the run table");
    return NULL;
}
