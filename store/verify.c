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

static void problem(runs_verify_report *r, runs_verify_cb cb, void *ctx, const char *subject, const char *msg)
{
    r->problems++;
    if (cb)
        cb(ctx, subject, msg);
}

/* ---- the lineage walk: every commit reachable from a ref, past damage ---- */

typedef struct {
    git_oid *slot;
    unsigned char *used;
    size_t cap, n;
} oidset;

static size_t oid_hash(const git_oid *o)
{
    size_t h;
    memcpy(&h, o->id, sizeof h);
    return h;
}

/* 1 when added, 0 when already there, negative on error */
static int oidset_add(oidset *set, const git_oid *o)
{
    if (2 * (set->n + 1) > set->cap) {
        oidset big = {.cap = set->cap ? set->cap * 2 : 1024};
        if (!(big.slot = calloc(big.cap, sizeof *big.slot)) || !(big.used = calloc(big.cap, 1))) {
            free(big.slot);
            return runs_error_set(RUNS_ENOMEM, "out of memory walking the lineage");
        }
        for (size_t i = 0; i < set->cap; i++)
            if (set->used[i])
                oidset_add(&big, &set->slot[i]);
        free(set->slot);
        free(set->used);
        *set = big;
    }
    for (size_t i = oid_hash(o) & (set->cap - 1);; i = (i + 1) & (set->cap - 1)) {
        if (!set->used[i]) {
            set->used[i] = 1;
            set->slot[i] = *o;
            set->n++;
            return 1;
        }
        if (git_oid_equal(&set->slot[i], o))
            return 0;
    }
}

typedef struct {
    git_oid oid;
    char from[300]; /* what named it: a ref, or "parent of <id>" */
} pending;

static int push_pending(pending **v, size_t *n, size_t *cap, const git_oid *o, const char *from)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 256;
        pending *nv = realloc(*v, nc * sizeof *nv);
        if (!nv)
            return runs_error_set(RUNS_ENOMEM, "out of memory walking the lineage");
        *v = nv;
        *cap = nc;
    }
    (*v)[*n].oid = *o;
    snprintf((*v)[*n].from, sizeof(*v)[*n].from, "%s", from);
    (*n)++;
    return 0;
}

/* Every readable commit reachable from refs/heads and refs/tags into *ids; each ref
 * or commit that cannot be read is reported (and the walk goes on). */
static int walk_lineage(char (**ids)[41], size_t *nids, runs_verify_report *r, runs_store *s, runs_verify_cb cb,
                        void *ctx)
{
    git_reference_iterator *it = NULL;
    git_reference *ref = NULL;
    pending *todo = NULL;
    size_t nt = 0, ct = 0, cap = 0;
    oidset seen = {0};
    char(*v)[41] = NULL;
    char msg[1024];
    int rc = 0, g;
    *ids = NULL;
    *nids = 0;
    const char *globs[] = {"refs/heads/*", "refs/tags/*"};
    for (int k = 0; k < 2; k++) {
        if (git_reference_iterator_glob_new(&it, s->repo, globs[k]) != 0) {
            rc = runs__git_error(RUNS_ECORRUPT, "listing the refs of lineage.git");
            goto done;
        }
        /* ref files libgit2 cannot parse are skipped here; runs__refs_check reports them */
        while ((g = git_reference_next(&ref, it)) == 0) {
            const git_oid *o = git_reference_target(ref);
            char from[300];
            snprintf(from, sizeof from, "named by %.280s", git_reference_name(ref));
            if (o && (rc = push_pending(&todo, &nt, &ct, o, from)) != 0)
                goto done;
            git_reference_free(ref);
            ref = NULL;
        }
        git_reference_iterator_free(it);
        it = NULL;
        if (g != GIT_ITEROVER) {
            const git_error *e = git_error_last();
            snprintf(msg, sizeof msg, "refs: cannot list them: %s", e && e->message ? e->message : "libgit2 failed");
            problem(r, cb, ctx, "refs", msg);
        }
    }
    while (nt > 0) {
        pending p = todo[--nt];
        char hex[41];
        git_commit *c = NULL;
        if ((g = oidset_add(&seen, &p.oid)) < 0) {
            rc = g;
            goto done;
        }
        if (g == 0)
            continue;
        git_oid_tostr(hex, sizeof hex, &p.oid);
        if (git_commit_lookup(&c, s->repo, &p.oid) != 0) {
            const git_error *e = git_error_last();
            snprintf(msg, sizeof msg, "commit %s (%s) cannot be read: %s", hex, p.from,
                     e && e->message ? e->message : "libgit2 failed");
            problem(r, cb, ctx, hex, msg);
            continue;
        }
        if (*nids == cap) {
            cap = cap ? cap * 2 : 256;
            char(*nv)[41] = realloc(v, cap * sizeof *nv);
            if (!nv) {
                git_commit_free(c);
                rc = runs_error_set(RUNS_ENOMEM, "out of memory walking the lineage");
                goto done;
            }
            v = nv;
        }
        memcpy(v[(*nids)++], hex, 41);
        char from[300];
        snprintf(from, sizeof from, "parent of %.12s", hex);
        for (unsigned i = 0; rc == 0 && i < git_commit_parentcount(c); i++)
            rc = push_pending(&todo, &nt, &ct, git_commit_parent_id(c, i), from);
        git_commit_free(c);
        if (rc)
            goto done;
    }
    *ids = v;
    v = NULL;
done:
    if (rc)
        *nids = 0;
    free(v);
    free(todo);
    free(seen.slot);
    free(seen.used);
    git_reference_free(ref);
    git_reference_iterator_free(it);
    return rc;
}

