/* store/resolve.c — runs_node_resolve: a node name (RUN@step_N, step_N, HEAD, a tag, a
 * run, an id or id prefix) to a node id. */
#define _GNU_SOURCE
#include "store/lineage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "manifests/manifest.h"
#include "store/internal.h"
#include "store/names.h"

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
    char tip[41];
    int rc = runs_run_tip(tip, s, run);
    if (rc)
        return rc;
    snprintf(ref, sizeof ref, "refs/tags/%s/%s", run, step);
    rc = runs__ref_read_hex(out_id, s, ref);
    if (rc == RUNS_ENOTFOUND)
        return runs_error_set(RUNS_ENOTFOUND, "run '%s' has no node at %s; `runs log %s` lists its nodes", run, step,
                              run);
    return rc;
}

/* A commit of lineage.git whose id starts with the hex prefix spec[0..len) and whose
 * tree holds manifest.json (so notes commits are not taken for nodes), whether or not
 * a ref reaches it. 0, RUNS_ENOTFOUND (no message set), or RUNS_EINVALID when ambiguous. */
static int lookup_unreachable(char out_id[41], runs_store *s, const char *spec, size_t len)
{
    git_oid oid;
    git_object *o = NULL;
    git_tree *tree = NULL;
    git_repository *repo;
    int rc = runs__store_git(&repo, s);
    if (rc)
        return rc;
    rc = RUNS_ENOTFOUND;
    if (git_oid_fromstrn(&oid, spec, len) != 0)
        return RUNS_ENOTFOUND;
    int g = git_object_lookup_prefix(&o, repo, &oid, len, GIT_OBJECT_COMMIT);
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
        if ((rc = runs__ref_read_hex(out_id, s, ref)) != RUNS_ENOTFOUND)
            return rc;
        snprintf(ref, sizeof ref, "refs/heads/%s", spec);
        if ((rc = runs__ref_read_hex(out_id, s, ref)) != RUNS_ENOTFOUND)
            return rc;
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
