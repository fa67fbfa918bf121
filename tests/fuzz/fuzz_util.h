/* tests/fuzz/fuzz_util.h — shared by the fuzz targets (header-only so each target is
 * one translation unit that links against libFuzzer or against replay.c alike).
 *
 * A target checks properties, not only the absence of crashes: a violated property
 * calls FUZZ_CHECK's abort, which libFuzzer records as a crash with the input, and the
 * replay driver (replay.c) turns into a failed test. */
#ifndef RUNS_TESTS_FUZZ_UTIL_H
#define RUNS_TESTS_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond, ...)                                                                                          \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "%s:%d: property violated: %s: ", __FILE__, __LINE__, #cond);                              \
            fprintf(stderr, __VA_ARGS__);                                                                              \
            fputc('\n', stderr);                                                                                       \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

/* Out of memory inside a target is the machine's problem, not a finding. */
static inline void *fuzz_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "fuzz: out of memory\n");
        abort();
    }
    return p;
}

/* data as a NUL-terminated string (the parsers take C strings; an embedded NUL
 * simply ends the text early). Caller frees. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = fuzz_xmalloc(size + 1);
    memcpy(s, data, size);
    s[size] = 0;
    return s;
}

static char fuzz_dir_[256];

static inline void fuzz_cleanup_(void)
{
    if (!fuzz_dir_[0])
        return;
    /* Only names this file creates live there (plus the writers' own temp files,
     * which they rename or remove), so a shallow sweep is enough. */
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz_dir_);
    if (system(cmd) != 0)
        fprintf(stderr, "fuzz: could not remove %s\n", fuzz_dir_);
}

/* A private directory under $TMPDIR (or /tmp) for the loaders that take paths and
 * the writers that publish with temp file + rename (memfd cannot be renamed into).
 * Created once per process, removed at exit. */
static inline const char *fuzz_dir(void)
{
    if (!fuzz_dir_[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(fuzz_dir_, sizeof fuzz_dir_, "%s/runs-fuzz.XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(fuzz_dir_)) {
            perror("fuzz: mkdtemp");
            abort();
        }
        atexit(fuzz_cleanup_);
    }
    return fuzz_dir_;
}

/* Path of `name` in the private directory; returns a static buffer per slot. */
static inline const char *fuzz_path(int slot, const char *name)
{
    static char buf[4][320];
    snprintf(buf[slot & 3], sizeof buf[0], "%s/%s", fuzz_dir(), name);
    return buf[slot & 3];
}

/* Writes data to path (truncating). */
static inline void fuzz_write(const char *path, const void *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        perror(path);
        abort();
    }
    const char *p = data;
    while (size) {
        ssize_t w = write(fd, p, size);
        if (w <= 0) {
            perror(path);
            abort();
        }
        p += w;
        size -= (size_t)w;
    }
    close(fd);
}

/* Reads a whole file (malloc'd, *n bytes); aborts on error: the files read back are
 * ones the library just wrote successfully. */
static inline uint8_t *fuzz_read(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        abort();
    }
    size_t cap = 4096, len = 0;
    uint8_t *b = fuzz_xmalloc(cap);
    size_t r;
    while ((r = fread(b + len, 1, cap - len, f)) > 0) {
        len += r;
        if (len == cap) {
            cap *= 2;
            b = realloc(b, cap);
            if (!b)
                abort();
        }
    }
    fclose(f);
    *n = len;
    return b;
}

#endif
