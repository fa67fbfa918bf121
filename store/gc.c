/* store/gc.c — garbage collection and retention; semantics in store/gc.h.
 *
 * Order (invariants 2, 4, 5, 7 in store/store.c): take locks/gc.lock exclusively (no
 * writer can be between writing objects and moving a ref), read every node's
 * manifest, decide, write the new `thinned` list atomically, and only then delete.
 * A crash at any point leaves either the old list with all objects it needs, or the
 * new list with some of the objects it gave up still present (garbage for next time).
 * The `thinned` list itself (read, look up, replace) is store/gc_thinned.c.
 */
#define _GNU_SOURCE
#include "store/gc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "manifests/manifest.h"
#include "store/internal.h"
#include "store/lineage.h"
#include "store/object.h"

/* ---- a sorted set of object names ----
 *
 * Fixed 64-hex entries in one array: at 100k nodes a strdup per name (one per tensor
 * of every node, most of them shared) was most of gc's heap. Only valid object names
 * are kept, since the sweep below only ever looks up valid ones. */

typedef struct {
    char (*v)[65];
    size_t n, cap;
} hexset;

static int set_add(hexset *set, const char *x)
{
    if (!runs_oid_valid(x))
        return 0;
    if (set->n == set->cap) {
        size_t nc = set->cap ? set->cap * 2 : 256;
        char(*nv)[65] = realloc(set->v, nc * sizeof *nv);
        if (!nv)
            return runs_error_set(RUNS_ENOMEM, "out of memory in gc");
        set->v = nv;
        set->cap = nc;
    }
    memcpy(set->v[set->n++], x, 65);
    return 0;
}

static int cmp_hex(const void *a, const void *b)
{
    return memcmp(a, b, 64);
}

/* sorts and drops repeats */
static void set_sort(hexset *set)
{
    size_t m = 0;
    if (set->n)
        qsort(set->v, set->n, sizeof *set->v, cmp_hex);
    for (size_t i = 0; i < set->n; i++)
        if (m == 0 || memcmp(set->v[m - 1], set->v[i], 64) != 0)
            memmove(set->v[m++], set->v[i], 65);
    set->n = m;
}

static int set_has(const hexset *set, const char *x)
{
    return set->n && bsearch(x, set->v, set->n, sizeof *set->v, cmp_hex) != NULL;
}

static void set_free(hexset *set)
{
    free(set->v);
    memset(set, 0, sizeof *set);
}

/* The objects every node names, in one array: a node holds a range of it. */
typedef struct {
    char hex[65];
    unsigned char aux; /* a loss log, samples log or archive: kept even when thinned */
} gobj;

static int obj_add(gobj **v, size_t *n, size_t *cap, const char *x, int aux)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 1024;
        gobj *nv = realloc(*v, nc * sizeof *nv);
        if (!nv)
            return runs_error_set(RUNS_ENOMEM, "out of memory in gc");
        *v = nv;
        *cap = nc;
    }
    snprintf((*v)[*n].hex, sizeof(*v)[*n].hex, "%s", x);
    (*v)[(*n)++].aux = (unsigned char)aux;
    return 0;
}

/* ---- the node table ---- */

typedef struct {
    char id[41];
    char parent[41];
    char run[64];
    char kind[16];
    long long step;
    size_t obj_first, obj_n; /* its objects: objs[obj_first .. +obj_n) */
    int children, foreign_child, pinned, thinned, thin_now;
} gnode;

static int cmp_gnode_id(const void *a, const void *b)
{
    return strcmp(((const gnode *)a)->id, ((const gnode *)b)->id);
}

static gnode *find_node(gnode *v, size_t n, const char *id)
{
    gnode key;
    snprintf(key.id, sizeof key.id, "%s", id);
    return n ? bsearch(&key, v, n, sizeof *v, cmp_gnode_id) : NULL;
}

/* checkpoint nodes of one run, newest step first */
static int cmp_gnode_step_desc(const void *a, const void *b)
{
    const gnode *x = *(gnode *const *)a, *y = *(gnode *const *)b;
    int r = strcmp(x->run, y->run);
    if (r)
        return r;
    return x->step < y->step ? 1 : x->step > y->step ? -1 : strcmp(x->id, y->id);
}

static int scan_remove(runs_gc_report *r, const char *path, const struct stat *st, int dry)
{
    r->bytes_freed += (uint64_t)st->st_size;
    if (!dry && unlink(path) != 0 && errno != ENOENT)
        return runs_error_sys(RUNS_EIO, "unlink", path);
    return 0;
}

