/* store/nodecache.c — listing nodes from the refs, the cache and (for what the cache
 * lacks) the lineage; see store/nodecache.h. The list in memory is
 * store/nodecache_nodes.c, a node read from the lineage store/nodecache_read.c. */
#define _GNU_SOURCE
#include <git2.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "store/internal.h"
#include "store/nodecache_int.h"
#include "store/notes.h"

int runs_nodecache_enabled(void)
{
    const char *e = getenv("RUNS_NO_NODECACHE");
    return !e || !*e || !strcmp(e, "0");
}

static void cache_path(char *buf, size_t n, runs_store *s)
{
    snprintf(buf, n, "%s/cache/nodes", s->dir);
}

/* ---- walking ---- */

typedef struct {
    runs_store *s;
    runs_nodes *out;
    const nc_file *cache; /* NULL: read every node from the lineage */
    size_t learned;       /* nodes read from the lineage */
    int objfd;            /* lineage.git/objects, to see that a record's commit file is unchanged */
} walker;

/* Node id's fields: the cache's record when it has one, else the lineage's. */
static int get_node(runs_node_info *o, walker *w, const char *id)
{
    const nc_rec *r = w->cache ? runs__nc_find(w->cache, id) : NULL;
    if (r && runs__nc_info(o, w->cache, r) == 0) {
        runs_node_info now;
        runs__nc_commit_file(&now, w->objfd, id);
        if (now.file_ino && now.file_ino == o->file_ino && now.file_size == o->file_size &&
            now.file_ctime_ns == o->file_ctime_ns)
            return 0;
        /* the commit's file changed, went or is packed: the record may not speak for it */
    }
    runs_error_clear(); /* a record with a bad string offset: read the node instead */
    int rc = runs__nc_read_node(o, w->out, w->s, id, w->objfd);
    if (rc == 0)
        w->learned++;
    return rc;
}

/* Adds start and its first-parent chain down to a node already listed, each with
 * flags. The commits here have one parent at most (the manifest's). A node that cannot
 * be read below start is a damaged lineage (RUNS_ECORRUPT); start's own failure is
 * returned as it is (the caller words it). */
static int walk_from(walker *w, const char *start, unsigned flags)
{
    char cur[41], prev[41] = "";
    snprintf(cur, sizeof cur, "%s", start);
    while (cur[0] && !runs_nodecache_find(w->out, cur)) {
        runs_node_info o;
        int rc = get_node(&o, w, cur);
        if (rc && prev[0])
            rc = runs_error_wrap(RUNS_ECORRUPT,
                                 "node %.12s (parent of %.12s) cannot be read from lineage.git "
                                 "(run `runs verify --all`)",
                                 cur, prev);
        if (rc)
            return rc;
        o.flags |= flags;
        if ((rc = runs__nc_nodes_add(w->out, &o)) != 0)
            return rc;
        memcpy(prev, cur, 41);
        memcpy(cur, o.parent, 41);
    }
    return 0;
}

/* The commit a ref names into commit (peeling an annotated tag): a listed or cached
 * id is a commit already; anything else is looked up. */
static int ref_commit(char commit[41], walker *w, const nc_ref *t)
{
    git_oid oid;
    git_object *o = NULL, *c = NULL;
    git_repository *repo;
    memcpy(commit, t->hex, 41);
    if (runs_nodecache_find(w->out, t->hex) || (w->cache && runs__nc_find(w->cache, t->hex)))
        return 0;
    int rc = runs__store_git(&repo, w->s);
    if (rc)
        return rc;
    if (git_oid_fromstr(&oid, t->hex) != 0 || git_object_lookup(&o, repo, &oid, GIT_OBJECT_ANY) != 0 ||
        git_object_peel(&c, o, GIT_OBJECT_COMMIT) != 0) {
        git_object_free(o);
        git_error_clear();
        return runs_error_set(RUNS_ECORRUPT, "ref %s names no readable commit (run `runs verify --all`)", t->name);
    }
    git_oid_tostr(commit, 41, git_object_id(c));
    git_object_free(c);
    git_object_free(o);
    return 0;
}

/* Sets RUNS_NODE_HAS_NOTE from one pass over refs/notes/runs, so a listing reads
 * only the notes that exist. When the notes cannot be listed every node is marked:
 * the caller then asks each node, as it did before this index. A store without notes
 * is told from the ref files alone, so such a listing never loads libgit2. */
