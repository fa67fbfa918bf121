/* store/tags.c — runs and user tags: the run list, the tag list and tag map, a run's tip,
 * creating and moving tags (journalled ref writes through store/refs.c). */
#define _GNU_SOURCE
#include "store/lineage.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/error.h"
#include "manifests/manifest.h"
#include "store/internal.h"
#include "store/names.h"

/* ---- runs and tags ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void runs_strings_free(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Calls fn(ctx, name, r) for each ref of lineage.git directly under prefix
 * ("refs/heads/", "refs/tags/"), name without the prefix. Deeper names (the per-step
 * tags RUN/step_N, one per node) are skipped, so they are never peeled. The ref
 * files are checked for damage first; fn's error ends the walk. */
static int each_ref(runs_store *s, const char *prefix, int (*fn)(void *ctx, const char *name, git_reference *r),
                    void *ctx)
{
    git_reference_iterator *it = NULL;
    git_reference *r = NULL;
    size_t pl = strlen(prefix);
    char glob[64];
    git_repository *repo;
    int rc, g;
    if ((rc = runs__refs_first_damage(s, 0)) != 0 || (rc = runs__store_git(&repo, s)) != 0)
        return rc;
    snprintf(glob, sizeof glob, "%s*", prefix);
    if (git_reference_iterator_glob_new(&it, repo, glob) != 0)
        return runs__git_error(RUNS_ECORRUPT, "listing the refs of lineage.git");
    while ((g = git_reference_next(&r, it)) == 0) {
        const char *name = git_reference_name(r);
        if (!strncmp(name, prefix, pl) && !strchr(name + pl, '/') && (rc = fn(ctx, name + pl, r)) != 0)
            goto done;
        git_reference_free(r);
        r = NULL;
    }
    /* a ref file libgit2 cannot parse ends the iteration with an error: that is
     * damage to report, not the end of the list */
    if (g != GIT_ITEROVER)
        rc = runs__git_error(RUNS_ECORRUPT, "reading a ref of lineage.git (run `runs verify --all`)");
done:
    git_reference_free(r);
    git_reference_iterator_free(it);
    return rc;
}

struct name_list {
    char **v;
    size_t n, cap;
};

static int add_name(void *ctx, const char *name, git_reference *r)
{
    struct name_list *l = ctx;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 16;
        char **nv = realloc(l->v, nc * sizeof *nv);
        if (!nv)
            return runs_error_set(RUNS_ENOMEM, "out of memory listing refs");
        l->v = nv;
        l->cap = nc;
    }
    if (!(l->v[l->n] = strdup(name)))
        return runs_error_set(RUNS_ENOMEM, "out of memory listing refs");
    l->n++;
    return 0;
}

int runs_run_list(char ***names, size_t *n, runs_store *s)
{
    struct name_list l = {0};
    *names = NULL;
    *n = 0;
    int rc = each_ref(s, "refs/heads/", add_name, &l);
    if (rc) {
        runs_strings_free(l.v, l.n);
        return rc;
    }
    if (l.n)
        qsort(l.v, l.n, sizeof *l.v, cmp_str);
    *names = l.v;
    *n = l.n;
    return 0;
}

/* The user tags of id (every user tag when id is NULL), from the one tag map. */
int runs_tag_list(char ***names, size_t *n, runs_store *s, const char *id)
{
    runs_tag_ref *map = NULL;
    size_t nmap = 0, cnt = 0;
    char **v = NULL;
    git_oid oid;
    int rc = id ? runs__parse_id(&oid, id) : 0;
    *names = NULL;
    *n = 0;
    if (rc || (rc = runs_tag_map(&map, &nmap, s)) != 0)
        goto done;
    if (nmap && !(v = calloc(nmap, sizeof *v))) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory listing tags");
        goto done;
    }
    for (size_t i = 0; i < nmap; i++) {
        if (id && strcmp(map[i].id, id) != 0)
            continue;
        if (!(v[cnt] = strdup(map[i].name))) {
            rc = runs_error_set(RUNS_ENOMEM, "out of memory listing tags");
            goto done;
        }
        cnt++;
    }
    if (cnt)
        qsort(v, cnt, sizeof *v, cmp_str);
    *names = v;
    *n = cnt;
    v = NULL;
done:
    if (v)
        runs_strings_free(v, cnt);
    runs_tag_map_free(map, nmap);
    return rc;
}

static int cmp_tag_ref(const void *a, const void *b)
{
    const runs_tag_ref *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : strcmp(x->name, y->name);
}

void runs_tag_map_free(runs_tag_ref *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i].name);
    free(v);
}

struct tag_list {
    runs_tag_ref *v;
    size_t n, cap;
};

