/* store/lineage.c — lineage nodes as git commits (manifest.json in each tree), refs
 * written as whole files under locks/refs.lock. See store/store.c for the crash
 * invariants (2, 3, 6) this file keeps: objects first, commit next, refs last. */
#define _GNU_SOURCE
#include "store/lineage.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "manifests/canon.h"
#include "manifests/manifest.h"
#include "store/gc.h"
#include "store/internal.h"
#include "store/names.h"
#include "store/object.h"
#include "store/pool.h"

static int push_str(const char ***v, size_t *n, size_t *cap, const char *x)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        const char **nv = realloc(*v, nc * sizeof *nv);
        if (!nv)
            return runs_error_set(RUNS_ENOMEM, "out of memory listing manifest objects");
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = x;
    return 0;
}

int runs__manifest_objects(const cJSON *m, const char ***tensors, size_t *nt, const char ***aux, size_t *na)
{
    size_t ct = 0, ca = 0;
    int rc = 0;
    *tensors = NULL;
    *aux = NULL;
    *nt = *na = 0;
    const cJSON *t, *e;
    cJSON_ArrayForEach (t, cJSON_GetObjectItemCaseSensitive(m, "tensors")) {
        e = cJSON_GetObjectItemCaseSensitive(t, "sha256");
        if (cJSON_IsString(e) && (rc = push_str(tensors, nt, &ct, e->valuestring)) != 0)
            goto done;
    }
    static const char *const logs[] = {"loss_log", "samples_log"};
    for (size_t l = 0; l < sizeof logs / sizeof logs[0]; l++) {
        e = cJSON_GetObjectItemCaseSensitive(m, logs[l]);
        if (cJSON_IsString(e) && (rc = push_str(aux, na, &ca, e->valuestring)) != 0)
            goto done;
    }
    cJSON_ArrayForEach (e, cJSON_GetObjectItemCaseSensitive(m, "archived")) {
        if (cJSON_IsString(e) && (rc = push_str(aux, na, &ca, e->valuestring)) != 0)
            goto done;
    }
done:
    if (rc) {
        free(*tensors);
        free(*aux);
        *tensors = *aux = NULL;
        *nt = *na = 0;
    }
    return rc;
}

static int parse_id(git_oid *oid, const char *id)
{
    if (!id || !runs_is_hex(id, 40) || git_oid_fromstr(oid, id) != 0)
        return runs_error_set(RUNS_EINVALID, "'%.60s' is not a node id (40 hex digits)", id ? id : "(null)");
    return 0;
}

static int lookup_commit(git_commit **c, runs_store *s, const char *id)
{
    git_oid oid;
    int rc = parse_id(&oid, id);
    if (rc)
        return rc;
    if (git_commit_lookup(c, s->repo, &oid) != 0)
        return runs_error_set(RUNS_ENOTFOUND, "no node %.12s in %s/lineage.git", id, s->dir);
    return 0;
}

/* ---- refs: whole files, temp in locks/, rename, fsync (invariant 3) ---- */

static int ref_path(char *buf, size_t n, runs_store *s, const char *ref)
{
    if ((size_t)snprintf(buf, n, "%s/lineage.git/%s", s->dir, ref) >= n)
        return runs_error_set(RUNS_EINVALID, "ref name too long: %s", ref);
    return 0;
}

static int write_ref_file(runs_store *s, const char *ref, const char *content)
{
    char p[PATH_MAX], locks[PATH_MAX];
    int rc = ref_path(p, sizeof p, s, ref);
    if (rc)
        return rc;
    /* parent directories (refs/tags/<run>/) may be new: create and make them durable */
    for (char *q = p + strlen(s->dir) + strlen("/lineage.git/"); (q = strchr(q, '/')) != NULL; q++) {
        *q = '\0';
        struct stat st;
        if (stat(p, &st) != 0) {
            if (mkdir(p, 0755) != 0 && errno != EEXIST) {
                rc = runs_error_sys(RUNS_EIO, "mkdir", p);
                *q = '/';
                return rc;
            }
            if ((rc = runs__fsync_parent(p)) != 0) {
                *q = '/';
                return rc;
            }
        } else if (!S_ISDIR(st.st_mode)) {
            rc = runs_error_set(RUNS_EEXISTS, "cannot create ref %s: %s is a ref, not a directory", ref, p);
            *q = '/';
            return rc;
        }
        *q = '/';
    }
    /* invariant 9: the move is journalled (and durable) before the ref file changes,
     * so `runs verify --repair` can always put a damaged ref back */
    if ((rc = runs__reflog_append(s, ref, content)) != 0)
        return rc;
    snprintf(locks, sizeof locks, "%s/locks", s->dir);
    return runs__write_atomic(p, content, strlen(content), locks, 0644);
}

int runs__ref_write_file(runs_store *s, const char *ref, const char *content)
{
    return write_ref_file(s, ref, content);
}

static int write_ref(runs_store *s, const char *ref, const git_oid *oid)
{
    char line[GIT_OID_HEXSZ + 2];
    git_oid_tostr(line, GIT_OID_HEXSZ + 1, oid);
    strcat(line, "\n");
    return write_ref_file(s, ref, line);
}