/* ---- loose objects of lineage.git: libgit2 inflates and re-hashes on read ---- */

struct gitobj_job {
    git_odb *odb;
    git_oid *v;
    size_t n, cap;
};

static int collect_oid(const git_oid *id, void *payload)
{
    struct gitobj_job *j = payload;
    if (j->n == j->cap) {
        size_t nc = j->cap ? j->cap * 2 : 256;
        git_oid *nv = realloc(j->v, nc * sizeof *nv);
        if (!nv)
            return -1;
        j->v = nv;
        j->cap = nc;
    }
    j->v[j->n++] = *id;
    return 0;
}

static int check_git_objects(runs_verify_report *r, runs_store *s, runs_verify_cb cb, void *ctx)
{
    struct gitobj_job j = {0};
    char msg[1024];
    int rc = 0;
    /* strict: a read re-hashes the inflated bytes and fails on a mismatch */
    git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 1);
    git_libgit2_opts(GIT_OPT_ENABLE_CACHING, 0);
    if (git_repository_odb(&j.odb, s->repo) != 0) {
        rc = runs__git_error(RUNS_ERROR, "opening the object database of lineage.git");
        goto done;
    }
    if (git_odb_foreach(j.odb, collect_oid, &j) != 0) {
        rc = runs__git_error(RUNS_ECORRUPT, "listing the objects of lineage.git");
        goto done;
    }
    for (size_t i = 0; i < j.n; i++) {
        git_odb_object *o = NULL;
        char hex[41];
        git_oid_tostr(hex, sizeof hex, &j.v[i]);
        if (git_odb_read(&o, j.odb, &j.v[i]) != 0) {
            const git_error *e = git_error_last();
            snprintf(msg, sizeof msg, "lineage.git object %s is damaged: %s", hex,
                     e && e->message ? e->message : "cannot be read");
            problem(r, cb, ctx, hex, msg);
        }
        git_odb_object_free(o);
        r->git_objects++;
    }
done:
    git_libgit2_opts(GIT_OPT_ENABLE_CACHING, 1);
    git_odb_free(j.odb);
    free(j.v);
    return rc;
}

/* ---- refs, the ref journal, the thinned list ---- */

static int check_refs(runs_verify_report *r, runs_store *s, runs_verify_cb cb, void *ctx)
{
    runs_ref_state *v = NULL;
    runs_reflog_entry *log = NULL;
    size_t n = 0, nlog = 0, bad = 0;
    char msg[1024];
    int rc;
    if ((rc = runs__refs_check(&v, &n, s, 1)) != 0)
        goto done;
    for (size_t i = 0; i < n; i++) {
        r->refs++;
        if (!v[i].problem[0])
            continue;
        r->refs_damaged += (uint64_t)v[i].damaged;
        problem(r, cb, ctx, v[i].ref, v[i].problem);
    }
    if ((rc = runs__reflog_load(&log, &nlog, &bad, s)) != 0)
        goto done;
    if (bad) {
        snprintf(msg, sizeof msg, "lineage.git/runs-reflog: %zu malformed line%s (the ref journal is damaged)", bad,
                 bad == 1 ? "" : "s");
        problem(r, cb, ctx, "runs-reflog", msg);
    }
done:
    free(v);
    free(log);
    return rc;
}

/* STORE/cache/nodes against the lineage (store/nodecache.h): a record that disagrees
 * with its commit is damage of the cache, one line; never a reason to touch the lineage. */
static void check_nodecache(runs_verify_report *r, runs_store *s, const char (*ids)[41], size_t n, runs_verify_cb cb,
                            void *ctx)
{
    size_t bad = 0;
    char msg[1024];
    if (runs_nodecache_check(&bad, msg, sizeof msg, s, ids, n) == 0 && bad)
        problem(r, cb, ctx, "cache/nodes", msg);
    runs_error_clear();
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
    if ((rc = check_refs(&r, s, cb, ctx)) != 0)
        goto done;
    if (runs__thinned_load(s) != 0) {
        /* a damaged list: report it and check as if no node were thinned */
        snprintf(msg, sizeof msg, "%s", runs_error_message());
        problem(&r, cb, ctx, "thinned", msg);
        s->thinned_loaded = 1;
    }
    if ((rc = walk_lineage(&ids, &n, &r, s, cb, ctx)) != 0 || (rc = check_git_objects(&r, s, cb, ctx)) != 0)
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
        if (runs_manifest_validate(m) != 0) {
            r.problems++;
            snprintf(msg, sizeof msg, "node %s: invalid manifest: %s", nodes[i].label, runs_error_message());
            if (cb)
                cb(ctx, ids[i], msg);
        } else if (strcmp(par, mps) != 0) {
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
    check_nodecache(&r, s, (const char(*)[41])ids, n, cb, ctx);
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
    if (out)
        *out = r;
    free(ids);
    free(nodes);
    free(uses);
    free(objs);
    return rc;
}
