/* store/node_all.c — every node reachable from a ref (runs_node_all), walked by hand.
 *
 * libgit2's revwalk read each commit twice here: every node has a per-step tag, so
 * every node is a tip; pushing a tip parses its commit, and the walk then reads the
 * same object raw again (its own commit list does not use the parsed object). At
 * 100k nodes that was 200k object reads. Here the walk starts from the heads and
 * rewound tips, reading each commit once for its parents; a tag naming a commit that
 * walk has read costs nothing more, and any other tag is peeled and walked from. The
 * order is made afterwards: children before parents, newer commit time first, then
 * the order the walk met the nodes. A commit that cannot be read is damage, never a
 * shorter list.
 */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "store/internal.h"
#include "store/lineage.h"
#include "store/ready_heap.h"

/* ---- the nodes met so far: an array and an open-addressing index by oid ---- */

typedef struct {
    git_oid oid;
    int64_t time;
    size_t kids;       /* children met that are not yet listed */
    size_t par0, npar; /* parents: pars[par0 .. par0 + npar) */
} wnode;

typedef struct {
    wnode *v;
    size_t n, cap;
    size_t *slot, nslot; /* index + 1 into v, 0 = empty; nslot a power of two */
    size_t *pars, npars, cappars;
} walk;

static size_t oid_hash(const git_oid *o)
{
    size_t h;
    memcpy(&h, o->id, sizeof h); /* the oid is a SHA-1: its bytes are already spread */
    return h;
}

static int index_grow(walk *w)
{
    size_t ns = w->nslot ? w->nslot * 2 : 1024;
    size_t *nv = calloc(ns, sizeof *nv);
    if (!nv)
        return runs_error_set(RUNS_ENOMEM, "out of memory walking lineage.git");
    for (size_t i = 0; i < w->n; i++) {
        size_t k = oid_hash(&w->v[i].oid) & (ns - 1);
        while (nv[k])
            k = (k + 1) & (ns - 1);
        nv[k] = i + 1;
    }
    free(w->slot);
    w->slot = nv;
    w->nslot = ns;
    return 0;
}

/* The slot of oid in the index: the one holding it, or the empty one where it would
 * go. The index must exist (nslot > 0) and have an empty slot. */
static size_t slot_of(const walk *w, const git_oid *oid)
{
    size_t k = oid_hash(oid) & (w->nslot - 1);
    while (w->slot[k] && !git_oid_equal(&w->v[w->slot[k] - 1].oid, oid))
        k = (k + 1) & (w->nslot - 1);
    return k;
}

/* The index of oid in w->v, adding it (not yet read: time -1) when new; *added says
 * which. (size_t)-1 when out of memory. */
static size_t node_at(walk *w, const git_oid *oid, int *added)
{
    *added = 0;
    if (2 * (w->n + 1) > w->nslot && index_grow(w) != 0)
        return (size_t)-1;
    size_t k = slot_of(w, oid);
    if (w->slot[k])
        return w->slot[k] - 1;
    if (w->n == w->cap) {
        size_t nc = w->cap ? w->cap * 2 : 256;
        wnode *nv = realloc(w->v, nc * sizeof *nv);
        if (!nv) {
            runs_error_set(RUNS_ENOMEM, "out of memory walking lineage.git");
            return (size_t)-1;
        }
        w->v = nv;
        w->cap = nc;
    }
    memset(&w->v[w->n], 0, sizeof w->v[w->n]);
    w->v[w->n].oid = *oid;
    w->v[w->n].time = -1;
    w->slot[k] = w->n + 1;
    *added = 1;
    return w->n++;
}

/* 1 when oid was met and read */
static int node_seen(const walk *w, const git_oid *oid)
{
    if (!w->nslot)
        return 0;
    size_t k = slot_of(w, oid);
    return w->slot[k] && w->v[w->slot[k] - 1].time >= 0;
}

static int par_add(walk *w, size_t p)
{
    if (w->npars == w->cappars) {
        size_t nc = w->cappars ? w->cappars * 2 : 256;
        size_t *nv = realloc(w->pars, nc * sizeof *nv);
        if (!nv)
            return runs_error_set(RUNS_ENOMEM, "out of memory walking lineage.git");
        w->pars = nv;
        w->cappars = nc;
    }
    w->pars[w->npars++] = p;
    return 0;
}

/* Reads node i (met, not yet read) and every node below it not met before: an
 * explicit stack, since a run's chain is as deep as it has nodes. */