/* 0 and *oid when ref exists, RUNS_ENOTFOUND when not. */
static int read_ref(git_oid *oid, runs_store *s, const char *ref)
{
    int g = git_reference_name_to_id(oid, s->repo, ref);
    if (g == 0)
        return 0;
    if (g == GIT_ENOTFOUND || g == GIT_EINVALIDSPEC)
        return RUNS_ENOTFOUND;
    return runs__git_error(RUNS_EIO, ref);
}

/* ---- HEAD ---- */

int runs_head_get(char *run, size_t len, runs_store *s)
{
    git_reference *head = NULL;
    int rc = 0;
    if (len)
        run[0] = '\0';
    if (git_reference_lookup(&head, s->repo, "HEAD") != 0)
        return runs__git_error(RUNS_ECORRUPT, "reading HEAD of lineage.git");
    const char *t = git_reference_symbolic_target(head);
    if (!t || strncmp(t, "refs/heads/", 11) != 0) {
        rc = runs_error_set(RUNS_ECORRUPT, "HEAD of %s/lineage.git does not name a run", s->dir);
        goto done;
    }
    snprintf(run, len, "%s", t + 11);
    git_oid oid;
    if (read_ref(&oid, s, t) != 0)
        rc = runs_error_set(RUNS_ENOTFOUND, "no current run: HEAD names '%s', which has no nodes yet", t + 11);
done:
    git_reference_free(head);
    return rc;
}

static int set_head_locked(runs_store *s, const char *run)
{
    char line[128];
    snprintf(line, sizeof line, "ref: refs/heads/%s\n", run);
    return write_ref_file(s, "HEAD", line);
}

int runs_head_set(runs_store *s, const char *run)
{
    runs_lock l;
    int rc = runs_name_check(run, "run");
    if (rc)
        return rc;
    if ((rc = runs__writer_begin(s)) != 0)
        return rc;
    if ((rc = runs__lock_acquire(&l, s, "refs", 30)) != 0)
        return rc;
    rc = set_head_locked(s, run);
    runs__lock_release(&l);
    return rc;
}

/* ---- commit ---- */

static int get_step(long long *step, const cJSON *m)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, "step");
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble != (double)(long long)v->valuedouble)
        return runs_error_set(RUNS_EINVALID, "manifest.step: expected a non-negative integer");
    *step = (long long)v->valuedouble;
    return 0;
}

static cJSON *tensor_entry(const runs_tensor *t, const char *sha)
{
    cJSON *e = cJSON_CreateObject(), *shape = cJSON_CreateArray();
    if (!e || !shape) {
        cJSON_Delete(e);
        cJSON_Delete(shape);
        return NULL;
    }
    cJSON_AddStringToObject(e, "name", t->name);
    cJSON_AddStringToObject(e, "group", t->group);
    cJSON_AddStringToObject(e, "dtype", "f32");
    for (int d = 0; d < t->ndim; d++)
        cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]));
    cJSON_AddItemToObject(e, "shape", shape);
    cJSON_AddNumberToObject(e, "bytes", (double)t->bytes);
    cJSON_AddStringToObject(e, "sha256", sha);
    return e;
}

static int check_tensor(const runs_tensor *t, size_t i)
{
    if (!t->name || !*t->name || !t->group || !*t->group)
        return runs_error_set(RUNS_EINVALID, "tensor %zu has no name or group", i);
    if (t->ndim < 1 || t->ndim > 2)
        return runs_error_set(RUNS_EINVALID, "tensor %s: ndim %d, expected 1 or 2", t->name, t->ndim);
    uint64_t elems = 1;
    for (int d = 0; d < t->ndim; d++) {
        if (t->shape[d] <= 0)
            return runs_error_set(RUNS_EINVALID, "tensor %s: shape[%d] = %lld, expected > 0", t->name, d,
                                  (long long)t->shape[d]);
        elems *= (uint64_t)t->shape[d];
    }
    if (elems * 4 != t->bytes)
        return runs_error_set(RUNS_EINVALID, "tensor %s: %zu bytes, but its f32 shape needs %llu", t->name, t->bytes,
                              (unsigned long long)(elems * 4));
    if (!t->data && t->bytes)
        return runs_error_set(RUNS_EINVALID, "tensor %s has no data", t->name);
    return 0;
}

