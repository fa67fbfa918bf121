/* store/verify.c — re-hash what the lineage references; see store/verify.h. */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/error.h"
#include "manifests/manifest.h"
#include "store/gc.h"
#include "store/internal.h"
#include "store/lineage.h"
#include "store/nodecache.h"
#include "store/object.h"
#include "store/pool.h"
#include "store/verify.h"
#include "store/verify_int.h"

typedef struct {
    char hex[65];
    size_t node; /* index into the node table, or (size_t)-1 for unreferenced */
} use;

typedef struct {
    char hex[65];
    size_t first, count; /* range in the sorted use table */
    uint64_t size;
    int rc;
    char msg[512];
} vobj;

typedef struct {
    char id[41];
    char label[96];
} vnode;

static int cmp_use(const void *a, const void *b)
{
    return strcmp(((const use *)a)->hex, ((const use *)b)->hex);
}

struct vjob {
    runs_store *s;
    vobj *objs;
    runs_progress *progress;
    pthread_mutex_t mu; /* the progress counter's lock */
};

/* Re-hashes one object. A damaged object is a finding, not a failure of the walk:
 * it is kept in the object's own rc and message, and the pool goes on. */
static int verify_one(void *ctx, size_t k)
{
    struct vjob *j = ctx;
    vobj *o = &j->objs[k];
    runs_object_size(&o->size, j->s, o->hex);
    o->rc = runs_object_verify(j->s, o->hex);
    if (o->rc)
        snprintf(o->msg, sizeof o->msg, "%s", runs_error_message());
    if (j->progress) {
        pthread_mutex_lock(&j->mu);
        runs_progress_add(j->progress, o->size);
        pthread_mutex_unlock(&j->mu);
    }
    return 0;
}

static int add_use(use **v, size_t *n, size_t *cap, const char *hex, size_t node)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 1024;
        use *nv = realloc(*v, nc * sizeof *nv);
        if (!nv)
            return runs_error_set(RUNS_ENOMEM, "out of memory in verify");
        *v = nv;
        *cap = nc;
    }
    snprintf((*v)[*n].hex, sizeof(*v)[*n].hex, "%s", hex);
    (*v)[*n].node = node;
    (*n)++;
    return 0;
}

void runs__verify_problem(runs_verify_report *r, runs_verify_cb cb, void *ctx, const char *subject, const char *msg)
{
    r->problems++;
    if (cb)
        cb(ctx, subject, msg);
}

int runs_store_repair_refs(size_t *repaired, size_t *unrepaired, runs_store *s, runs_verify_cb cb, void *ctx)
{
    int rc = runs__refs_repair(s, cb, ctx, repaired, unrepaired);
    char(*ids)[41] = NULL;
    size_t n = 0, bad = 0;
    char msg[1024];
    /* then the node cache, from the refs as repaired: rewritten when it disagrees */
    if (rc == 0 && runs_node_all(&ids, &n, s) == 0 &&
        runs_nodecache_check(&bad, msg, sizeof msg, s, (const char(*)[41])ids, n) == 0 && bad && cb)
        cb(ctx, "cache/nodes",
           runs_nodecache_rebuild(s) == 0
               ? "repaired cache/nodes: rewritten from the lineage"
               : "removed cache/nodes (it could not be rewritten); the next listing rebuilds it");
    runs_error_clear();
    free(ids);
    return rc;
}

