/* store/publish.c — atomic publish of files (see publish.h) and the durable-write
 * helpers the store shares (write_all, fsync of a directory, temp create/publish).
 *
 * Why one path: five writers used to give five guarantees (a fixed ".tmp" name
 * two processes could share, no fsync, in-place "w" that a crash leaves half
 * written). Now each file appears whole and durable, or not at all. */
#define _GNU_SOURCE
#include "store/publish.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "store/internal.h"

struct runs_publish {
    int fd;
    FILE *f;      /* stdio stream on fd once runs_publish_file was called */
    int failed;   /* a write failed: only abort is meaningful */
    int advisory; /* rename into place without fsync (runs_file_write_advisory) */
    mode_t mode;
    char tmp[PATH_MAX];
    char path[PATH_MAX];
};

static runs_durable_hook durable_hook;
static void *durable_ctx;

void runs_publish_set_hook(runs_durable_hook hook, void *ctx)
{
    durable_ctx = ctx;
    durable_hook = hook;
}

void runs__durable_note(runs_durable_step step, const char *path)
{
    if (durable_hook)
        durable_hook(durable_ctx, step, path);
}

int runs__write_all(int fd, const void *buf, size_t len, const char *path)
{
    const char *p = buf;
    while (len > 0) {
        size_t chunk = len > (1u << 30) ? (1u << 30) : len;
        ssize_t w = write(fd, p, chunk);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return runs_error_sys(RUNS_EIO, "write", path);
        }
        if (w == 0) {
            errno = ENOSPC;
            return runs_error_sys(RUNS_EIO, "write", path);
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int runs__fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return runs_error_sys(RUNS_EIO, "open directory", dir);
    int rc = 0;
    /* some file systems cannot fsync a directory (EINVAL); their renames are
     * as durable as they get */
    if (fsync(fd) != 0 && errno != EINVAL)
        rc = runs_error_sys(RUNS_EIO, "fsync directory", dir);
    else
        runs__durable_note(RUNS_STEP_FSYNC_DIR, dir);
    close(fd);
    return rc;
}

int runs__fsync_parent(const char *path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return runs__fsync_dir(".");
    if (slash == dir)
        slash[1] = '\0';
    else
        *slash = '\0';
    return runs__fsync_dir(dir);
}

int runs__tmp_create(int *fd, char tmp[PATH_MAX], const char *path, const char *tmpdir)
{
    int n;
    if (tmpdir) {
        n = snprintf(tmp, PATH_MAX, "%s/.tmp-XXXXXX", tmpdir);
    } else {
        const char *slash = strrchr(path, '/');
        int dl = slash ? (int)(slash - path) : 1;
        n = snprintf(tmp, PATH_MAX, "%.*s/.tmp-XXXXXX", dl, slash ? path : ".");
    }
    if (n < 0 || n >= PATH_MAX) {
        tmp[0] = '\0';
        *fd = -1;
        return runs_error_set(RUNS_EINVALID, "%s: path too long for a temporary file; use a shorter path", path);
    }
    if ((*fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
        int rc = runs_error_sys(RUNS_EIO, "create temporary file", tmp);
        tmp[0] = '\0';
        return rc;
    }
    return 0;
}

/* The tail every publish shares. Closes the file (through f when a stream was
 * made, so its buffer is neither lost nor leaked), and on failure removes tmp.
 * Messages name the target, which the user knows; the temp is gone by then. */
static int finish(int fd, FILE *f, char tmp[PATH_MAX], const char *path, mode_t mode, int durable)
{
    int rc = 0;
    if (f && (fflush(f) != 0 || ferror(f))) {
        if (!errno)
            errno = EIO;
        rc = runs_error_sys(RUNS_EIO, "write", path);
        goto done;
    }
    if (fchmod(fd, mode) != 0) {
        rc = runs_error_sys(RUNS_EIO, "chmod", path);
        goto done;
    }
    if (durable) {
        if (fsync(fd) != 0) {
            rc = runs_error_sys(RUNS_EIO, "fsync", path);
            goto done;
        }
        runs__durable_note(RUNS_STEP_FSYNC, path);
    }
    int closed = f ? fclose(f) : close(fd);
    f = NULL;
    fd = -1;
    if (closed != 0) {
        rc = runs_error_sys(RUNS_EIO, "close", path);
        goto done;
    }
    if (rename(tmp, path) != 0) {
        rc = runs_error_sys(RUNS_EIO, "rename", path);
        goto done;
    }
    tmp[0] = '\0';
    if (durable)
        runs__durable_note(RUNS_STEP_RENAME, path);
    rc = durable ? runs__fsync_parent(path) : 0;
done:
    if (f)
        fclose(f);
    else if (fd >= 0)
        close(fd);
    if (tmp[0])
        unlink(tmp);
    tmp[0] = '\0';
    return rc;
}

int runs__tmp_publish(int *fd, char tmp[PATH_MAX], const char *path, mode_t mode)
{
    int rc = finish(*fd, NULL, tmp, path, mode, 1);
    *fd = -1;
    return rc;
}

int runs_publish_open_in(runs_publish **out, const char *path, const char *tmpdir, int mode)
{
    *out = NULL;
    int rc = 0;
    runs_publish *p = calloc(1, sizeof *p);
    if (!p)
        return runs_error_set(RUNS_ENOMEM, "out of memory publishing %s", path);
    p->fd = -1;
    p->mode = (mode_t)mode & 07777;
    if (!path || !*path || strlen(path) >= sizeof p->path) {
        rc = runs_error_set(RUNS_EINVALID, "cannot write '%s': empty or too long a path", path ? path : "");
        goto done;
    }
    snprintf(p->path, sizeof p->path, "%s", path);
    if ((rc = runs__tmp_create(&p->fd, p->tmp, path, tmpdir)) != 0)
        goto done;
    *out = p;
    p = NULL;
done:
    free(p);
    return rc;
}

int runs_publish_open(runs_publish **out, const char *path, int mode)
{
    return runs_publish_open_in(out, path, NULL, mode);
}

int runs_publish_write(runs_publish *p, const void *data, size_t len)
{
    int rc = 0;
    if (p->failed)
        return runs_error_set(RUNS_EIO, "write %s: an earlier write failed", p->path);
    if (p->f) {
        if (len && fwrite(data, 1, len, p->f) != len) {
            if (!errno)
                errno = EIO;
            rc = runs_error_sys(RUNS_EIO, "write", p->path);
        }
    } else {
        rc = runs__write_all(p->fd, data, len, p->path);
    }
    if (rc)
        p->failed = 1;
    return rc;
}

FILE *runs_publish_file(runs_publish *p)
{
    if (!p->f && !(p->f = fdopen(p->fd, "wb"))) {
        runs_error_sys(RUNS_ENOMEM, "fdopen", p->tmp);
        return NULL;
    }
    return p->f;
}

int runs_publish_fd(runs_publish *p)
{
    return p->fd;
}

const char *runs_publish_tmp_path(const runs_publish *p)
{
    return p->tmp;
}

int runs_publish_commit(runs_publish *p)
{
    if (!p)
        return runs_error_set(RUNS_EINVALID, "publish: commit without a handle");
    int rc;
    if (p->failed) {
        rc = runs_error_set(RUNS_EIO, "write %s: an earlier write failed; the file was left as it was", p->path);
        runs_publish_abort(p);
        return rc;
    }
    rc = finish(p->fd, p->f, p->tmp, p->path, p->mode, !p->advisory);
    free(p);
    return rc;
}

void runs_publish_abort(runs_publish *p)
{
    if (!p)
        return;
    if (p->f)
        fclose(p->f);
    else if (p->fd >= 0)
        close(p->fd);
    if (p->tmp[0])
        unlink(p->tmp);
    free(p);
}

int runs__write_atomic(const char *path, const void *data, size_t len, const char *tmpdir, mode_t mode)
{
    runs_publish *p = NULL;
    int rc = runs_publish_open_in(&p, path, tmpdir, (int)mode);
    if (rc)
        return rc;
    if ((rc = runs_publish_write(p, data, len)) != 0) {
        runs_publish_abort(p);
        return rc;
    }
    return runs_publish_commit(p);
}

int runs_file_write_atomic_mode(const char *path, const void *data, size_t len, int mode)
{
    return runs__write_atomic(path, data, len, NULL, (mode_t)mode);
}

int runs_file_write_atomic(const char *path, const void *data, size_t len)
{
    return runs__write_atomic(path, data, len, NULL, 0644);
}

int runs_file_write_advisory(const char *path, const void *data, size_t len)
{
    runs_publish *p = NULL;
    int rc = runs_publish_open(&p, path, 0644);
    if (rc)
        return rc;
    p->advisory = 1;
    if ((rc = runs_publish_write(p, data, len)) != 0) {
        runs_publish_abort(p);
        return rc;
    }
    return runs_publish_commit(p);
}