/* Objects named by the manifest must be in the store before the commit (invariant 2). */
static int check_referenced(runs_store *s, const cJSON *m, int tensors_too)
{
    const char **tv = NULL, **av = NULL;
    size_t nt = 0, na = 0;
    int rc = runs__manifest_objects(m, &tv, &nt, &av, &na);
    if (rc)
        return rc;
    for (size_t i = 0; i < na && rc == 0; i++)
        if (!runs_object_exists(s, av[i]))
            rc = runs_error_set(RUNS_ENOTFOUND, "manifest names object %.64s, which is not in the store; put it first",
                                av[i]);
    if (tensors_too) {
        const cJSON *t;
        cJSON_ArrayForEach (t, cJSON_GetObjectItemCaseSensitive(m, "tensors")) {
            if (rc)
                break;
            const cJSON *sha = cJSON_GetObjectItemCaseSensitive(t, "sha256");
            const cJSON *by = cJSON_GetObjectItemCaseSensitive(t, "bytes");
            uint64_t size = 0;
            if (!cJSON_IsString(sha) || !cJSON_IsNumber(by))
                rc = runs_error_set(RUNS_EINVALID, "manifest.tensors: an entry lacks sha256 or bytes");
            else if (runs_object_size(&size, s, sha->valuestring) != 0)
                rc = runs_error_set(RUNS_ENOTFOUND,
                                    "manifest.tensors names object %.64s, which is not in the store (thinned by gc?)",
                                    sha->valuestring);
            else if ((double)size != by->valuedouble)
                rc = runs_error_set(RUNS_ECORRUPT, "object %s holds %llu bytes, its manifest entry says %.0f",
                                    sha->valuestring, (unsigned long long)size, by->valuedouble);
        }
    }
    free(tv);
    free(av);
    return rc;
}

int runs_node_commit(char out_id[41], runs_store *s, cJSON *manifest, const runs_tensor *tensors, size_t n)
{
    int rc = 0;
    runs_put *items = NULL;
    cJSON *arr = NULL;
    char *text = NULL;
    git_treebuilder *tb = NULL;
    git_tree *tree = NULL;
    git_commit *parent = NULL;
    git_signature *sig = NULL;
    runs_lock lock = {.fd = -1};
    git_oid blob_oid, tree_oid, commit_oid;
    char ref[256], msg[256];
    long long step = 0;
    out_id[0] = '\0';

    if (!cJSON_IsObject(manifest))
        return runs_error_set(RUNS_EINVALID, "manifest: expected a JSON object");
    const cJSON *run = cJSON_GetObjectItemCaseSensitive(manifest, "run");
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(manifest, "kind");
    const cJSON *par = cJSON_GetObjectItemCaseSensitive(manifest, "parent");
    if (!cJSON_IsString(run))
        return runs_error_set(RUNS_EINVALID, "manifest.run: expected a run name");
    if ((rc = runs_name_check(run->valuestring, "run")) != 0)
        return rc;
    if (!cJSON_IsString(kind))
        return runs_error_set(RUNS_EINVALID, "manifest.kind: expected a string");
    if ((rc = get_step(&step, manifest)) != 0)
        return rc;
    if (par && !cJSON_IsNull(par)) {
        if (!cJSON_IsString(par))
            return runs_error_set(RUNS_EINVALID, "manifest.parent: expected a node id or null");
        if ((rc = lookup_commit(&parent, s, par->valuestring)) != 0)
            return rc;
    }
    if ((rc = runs__writer_begin(s)) != 0)
        goto done;

    /* (1) objects */
    if (n > 0) {
        if (!(items = calloc(n, sizeof *items))) {
            rc = runs_error_set(RUNS_ENOMEM, "out of memory committing %zu tensors", n);
            goto done;
        }
        for (size_t i = 0; i < n; i++) {
            if ((rc = check_tensor(&tensors[i], i)) != 0)
                goto done;
            items[i].data = tensors[i].data;
            items[i].len = tensors[i].bytes;
        }
        if ((rc = runs_object_put_many(s, items, n, NULL)) != 0)
            goto done;
        if (!(arr = cJSON_CreateArray())) {
            rc = runs_error_set(RUNS_ENOMEM, "out of memory building the tensors list");
            goto done;
        }
        for (size_t i = 0; i < n; i++) {
            cJSON *e = tensor_entry(&tensors[i], items[i].oid.hex);
            if (!e) {
                rc = runs_error_set(RUNS_ENOMEM, "out of memory building the tensors list");
                goto done;
            }
            cJSON_AddItemToArray(arr, e);
        }
        if (cJSON_GetObjectItemCaseSensitive(manifest, "tensors"))
            cJSON_ReplaceItemInObjectCaseSensitive(manifest, "tensors", arr);
        else
            cJSON_AddItemToObject(manifest, "tensors", arr);
        arr = NULL;
        if ((rc = check_referenced(s, manifest, 0)) != 0)
            goto done;
    } else {
        if (!cJSON_GetObjectItemCaseSensitive(manifest, "tensors"))
            cJSON_AddItemToObject(manifest, "tensors", cJSON_CreateArray());
        /* a fork reusing its parent's tensors: they must all be here already */
        if ((rc = check_referenced(s, manifest, 1)) != 0)
            goto done;
    }

    /* (2) manifest */
    if ((rc = runs_manifest_validate(manifest)) != 0)
        goto done;
    char *canon = runs_json_canonical(manifest);
    if (!canon) {
        rc = runs_error_code() ? runs_error_code() : RUNS_ENOMEM;
        goto done;
    }
    size_t tl = strlen(canon);
    text = realloc(canon, tl + 2);
    if (!text) {
        free(canon);
        rc = runs_error_set(RUNS_ENOMEM, "out of memory serialising the manifest");
        goto done;
    }
    text[tl] = '\n';
    text[tl + 1] = '\0';

    /* (3) commit: blob, tree, commit; libgit2 fsyncs them (GIT_OPT_ENABLE_FSYNC_GITDIR) */
    if (git_blob_create_from_buffer(&blob_oid, s->repo, text, tl + 1) != 0 ||
        git_treebuilder_new(&tb, s->repo, NULL) != 0 ||
        git_treebuilder_insert(NULL, tb, "manifest.json", &blob_oid, GIT_FILEMODE_BLOB) != 0 ||
        git_treebuilder_write(&tree_oid, tb) != 0 || git_tree_lookup(&tree, s->repo, &tree_oid) != 0) {
        rc = runs__git_error(RUNS_EIO, "writing the manifest to lineage.git");
        goto done;
    }
    if (git_signature_now(&sig, "runs", "runs@localhost") != 0) {
        rc = runs__git_error(RUNS_ERROR, "making a commit signature");
        goto done;
    }
    snprintf(msg, sizeof msg, "%s %s step_%lld\n", kind->valuestring, run->valuestring, step);
    const git_commit *parents[1] = {parent};
    if (git_commit_create(&commit_oid, s->repo, NULL, sig, sig, "UTF-8", msg, tree, parent ? 1 : 0, parents) != 0) {
        rc = runs__git_error(RUNS_EIO, "writing the node commit to lineage.git");
        goto done;
    }

    /* (4)+(5) refs, last, under the refs lock */
    if ((rc = runs__lock_acquire(&lock, s, "refs", 30)) != 0)
        goto done;
    {
        char p[PATH_MAX];
        struct stat st;
        snprintf(p, sizeof p, "%s/lineage.git/refs/tags/%s", s->dir, run->valuestring);
        if (stat(p, &st) == 0 && !S_ISDIR(st.st_mode)) {
            rc = runs_error_set(RUNS_EEXISTS, "a tag named '%s' exists; a run cannot share its name", run->valuestring);
            goto done;
        }
    }
    char head_run[128];
    int head_unborn = runs_head_get(head_run, sizeof head_run, s) != 0;
    snprintf(ref, sizeof ref, "refs/heads/%s", run->valuestring);
    if ((rc = write_ref(s, ref, &commit_oid)) != 0)
        goto done;
    snprintf(ref, sizeof ref, "refs/tags/%s/step_%lld", run->valuestring, step);
    if ((rc = write_ref(s, ref, &commit_oid)) != 0)
        goto done;
    if (head_unborn && (rc = set_head_locked(s, run->valuestring)) != 0)
        goto done;
    runs_error_clear();
    git_oid_tostr(out_id, 41, &commit_oid);
done:
    runs__lock_release(&lock);
    git_signature_free(sig);
    git_tree_free(tree);
    git_treebuilder_free(tb);
    git_commit_free(parent);
    cJSON_Delete(arr);
    free(text);
    free(items);
    return rc;
}

