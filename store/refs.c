/* store/refs.c — the ref files of lineage.git and HEAD: written whole (temp in locks/,
 * rename, fsync; invariant 3 in store/store.c), journalled first (invariant 9), read
 * through libgit2. The runs__ref_* helpers here are what commit, tags and rewind move
 * refs with (store/internal.h). */
#define _GNU_SOURCE
#include "store/lineage.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/error.h"
#include "manifests/manifest.h"
#include "store/internal.h"

/* ---- refs: whole files, temp in locks/, rename, fsync (invariant 3) ---- */

int runs__ref_path(char *buf, size_t n, runs_store *s, const char *ref)
{
    if ((size_t)snprintf(buf, n, "%s/lineage.git/%s", s->dir, ref) >= n)
        return runs_error_set(RUNS_EINVALID, "ref name too long: %s", ref);
    return 0;
}

int runs__ref_write_file(runs_store *s, const char *ref, const char *content)
{
    char p[PATH_MAX], locks[PATH_MAX];
    int rc = runs__ref_path(p, sizeof p, s, ref);
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

int runs__ref_write(runs_store *s, const char *ref, const git_oid *oid)
{
    char line[GIT_OID_HEXSZ + 2];
    git_oid_tostr(line, GIT_OID_HEXSZ + 1, oid);
    strcat(line, "\n");
    return runs__ref_write_file(s, ref, line);
}

/* 0 and *oid when ref exists, RUNS_ENOTFOUND when not. */
int runs__ref_read(git_oid *oid, runs_store *s, const char *ref)
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
    if (runs__ref_read(&oid, s, t) != 0)
        rc = runs_error_set(RUNS_ENOTFOUND, "no current run: HEAD names '%s', which has no nodes yet", t + 11);
done:
    git_reference_free(head);
    return rc;
}

int runs__head_set_locked(runs_store *s, const char *run)
{
    char line[128];
    snprintf(line, sizeof line, "ref: refs/heads/%s\n", run);
    return runs__ref_write_file(s, "HEAD", line);
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
    rc = runs__head_set_locked(s, run);
    runs__lock_release(&l);
    return rc;
}