/* Removes every plain file in dir whose name starts with prefix (NULL = all). */
static int sweep_dir(runs_gc_report *r, const char *dir, const char *prefix, int dry)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int rc = 0;
    if (!d)
        return errno == ENOENT ? 0 : runs_error_sys(RUNS_EIO, "opendir", dir);
    while ((e = readdir(d)) != NULL) {
        char p[PATH_MAX];
        struct stat st;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (prefix && strncmp(e->d_name, prefix, strlen(prefix)) != 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (lstat(p, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if ((rc = scan_remove(r, p, &st, dry)) != 0)
            break;
        r->tmp_removed++;
    }
    closedir(d);
    return rc;
}

int runs_gc(runs_gc_report *out, runs_store *s, const runs_gc_options *opt)
{
    return runs_gc_list(out, s, opt, NULL, NULL);
}

int runs_gc_list(runs_gc_report *out, runs_store *s, const runs_gc_options *opt, runs_gc_thin_fn on_thin, void *ctx)
{
    runs_gc_report r;
    memset(&r, 0, sizeof r);
    gnode *nodes = NULL, **ck = NULL;
    char(*ids)[41] = NULL;
    size_t n = 0, nck = 0;
    hexset live = {0}, referenced = {0};
    gobj *objs = NULL;
    size_t nobj = 0, capobj = 0;
    char **tips = NULL, **tags = NULL;
    size_t ntips = 0, ntags = 0;
    struct runs_thinned *newlist = NULL;
    int rc = 0, lockfd = -1, dry = opt && opt->dry_run;
    runs_progress *progress = opt ? opt->progress : NULL;
    int reading = 0; /* progress's line is open */
    long keep_last = opt ? opt->keep_last : 0, keep_every = opt ? opt->keep_every : 0;
    char p[PATH_MAX];
    if (out)
        memset(out, 0, sizeof *out);
    if (keep_last < 0 || keep_every < 0)
        return runs_error_set(RUNS_EINVALID, "gc: --keep-last and --keep-every must be >= 0");

    /* invariant 7: the store to ourselves (a dry run only reads) */
    if (!dry) {
        if (s->writer_fd >= 0) {
            close(s->writer_fd);
            s->writer_fd = -1;
        }
        snprintf(p, sizeof p, "%s/locks/gc.lock", s->dir);
        if ((lockfd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
            return runs_error_sys(RUNS_EIO, "open", p);
        if (flock(lockfd, LOCK_EX | LOCK_NB) != 0) {
            rc = runs_error_set(RUNS_ELOCKED,
                                "the store is in use by a writer (a running trainer?); run gc when it has finished");
            goto done;
        }
    }
    /* fail closed (invariant 10): delete nothing unless the whole lineage read
     * without error — every ref sound, every commit reachable, every manifest */
    /* runs_node_all checks the ref files' bytes first (naming a damaged one, where
     * libgit2 would skip it or fail without a name); the journal checks come below */
    if ((rc = runs__thinned_load(s)) != 0 || (rc = runs_node_all(&ids, &n, s)) != 0) {
        rc = runs_error_wrap(RUNS_ECORRUPT, "gc deleted nothing");
        goto done;
    }
    if (n && !(nodes = calloc(n, sizeof *nodes))) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory in gc");
        goto done;
    }
    if (progress) {
        runs_progress_start(progress, "gc: reading nodes", n, 0);
        reading = 1;
    }
    for (size_t i = 0; i < n; i++) {
        gnode *g = &nodes[i];
        cJSON *m = NULL;
        const char **tv = NULL, **av = NULL;
        size_t nt = 0, na = 0;
        memcpy(g->id, ids[i], 41);
        if ((rc = runs_node_manifest(&m, s, g->id)) != 0 || (rc = runs_node_parent(g->parent, s, g->id)) != 0) {
            cJSON_Delete(m);
            rc = runs_error_wrap(RUNS_ECORRUPT, "gc deleted nothing (run `runs verify --all`)");
            goto done;
        }
        const cJSON *run = cJSON_GetObjectItemCaseSensitive(m, "run");
        const cJSON *kind = cJSON_GetObjectItemCaseSensitive(m, "kind");
        const cJSON *step = cJSON_GetObjectItemCaseSensitive(m, "step");
        snprintf(g->run, sizeof g->run, "%s", cJSON_IsString(run) ? run->valuestring : "");
        snprintf(g->kind, sizeof g->kind, "%s", cJSON_IsString(kind) ? kind->valuestring : "");
        g->step = cJSON_IsNumber(step) ? (long long)step->valuedouble : -1;
        g->thinned = runs__thinned_find(s, g->id) != NULL;
        /* what the node names is all gc needs of its manifest: a parsed manifest per
         * node was ~10 KB of heap each (1 GB at 100k nodes) */
        g->obj_first = nobj;
        rc = runs__manifest_objects(m, &tv, &nt, &av, &na);
        for (size_t k = 0; rc == 0 && k < nt; k++)
            rc = obj_add(&objs, &nobj, &capobj, tv[k], 0);
        for (size_t k = 0; rc == 0 && k < na; k++)
            rc = obj_add(&objs, &nobj, &capobj, av[k], 1);
        g->obj_n = nobj - g->obj_first;
        free(tv);
        free(av);
        cJSON_Delete(m);
        if (rc)
            goto done;
        if (progress)
            runs_progress_add(progress, 1);
    }
    if (reading) {
        runs_progress_end(progress);
        reading = 0;
    }
    /* Every ref's bytes against the journal, and the commit each names: after the
     * walk, whose nodes' manifests have all been read above, so only a ref outside
     * it (none, in a sound store) has its commit read again. Still before anything
     * is decided or deleted. */
    if (n)
        qsort(ids, n, sizeof *ids, runs__cmp_id41);
    if ((rc = runs__refs_first_damage_known(s, 1, (const char(*)[41])ids, n)) != 0) {
        rc = runs_error_wrap(RUNS_ECORRUPT, "gc deleted nothing");
        goto done;
    }
    if (n)
        qsort(nodes, n, sizeof *nodes, cmp_gnode_id);
    r.nodes = n;

    /* pins: fork points, leaves (run tips, rewound tips), user tags, starts */
    for (size_t i = 0; i < n; i++) {
        gnode *par = nodes[i].parent[0] ? find_node(nodes, n, nodes[i].parent) : NULL;
        if (par) {
            par->children++;
            if (strcmp(par->run, nodes[i].run) != 0)
                par->foreign_child = 1;
        }
    }
    if ((rc = runs_run_list(&tips, &ntips, s)) != 0)
        goto done;
    for (size_t i = 0; i < ntips; i++) {
        char id[41];
        gnode *g;
        if (runs_run_tip(id, s, tips[i]) == 0 && (g = find_node(nodes, n, id)))
            g->pinned = 1;
    }
    if ((rc = runs_tag_list(&tags, &ntags, s, NULL)) != 0)
        goto done;
    for (size_t i = 0; i < ntags; i++) {
        char id[41];
        gnode *g;
        if (runs_node_resolve(id, s, tags[i]) == 0 && (g = find_node(nodes, n, id)))
            g->pinned = 1;
    }
    for (size_t i = 0; i < n; i++) {
        gnode *g = &nodes[i];
        /* a leaf is reachable only because some ref names it: a run tip, a tag, or a tip
         * kept by `runs resume --rewind` under refs/rewound/ (pinned like a run tip) */
        if (!strcmp(g->kind, "start") || !strcmp(g->kind, "import") || g->children > 1 || g->foreign_child ||
            g->children == 0)
            g->pinned = 1;
        r.nodes_pinned += (uint64_t)g->pinned;
        r.nodes_thinned_before += (uint64_t)g->thinned;
    }

    /* retention */
    if (keep_last > 0 || keep_every > 0) {
        if (n && !(ck = calloc(n, sizeof *ck))) {
            rc = runs_error_set(RUNS_ENOMEM, "out of memory in gc");
            goto done;
        }
        for (size_t i = 0; i < n; i++)
            if (!strcmp(nodes[i].kind, "checkpoint"))
                ck[nck++] = &nodes[i];
        if (nck)
            qsort(ck, nck, sizeof *ck, cmp_gnode_step_desc);
        long rank = 0;
        for (size_t i = 0; i < nck; i++) {
            gnode *g = ck[i];
            rank = (i > 0 && !strcmp(ck[i - 1]->run, g->run)) ? rank + 1 : 0;
            int keep = g->pinned || (keep_last > 0 && rank < keep_last) ||
                       (keep_every > 0 && g->step >= 0 && g->step % keep_every == 0);
            if (!keep && !g->thinned)
                g->thin_now = 1;
        }
        /* ck is by run, newest first: walk each run's block backwards for steps ascending */
        for (size_t i = 0, j; on_thin && i < nck; i = j) {
            for (j = i + 1; j < nck && !strcmp(ck[j]->run, ck[i]->run); j++)
                ;
            for (size_t k = j; k-- > i;)
                if (ck[k]->thin_now)
                    on_thin(ctx, ck[k]->run, ck[k]->step, ck[k]->id);
        }
    }

    /* what stays: tensors of unthinned nodes, loss logs and archives of all nodes */
    for (size_t i = 0; i < n; i++) {
        const gnode *g = &nodes[i];
        for (size_t k = g->obj_first; k < g->obj_first + g->obj_n && rc == 0; k++) {
            rc = set_add(&referenced, objs[k].hex);
            if (rc == 0 && (objs[k].aux || (!g->thinned && !g->thin_now)))
                rc = set_add(&live, objs[k].hex);
        }
        if (rc)
            goto done;
        r.nodes_thinned += (uint64_t)g->thin_now;
    }
    set_sort(&live);
    set_sort(&referenced);

    /* invariant 5: the new thinned list is durable before anything is deleted */
    if (r.nodes_thinned > 0 && !dry) {
        size_t m = 0;
        if (!(newlist = calloc(s->n_thinned + r.nodes_thinned, sizeof *newlist))) {
            rc = runs_error_set(RUNS_ENOMEM, "out of memory in gc");
            goto done;
        }
        for (size_t i = 0; i < s->n_thinned; i++)
            newlist[m++] = s->thinned[i];
        for (size_t i = 0; i < n; i++) {
            if (!nodes[i].thin_now)
                continue;
            memcpy(newlist[m].id, nodes[i].id, 41);
            snprintf(newlist[m].run, sizeof newlist[m].run, "%s", nodes[i].run);
            newlist[m].step = nodes[i].step;
            m++;
        }
        if (m)
            qsort(newlist, m, sizeof *newlist, runs__thinned_cmp);
        if ((rc = runs__thinned_write(s, newlist, m)) != 0)
            goto done;
    }

    /* sweep objects/: temp leftovers and everything not live */
    for (int d = 0; d < 256; d++) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s/objects/%02x", s->dir, d);
        DIR *dh = opendir(dir);
        if (!dh)
            continue;
        struct dirent *e;
        int touched = 0;
        while ((e = readdir(dh)) != NULL) {
            char path[PATH_MAX + 256], hex[300];
            struct stat st;
            if (e->d_name[0] == '.' && (!e->d_name[1] || !strcmp(e->d_name, "..")))
                continue;
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
                continue;
            if (!strncmp(e->d_name, ".tmp-", 5)) {
                if ((rc = scan_remove(&r, path, &st, dry)) != 0)
                    break;
                r.tmp_removed++;
                touched = 1;
                continue;
            }
            snprintf(hex, sizeof hex, "%02x%s", d, e->d_name);
            if (!runs_oid_valid(hex))
                continue; /* not ours: leave it */
            r.objects_total++;
            if (set_has(&live, hex))
                continue;
            if ((rc = scan_remove(&r, path, &st, dry)) != 0)
                break;
            r.objects_removed++;
            if (!set_has(&referenced, hex))
                r.orphans++;
            touched = 1;
        }
        closedir(dh);
        if (rc)
            goto done;
        if (touched && !dry && (rc = runs__fsync_dir(dir)) != 0)
            goto done;
    }
    snprintf(p, sizeof p, "%s/tmp", s->dir);
    if ((rc = sweep_dir(&r, p, NULL, dry)) != 0)
        goto done;
    snprintf(p, sizeof p, "%s/objects", s->dir);
    if ((rc = sweep_dir(&r, p, ".tmp-", dry)) != 0)
        goto done;
    snprintf(p, sizeof p, "%s/locks", s->dir);
    if ((rc = sweep_dir(&r, p, ".tmp-", dry)) != 0)
        goto done;
    if (out)
        *out = r;
done:
    if (reading) /* a failure while reading: end the line before the error's */
        runs_progress_end(progress);
    if (lockfd >= 0)
        close(lockfd);
    free(nodes);
    free(objs);
    free(ck);
    free(ids);
    free(newlist);
    set_free(&live);
    set_free(&referenced);
    runs_strings_free(tips, ntips);
    runs_strings_free(tags, ntags);
    return rc;
}