/* ---- reading nodes ---- */

int runs_node_manifest_text(char **out, size_t *len, runs_store *s, const char *id)
{
    git_commit *c = NULL;
    git_tree *tree = NULL;
    git_blob *blob = NULL;
    int rc = lookup_commit(&c, s, id);
    *out = NULL;
    if (len)
        *len = 0;
    if (rc)
        return rc;
    const git_tree_entry *e;
    if (git_commit_tree(&tree, c) != 0 || !(e = git_tree_entry_byname(tree, "manifest.json")) ||
        git_blob_lookup(&blob, s->repo, git_tree_entry_id(e)) != 0) {
        rc = runs_error_set(RUNS_ECORRUPT, "node %.12s has no readable manifest.json in lineage.git", id);
        goto done;
    }
    size_t n = (size_t)git_blob_rawsize(blob);
    char *t = malloc(n + 1);
    if (!t) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory reading manifest of %.12s", id);
        goto done;
    }
    memcpy(t, git_blob_rawcontent(blob), n);
    t[n] = '\0';
    *out = t;
    if (len)
        *len = n;
done:
    git_blob_free(blob);
    git_tree_free(tree);
    git_commit_free(c);
    return rc;
}

int runs_node_manifest(cJSON **out, runs_store *s, const char *id)
{
    char *text = NULL, origin[64];
    *out = NULL;
    int rc = runs_node_manifest_text(&text, NULL, s, id);
    if (rc)
        return rc;
    snprintf(origin, sizeof origin, "manifest of node %.12s", id);
    rc = runs_json_parse(out, text, origin);
    if (rc == 0 && runs_manifest_validate(*out) != 0) {
        rc = RUNS_ECORRUPT;
        cJSON_Delete(*out);
        *out = NULL;
    }
    if (rc)
        rc = runs_error_wrap(RUNS_ECORRUPT, "node %.12s has a bad manifest", id);
    free(text);
    return rc;
}

int runs_node_parent(char parent[41], runs_store *s, const char *id)
{
    git_commit *c = NULL;
    int rc = lookup_commit(&c, s, id);
    parent[0] = '\0';
    if (rc)
        return rc;
    if (git_commit_parentcount(c) > 0)
        git_oid_tostr(parent, 41, git_commit_parent_id(c, 0));
    git_commit_free(c);
    return 0;
}

