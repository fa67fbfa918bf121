/* store/nodecache.c — listing nodes from the refs, the cache and (for what the cache
 * lacks) the lineage; see store/nodecache.h. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <git2.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/file.h"
#include "manifests/canon.h"
#include "manifests/manifest.h"
#include "store/internal.h"
#include "store/nodecache_int.h"
#include "store/notes.h"

struct runs_nodes_mem {
    nc_file cache; /* the loaded cache file: cached nodes' strings point into it */
    char **blocks; /* strings of nodes read from the lineage */
    size_t nblocks;
    size_t *index; /* open addressing over v: position + 1, 0 = empty */
    size_t nindex;
    size_t cap; /* allocated entries of v */
};

int runs_nodecache_enabled(void)
{
    const char *e = getenv("RUNS_NO_NODECACHE");
    return !e || !*e || !strcmp(e, "0");
}

static void cache_path(char *buf, size_t n, runs_store *s)
{
    snprintf(buf, n, "%s/cache/nodes", s->dir);
}

void runs_nodecache_free(runs_nodes *n)
{
    if (!n)
        return;
    if (n->mem) {
        runs__nc_free(&n->mem->cache);
        for (size_t i = 0; i < n->mem->nblocks; i++)
            free(n->mem->blocks[i]);
        free(n->mem->blocks);
        free(n->mem->index);
        free(n->mem);
    }
    free(n->v);
    runs_tag_map_free(n->tags, n->ntags);
    memset(n, 0, sizeof *n);
}

/* ---- the id index ---- */

static size_t id_hash(const char *id)
{
    size_t h = 0;
    for (int i = 0; i < 16; i++)
        h = h * 16 + (size_t)(id[i] <= '9' ? id[i] - '0' : id[i] - 'a' + 10);
    return h;
}

static int index_rebuild(runs_nodes *n, size_t want)
{
    runs_nodes_mem *m = n->mem;
    size_t ni = 64;
    while (ni < 2 * want)
        ni *= 2;
    size_t *idx = calloc(ni, sizeof *idx);
    if (!idx)
        return runs_error_set(RUNS_ENOMEM, "out of memory indexing %zu nodes", want);
    for (size_t i = 0; i < n->n; i++) {
        size_t k = id_hash(n->v[i].id) & (ni - 1);
        while (idx[k])
            k = (k + 1) & (ni - 1);
        idx[k] = i + 1;
    }
    free(m->index);
    m->index = idx;
    m->nindex = ni;
    return 0;
}

const runs_node_info *runs_nodecache_find(const runs_nodes *n, const char *id)
{
    if (!n->mem || !n->mem->nindex || !id || strlen(id) != 40)
        return NULL;
    size_t mask = n->mem->nindex - 1;
    for (size_t k = id_hash(id) & mask; n->mem->index[k]; k = (k + 1) & mask)
        if (!strcmp(n->v[n->mem->index[k] - 1].id, id))
            return &n->v[n->mem->index[k] - 1];
    return NULL;
}

/* Appends *o to n (and to the index). */
static int nodes_add(runs_nodes *n, const runs_node_info *o)
{
    runs_nodes_mem *m = n->mem;
    if (n->n == m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 256;
        runs_node_info *nv = realloc(n->v, nc * sizeof *nv);
        if (!nv)
            return runs_error_set(RUNS_ENOMEM, "out of memory listing %zu nodes", n->n);
        n->v = nv;
        m->cap = nc;
    }
    n->v[n->n++] = *o;
    if (2 * n->n > m->nindex)
        return index_rebuild(n, n->n);
    size_t k = id_hash(o->id) & (m->nindex - 1);
    while (m->index[k])
        k = (k + 1) & (m->nindex - 1);
    m->index[k] = n->n;
    return 0;
}

static int nodes_init(runs_nodes *n)
{
    memset(n, 0, sizeof *n);
    if (!(n->mem = calloc(1, sizeof *n->mem)))
        return runs_error_set(RUNS_ENOMEM, "out of memory listing nodes");
    return index_rebuild(n, 0);
}

