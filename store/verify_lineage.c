/* store/verify_lineage.c — the lineage side of `runs verify` (store/verify.h): every
 * commit reachable from a ref (walked past damage), the loose objects of lineage.git,
 * the ref files and their journal, and the node cache against the lineage. The objects
 * side and the report are store/verify.c. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "manifests/manifest.h"
#include "store/internal.h"
#include "store/lineage.h"
#include "store/nodecache.h"
#include "store/verify_int.h"

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
int runs__verify_walk_lineage(char (**ids)[41], size_t *nids, runs_verify_report *r, runs_store *s, runs_verify_cb cb,
                              void *ctx)
{
    git_reference_iterator *it = NULL;
    git_reference *ref = NULL;
    pending *todo = NULL;
    size_t nt = 0, ct = 0, cap = 0;
    oidset seen = {0};
    char(*v)[41] = NULL;
    char msg[1024];
    git_repository *repo;
    int rc = 0, g;
    *ids = NULL;
    *nids = 0;
    if ((rc = runs__store_git(&repo, s)) != 0)
        goto done;
    const char *globs[] = {"refs/heads/*", "refs/tags/*"};
    for (int k = 0; k < 2; k++) {
        if (git_reference_iterator_glob_new(&it, repo, globs[k]) != 0) {
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
            runs__verify_problem(r, cb, ctx, "refs", msg);
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
        if (git_commit_lookup(&c, repo, &p.oid) != 0) {
            const git_error *e = git_error_last();
            snprintf(msg, sizeof msg, "commit %s (%s) cannot be read: %s", hex, p.from,
                     e && e->message ? e->message : "libgit2 failed");
            runs__verify_problem(r, cb, ctx, hex, msg);
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

int runs__verify_git_objects(runs_verify_report *r, runs_store *s, runs_verify_cb cb, void *ctx)
{
    struct gitobj_job j = {0};
    char msg[1024];
    git_repository *repo;
    int rc = runs__store_git(&repo, s);
    if (rc)
        return rc;
    /* strict: a read re-hashes the inflated bytes and fails on a mismatch */
    git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 1);
    git_libgit2_opts(GIT_OPT_ENABLE_CACHING, 0);
    if (git_repository_odb(&j.odb, repo) != 0) {
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
            runs__verify_problem(r, cb, ctx, hex, msg);
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

int runs__verify_refs(runs_verify_report *r, runs_store *s, runs_verify_cb cb, void *ctx)
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
        runs__verify_problem(r, cb, ctx, v[i].ref, v[i].problem);
    }
    if ((rc = runs__reflog_load(&log, &nlog, &bad, s)) != 0)
        goto done;
    if (bad) {
        snprintf(msg, sizeof msg, "lineage.git/runs-reflog: %zu malformed line%s (the ref journal is damaged)", bad,
                 bad == 1 ? "" : "s");
        runs__verify_problem(r, cb, ctx, "runs-reflog", msg);
    }
done:
    free(v);
    free(log);
    return rc;
}

/* STORE/cache/nodes against the lineage (store/nodecache.h): a record that disagrees
 * with its commit is damage of the cache, one line; never a reason to touch the lineage. */
void runs__verify_nodecache(runs_verify_report *r, runs_store *s, const char (*ids)[41], size_t n, runs_verify_cb cb,
                            void *ctx)
{
    size_t bad = 0;
    char msg[1024];
    if (runs_nodecache_check(&bad, msg, sizeof msg, s, ids, n) == 0 && bad)
        runs__verify_problem(r, cb, ctx, "cache/nodes", msg);
    runs_error_clear();
}
