/* store/jsonl.c — JSON Lines logs: read with one damage policy, append with
 * checked writes, truncate by step through the publish path (see jsonl.h).
 *
 * Why one module: seven readers and writers used to disagree on a torn or bad line
 * (drop silently, stop, fail with EINVALID, fail with ECORRUPT). A crash can only
 * tear the last line, so that one is skipped and counted; anything else that does
 * not parse is damage and must be said, with the file and line. */
#define _GNU_SOURCE
#include "store/jsonl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "store/publish.h"

int runs_jsonl_read_buf(const char *text, size_t len, const char *origin, int flags, runs_jsonl_fn fn, void *ctx,
                        size_t *torn)
{
    size_t pos = 0;
    long lineno = 0;
    int rc = 0;
    if (torn)
        *torn = 0;
    while (pos < len && !rc) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - line) : len - pos;
        pos += ll + (nl ? 1 : 0);
        lineno++;
        size_t k = 0;
        while (k < ll && (line[k] == ' ' || line[k] == '\t' || line[k] == '\r'))
            k++;
        if (k == ll)
            continue;
        if (!nl && !(flags & RUNS_JSONL_WHOLE)) { /* a crash mid-append: the record never finished */
            if (torn)
                *torn = 1;
            break;
        }
        cJSON *o = cJSON_ParseWithLength(line, ll);
        if (!cJSON_IsObject(o)) {
            cJSON_Delete(o);
            rc = runs_error_set(RUNS_ECORRUPT,
                                "%s:%ld: not a JSON object (only the last line can be torn by a crash; this "
                                "one is damage: restore the file or remove the line)",
                                origin, lineno);
            break;
        }
        rc = fn(ctx, o, line, ll, lineno);
        cJSON_Delete(o);
    }
    return rc;
}

/* Reads f to its end into a malloc'd buffer (*out, caller frees). */
static int slurp(char **out, size_t *n_out, FILE *f, const char *origin)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    int rc = 0;
    *out = NULL;
    if (!buf)
        return runs_error_set(RUNS_ENOMEM, "out of memory reading %s", origin);
    for (;;) {
        if (n == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                rc = runs_error_set(RUNS_ENOMEM, "out of memory reading %s", origin);
                goto done;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) {
            if (ferror(f))
                rc = runs_error_sys(RUNS_EIO, "read", origin);
            break;
        }
    }
done:
    if (rc) {
        free(buf);
        return rc;
    }
    *out = buf;
    *n_out = n;
    return 0;
}

int runs_jsonl_read_stream(FILE *f, const char *origin, runs_jsonl_fn fn, void *ctx, size_t *torn)
{
    char *text = NULL;
    size_t len = 0;
    if (torn)
        *torn = 0;
    int rc = slurp(&text, &len, f, origin);
    if (!rc)
        rc = runs_jsonl_read_buf(text, len, origin, 0, fn, ctx, torn);
    free(text);
    return rc;
}

int runs_jsonl_read_file(const char *path, runs_jsonl_fn fn, void *ctx, size_t *torn)
{
    if (torn)
        *torn = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT ? runs_error_set(RUNS_ENOTFOUND, "%s: no such file", path)
                               : runs_error_sys(RUNS_EIO, "open", path);
    int rc = runs_jsonl_read_stream(f, path, fn, ctx, torn);
    fclose(f);
    return rc;
}

/* Cuts a torn tail: the file ends at its last '\n' (or is empty). */
static int cut_torn_tail(int fd, const char *path, size_t *torn)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return runs_error_sys(RUNS_EIO, "stat", path);
    off_t end = st.st_size;
    char buf[4096];
    while (end > 0) {
        off_t from = end > (off_t)sizeof buf ? end - (off_t)sizeof buf : 0;
        ssize_t r = pread(fd, buf, (size_t)(end - from), from);
        if (r != end - from)
            return runs_error_sys(RUNS_EIO, "read", path);
        ssize_t i = r;
        while (i > 0 && buf[i - 1] != '\n')
            i--;
        if (i > 0) {
            end = from + i;
            break;
        }
        end = from;
    }
    if (end == st.st_size)
        return 0;
    if (ftruncate(fd, end) != 0)
        return runs_error_sys(RUNS_EIO, "truncate", path);
    if (torn)
        *torn = 1;
    return 0;
}

int runs_jsonl_open_append(FILE **out, size_t *torn, const char *path)
{
    *out = NULL;
    if (torn)
        *torn = 0;
    int rc = 0;
    int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return runs_error_sys(RUNS_EIO, "open", path);
    if ((rc = cut_torn_tail(fd, path, torn)) != 0)
        goto done;
    if (!(*out = fdopen(fd, "a"))) {
        rc = runs_error_sys(RUNS_EIO, "open", path);
        goto done;
    }
    fd = -1;
done:
    if (fd >= 0)
        close(fd);
    return rc;
}

int runs_jsonl_append(FILE *f, const char *path, const char *line, size_t len)
{
    if (memchr(line, '\n', len))
        return runs_error_set(RUNS_EINVALID, "%s: a log record must be one line (it holds a newline)", path);
    errno = 0;
    if (fwrite(line, 1, len, f) != len || fputc('\n', f) == EOF || fflush(f) != 0) {
        if (!errno)
            errno = EIO;
        return runs_error_sys(RUNS_EIO, "write", path);
    }
    return 0;
}

int runs_jsonl_sync(FILE *f, const char *path)
{
    errno = 0;
    if (fflush(f) != 0) {
        if (!errno)
            errno = EIO;
        return runs_error_sys(RUNS_EIO, "write", path);
    }
    if (fsync(fileno(f)) != 0)
        return runs_error_sys(RUNS_EIO, "fsync", path);
    return 0;
}

typedef struct {
    char *buf;
    size_t n;
    long limit;
    int keep_equal;
    const char *path;
} keep_ctx;

static int keep_line(void *ctx, const cJSON *obj, const char *line, size_t len, long lineno)
{
    keep_ctx *k = ctx;
    const cJSON *step = cJSON_GetObjectItemCaseSensitive(obj, "step");
    if (!cJSON_IsNumber(step))
        return runs_error_set(RUNS_ECORRUPT,
                              "%s:%ld: a log record without a numeric \"step\"; restore the "
                              "file or remove the line",
                              k->path, lineno);
    long st = (long)step->valuedouble;
    if (st < k->limit || (k->keep_equal && st == k->limit)) {
        memcpy(k->buf + k->n, line, len);
        k->n += len;
        k->buf[k->n++] = '\n';
    }
    return 0;
}

int runs_jsonl_truncate_steps(const char *path, long limit, int keep_equal)
{
    FILE *f = NULL;
    char *text = NULL;
    size_t len = 0;
    keep_ctx k = {NULL, 0, limit, keep_equal, path};
    int rc = 0;
    if (!(f = fopen(path, "rb"))) {
        if (errno == ENOENT)
            return runs_file_write_atomic(path, "", 0);
        return runs_error_sys(RUNS_EIO, "open", path);
    }
    if ((rc = slurp(&text, &len, f, path)) != 0)
        goto done;
    /* kept lines are a subset of the text, each with its '\n' */
    if (!(k.buf = malloc(len + 1))) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory rewriting %s", path);
        goto done;
    }
    if ((rc = runs_jsonl_read_buf(text, len, path, 0, keep_line, &k, NULL)) != 0)
        goto done;
    rc = runs_file_write_atomic(path, k.buf, k.n);
done:
    if (f)
        fclose(f);
    free(text);
    free(k.buf);
    return rc;
}