int runs_store_verify(runs_verify_report *out, runs_store *s, int all, runs_progress *progress, runs_verify_cb cb,
                      void *ctx)
{
    runs_verify_report r;
    memset(&r, 0, sizeof r);
    char(*ids)[41] = NULL;
    size_t n = 0, nu = 0, cu = 0, no = 0;
    vnode *nodes = NULL;
    use *uses = NULL;
    vobj *objs = NULL;
    int rc = 0;
    char msg[1024];
    /* lineage.git's objects first: that pass reads each from disk with libgit2's cache
     * off, and turning the cache off empties it, so any later pass would read every
     * commit, tree and manifest again (3 reads of each object instead of 2) */
    if ((rc = runs__verify_git_objects(&r, s, cb, ctx)) != 0)
        goto done;
    runs__manifest_cache(1);
    if ((rc = runs__verify_refs(&r, s, cb, ctx)) != 0)
        goto done;
    if (runs__thinned_load(s) != 0) {
        /* a damaged list: report it and check as if no node were thinned */
        snprintf(msg, sizeof msg, "%s", runs_error_message());
        runs__verify_problem(&r, cb, ctx, "thinned", msg);
        s->thinned_loaded = 1;
    }
    if ((rc = runs__verify_walk_lineage(&ids, &n, &r, s, cb, ctx)) != 0)
        goto done;
    if (n && !(nodes = calloc(n, sizeof *nodes))) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory in verify");
        goto done;
    }
    r.nodes = n;
    for (size_t i = 0; i < n; i++) {
        cJSON *m = NULL;
        memcpy(nodes[i].id, ids[i], 41);
        snprintf(nodes[i].label, sizeof nodes[i].label, "%.12s", ids[i]);
        if (runs_node_manifest(&m, s, ids[i]) != 0) {
            r.problems++;
            snprintf(msg, sizeof msg, "%s", runs_error_message());
            if (cb)
                cb(ctx, ids[i], msg);
            continue;
        }
        const char *run = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "run"));
        const cJSON *step = cJSON_GetObjectItemCaseSensitive(m, "step");
        snprintf(nodes[i].label, sizeof nodes[i].label, "%s@step_%.0f (%.12s)", run ? run : "?",
                 cJSON_IsNumber(step) ? step->valuedouble : -1.0, ids[i]);
        char par[41] = "";
        runs_node_parent(par, s, ids[i]);
        const cJSON *mp = cJSON_GetObjectItemCaseSensitive(m, "parent");
        const char *mps = cJSON_IsString(mp) ? mp->valuestring : "";
        /* runs_node_manifest validated it (an invalid one is reported above) */
        if (strcmp(par, mps) != 0) {
            r.problems++;
            snprintf(msg, sizeof msg, "node %s: manifest parent %.12s differs from its commit parent %.12s",
                     nodes[i].label, *mps ? mps : "(none)", *par ? par : "(none)");
            if (cb)
                cb(ctx, ids[i], msg);
        }
        int thinned = runs__thinned_find(s, ids[i]) != NULL;
        r.nodes_thinned += (uint64_t)thinned;
        const char **tv = NULL, **av = NULL;
        size_t nt = 0, na = 0;
        rc = runs__manifest_objects(m, &tv, &nt, &av, &na);
        for (size_t k = 0; rc == 0 && !thinned && k < nt; k++)
            rc = add_use(&uses, &nu, &cu, tv[k], i);
        for (size_t k = 0; rc == 0 && k < na; k++)
            rc = add_use(&uses, &nu, &cu, av[k], i);
        free(tv);
        free(av);
        cJSON_Delete(m);
        if (rc)
            goto done;
    }
    runs__verify_nodecache(&r, s, (const char(*)[41])ids, n, cb, ctx);
    size_t referenced = nu;
    if (all) {
        /* every object file no node references (a sorted copy is searched) */
        if (nu)
            qsort(uses, nu, sizeof *uses, cmp_use);
        for (int d = 0; d < 256; d++) {
            char dir[4200];
            snprintf(dir, sizeof dir, "%s/objects/%02x", s->dir, d);
            DIR *dh = opendir(dir);
            struct dirent *e;
            if (!dh)
                continue;
            while ((e = readdir(dh)) != NULL) {
                use key;
                snprintf(key.hex, sizeof key.hex, "%02x%.62s", d, e->d_name);
                if (strlen(e->d_name) != 62 || !runs_oid_valid(key.hex))
                    continue;
                if (referenced && bsearch(&key, uses, referenced, sizeof *uses, cmp_use))
                    continue;
                if ((rc = add_use(&uses, &nu, &cu, key.hex, (size_t)-1)) != 0)
                    break;
                r.unreferenced++;
            }
            closedir(dh);
            if (rc)
                goto done;
        }
    }
    if (nu)
        qsort(uses, nu, sizeof *uses, cmp_use);
    if (nu && !(objs = calloc(nu, sizeof *objs))) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory in verify");
        goto done;
    }
    for (size_t i = 0; i < nu; i++) {
        if (no == 0 || strcmp(objs[no - 1].hex, uses[i].hex) != 0) {
            memcpy(objs[no].hex, uses[i].hex, 65);
            objs[no].first = i;
            no++;
        }
        objs[no - 1].count++;
    }
    struct vjob j = {.s = s, .objs = objs, .progress = progress};
    if (progress) {
        /* the total in bytes, so a TTY shows how far the re-hashing is */
        uint64_t total = 0, sz;
        for (size_t i = 0; i < no; i++)
            if (runs_object_size(&sz, s, objs[i].hex) == 0)
                total += sz;
        runs_error_clear();
        runs_progress_start(progress, "verify", total, 1);
    }
    pthread_mutex_init(&j.mu, NULL);
    runs_pool_run(no, runs__threads(no), verify_one, &j);
    pthread_mutex_destroy(&j.mu);
    if (progress)
        runs_progress_end(progress);
    r.objects = no;
    for (size_t i = 0; i < no; i++) {
        r.bytes += objs[i].size;
        if (!objs[i].rc)
            continue;
        r.problems++;
        size_t len = (size_t)snprintf(msg, sizeof msg, "%s", objs[i].msg);
        for (size_t k = 0; k < objs[i].count && len < sizeof msg - 100; k++) {
            size_t node = uses[objs[i].first + k].node;
            if (k > 0 && node == uses[objs[i].first + k - 1].node)
                continue;
            len += (size_t)snprintf(msg + len, sizeof msg - len, "%s%s", k ? ", " : " (used by ",
                                    node == (size_t)-1 ? "no node" : nodes[node].label);
        }
        if (len < sizeof msg - 2)
            snprintf(msg + len, sizeof msg - len, ")");
        if (cb)
            cb(ctx, objs[i].hex, msg);
    }
done:
    runs__manifest_cache(0);
    if (out)
        *out = r;
    free(ids);
    free(nodes);
    free(uses);
    free(objs);
    return rc;
}