int runs_lineage(char (**ids)[41], size_t *n, runs_store *s, const char *id)
{
    char(*v)[41] = NULL;
    size_t cnt = 0, cap = 0;
    char cur[41];
    int rc = 0;
    *ids = NULL;
    *n = 0;
    snprintf(cur, sizeof cur, "%s", id ? id : "");
    while (cur[0]) {
        if (cnt == cap) {
            cap = cap ? cap * 2 : 64;
            char(*nv)[41] = realloc(v, cap * sizeof *nv);
            if (!nv) {
                rc = runs_error_set(RUNS_ENOMEM, "out of memory walking the lineage");
                goto done;
            }
            v = nv;
        }
        memcpy(v[cnt++], cur, 41);
        char p[41];
        if ((rc = runs_node_parent(p, s, cur)) != 0) {
            /* the start was looked up by the caller; a node further back that cannot
             * be read is a damaged lineage, not an unknown name */
            if (cnt > 1)
                rc = runs_error_wrap(RUNS_ECORRUPT,
                                     "node %.12s (parent of %.12s) cannot be read from lineage.git "
                                     "(run `runs verify --all`)",
                                     cur, v[cnt - 2]);
            goto done;
        }
        memcpy(cur, p, 41);
    }
    *ids = v;
    *n = cnt;
    v = NULL;
done:
    free(v);
    return rc;
}