/* A copy of s kept as long as n (NULL stays NULL). */
static int keep_str(const char **out, runs_nodes *n, const char *s)
{
    *out = NULL;
    if (!s)
        return 0;
    char **nb = realloc(n->mem->blocks, (n->mem->nblocks + 1) * sizeof *nb);
    if (!nb)
        return runs_error_set(RUNS_ENOMEM, "out of memory listing nodes");
    n->mem->blocks = nb;
    if (!(nb[n->mem->nblocks] = strdup(s)))
        return runs_error_set(RUNS_ENOMEM, "out of memory listing nodes");
    *out = nb[n->mem->nblocks++];
    return 0;
}

/* ---- a node from the lineage ---- */

/* changes.config as `runs log` shows it: the first three paths with their old and new
 * values (canonical JSON, 24 characters at most), then how many more. */
static int changes_text(runs_buf *b, int *total, const cJSON *m)
{
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(m, "changes"), "config");
    int shown = 0;
    const cJSON *e;
    *total = cJSON_GetArraySize(cfg);
    cJSON_ArrayForEach (e, cfg) {
        if (shown == 3)
            break;
        const cJSON *path = cJSON_GetObjectItemCaseSensitive(e, "path");
        const cJSON *av = cJSON_GetObjectItemCaseSensitive(e, "a");
        const cJSON *bv = cJSON_GetObjectItemCaseSensitive(e, "b");
        char *a = av ? runs_json_canonical(av) : NULL;
        char *bb = bv ? runs_json_canonical(bv) : NULL;
        runs_buf_printf(b, "%s%s %.24s->%.24s",
                        shown ? ", " : "  changed: ", cJSON_IsString(path) ? path->valuestring : "?", a ? a : "null",
                        bb ? bb : "null");
        free(a);
        free(bb);
        shown++;
    }
    if (*total > shown)
        runs_buf_printf(b, " (+%d more; runs show)", *total - shown);
    return b->oom ? runs_error_set(RUNS_ENOMEM, "out of memory summarising a node's changes") : 0;
}

/* The loose object file of commit id (under the objects directory objfd) into o's
 * file_* fields; zeros when it is not loose or cannot be seen. */
static void commit_file(runs_node_info *o, int objfd, const char *id)
{
    char rel[42];
    struct stat st;
    o->file_ino = o->file_size = 0;
    o->file_ctime_ns = 0;
    if (objfd < 0)
        return;
    snprintf(rel, sizeof rel, "%.2s/%.38s", id, id + 2);
    if (fstatat(objfd, rel, &st, 0) != 0 || !S_ISREG(st.st_mode))
        return;
    o->file_ino = (uint64_t)st.st_ino;
    o->file_size = (uint64_t)st.st_size;
    o->file_ctime_ns = (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec;
}

static int objects_dir(runs_store *s)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/lineage.git/objects", s->dir);
    return open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* Node id's fields from its commit and its (validated) manifest; objfd: where to see
 * its loose object file (-1: not asked). */
static int read_node(runs_node_info *o, runs_nodes *n, runs_store *s, const char *id, int objfd)
{
    git_oid oid;
    git_commit *c = NULL;
    cJSON *m = NULL;
    runs_buf ch = {0};
    int rc = 0;
    memset(o, 0, sizeof *o);
    if (strlen(id) != 40 || git_oid_fromstr(&oid, id) != 0 || git_commit_lookup(&c, s->repo, &oid) != 0) {
        rc = runs_error_set(RUNS_ENOTFOUND, "no node %.12s in %s/lineage.git", id, s->dir);
        goto done;
    }
    memcpy(o->id, id, 41);
    commit_file(o, objfd, id); /* before reading: a later change cannot pass for this one */
    if (git_commit_parentcount(c) > 0)
        git_oid_tostr(o->parent, 41, git_commit_parent_id(c, 0));
    o->time = (int64_t)git_commit_time(c);
    if ((rc = runs_node_manifest(&m, s, id)) != 0)
        goto done;
    const cJSON *v, *met = cJSON_GetObjectItemCaseSensitive(m, "metrics");
    if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(m, "step")))
        o->flags |= RUNS_NODE_HAS_STEP, o->step = v->valuedouble;
    if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(met, "loss")))
        o->flags |= RUNS_NODE_HAS_LOSS, o->loss = v->valuedouble;
    if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(met, "val_loss")))
        o->flags |= RUNS_NODE_HAS_VAL, o->val_loss = v->valuedouble;
    if ((rc = changes_text(&ch, &o->n_changes, m)) != 0)
        goto done;
    if (o->n_changes > 0xffff)
        o->n_changes = 0xffff; /* what a record holds */
    if ((rc = keep_str(&o->run, n, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "run")))) ||
        (rc = keep_str(&o->kind, n, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "kind")))) ||
        (rc = keep_str(&o->changes, n, ch.s ? ch.s : "")))
        goto done;
