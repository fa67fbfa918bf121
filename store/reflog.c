/* store/reflog.c — the ref journal (lineage.git/runs-reflog); the checks and repairs
 * of the ref files against it are store/refcheck.c (invariants 9 and 10 in
 * store/store.c).
 *
 * libgit2 skips a loose ref file it cannot parse when it iterates refs, and accepts
 * some damaged ones (upper-case hex, trailing garbage after a blank), so every ref
 * file is read here byte for byte: a ref file is valid when it holds exactly 40
 * lower-case hex digits and "\n"; HEAD is valid when it holds exactly
 * "ref: refs/heads/<run>\n" with <run> a valid run name (the run need not have
 * nodes yet: a fresh store's HEAD names a run that has none).
 *
 * The journal has one line per ref move, appended and fsync'd before the ref file is
 * renamed into place: "<old> <new> <unix time> <ref>\n". <old> and <new> are 40 hex
 * digits (40 zeros: no ref), "ref:refs/heads/<run>" for HEAD, or "damaged" for a ref
 * file that held something invalid before the move.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "manifests/manifest.h"
#include "store/internal.h"
#include "store/lineage.h"

#define ZERO_OID "0000000000000000000000000000000000000000"

void runs__ref_token(char out[RUNS_REF_TOKEN], const char *ref, const char *content, size_t len)
{
    snprintf(out, RUNS_REF_TOKEN, "damaged");
    if (!content)
        return;
    if (!strcmp(ref, "HEAD")) {
        if (len > 17 && len < 17 + 64 && !strncmp(content, "ref: refs/heads/", 16) && content[len - 1] == '\n' &&
            !memchr(content, '\0', len)) {
            char run[64];
            memcpy(run, content + 16, len - 17);
            run[len - 17] = '\0';
            if (runs_name_check(run, "run") == 0)
                snprintf(out, RUNS_REF_TOKEN, "ref:refs/heads/%s", run);
            runs_error_clear();
        }
        return;
    }
    if (len == 41 && content[40] == '\n') {
        char id[41];
        memcpy(id, content, 40);
        id[40] = '\0';
        if (runs_is_hex(id, 40))
            memcpy(out, id, 41);
    }
}

int runs__ref_read_bytes(char *buf, size_t cap, long *len, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    *len = -1;
    if (fd < 0)
        return errno == ENOENT || errno == ENOTDIR ? 0 : runs_error_sys(RUNS_EIO, "open", path);
    ssize_t r = read(fd, buf, cap);
    int rc = r < 0 ? runs_error_sys(RUNS_EIO, "read", path) : 0;
    close(fd);
    if (r >= 0)
        *len = (long)r;
    return rc;
}

int runs__reflog_append(runs_store *s, const char *ref, const char *content)
{
    char p[PATH_MAX], cur[RUNS_REF_TOKEN + 8], oldt[RUNS_REF_TOKEN], newt[RUNS_REF_TOKEN], line[1024];
    long len;
    int rc, fd = -1, created;
    struct stat st;
    snprintf(p, sizeof p, "%s/lineage.git/%s", s->dir, ref);
    if ((rc = runs__ref_read_bytes(cur, sizeof cur, &len, p)) != 0)
        return rc;
    if (len < 0) { /* no loose file: a packed value is the old one (invariant 11) */
        char hex[41];
        if ((rc = runs__packed_ref_lookup(hex, s, ref)) == RUNS_ENOTFOUND)
            snprintf(oldt, sizeof oldt, "%s", ZERO_OID);
        else if (rc)
            return rc;
        else
            snprintf(oldt, sizeof oldt, "%s", hex);
    } else
        runs__ref_token(oldt, ref, cur, (size_t)len);
    runs__ref_token(newt, ref, content, strlen(content));
    int n = snprintf(line, sizeof line, "%s %s %lld %s\n", oldt, newt, (long long)time(NULL), ref);
    if (n <= 0 || (size_t)n >= sizeof line)
        return runs_error_set(RUNS_EINVALID, "ref name too long for the ref journal: %.100s", ref);
    snprintf(p, sizeof p, "%s/lineage.git/runs-reflog", s->dir);
    created = stat(p, &st) != 0;
    if ((fd = open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) < 0)
        return runs_error_sys(RUNS_EIO, "open", p);
    if ((rc = runs__write_all(fd, line, (size_t)n, p)) != 0)
        goto done;
    if (fsync(fd) != 0) {
        rc = runs_error_sys(RUNS_EIO, "fsync", p);
        goto done;
    }
    if (created)
        rc = runs__fsync_parent(p);
done:
    close(fd);
    return rc;
}

int runs__reflog_load(runs_reflog_entry **out, size_t *n, size_t *malformed, runs_store *s)
{
    char p[PATH_MAX], line[1200];
    runs_reflog_entry *v = NULL;
    size_t cnt = 0, cap = 0, bad = 0;
    int rc = 0;
    *out = NULL;
    *n = 0;
    if (malformed)
        *malformed = 0;
    snprintf(p, sizeof p, "%s/lineage.git/runs-reflog", s->dir);
    FILE *f = fopen(p, "r");
    if (!f)
        return errno == ENOENT ? 0 : runs_error_sys(RUNS_EIO, "open", p);
    while (fgets(line, sizeof line, f)) {
        runs_reflog_entry e;
        size_t ll = strlen(line);
        memset(&e, 0, sizeof e);
        /* a torn last line (a crash mid-append, before the ref moved) is not damage */
        if (ll == 0 || line[ll - 1] != '\n') {
            if (!feof(f))
                bad++;
            continue;
        }
        char extra[2];
        if (sscanf(line, "%159s %159s %lld %255s %1s", e.old, e.new_, &e.time, e.ref, extra) != 4) {
            bad++;
            continue;
        }
        if (cnt == cap) {
            cap = cap ? cap * 2 : 64;
            runs_reflog_entry *nv = realloc(v, cap * sizeof *nv);
            if (!nv) {
                rc = runs_error_set(RUNS_ENOMEM, "out of memory reading %s", p);
                goto done;
            }
            v = nv;
        }
        v[cnt++] = e;
    }
    *out = v;
    *n = cnt;
    v = NULL;
    if (malformed)
        *malformed = bad;
done:
    fclose(f);
    free(v);
    return rc;
}