static void mark_notes(runs_nodes *n, runs_store *s)
{
    git_note_iterator *it = NULL;
    git_repository *repo;
    git_oid note, target;
    char hex[41];
    int listed = 0, g = runs__ref_read_hex(hex, s, RUNS_NOTES_REF);
    if (g == RUNS_ENOTFOUND)
        return;
    if (g == 0 && runs__store_git(&repo, s) == 0) {
        g = git_note_iterator_new(&it, repo, RUNS_NOTES_REF);
        if (g == 0) {
            while ((g = git_note_next(&note, &target, it)) == 0) {
                git_oid_tostr(hex, sizeof hex, &target);
                runs_node_info *o = (runs_node_info *)runs_nodecache_find(n, hex);
                if (o)
                    o->flags |= RUNS_NODE_HAS_NOTE;
            }
            git_note_iterator_free(it);
        }
        listed = g == GIT_ITEROVER || g == GIT_ENOTFOUND;
        git_error_clear();
    }
    if (!listed)
        for (size_t i = 0; i < n->n; i++)
            n->v[i].flags |= RUNS_NODE_HAS_NOTE;
    runs_error_clear();
}

/* Reorders n (see runs__nc_order) and re-indexes it. */
static int order_nodes(runs_nodes *n)
{
    size_t *par = malloc((n->n ? n->n : 1) * sizeof *par);
    if (!par)
        return runs_error_set(RUNS_ENOMEM, "out of memory ordering %zu nodes", n->n);
    for (size_t i = 0; i < n->n; i++) {
        const runs_node_info *p = n->v[i].parent[0] ? runs_nodecache_find(n, n->v[i].parent) : NULL;
        par[i] = p ? (size_t)(p - n->v) : n->n;
    }
    int rc = runs__nc_order(n->v, n->n, par);
    free(par);
    return rc ? rc : runs__nc_index_rebuild(n, n->n);
}

/* ---- the listings ---- */

static int cmp_tag(const void *a, const void *b)
{
    const runs_tag_ref *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : strcmp(x->name, y->name);
}

/* Adds ref t, naming commit, to n's user tags when it is one: refs/tags/NAME (per-step
 * tags RUN/step_N are node names, not tags). */
static int add_tag(runs_nodes *n, const nc_ref *t, const char *commit)
{
    const char *tag = t->name + 10;
    if (strncmp(t->name, "refs/tags/", 10) != 0 || strchr(tag, '/'))
        return 0;
    runs_tag_ref *nt = realloc(n->tags, (n->ntags + 1) * sizeof *nt);
    if (nt)
        n->tags = nt;
    if (!nt || !(nt[n->ntags].name = strdup(tag)))
        return runs_error_set(RUNS_ENOMEM, "out of memory listing tags");
    memcpy(n->tags[n->ntags++].id, commit, 41);
    return 0;
}

/* Writes v[0..n) as the cache; must: report a failure (else a listing goes on). */
static int save(runs_store *s, const runs_node_info *v, size_t n, int must)
{
    char p[4096];
    cache_path(p, sizeof p, s);
    int rc = runs__nc_write(p, v, n);
    if (rc && !must) {
        runs_error_clear(); /* a read-only store lists from the lineage every time */
        rc = 0;
    }
    return rc;
}

/* read_cache: use STORE/cache/nodes; write: 0 never, 1 when it learned anything or
 * holds unreachable records (best effort), 2 always (and report a failure). */
static int walk_all(runs_nodes *out, runs_store *s, int read_cache, int write)
{
    nc_ref *refs = NULL;
    size_t nrefs = 0;
    char p[4096], *names = NULL;
    int rc = runs__nc_nodes_init(out);
    walker w = {.s = s, .out = out, .objfd = -1};
    if (rc || (rc = runs__nc_read_refs(&refs, &nrefs, &names, s, 0)) != 0)
        goto done;
    if (read_cache) {
        cache_path(p, sizeof p, s);
        if (runs__nc_load(&out->mem->cache, p) != 0)
            runs_error_clear(); /* damaged: rebuilt from the lineage below */
        w.cache = &out->mem->cache;
    }
    if (read_cache || write)
        w.objfd = runs__nc_objects_dir(s);
    /* heads first, so what a rewound ref reaches beyond them is what no run's tip keeps */
    static const char *const phases[] = {"refs/heads/", "refs/rewound/", "refs/tags/"};
    for (int ph = 0; ph < 3; ph++)
        for (size_t i = 0; i < nrefs; i++) {
            char commit[41];
            if (strncmp(refs[i].name, phases[ph], strlen(phases[ph])) != 0)
                continue;
            if ((rc = ref_commit(commit, &w, &refs[i])) != 0)
                goto done;
            if ((rc = walk_from(&w, commit, ph == 1 ? RUNS_NODE_REWOUND : 0)) != 0) {
                rc = runs_error_wrap(RUNS_ECORRUPT, "walking from ref %s (run `runs verify --all`)", refs[i].name);
                goto done;
            }
            if (ph == 2 && (rc = add_tag(out, &refs[i], commit)) != 0)
                goto done;
        }
    if (out->ntags > 1)
        qsort(out->tags, out->ntags, sizeof *out->tags, cmp_tag);
    if (write == 2 || (write == 1 && (w.learned || out->mem->cache.n != out->n)))
        if ((rc = save(s, out->v, out->n, write == 2)) != 0)
            goto done;
    if ((rc = order_nodes(out)) != 0)
        goto done;
    mark_notes(out, s);
done:
    if (w.objfd >= 0)
        close(w.objfd);
    free(refs);
    free(names);
    return rc;
}