done:
    runs_buf_free(&ch);
    cJSON_Delete(m);
    git_commit_free(c);
    return rc;
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
        commit_file(&now, w->objfd, id);
        if (now.file_ino && now.file_ino == o->file_ino && now.file_size == o->file_size &&
            now.file_ctime_ns == o->file_ctime_ns)
            return 0;
        /* the commit's file changed, went or is packed: the record may not speak for it */
    }
    runs_error_clear(); /* a record with a bad string offset: read the node instead */
    int rc = read_node(o, w->out, w->s, id, w->objfd);
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
        if ((rc = nodes_add(w->out, &o)) != 0)
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
    memcpy(commit, t->hex, 41);
    if (runs_nodecache_find(w->out, t->hex) || (w->cache && runs__nc_find(w->cache, t->hex)))
        return 0;
    if (git_oid_fromstr(&oid, t->hex) != 0 || git_object_lookup(&o, w->s->repo, &oid, GIT_OBJECT_ANY) != 0 ||
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
 * the caller then asks each node, as it did before this index. */
static void mark_notes(runs_nodes *n, runs_store *s)
{
    git_note_iterator *it = NULL;
    git_oid note, target;
    char hex[41];
    int g = git_note_iterator_new(&it, s->repo, RUNS_NOTES_REF);
    if (g == GIT_ENOTFOUND) {
        git_error_clear();
        return;
    }
    if (g == 0) {
        while ((g = git_note_next(&note, &target, it)) == 0) {
            git_oid_tostr(hex, sizeof hex, &target);
            runs_node_info *o = (runs_node_info *)runs_nodecache_find(n, hex);
            if (o)
                o->flags |= RUNS_NODE_HAS_NOTE;
        }
        git_note_iterator_free(it);
    }
    if (g != GIT_ITEROVER)
        for (size_t i = 0; i < n->n; i++)
            n->v[i].flags |= RUNS_NODE_HAS_NOTE;
    git_error_clear();
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
    return rc ? rc : index_rebuild(n, n->n);
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
    int rc = nodes_init(out);
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
        w.objfd = objects_dir(s);
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
    int rc = nodes_init(&tmp);
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
    int rc = nodes_init(out), on = runs_nodecache_enabled();
    walker w = {.s = s, .out = out, .objfd = -1};
    if (rc)
        goto done;
    if (on) {
        cache_path(p, sizeof p, s);
        if (runs__nc_load(&out->mem->cache, p) != 0)
            runs_error_clear();
        w.cache = &out->mem->cache;
        w.objfd = objects_dir(s);
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
    if (rc || (rc = nodes_init(&tmp)) != 0) {
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
            if (read_node(&l, &tmp, s, ids[i], -1) != 0) { /* the lineage's damage is reported by its own checks */
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
