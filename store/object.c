/* store/object.c — SHA-256 named objects, the reading side: whether one exists, its
 * size, verified reads (into a buffer, a new allocation, a file) and verification.
 * Writing objects is store/object_put.c. See the invariants at the top of
 * store/store.c (1, 4). */
#define _GNU_SOURCE
#include "store/object.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "store/internal.h"
#include "store/sha256.h"

static int check_name(const char *hex)
{
    if (!runs_oid_valid(hex))
        return runs_error_set(RUNS_EINVALID, "'%.80s' is not an object name (64 lowercase hex digits)",
                              hex ? hex : "(null)");
    return 0;
}

int runs_object_exists(runs_store *s, const char *hex)
{
    char p[PATH_MAX];
    struct stat st;
    if (!runs_oid_valid(hex))
        return 0;
    runs__object_path(p, sizeof p, s, hex);
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

int runs_object_size(uint64_t *size, runs_store *s, const char *hex)
{
    char p[PATH_MAX];
    struct stat st;
    int rc = check_name(hex);
    if (rc)
        return rc;
    runs__object_path(p, sizeof p, s, hex);
    if (stat(p, &st) != 0)
        return errno == ENOENT ? runs_error_set(RUNS_ENOTFOUND, "object %s is missing from %s/objects", hex, s->dir)
                               : runs_error_sys(RUNS_EIO, "stat", p);
    *size = (uint64_t)st.st_size;
    return 0;
}

/* Opens object hex for reading; *size from fstat. */
static int open_object(int *fd, uint64_t *size, runs_store *s, const char *hex)
{
    char p[PATH_MAX];
    struct stat st;
    int rc = check_name(hex);
    if (rc)
        return rc;
    runs__object_path(p, sizeof p, s, hex);
    *fd = open(p, O_RDONLY | O_CLOEXEC);
    if (*fd < 0)
        return errno == ENOENT ? runs_error_set(RUNS_ENOTFOUND, "object %s is missing from %s/objects", hex, s->dir)
                               : runs_error_sys(RUNS_EIO, "open", p);
    if (fstat(*fd, &st) != 0) {
        rc = runs_error_sys(RUNS_EIO, "stat", p);
        close(*fd);
        *fd = -1;
        return rc;
    }
    *size = (uint64_t)st.st_size;
    posix_fadvise(*fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    return 0;
}

static int read_full(int fd, void *dst, size_t len, uint64_t off, const char *hex)
{
    char *p = dst;
    while (len > 0) {
        ssize_t r = pread(fd, p, len, (off_t)off);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return runs_error_set(RUNS_EIO, "reading object %s: %s", hex, strerror(errno));
        }
        if (r == 0)
            return runs_error_set(RUNS_ECORRUPT, "object %s is shorter than its size; it is corrupt", hex);
        p += r;
        len -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

static int corrupt(const char *hex, const runs_oid *got)
{
    return runs_error_set(
        RUNS_ECORRUPT, "object %s is corrupt: its bytes hash to %.12s…; restore the file from a good copy of the store",
        hex, got->hex);
}

/* Reads fd (size bytes) in chunks into dst (when non-NULL; else into a scratch
 * buffer) and checks the SHA-256 against hex. sink (optional) receives each chunk. */
static int read_verify(int fd, uint64_t size, const char *hex, void *dst,
                       int (*sink)(void *ctx, const void *p, size_t n), void *ctx)
{
    int rc = 0;
    unsigned char d[32];
    unsigned int dl = 0;
    char *scratch = NULL;
    EVP_MD_CTX *c = runs__sha256_begin();
    if (!c) {
        rc = runs_error_code();
        goto done;
    }
    if (!dst && !(scratch = malloc(RUNS__OBJECT_CHUNK))) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory reading object %s", hex);
        goto done;
    }
    for (uint64_t off = 0; off < size;) {
        size_t n = size - off > RUNS__OBJECT_CHUNK ? RUNS__OBJECT_CHUNK : (size_t)(size - off);
        char *buf = dst ? (char *)dst + off : scratch;
        if ((rc = read_full(fd, buf, n, off, hex)) != 0)
            goto done;
        EVP_DigestUpdate(c, buf, n);
        if (sink && (rc = sink(ctx, buf, n)) != 0)
            goto done;
        off += n;
    }
    /* a file that grew under us is not what was named */
    char extra;
    if (pread(fd, &extra, 1, (off_t)size) > 0) {
        rc = runs_error_set(RUNS_ECORRUPT, "object %s changed while being read; it is corrupt", hex);
        goto done;
    }
    EVP_DigestFinal_ex(c, d, &dl);
    runs_oid got;
    runs_sha256_digest_hex(&got, d);
    if (strcmp(got.hex, hex) != 0)
        rc = corrupt(hex, &got);
done:
    EVP_MD_CTX_free(c);
    free(scratch);
    return rc;
}

int runs_object_read_into(runs_store *s, const char *hex, void *dst, size_t len)
{
    int fd = -1;
    uint64_t size = 0;
    int rc = open_object(&fd, &size, s, hex);
    if (rc)
        return rc;
    if (size != len) {
        rc = runs_error_set(RUNS_EINVALID, "object %s holds %llu bytes, %zu were expected", hex,
                            (unsigned long long)size, len);
        goto done;
    }
    rc = read_verify(fd, size, hex, dst, NULL, NULL);
done:
    close(fd);
    return rc;
}

/* Large buffers get 2 MiB alignment and huge pages: first touch of fresh 4 KiB pages
 * is the slowest part of reading a checkpoint into new memory. */
static void *alloc_big(size_t len)
{
    void *p = NULL;
    if (len >= (8u << 20)) {
        if (posix_memalign(&p, 2u << 20, len) != 0)
            return NULL;
#ifdef MADV_HUGEPAGE
        madvise(p, len, MADV_HUGEPAGE);
#endif
        return p;
    }
    return malloc(len ? len : 1);
}

int runs_object_get(void **out, size_t *len, runs_store *s, const char *hex)
{
    int fd = -1;
    uint64_t size = 0;
    void *buf = NULL;
    *out = NULL;
    *len = 0;
    int rc = open_object(&fd, &size, s, hex);
    if (rc)
        return rc;
    if (!(buf = alloc_big((size_t)size))) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory reading object %s (%llu bytes)", hex, (unsigned long long)size);
        goto done;
    }
    if ((rc = read_verify(fd, size, hex, buf, NULL, NULL)) != 0)
        goto done;
    *out = buf;
    *len = (size_t)size;
    buf = NULL;
done:
    free(buf);
    close(fd);
    return rc;
}

int runs_object_verify(runs_store *s, const char *hex)
{
    int fd = -1;
    uint64_t size = 0;
    int rc = open_object(&fd, &size, s, hex);
    if (rc)
        return rc;
    rc = read_verify(fd, size, hex, NULL, NULL, NULL);
    close(fd);
    return rc;
}

struct file_sink {
    int fd;
    const char *path;
};

static int write_sink(void *ctx, const void *p, size_t n)
{
    struct file_sink *f = ctx;
    return runs__write_all(f->fd, p, n, f->path);
}

int runs_object_copy_to_file(runs_store *s, const char *hex, const char *path)
{
    int fd = -1, out = -1;
    uint64_t size = 0;
    char tmp[PATH_MAX];
    int rc = open_object(&fd, &size, s, hex);
    if (rc)
        return rc;
    if ((rc = runs__tmp_create(&out, tmp, path, NULL)) != 0)
        goto done;
    struct file_sink sink = {out, path};
    if ((rc = read_verify(fd, size, hex, NULL, write_sink, &sink)) != 0) {
        close(out);
        unlink(tmp);
        goto done;
    }
    rc = runs__tmp_publish(&out, tmp, path, 0644);
done:
    close(fd);
    return rc;
}
