/* store/lineage.c — reading lineage nodes (git commits of lineage.git with manifest.json
 * in each tree): a node's manifest, its parent, its lineage, every node; and the
 * objects a manifest references. Writing is store/commit.c; refs are store/refs.c. */
#define _GNU_SOURCE
#include "store/lineage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "manifests/canon.h"
#include "manifests/manifest.h"
#include "store/internal.h"

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

int runs__cmp_id41(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

int runs__parse_id(git_oid *oid, const char *id)
{
    if (!id || !runs_is_hex(id, 40) || git_oid_fromstr(oid, id) != 0)
        return runs_error_set(RUNS_EINVALID, "'%.60s' is not a node id (40 hex digits)", id ? id : "(null)");
    return 0;
}

int runs__lookup_commit(git_commit **c, runs_store *s, const char *id)
{
    git_oid oid;
    git_repository *repo;
    int rc = runs__parse_id(&oid, id);
    if (rc || (rc = runs__store_git(&repo, s)) != 0)
        return rc;
    if (git_commit_lookup(c, repo, &oid) != 0)
        return runs_error_set(RUNS_ENOTFOUND, "no node %.12s in %s/lineage.git", id, s->dir);
    return 0;
}

/* ---- reading nodes ---- */

int runs_node_manifest_text(char **out, size_t *len, runs_store *s, const char *id)
{
    git_commit *c = NULL;
    git_tree *tree = NULL;
    git_blob *blob = NULL;
    int rc = runs__lookup_commit(&c, s, id);
    *out = NULL;
    if (len)
        *len = 0;
    if (rc)
        return rc;
    const git_tree_entry *e;
    if (git_commit_tree(&tree, c) != 0 || !(e = git_tree_entry_byname(tree, "manifest.json")) ||
        git_blob_lookup(&blob, s->lineage /* opened by runs__lookup_commit */, git_tree_entry_id(e)) != 0) {
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
    int rc = runs__lookup_commit(&c, s, id);
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
