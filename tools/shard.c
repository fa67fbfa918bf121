/* tools/shard.c — llm.c-layout token shards: streaming writer, mmap reader. */
#include "tools/shard.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "store/publish.h"

struct runs_shard_writer {
    char *path;
    runs_publish *pub; /* the temp file until close publishes it (store/publish.h) */
    FILE *f;           /* owned by pub */
    uint64_t count;
};

int runs_shard_writer_open(runs_shard_writer **out, const char *path)
{
    *out = NULL;
    int rc = 0;
    runs_shard_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->path = strdup(path))) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory opening shard %s", path);
        goto done;
    }
    if ((rc = runs_publish_open(&w->pub, path, 0644)) != 0)
        goto done;
    if (!(w->f = runs_publish_file(w->pub))) {
        rc = runs_error_code();
        goto done;
    }
    /* a zero header now, the real one at close once the count is known */
    int32_t header[RUNS_SHARD_HEADER_INTS] = {0};
    if ((rc = runs_publish_write(w->pub, header, sizeof header)) != 0)
        goto done;
    *out = w;
    w = NULL;
done:
    runs_shard_writer_abort(w);
    return rc;
}

int runs_shard_writer_add(runs_shard_writer *w, const int32_t *ids, size_t n)
{
    uint16_t buf[4096];
    size_t i = 0;
    while (i < n) {
        size_t k = 0;
        for (; k < 4096 && i + k < n; k++) {
            int32_t v = ids[i + k];
            if (v < 0 || v > 65535)
                return runs_error_set(RUNS_EINVALID, "%s: token %d at index %llu does not fit in uint16", w->path, v,
                                      (unsigned long long)(w->count + i + k));
            buf[k] = (uint16_t)v;
        }
        int rc = runs_publish_write(w->pub, buf, 2 * k);
        if (rc)
            return rc;
        i += k;
    }
    w->count += n;
    return 0;
}

uint64_t runs_shard_writer_count(const runs_shard_writer *w)
{
    return w->count;
}

void runs_shard_writer_abort(runs_shard_writer *w)
{
    if (!w)
        return;
    runs_publish_abort(w->pub);
    free(w->path);
    free(w);
}

int runs_shard_writer_close(runs_shard_writer *w)
{
    int rc = 0;
    if (w->count > INT32_MAX) {
        rc = runs_error_set(RUNS_EINVALID, "%s: %llu tokens do not fit an llm.c shard header (max %d)", w->path,
                            (unsigned long long)w->count, INT32_MAX);
        goto done;
    }
    int32_t header[RUNS_SHARD_HEADER_INTS] = {0};
    header[0] = RUNS_SHARD_MAGIC;
    header[1] = RUNS_SHARD_VERSION;
    header[2] = (int32_t)w->count;
    if (fseek(w->f, 0, SEEK_SET) != 0 || fwrite(header, sizeof header, 1, w->f) != 1) {
        rc = runs_error_sys(RUNS_EIO, "write", w->path);
        goto done;
    }
    /* flush, fsync, rename, fsync the directory; frees pub either way */
    rc = runs_publish_commit(w->pub);
    w->pub = NULL;
done:
    runs_shard_writer_abort(w);
    return rc;
}

int runs_shard_write(const char *path, const int32_t *ids, size_t n)
{
    runs_shard_writer *w;
    int rc = runs_shard_writer_open(&w, path);
    if (rc)
        return rc;
    rc = runs_shard_writer_add(w, ids, n);
    if (rc) {
        runs_shard_writer_abort(w);
        return rc;
    }
    return runs_shard_writer_close(w);
}

void runs_shard_close(runs_shard *s)
{
    if (!s)
        return;
    if (s->map)
        munmap(s->map, s->map_len);
    free(s->path);
    memset(s, 0, sizeof *s);
}

int runs_shard_open(runs_shard *s, const char *path, int vocab_size)
{
    memset(s, 0, sizeof *s);
    int rc = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        if (errno == ENOENT)
            return runs_error_set(RUNS_ENOTFOUND, "token shard %s does not exist", path);
        return runs_error_sys(RUNS_EIO, "open", path);
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = runs_error_sys(RUNS_EIO, "stat", path);
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = runs_error_set(RUNS_EINVALID, "token shard %s is not a regular file", path);
        goto done;
    }
    if (st.st_size < RUNS_SHARD_HEADER_BYTES) {
        rc = runs_error_set(RUNS_ECORRUPT, "token shard %s is %lld bytes, shorter than its %d-byte header", path,
                            (long long)st.st_size, RUNS_SHARD_HEADER_BYTES);
        goto done;
    }
    s->map_len = (size_t)st.st_size;
    s->map = mmap(NULL, s->map_len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (s->map == MAP_FAILED) {
        s->map = NULL;
        rc = runs_error_sys(RUNS_EIO, "mmap", path);
        goto done;
    }
    s->path = strdup(path);
    if (!s->path) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory opening %s", path);
        goto done;
    }
    const int32_t *h = s->map;
    if (h[0] != RUNS_SHARD_MAGIC) {
        rc = runs_error_set(RUNS_ECORRUPT, "token shard %s: bad magic %d at byte offset 0 (expected %d, llm.c layout)",
                            path, h[0], RUNS_SHARD_MAGIC);
        goto done;
    }
    if (h[1] != RUNS_SHARD_VERSION) {
        rc = runs_error_set(RUNS_ECORRUPT, "token shard %s: version %d at byte offset 4 is not supported (expected %d)",
                            path, h[1], RUNS_SHARD_VERSION);
        goto done;
    }
    if (h[2] < 0 || (uint64_t)st.st_size != RUNS_SHARD_HEADER_BYTES + 2 * (uint64_t)h[2]) {
        rc = runs_error_set(
            RUNS_ECORRUPT,
            "token shard %s: header (byte offset 8) says %d tokens, so %llu bytes, but the file has %lld "
            "(truncated or not a shard; re-encode it)",
            path, h[2], (unsigned long long)(RUNS_SHARD_HEADER_BYTES + 2 * (uint64_t)(h[2] < 0 ? 0 : h[2])),
            (long long)st.st_size);
        goto done;
    }
    s->count = (uint64_t)h[2];
    s->tokens = s->count ? (const uint16_t *)((const char *)s->map + RUNS_SHARD_HEADER_BYTES) : NULL;
    if (vocab_size > 0) {
        for (uint64_t i = 0; i < s->count; i++) {
            if (s->tokens[i] >= vocab_size) {
                rc = runs_error_set(
                    RUNS_EINVALID,
                    "token shard %s: token %u at index %llu (byte offset %llu) is >= model.vocab_size %d; "
                    "re-encode with the configured tokenizer or raise model.vocab_size",
                    path, s->tokens[i], (unsigned long long)i, (unsigned long long)(RUNS_SHARD_HEADER_BYTES + 2 * i),
                    vocab_size);
                goto done;
            }
        }
    }
done:
    close(fd);
    if (rc)
        runs_shard_close(s);
    return rc;
}
