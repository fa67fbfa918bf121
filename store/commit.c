/* store/commit.c — runs_node_commit: a node's tensors into objects/, its manifest into
 * a lineage.git commit, then its refs. See store/store.c for the crash invariants
 * (2, 3, 6) this file keeps: objects first, commit next, refs last. */
#define _GNU_SOURCE
#include "store/lineage.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/error.h"
#include "manifests/canon.h"
#include "manifests/manifest.h"
#include "store/internal.h"
#include "store/object.h"

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

    git_repository *repo;
    if (!cJSON_IsObject(manifest))
        return runs_error_set(RUNS_EINVALID, "manifest: expected a JSON object");
    if ((rc = runs__store_git(&repo, s)) != 0)
        return rc;
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
        if ((rc = runs__lookup_commit(&parent, s, par->valuestring)) != 0)
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
    if (git_blob_create_from_buffer(&blob_oid, repo, text, tl + 1) != 0 || git_treebuilder_new(&tb, repo, NULL) != 0 ||
        git_treebuilder_insert(NULL, tb, "manifest.json", &blob_oid, GIT_FILEMODE_BLOB) != 0 ||
        git_treebuilder_write(&tree_oid, tb) != 0 || git_tree_lookup(&tree, repo, &tree_oid) != 0) {
        rc = runs__git_error(RUNS_EIO, "writing the manifest to lineage.git");
        goto done;
    }
    if (git_signature_now(&sig, "runs", "runs@localhost") != 0) {
        rc = runs__git_error(RUNS_ERROR, "making a commit signature");
        goto done;
    }
    snprintf(msg, sizeof msg, "%s %s step_%lld\n", kind->valuestring, run->valuestring, step);
    const git_commit *parents[1] = {parent};
    if (git_commit_create(&commit_oid, repo, NULL, sig, sig, "UTF-8", msg, tree, parent ? 1 : 0, parents) != 0) {
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
    if ((rc = runs__ref_write(s, ref, &commit_oid)) != 0)
        goto done;
    snprintf(ref, sizeof ref, "refs/tags/%s/step_%lld", run->valuestring, step);
    if ((rc = runs__ref_write(s, ref, &commit_oid)) != 0)
        goto done;
    if (head_unborn && (rc = runs__head_set_locked(s, run->valuestring)) != 0)
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