static int add_tag(void *ctx, const char *name, git_reference *r)
{
    struct tag_list *l = ctx;
    git_object *o = NULL;
    if (git_reference_peel(&o, r, GIT_OBJECT_COMMIT) != 0) {
        char what[512];
        snprintf(what, sizeof what, "ref %s names no readable commit (run `runs verify --all`)", git_reference_name(r));
        return runs__git_error(RUNS_ECORRUPT, what);
    }
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 16;
        runs_tag_ref *nv = realloc(l->v, nc * sizeof *nv);
        if (!nv) {
            git_object_free(o);
            return runs_error_set(RUNS_ENOMEM, "out of memory listing tags");
        }
        l->v = nv;
        l->cap = nc;
    }
    git_oid_tostr(l->v[l->n].id, 41, git_object_id(o));
    git_object_free(o);
    if (!(l->v[l->n].name = strdup(name)))
        return runs_error_set(RUNS_ENOMEM, "out of memory listing tags");
    l->n++;
    return 0;
}

int runs_tag_map(runs_tag_ref **out, size_t *n, runs_store *s)
{
    struct tag_list l = {0};
    *out = NULL;
    *n = 0;
    int rc = each_ref(s, "refs/tags/", add_tag, &l);
    if (rc) {
        runs_tag_map_free(l.v, l.n);
        return rc;
    }
    if (l.n)
        qsort(l.v, l.n, sizeof *l.v, cmp_tag_ref);
    *out = l.v;
    *n = l.n;
    return 0;
}

const runs_tag_ref *runs_tag_map_find(const runs_tag_ref *v, size_t n, const char *id)
{
    /* lower bound on id: the first of its tags */
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(v[mid].id, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && !strcmp(v[lo].id, id) ? &v[lo] : NULL;
}

int runs_run_tip(char out_id[41], runs_store *s, const char *run)
{
    char ref[256];
    out_id[0] = '\0';
    int rc = runs_name_check(run, "run");
    if (rc)
        return rc;
    snprintf(ref, sizeof ref, "refs/heads/%s", run);
    rc = runs__ref_read_hex(out_id, s, ref);
    if (rc == RUNS_ENOTFOUND) {
        char hint[160];
        runs_store_suggest(hint, sizeof hint, s, run);
        return runs_error_set(RUNS_ENOTFOUND, "no run named '%s'%s; `runs log --all` lists the runs", run, hint);
    }
    return rc;
}

/* runs_tag_create (move 0) and runs_tag_move (move 1: an existing tag is re-pointed,
 * its old target into old_id); the ref write is journalled like every ref move. */
static int tag_set(char old_id[41], runs_store *s, const char *name, const char *id, int move)
{
    git_commit *c = NULL;
    runs_lock l = {.fd = -1};
    char p[PATH_MAX], ref[256];
    struct stat st;
    int rc = runs_name_check(name, "tag");
    if (rc)
        return rc;
    if ((rc = runs__lookup_commit(&c, s, id)) != 0)
        return rc;
    if ((rc = runs__writer_begin(s)) != 0)
        goto done;
    if ((rc = runs__lock_acquire(&l, s, "refs", 30)) != 0)
        goto done;
    snprintf(p, sizeof p, "%s/lineage.git/refs/tags/%s", s->dir, name);
    git_oid o;
    snprintf(ref, sizeof ref, "refs/tags/%s", name);
    if (old_id)
        old_id[0] = '\0';
    int had = runs__ref_read(&o, s, ref) == 0;
    if (had && move && old_id)
        git_oid_tostr(old_id, 41, &o);
    /* a run's step tags live in refs/tags/RUN/: its name is the run's, not a tag's */
    snprintf(ref, sizeof ref, "refs/heads/%s", name);
    if (runs__ref_read(&o, s, ref) == 0 || (!had && stat(p, &st) == 0 && S_ISDIR(st.st_mode))) {
        rc = runs_error_set(RUNS_EEXISTS, "'%s' is a run; a tag cannot share its name", name);
        goto done;
    }
    if ((had && !move) || (!had && stat(p, &st) == 0)) {
        rc = runs_error_set(RUNS_EEXISTS, "tag '%s' already exists; choose another name%s", name,
                            move ? "" : " (or move it: runs tag -f NODE NAME)");
        goto done;
    }
    snprintf(ref, sizeof ref, "refs/tags/%s", name);
    rc = runs__ref_write(s, ref, git_commit_id(c));
done:
    runs__lock_release(&l);
    git_commit_free(c);
    return rc;
}

int runs_tag_create(runs_store *s, const char *name, const char *id)
{
    return tag_set(NULL, s, name, id, 0);
}

int runs_tag_move(char old_id[41], runs_store *s, const char *name, const char *id)
{
    return tag_set(old_id, s, name, id, 1);
}