int runs_node_all(char (**ids)[41], size_t *n, runs_store *s)
{
    git_revwalk *w = NULL;
    git_reference_iterator *it = NULL;
    git_reference *r = NULL;
    char(*v)[41] = NULL;
    size_t cnt = 0, cap = 0;
    int rc = 0, g;
    *ids = NULL;
    *n = 0;
    /* libgit2 skips ref files it cannot parse: read them ourselves first */
    if ((rc = runs__refs_first_damage(s, 0)) != 0)
        goto done;
    if (git_revwalk_new(&w, s->repo) != 0) {
        rc = runs__git_error(RUNS_ERROR, "walking lineage.git");
        goto done;
    }
    git_revwalk_sorting(w, GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME);
    /* heads and tags only: refs/notes/ holds notes commits, not nodes. Every ref
     * must lead to a commit: one that does not is damage, never a shorter list
     * (gc decides what to delete from this list). */
    const char *globs[] = {"refs/heads/*", "refs/tags/*", "refs/rewound/*"}; /* rewound: runs_run_rewind */
    for (size_t k = 0; k < sizeof globs / sizeof globs[0]; k++) {
        if (git_reference_iterator_glob_new(&it, s->repo, globs[k]) != 0) {
            rc = runs__git_error(RUNS_ECORRUPT, "listing the refs of lineage.git");
            goto done;
        }
        while ((g = git_reference_next(&r, it)) == 0) {
            git_object *o = NULL;
            if (git_reference_peel(&o, r, GIT_OBJECT_COMMIT) != 0) {
                char what[512];
                snprintf(what, sizeof what, "ref %s names no readable commit (run `runs verify --all`)",
                         git_reference_name(r));
                rc = runs__git_error(RUNS_ECORRUPT, what);
                goto done;
            }
            g = git_revwalk_push(w, git_object_id(o));
            git_object_free(o);
            if (g != 0) {
                char what[512];
                snprintf(what, sizeof what, "walking from ref %s (run `runs verify --all`)", git_reference_name(r));
                rc = runs__git_error(RUNS_ECORRUPT, what);
                goto done;
            }
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
    git_oid oid;
    while ((g = git_revwalk_next(&oid, w)) == 0) {
        if (cnt == cap) {
            cap = cap ? cap * 2 : 256;
            char(*nv)[41] = realloc(v, cap * sizeof *nv);
            if (!nv) {
                rc = runs_error_set(RUNS_ENOMEM, "out of memory listing nodes");
                goto done;
            }
            v = nv;
        }
        git_oid_tostr(v[cnt++], 41, &oid);
    }
    if (g != GIT_ITEROVER) {
        char what[128];
        snprintf(what, sizeof what, "walking lineage.git after node %.12s (run `runs verify --all`)",
                 cnt ? v[cnt - 1] : "(none)");
        rc = runs__git_error(RUNS_ECORRUPT, what);
        goto done;
    }
    *ids = v;
    *n = cnt;
    v = NULL;
done:
    free(v);
    git_reference_free(r);
    git_reference_iterator_free(it);
    git_revwalk_free(w);
    return rc;
}

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
    int rc, g;
    if ((rc = runs__refs_first_damage(s, 0)) != 0)
        return rc;
    snprintf(glob, sizeof glob, "%s*", prefix);
    if (git_reference_iterator_glob_new(&it, s->repo, glob) != 0)
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
    int rc = id ? parse_id(&oid, id) : 0;
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
    git_oid oid;
    out_id[0] = '\0';
    int rc = runs_name_check(run, "run");
    if (rc)
        return rc;
    snprintf(ref, sizeof ref, "refs/heads/%s", run);
    rc = read_ref(&oid, s, ref);
    if (rc == RUNS_ENOTFOUND) {
        char hint[160];
        runs_store_suggest(hint, sizeof hint, s, run);
        return runs_error_set(RUNS_ENOTFOUND, "no run named '%s'%s; `runs log --all` lists the runs", run, hint);
    }
    if (rc)
        return rc;
    git_oid_tostr(out_id, 41, &oid);
    return 0;
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
    if ((rc = lookup_commit(&c, s, id)) != 0)
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
    int had = read_ref(&o, s, ref) == 0;
    if (had && move && old_id)
        git_oid_tostr(old_id, 41, &o);
    /* a run's step tags live in refs/tags/RUN/: its name is the run's, not a tag's */
    snprintf(ref, sizeof ref, "refs/heads/%s", name);
    if (read_ref(&o, s, ref) == 0 || (!had && stat(p, &st) == 0 && S_ISDIR(st.st_mode))) {
        rc = runs_error_set(RUNS_EEXISTS, "'%s' is a run; a tag cannot share its name", name);
        goto done;
    }
    if ((had && !move) || (!had && stat(p, &st) == 0)) {
        rc = runs_error_set(RUNS_EEXISTS, "tag '%s' already exists; choose another name%s", name,
                            move ? "" : " (or move it: runs tag -f NODE NAME)");
        goto done;
    }
    snprintf(ref, sizeof ref, "refs/tags/%s", name);
    rc = write_ref(s, ref, git_commit_id(c));
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

/* ---- resolving names ---- */

static int is_step_name(const char *s)
{
    if (strncmp(s, "step_", 5) != 0 || !s[5])
        return 0;
    for (const char *p = s + 5; *p; p++)
        if (*p < '0' || *p > '9')
            return 0;
    return 1;
}

static int resolve_step(char out_id[41], runs_store *s, const char *run, const char *step)
{
    char ref[256];
    git_oid oid;
    char tip[41];
    int rc = runs_run_tip(tip, s, run);
    if (rc)
        return rc;
    snprintf(ref, sizeof ref, "refs/tags/%s/%s", run, step);
    rc = read_ref(&oid, s, ref);
    if (rc == RUNS_ENOTFOUND)
        return runs_error_set(RUNS_ENOTFOUND, "run '%s' has no node at %s; `runs log %s` lists its nodes", run, step,
                              run);
    if (rc)
        return rc;
    git_oid_tostr(out_id, 41, &oid);
    return 0;
}

/* A commit of lineage.git whose id starts with the hex prefix spec[0..len) and whose
 * tree holds manifest.json (so notes commits are not taken for nodes), whether or not
 * a ref reaches it. 0, RUNS_ENOTFOUND (no message set), or RUNS_EINVALID when ambiguous. */
static int lookup_unreachable(char out_id[41], runs_store *s, const char *spec, size_t len)
{
    git_oid oid;
    git_object *o = NULL;
    git_tree *tree = NULL;
    int rc = RUNS_ENOTFOUND;
    if (git_oid_fromstrn(&oid, spec, len) != 0)
        return RUNS_ENOTFOUND;
    int g = git_object_lookup_prefix(&o, s->repo, &oid, len, GIT_OBJECT_COMMIT);
    if (g == GIT_EAMBIGUOUS) {
        rc = runs_error_set(RUNS_EINVALID, "id prefix '%s' matches several objects in %s/lineage.git; give more digits",
                            spec, s->dir);
        goto done;
    }
    if (g != 0)
        goto done;
    if (git_commit_tree(&tree, (git_commit *)o) == 0 && git_tree_entry_byname(tree, "manifest.json")) {
        git_oid_tostr(out_id, 41, git_object_id(o));
        rc = 0;
    }
done:
    git_error_clear();
    git_tree_free(tree);
    git_object_free(o);
    return rc;
}

int runs_node_resolve(char out_id[41], runs_store *s, const char *spec)
{
    char run[128], ref[256];
    git_oid oid;
    int rc;
    out_id[0] = '\0';
    if (!spec || !*spec)
        return runs_error_set(RUNS_EINVALID, "empty node name; use step_N, RUN@step_N, a tag, a run or an id");
    const char *at = strchr(spec, '@');
    if (at) {
        size_t rl = (size_t)(at - spec);
        if (rl == 0 || rl >= sizeof run || !is_step_name(at + 1))
            return runs_error_set(RUNS_EINVALID, "'%s' is not RUN@step_N", spec);
        memcpy(run, spec, rl);
        run[rl] = '\0';
        if ((rc = runs_name_check(run, "run")) != 0)
            return rc;
        return resolve_step(out_id, s, run, at + 1);
    }
    if (!strcmp(spec, "HEAD")) {
        if ((rc = runs_head_get(run, sizeof run, s)) != 0)
            return rc;
        return runs_run_tip(out_id, s, run);
    }
    if (is_step_name(spec)) {
        if ((rc = runs_head_get(run, sizeof run, s)) != 0)
            return runs_error_set(RUNS_ENOTFOUND, "%s: no current run to look in; name it as RUN@%s", spec, spec);
        return resolve_step(out_id, s, run, spec);
    }
    int named = runs_name_check(spec, "node") == 0;
    if (named) {
        snprintf(ref, sizeof ref, "refs/tags/%s", spec);
        if (read_ref(&oid, s, ref) == 0) {
            git_oid_tostr(out_id, 41, &oid);
            return 0;
        }
        snprintf(ref, sizeof ref, "refs/heads/%s", spec);
        if (read_ref(&oid, s, ref) == 0) {
            git_oid_tostr(out_id, 41, &oid);
            return 0;
        }
    }
    size_t len = strlen(spec);
    int hex = len >= 4 && len <= 40 && runs_is_hex(spec, len);
    /* a full id names one commit: look it up directly instead of walking every node
     * (the walk reads every ref). The answer is the same: the walk below finds a
     * reachable node by its full id, and lookup_unreachable finds it otherwise. */
    if (hex && len == 40 && lookup_unreachable(out_id, s, spec, len) == 0)
        return 0;
    if (hex) {
        char(*ids)[41] = NULL;
        size_t n = 0, found = 0, first = 0;
        /* reachable nodes first: a short prefix may also match a manifest's blob or tree */
        int walk = runs_node_all(&ids, &n, s);
        for (size_t i = 0; i < n; i++)
            if (!strncmp(ids[i], spec, len)) {
                if (!found++)
                    first = i;
            }
        if (found == 1)
            memcpy(out_id, ids[first], 41);
        free(ids);
        if (found == 1)
            return 0;
        if (found > 1)
            return runs_error_set(RUNS_EINVALID, "node id prefix '%s' is ambiguous (%zu nodes); give more digits", spec,
                                  found);
        /* a committed node no ref reaches (an abandoned tip, a lost ref) is still a node:
         * look its commit up in lineage.git's object database */
        char walk_msg[512];
        snprintf(walk_msg, sizeof walk_msg, "%s", walk ? runs_error_message() : "");
        if ((rc = lookup_unreachable(out_id, s, spec, len)) != RUNS_ENOTFOUND)
            return rc;
        if (walk)
            return runs_error_set(walk, "%s", walk_msg);
    }
    char hint[160];
    runs_store_suggest(hint, sizeof hint, s, spec);
    return runs_error_set(RUNS_ENOTFOUND,
                          "no node named '%s'%s (not RUN@step_N, step_N, a tag, a run or an id prefix); see "
                          "`runs log --all`",
                          spec, hint);
}

/* ---- loading tensors ---- */

size_t runs_manifest_group_bytes(const cJSON *m, const char *group)
{
    size_t total = 0;
    const cJSON *t;
    cJSON_ArrayForEach (t, cJSON_GetObjectItemCaseSensitive(m, "tensors")) {
        const cJSON *g = cJSON_GetObjectItemCaseSensitive(t, "group");
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(t, "bytes");
        if (cJSON_IsString(g) && !strcmp(g->valuestring, group) && cJSON_IsNumber(b))
            total += (size_t)b->valuedouble;
    }
    return total;
}

struct load_item {
    const char *hex;
    char *dst;
    size_t len;
};

struct load_job {
    runs_store *s;
    struct load_item *items;
    size_t n;
};

static int load_one(void *ctx, size_t k)
{
    struct load_job *j = ctx;
    return runs_object_read_into(j->s, j->items[k].hex, j->items[k].dst, j->items[k].len);
}

int runs_node_load_group(runs_store *s, const cJSON *manifest, const char *group, void *dst, size_t bytes)
{
    struct load_job j;
    memset(&j, 0, sizeof j);
    j.s = s;
    size_t total = runs_manifest_group_bytes(manifest, group), cap = 0, off = 0;
    int rc = 0;
    if (total != bytes)
        return runs_error_set(RUNS_EINVALID, "group '%s' holds %zu bytes in the manifest, %zu were expected", group,
                              total, bytes);
    const cJSON *t;
    cJSON_ArrayForEach (t, cJSON_GetObjectItemCaseSensitive(manifest, "tensors")) {
        const cJSON *g = cJSON_GetObjectItemCaseSensitive(t, "group");
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(t, "bytes");
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(t, "sha256");
        if (!cJSON_IsString(g) || strcmp(g->valuestring, group) != 0)
            continue;
        if (!cJSON_IsNumber(b) || !cJSON_IsString(h)) {
            rc = runs_error_set(RUNS_ECORRUPT, "manifest tensor entry lacks bytes or sha256");
            goto done;
        }
        if (j.n == cap) {
            cap = cap ? cap * 2 : 64;
            struct load_item *nv = realloc(j.items, cap * sizeof *nv);
            if (!nv) {
                rc = runs_error_set(RUNS_ENOMEM, "out of memory loading group %s", group);
                goto done;
            }
            j.items = nv;
        }
        j.items[j.n].hex = h->valuestring;
        j.items[j.n].dst = (char *)dst + off;
        j.items[j.n].len = (size_t)b->valuedouble;
        off += (size_t)b->valuedouble;
        j.n++;
    }
    /* a thinned node's objects are gone on purpose: say so instead of "missing" */
    for (size_t i = 0; i < j.n; i++) {
        if (!runs_object_exists(s, j.items[i].hex)) {
            const cJSON *run = cJSON_GetObjectItemCaseSensitive(manifest, "run");
            const cJSON *step = cJSON_GetObjectItemCaseSensitive(manifest, "step");
            if (cJSON_IsString(run) && cJSON_IsNumber(step) &&
                runs__thinned_find_step(s, run->valuestring, (long long)step->valuedouble))
                rc = runs_error_set(
                    RUNS_ENOTFOUND,
                    "the tensors of %s@step_%.0f were thinned by `runs gc` (retention); restore a kept node",
                    run->valuestring, step->valuedouble);
            else
                rc = runs_error_set(RUNS_ENOTFOUND, "object %s of group %s is missing from the store", j.items[i].hex,
                                    group);
            goto done;
        }
    }
    rc = runs_pool_run(j.n, runs__threads(j.n), load_one, &j);
done:
    free(j.items);
    return rc;
}

/* ---- rewinding a run: the abandoned tip stays reachable (helper functions of
 * `runs resume NODE --rewind`; see lineage.h) ---- */

int runs_run_rewind(char kept[128], runs_store *s, const char *run, const char *old_tip, const char *id)
{
    runs_lock l = {.fd = -1};
    git_commit *c = NULL;
    git_oid cur, tip_oid, o;
    char ref[256], p[PATH_MAX];
    struct stat st;
    int rc;
    kept[0] = '\0';
    if ((rc = runs_name_check(run, "run")) != 0 || (rc = parse_id(&tip_oid, old_tip)) != 0 ||
        (rc = lookup_commit(&c, s, id)) != 0)
        goto done;
    if ((rc = runs__writer_begin(s)) != 0 || (rc = runs__lock_acquire(&l, s, "refs", 30)) != 0)
        goto done;
    /* compare under the lock: a tip that moved meanwhile would be abandoned unkept */
    snprintf(ref, sizeof ref, "refs/heads/%s", run);
    if ((rc = read_ref(&cur, s, ref)) == RUNS_ENOTFOUND)
        rc = runs_error_set(RUNS_ENOTFOUND, "no run named '%s'; `runs log --all` lists the runs", run);
    if (rc)
        goto done;
    if (!git_oid_equal(&cur, &tip_oid)) {
        char now[41];
        git_oid_tostr(now, sizeof now, &cur);
        rc = runs_error_set(RUNS_ELOCKED,
                            "the tip of run '%s' moved to %.12s while rewinding (another writer?); "
                            "check `runs log %s` and retry",
                            run, now, run);
        goto done;
    }
    /* the first free number: a kept tip is never overwritten */
    for (unsigned n = 1;; n++) {
        if (n > 1000000) {
            rc = runs_error_set(RUNS_EEXISTS, "run '%s' has too many rewound tips under refs/rewound/%s/", run, run);
            goto done;
        }
        snprintf(kept, 128, "refs/rewound/%s/%u", run, n);
        if ((rc = ref_path(p, sizeof p, s, kept)) != 0)
            goto done;
        if (stat(p, &st) != 0 && read_ref(&o, s, kept) == RUNS_ENOTFOUND)
            break;
    }
    if ((rc = write_ref(s, kept, &tip_oid)) != 0 || (rc = write_ref(s, ref, git_commit_id(c))) != 0)
        goto done;
    runs_error_clear();
done:
    if (rc)
        kept[0] = '\0';
    runs__lock_release(&l);
    git_commit_free(c);
    return rc;
}

static int cmp_id41(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

int runs_node_rewound(char (**ids)[41], size_t *n, runs_store *s)
{
    git_revwalk *w = NULL;
    char(*v)[41] = NULL;
    size_t cnt = 0, cap = 0;
    git_oid oid;
    int rc = 0, g;
    *ids = NULL;
    *n = 0;
    if (git_revwalk_new(&w, s->repo) != 0 || git_revwalk_push_glob(w, "refs/rewound/*") != 0 ||
        git_revwalk_hide_glob(w, "refs/heads/*") != 0) {
        rc = runs__git_error(RUNS_ECORRUPT, "walking the rewound tips of lineage.git (run `runs verify --all`)");
        goto done;
    }
    while ((g = git_revwalk_next(&oid, w)) == 0) {
        if (cnt == cap) {
            cap = cap ? cap * 2 : 64;
            char(*nv)[41] = realloc(v, cap * sizeof *nv);
            if (!nv) {
                rc = runs_error_set(RUNS_ENOMEM, "out of memory listing rewound nodes");
                goto done;
            }
            v = nv;
        }
        git_oid_tostr(v[cnt++], 41, &oid);
    }
    if (g != GIT_ITEROVER) {
        rc = runs__git_error(RUNS_ECORRUPT, "walking the rewound tips of lineage.git (run `runs verify --all`)");
        goto done;
    }
    if (cnt)
        qsort(v, cnt, sizeof *v, cmp_id41);
    *ids = v;
    *n = cnt;
    v = NULL;
done:
    free(v);
    git_revwalk_free(w);
    return rc;
}
