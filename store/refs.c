/* store/refs.c — the ref files of lineage.git and HEAD: written whole (temp in locks/,
 * rename, fsync; invariant 3 in store/store.c), journalled first (invariant 9), and read
 * from their files (loose, else packed-refs: invariant 11), held to invariant 10's
 * exact bytes. Reading them without libgit2 is what lets a cached listing start
 * without loading it. The runs__ref_* helpers here are what commit, tags and rewind
 * move refs with (store/internal.h). */
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

/* 1 when ref may be read as a path under lineage.git: refs/ followed by components
 * that are not empty and start with no dot (so no "..", no temp file). libgit2
 * refused other names as invalid specs, which its callers read as "no such ref"; so
 * do ours. (HEAD is runs_head_get's.) */
static int ref_name_ok(const char *ref)
{
    if (strncmp(ref, "refs/", 5) != 0)
        return 0;
    for (const char *c = ref + 5;;) {
        const char *e = strchr(c, '/');
        if (e == c || *c == '.' || *c == '\0')
            return 0;
        if (!e)
            return 1;
        c = e + 1;
    }
}

/* ref's file into buf; *len -1 when there is no file (or a directory: the refs of a
 * run's per-step tags live under refs/tags/RUN/, and a tag of that name is absent). */
static int ref_file_bytes(char *buf, size_t cap, long *len, const char *path)
{
    int rc = runs__ref_read_bytes(buf, cap, len, path);
    if (rc == RUNS_EIO && errno == EISDIR) {
        runs_error_clear();
        *len = -1;
        rc = 0;
    }
    return rc;
}

int runs__ref_read_hex(char hex[41], runs_store *s, const char *ref)
{
    char p[PATH_MAX], buf[RUNS_REF_TOKEN], tok[RUNS_REF_TOKEN];
    long len;
    int rc;
    hex[0] = '\0';
    if (!ref_name_ok(ref) || runs__ref_path(p, sizeof p, s, ref) != 0) {
        runs_error_clear();
        return RUNS_ENOTFOUND;
    }
    if ((rc = ref_file_bytes(buf, sizeof buf, &len, p)) != 0)
        return rc;
    if (len < 0) /* no loose file: its packed line, if any (invariant 11) */
        return runs__packed_ref_lookup(hex, s, ref);
    runs__ref_token(tok, ref, buf, (size_t)len); /* 40 hex for a sound file, else "damaged" */
    if (runs_is_hex(tok, 40)) {
        memcpy(hex, tok, 41);
        return 0;
    }
    /* invariant 10: a damaged ref file is an error, never "no such ref" */
    char raw[RUNS_REF_TOKEN * 2];
    runs__ref_escape(raw, sizeof raw, buf, (size_t)len);
    return runs_error_set(RUNS_ECORRUPT,
                          "%s/lineage.git/%s is damaged: it holds \"%.120s\", not 40 hex digits and a newline; "
                          "run `runs verify --all`",
                          s->dir, ref, raw);
}

int runs__ref_read(git_oid *oid, runs_store *s, const char *ref)
{
    char hex[41];
    int rc = runs__ref_read_hex(hex, s, ref);
    if (rc == 0 && git_oid_fromstr(oid, hex) != 0)
        rc = runs__git_error(RUNS_ECORRUPT, ref);
    return rc;
}

/* ---- HEAD ---- */

int runs_head_get(char *run, size_t len, runs_store *s)
{
    char p[PATH_MAX], buf[RUNS_REF_TOKEN], tok[RUNS_REF_TOKEN], hex[41], raw[RUNS_REF_TOKEN * 2];
    long n;
    int rc;
    if (len)
        run[0] = '\0';
    snprintf(p, sizeof p, "%s/lineage.git/HEAD", s->dir);
    if ((rc = ref_file_bytes(buf, sizeof buf, &n, p)) != 0)
        return runs_error_wrap(RUNS_ECORRUPT, "reading HEAD of lineage.git");
    if (n < 0)
        return runs_error_set(RUNS_ECORRUPT, "%s is missing; run `runs verify --all`", p);
    /* invariant 10: HEAD is exactly "ref: refs/heads/<run>\n", <run> a valid run name */
    runs__ref_token(tok, "HEAD", buf, (size_t)n);
    if (strncmp(tok, "ref:refs/heads/", 15) != 0) {
        if (n > 17 && !strncmp(buf, "ref: refs/heads/", 16) && buf[n - 1] == '\n' && !memchr(buf, '\0', (size_t)n))
            return runs_error_set(RUNS_ECORRUPT, "HEAD of %s/lineage.git names '%.*s', which is not a run name", s->dir,
                                  (int)(n - 17 < 120 ? n - 17 : 120), buf + 16);
        runs__ref_escape(raw, sizeof raw, buf, (size_t)n);
        return runs_error_set(RUNS_ECORRUPT, "HEAD of %s/lineage.git does not name a run: it holds \"%.120s\"", s->dir,
                              raw);
    }
    const char *t = tok + 15;
    snprintf(run, len, "%s", t);
    snprintf(p, sizeof p, "refs/heads/%s", t);
    if ((rc = runs__ref_read_hex(hex, s, p)) == RUNS_ENOTFOUND)
        return runs_error_set(RUNS_ENOTFOUND, "no current run: HEAD names '%s', which has no nodes yet", t);
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