int runs_nodecache_all(runs_nodes *out, runs_store *s)
{
    int on = runs_nodecache_enabled();
    return walk_all(out, s, on, on);
}

int runs_nodecache_tags(runs_tag_ref **out, size_t *n, runs_store *s)
{
    nc_ref *refs = NULL;
    size_t nrefs = 0;
    char *names = NULL;
    runs_nodes tmp;
    int rc = runs__nc_nodes_init(&tmp);
    walker w = {.s = s, .out = &tmp, .objfd = -1};
    *out = NULL;
    *n = 0;
    if (rc || (rc = runs__nc_read_refs(&refs, &nrefs, &names, s, 1)) != 0)
        goto done;
    for (size_t i = 0; i < nrefs; i++) {
        char commit[41];
        if ((rc = ref_commit(commit, &w, &refs[i])) != 0 || (rc = add_tag(&tmp, &refs[i], commit)) != 0)
            goto done;
    }
    if (tmp.ntags > 1)
        qsort(tmp.tags, tmp.ntags, sizeof *tmp.tags, cmp_tag);
    *out = tmp.tags;
    *n = tmp.ntags;
    tmp.tags = NULL;
    tmp.ntags = 0;
done:
    runs_nodecache_free(&tmp);
    free(refs);
    free(names);
    return rc;
}

int runs_nodecache_rebuild(runs_store *s)
{
    runs_nodes n;
    char p[4096];
    int rc = walk_all(&n, s, 0, 2);
    runs_nodecache_free(&n);
    if (rc) { /* no listing may use a record verify found wrong: the next one rebuilds */
        cache_path(p, sizeof p, s);
        unlink(p);
    }
    return rc;
}

int runs_nodecache_lineage(runs_nodes *out, runs_store *s, const char *id)
{
    char p[4096];
    runs_node_info *all = NULL;
    int rc = runs__nc_nodes_init(out), on = runs_nodecache_enabled();
    walker w = {.s = s, .out = out, .objfd = -1};
    if (rc)
        goto done;
    if (on) {
        cache_path(p, sizeof p, s);
        if (runs__nc_load(&out->mem->cache, p) != 0)
            runs_error_clear();
        w.cache = &out->mem->cache;
        w.objfd = runs__nc_objects_dir(s);
    }
    if ((rc = walk_from(&w, id ? id : "", 0)) != 0)
        goto done;
    mark_notes(out, s);
    if (on && w.learned) {
        /* the cache's records and the nodes learned: this walk cannot tell what is
         * unreachable, so it prunes nothing (the next full walk does) */
        const nc_file *f = &out->mem->cache;
        size_t k = 0;
        if (!(all = malloc((f->n + out->n) * sizeof *all))) {
            rc = runs_error_set(RUNS_ENOMEM, "out of memory extending the node cache");
            goto done;
        }
        for (size_t i = 0; i < f->n; i++)
            if (runs__nc_info(&all[k], f, &f->recs[i]) == 0)
                k++;
        memcpy(all + k, out->v, out->n * sizeof *all);
        rc = save(s, all, k + out->n, 0);
    }
done:
    if (w.objfd >= 0)
        close(w.objfd);
    free(all);
    return rc;
}

/* ---- verify ---- */

int runs_nodecache_check(size_t *bad, char *msg, size_t msglen, runs_store *s, const char (*ids)[41], size_t n)
{
    nc_file f;
    runs_nodes tmp;
    char p[4096];
    *bad = 0;
    msg[0] = '\0';
    cache_path(p, sizeof p, s);
    int rc = runs__nc_load(&f, p);
    if (rc == RUNS_ECORRUPT) {
        *bad = 1;
        snprintf(msg, msglen, "%s; the next listing rewrites it (or `runs verify --repair`)", runs_error_message());
        runs_error_clear();
        return 0;
    }
    if (rc || (rc = runs__nc_nodes_init(&tmp)) != 0) {
        runs__nc_free(&f);
        return rc;
    }
    for (size_t i = 0; i < n && f.n; i++) {
        const nc_rec *r = runs__nc_find(&f, ids[i]);
        runs_node_info c, l;
        const char *field = "a string offset";
        if (!r)
            continue;
        if (runs__nc_info(&c, &f, r) == 0) {
            /* the lineage's damage is reported by its own checks */
            if (runs__nc_read_node(&l, &tmp, s, ids[i], -1) != 0) {
                runs_error_clear();
                continue;
            }
            if (runs__nc_same(&c, &l, &field))
                continue;
        }
        if ((*bad)++ == 0)
            snprintf(msg, msglen,
                     "%s: the record of node %.12s disagrees with its commit (%s); `runs verify --repair` "
                     "rewrites the cache (the lineage is not touched)",
                     p, ids[i], field);
    }
    runs_error_clear();
    runs_nodecache_free(&tmp);
    runs__nc_free(&f);
    return 0;
}
