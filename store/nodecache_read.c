/* store/nodecache_read.c — one node read from the lineage (its commit and validated
 * manifest) as a listing shows it, and the loose object file that a cache record of
 * it is checked against. */
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
#include "manifests/canon.h"
#include "store/internal.h"
#include "store/lineage.h"
#include "store/nodecache_int.h"

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
void runs__nc_commit_file(runs_node_info *o, int objfd, const char *id)
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

int runs__nc_objects_dir(runs_store *s)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/lineage.git/objects", s->dir);
    return open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* Node id's fields from its commit and its (validated) manifest; objfd: where to see
 * its loose object file (-1: not asked). */
int runs__nc_read_node(runs_node_info *o, runs_nodes *n, runs_store *s, const char *id, int objfd)
{
    git_oid oid;
    git_commit *c = NULL;
    cJSON *m = NULL;
    runs_buf ch = {0};
    git_repository *repo;
    int rc = 0;
    memset(o, 0, sizeof *o);
    if ((rc = runs__store_git(&repo, s)) != 0)
        goto done;
    if (strlen(id) != 40 || git_oid_fromstr(&oid, id) != 0 || git_commit_lookup(&c, repo, &oid) != 0) {
        rc = runs_error_set(RUNS_ENOTFOUND, "no node %.12s in %s/lineage.git", id, s->dir);
        goto done;
    }
    memcpy(o->id, id, 41);
    runs__nc_commit_file(o, objfd, id); /* before reading: a later change cannot pass for this one */
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
    if ((rc = runs__nc_keep_str(&o->run, n, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "run")))) ||
        (rc = runs__nc_keep_str(&o->kind, n, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "kind")))) ||
        (rc = runs__nc_keep_str(&o->changes, n, ch.s ? ch.s : "")))
        goto done;
done:
    runs_buf_free(&ch);
    cJSON_Delete(m);
    git_commit_free(c);
    return rc;
}