static int read_from(walk *w, git_repository *repo, size_t i, size_t **stack, size_t *cap)
{
    size_t top = 0;
    (*stack)[top++] = i;
    while (top) {
        size_t cur = (*stack)[--top];
        git_commit *c = NULL;
        if (git_commit_lookup(&c, repo, &w->v[cur].oid) != 0) {
            char hex[41], what[160];
            git_oid_tostr(hex, sizeof hex, &w->v[cur].oid);
            snprintf(what, sizeof what, "reading commit %.12s of lineage.git (run `runs verify --all`)", hex);
            return runs__git_error(RUNS_ECORRUPT, what);
        }
        unsigned np = git_commit_parentcount(c);
        w->v[cur].time = (int64_t)git_commit_time(c);
        w->v[cur].par0 = w->npars;
        w->v[cur].npar = np;
        int rc = 0;
        for (unsigned k = 0; k < np && rc == 0; k++) {
            int added;
            size_t p = node_at(w, git_commit_parent_id(c, k), &added);
            if (p == (size_t)-1) {
                rc = RUNS_ENOMEM;
                break;
            }
            if ((rc = par_add(w, p)) != 0)
                break;
            w->v[p].kids++;
            if (!added)
                continue;
            if (top == *cap) {
                size_t nc = *cap * 2;
                size_t *ns = realloc(*stack, nc * sizeof *ns);
                if (!ns) {
                    rc = runs_error_set(RUNS_ENOMEM, "out of memory walking lineage.git");
                    break;
                }
                *stack = ns;
                *cap = nc;
            }
            (*stack)[top++] = p;
        }
        git_commit_free(c);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- the order: a heap of the nodes whose children are all listed ---- */

static int ready_before(const void *ctx, size_t a, size_t b)
{
    const wnode *v = ctx;
    if (v[a].time != v[b].time)
        return v[a].time > v[b].time;
    return a < b;
}

int runs_node_all(char (**ids)[41], size_t *n, runs_store *s)
{
    git_reference_iterator *it = NULL;
    git_reference *r = NULL;
    git_repository *repo;
    walk w = {0};
    size_t *stack = NULL, scap = 256, cnt = 0;
    runs__ready_heap h = {NULL, 0, ready_before, NULL};
    char(*v)[41] = NULL;
    int rc = 0, g;
    *ids = NULL;
    *n = 0;
    /* libgit2 skips ref files it cannot parse: read them ourselves first */
    if ((rc = runs__refs_first_damage(s, 0)) != 0 || (rc = runs__store_git(&repo, s)) != 0)
        goto done;
    if (!(stack = malloc(scap * sizeof *stack))) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory walking lineage.git");
        goto done;
    }
    /* heads, rewound tips and tags only: refs/notes/ holds notes commits, not nodes.
     * Every ref must lead to a commit: one that does not is damage, never a shorter
     * list (gc decides what to delete from this list). The heads and rewound tips
     * first: their walk meets nearly every tagged node, whose tag then costs no read. */
    const char *globs[] = {"refs/heads/*", "refs/rewound/*", "refs/tags/*"}; /* rewound: runs_run_rewind */
    for (size_t k = 0; k < sizeof globs / sizeof globs[0]; k++) {
        if (git_reference_iterator_glob_new(&it, repo, globs[k]) != 0) {
            rc = runs__git_error(RUNS_ECORRUPT, "listing the refs of lineage.git");
            goto done;
        }
        while ((g = git_reference_next(&r, it)) == 0) {
            git_object *o = NULL;
            const git_oid *direct = git_reference_target(r);
            if (direct && node_seen(&w, direct)) {
                /* a per-step tag naming a node the heads' walk has read: nothing to peel */
                git_reference_free(r);
                r = NULL;
                continue;
            }
            if (git_reference_peel(&o, r, GIT_OBJECT_COMMIT) != 0) {
                char what[512];
                snprintf(what, sizeof what, "ref %s names no readable commit (run `runs verify --all`)",
                         git_reference_name(r));
                rc = runs__git_error(RUNS_ECORRUPT, what);
                goto done;
            }
            int added;
            size_t i = node_at(&w, git_object_id(o), &added);
            git_object_free(o);
            if (i == (size_t)-1) {
                rc = RUNS_ENOMEM;
                goto done;
            }
            if (added && (rc = read_from(&w, repo, i, &stack, &scap)) != 0)
                goto done;
            git_reference_free(r);
            r = NULL;
        }
        if (g != GIT_ITEROVER) {
            rc = runs__git_error(RUNS_ECORRUPT, "reading a ref of lineage.git (run `runs verify --all`)");
            goto done;
        }
        git_reference_iterator_free(it);
        it = NULL;
    }
    h.ctx = w.v;
    if (w.n && (!(h.v = malloc(w.n * sizeof *h.v)) || !(v = malloc(w.n * sizeof *v)))) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory listing nodes");
        goto done;
    }
    for (size_t i = 0; i < w.n; i++)
        if (!w.v[i].kids)
            runs__ready_push(&h, i);
    while (h.n) {
        size_t i = runs__ready_pop(&h);
        git_oid_tostr(v[cnt++], 41, &w.v[i].oid);
        for (size_t k = 0; k < w.v[i].npar; k++) {
            size_t p = w.pars[w.v[i].par0 + k];
            if (--w.v[p].kids == 0)
                runs__ready_push(&h, p);
        }
    }
    if (cnt != w.n) { /* a cycle: git's hashes make one impossible, so it is damage */
        rc = runs_error_set(RUNS_ECORRUPT, "lineage.git's commits form a cycle (run `runs verify --all`)");
        goto done;
    }
    *ids = v;
    *n = cnt;
    v = NULL;
done:
    free(v);
    free(h.v);
    free(stack);
    free(w.v);
    free(w.slot);
    free(w.pars);
    git_reference_free(r);
    git_reference_iterator_free(it);
    return rc;
}
