/* runner/provenance.c — see provenance.h. */
#define _GNU_SOURCE
#include "runner/provenance.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/error.h"
#include "common/file.h"
#include "manifests/config.h"
#include "runner/rundir.h"
#include "store/sha256.h"

#define MAX_PATHS (RUNS_MAX_SOURCES + 1)

/* The string items of config holding data paths: data.tokenizer, data.sources.*.path. */
static int path_items(cJSON **items, const cJSON *config)
{
    int n = 0;
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(config, "data");
    cJSON *tok = cJSON_GetObjectItemCaseSensitive(data, "tokenizer");
    if (cJSON_IsString(tok) && tok->valuestring[0])
        items[n++] = tok;
    const cJSON *src;
    cJSON_ArrayForEach (src, cJSON_GetObjectItemCaseSensitive(data, "sources")) {
        cJSON *p = cJSON_GetObjectItemCaseSensitive(src, "path");
        if (cJSON_IsString(p) && p->valuestring[0] && n < MAX_PATHS)
            items[n++] = p;
    }
    return n;
}

static int set_string(cJSON *item, const char *value)
{
    if (strlen(value) >= RUNS_PATH_MAX)
        return runs_error_set(RUNS_EINVALID, "data path %s is longer than %d bytes; move the data to a shorter path",
                              value, RUNS_PATH_MAX - 1);
    if (!cJSON_SetValuestring(item, value))
        return runs_error_set(RUNS_ENOMEM, "out of memory rewriting data path %s", value);
    return RUNS_OK;
}

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

int runs_provenance_absolute_paths(cJSON *config, const char *base_dir)
{
    cJSON *items[MAX_PATHS];
    char base[PATH_MAX], joined[PATH_MAX + RUNS_PATH_MAX];
    int n = path_items(items, config), rc = RUNS_OK;
    if (!realpath(base_dir && base_dir[0] ? base_dir : ".", base))
        return runs_error_sys(RUNS_EIO, "realpath", base_dir && base_dir[0] ? base_dir : ".");
    for (int i = 0; i < n && !rc; i++) {
        const char *p = items[i]->valuestring;
        if (p[0] == '/')
            continue;
        while (p[0] == '.' && p[1] == '/')
            p += 2;
        snprintf(joined, sizeof joined, "%s%s%s", base, strcmp(base, "/") ? "/" : "", p);
        /* configs written before paths followed the file named them from the working
         * directory (configs/demo.json says data/chat.tok, run from the repository
         * root); when only that file exists, it is the one meant */
        char cwd_abs[PATH_MAX];
        if (!exists(joined) && exists(p) && realpath(p, cwd_abs))
            snprintf(joined, sizeof joined, "%s", cwd_abs);
        rc = set_string(items[i], joined);
    }
    return rc;
}

/* ---- hashing and the cache ------------------------------------------------ */

static int hash_file(runs_oid *out, const char *path)
{
    static const char hexd[] = "0123456789abcdef";
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = RUNS_OK;
    EVP_MD_CTX *c = NULL;
    char *buf = NULL;
    if (fd < 0)
        return errno == ENOENT ? runs_error_set(RUNS_ENOTFOUND, "%s: no such file", path)
                               : runs_error_sys(RUNS_EIO, "open", path);
    if (!(buf = malloc(1 << 20))) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory hashing %s", path);
        goto done;
    }
    if (!(c = runs__sha256_begin())) {
        rc = runs_error_wrap(runs_error_code(), "hashing %s", path);
        goto done;
    }
    for (;;) {
        ssize_t r = read(fd, buf, 1 << 20);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = runs_error_sys(RUNS_EIO, "read", path);
            goto done;
        }
        if (r == 0)
            break;
        if (!EVP_DigestUpdate(c, buf, (size_t)r)) {
            rc = runs_error_set(RUNS_ERROR, "SHA-256 failed hashing %s (OpenSSL EVP)", path);
            goto done;
        }
    }
    unsigned char d[32];
    unsigned dl = 0;
    if (!EVP_DigestFinal_ex(c, d, &dl) || dl != 32) {
        rc = runs_error_set(RUNS_ERROR, "SHA-256 failed hashing %s (OpenSSL EVP)", path);
        goto done;
    }
    for (int i = 0; i < 32; i++) {
        out->hex[2 * i] = hexd[d[i] >> 4];
        out->hex[2 * i + 1] = hexd[d[i] & 15];
    }
    out->hex[64] = '\0';
done:
    EVP_MD_CTX_free(c);
    free(buf);
    close(fd);
    return rc;
}

static void cache_path(char *buf, size_t len, runs_store *s)
{
    snprintf(buf, len, "%s/cache/data-hashes", runs_store_dir(s));
}

/* Looks (path, bytes, mtime_ns) up in the cache text; 1 and *out when found. */
static int cache_find(runs_oid *out, const char *text, const char *path, uint64_t bytes, long long mtime_ns)
{
    for (const char *line = text; line && *line;) {
        const char *nl = strchr(line, '\n');
        if (!nl)
            break; /* a torn last line is ignored */
        char hex[65];
        unsigned long long b;
        long long m;
        int off = 0;
        if (sscanf(line, "%64s %llu %lld %n", hex, &b, &m, &off) == 3 && off > 0 && b == bytes && m == mtime_ns &&
            (size_t)(nl - line - off) == strlen(path) && !strncmp(line + off, path, strlen(path)) &&
            runs_oid_valid(hex)) {
            memcpy(out->hex, hex, 65);
            return 1;
        }
        line = nl + 1;
    }
    return 0;
}

int runs_provenance_file_hash(runs_oid *out, uint64_t *bytes, runs_store *s, const char *path)
{
    struct stat st;
    char cp[PATH_MAX], *text = NULL, *next = NULL;
    int rc = RUNS_OK;
    if (stat(path, &st) != 0)
        return errno == ENOENT ? runs_error_set(RUNS_ENOTFOUND, "%s: no such file", path)
                               : runs_error_sys(RUNS_EIO, "stat", path);
    long long mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    *bytes = (uint64_t)st.st_size;
    int cacheable = s && !strchr(path, '\n');
    if (cacheable) {
        cache_path(cp, sizeof cp, s);
        if (runs_file_read(&text, NULL, cp))
            runs_error_clear(); /* no cache yet (or unreadable): hash */
        if (cache_find(out, text, path, *bytes, mtime_ns))
            goto done;
    }
    if ((rc = hash_file(out, path)) || !cacheable)
        goto done;
    /* the cache is an optimisation: failing to write it must not stop a run.
     * Older entries for this path are dropped, so it holds one line per file. */
    size_t tl = text ? strlen(text) : 0, pl = strlen(path), used = 0;
    if (!(next = malloc(tl + pl + 128)))
        goto done;
    for (const char *line = text; line && *line;) {
        const char *nl = strchr(line, '\n');
        if (!nl)
            break;
        size_t ll = (size_t)(nl - line);
        int same = ll > pl && line[ll - pl - 1] == ' ' && !strncmp(line + ll - pl, path, pl);
        if (!same) {
            memcpy(next + used, line, ll + 1);
            used += ll + 1;
        }
        line = nl + 1;
    }
    used += (size_t)snprintf(next + used, pl + 128, "%s %llu %lld %s\n", out->hex, (unsigned long long)*bytes, mtime_ns,
                             path);
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/cache", runs_store_dir(s));
    if ((mkdir(dir, 0755) != 0 && errno != EEXIST) || runs_file_write_atomic(cp, next, used))
        runs_error_clear();
done:
    free(text);
    free(next);
    return rc;
}

static int by_path(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int runs_provenance_fingerprint(cJSON **out, runs_store *s, const cJSON *config)
{
    cJSON *items[MAX_PATHS];
    const char *paths[MAX_PATHS];
    int n = path_items(items, config), rc = RUNS_OK;
    cJSON *arr = cJSON_CreateArray();
    *out = NULL;
    if (!arr)
        return runs_error_set(RUNS_ENOMEM, "out of memory fingerprinting the data");
    for (int i = 0; i < n; i++)
        paths[i] = items[i]->valuestring;
    qsort(paths, (size_t)n, sizeof paths[0], by_path);
    for (int i = 0; i < n; i++) {
        if (i > 0 && !strcmp(paths[i], paths[i - 1]))
            continue;
        runs_oid h;
        uint64_t bytes = 0;
        rc = runs_provenance_file_hash(&h, &bytes, s, paths[i]);
        if (rc == RUNS_ENOTFOUND) { /* not needed by this run (or the loader says so) */
            runs_error_clear();
            rc = RUNS_OK;
            continue;
        }
        if (rc)
            goto done;
        cJSON *e = cJSON_CreateObject();
        if (!e || !cJSON_AddItemToArray(arr, e) || !cJSON_AddStringToObject(e, "path", paths[i]) ||
            !cJSON_AddNumberToObject(e, "bytes", (double)bytes) || !cJSON_AddStringToObject(e, "sha256", h.hex)) {
            rc = runs_error_set(RUNS_ENOMEM, "out of memory fingerprinting the data");
            goto done;
        }
    }
    *out = arr;
    arr = NULL;
done:
    cJSON_Delete(arr);
    return rc;
}

int runs_provenance_remap(cJSON *config, const char *data_root)
{
    cJSON *items[MAX_PATHS];
    char cand[PATH_MAX + RUNS_PATH_MAX];
    int n = path_items(items, config), rc = RUNS_OK;
    if (n == 0)
        return RUNS_OK;
    /* the directory prefix all the paths share ("/data/corpus/" of /data/corpus/a.tok, ...) */
    size_t common = strlen(items[0]->valuestring);
    for (int i = 1; i < n; i++) {
        size_t k = 0;
        while (k < common && items[i]->valuestring[k] == items[0]->valuestring[k])
            k++;
        common = k;
    }
    while (common > 0 && items[0]->valuestring[common - 1] != '/')
        common--;
    for (int i = 0; i < n && !rc; i++) {
        const char *p = items[i]->valuestring, *base = strrchr(p, '/');
        base = base ? base + 1 : p;
        snprintf(cand, sizeof cand, "%s/%s", data_root, p + common);
        if (!exists(cand))
            snprintf(cand, sizeof cand, "%s/%s", data_root, base);
        if (!exists(cand))
            continue;
        char abs[PATH_MAX];
        rc = set_string(items[i], realpath(cand, abs) ? abs : cand);
    }
    return rc;
}

int runs_provenance_check(cJSON **now, char **note, runs_store *s, const cJSON *recorded, cJSON *config,
                          const char *data_root, int allow_change)
{
    cJSON *items[MAX_PATHS];
    char *orig[MAX_PATHS] = {0};
    char msg[1024] = "";
    int n = path_items(items, config), rc = RUNS_OK, changed = 0;
    if (now)
        *now = NULL;
    if (note)
        *note = NULL;
    for (int i = 0; i < n; i++)
        if (!(orig[i] = strdup(items[i]->valuestring))) {
            rc = runs_error_set(RUNS_ENOMEM, "out of memory checking the data");
            goto done;
        }
    if (data_root && (rc = runs_provenance_remap(config, data_root)))
        goto done;
    const cJSON *e;
    const cJSON *rec = cJSON_IsArray(recorded) ? recorded : NULL;
    cJSON_ArrayForEach (e, rec) {
        const char *rp = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "path"));
        const char *rsha = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "sha256"));
        const cJSON *rb = cJSON_GetObjectItemCaseSensitive(e, "bytes");
        if (!rp || !rsha)
            continue;
        int i = 0;
        while (i < n && strcmp(orig[i], rp))
            i++;
        if (i == n)
            continue; /* the config does not name this file any more */
        const char *cur = items[i]->valuestring;
        char as[PATH_MAX + 32] = "";
        if (strcmp(cur, rp))
            snprintf(as, sizeof as, " (recorded as %s)", rp);
        runs_oid h;
        uint64_t bytes = 0;
        rc = runs_provenance_file_hash(&h, &bytes, s, cur);
        if (rc == RUNS_ENOTFOUND) {
            runs_error_clear();
            rc = RUNS_OK;
            if (!changed++)
                snprintf(msg, sizeof msg,
                         "data file %s%s is missing (the node recorded sha256 %.12s); pass "
                         "--data-root DIR if the corpus moved%s",
                         cur, as, rsha, allow_change ? "" : ", or --allow-data-change");
            continue;
        }
        if (rc)
            goto done;
        if (strcmp(h.hex, rsha) && !changed++)
            snprintf(msg, sizeof msg,
                     "data file %s%s changed since the node: sha256 %.12s (%.0f bytes) then, %.12s "
                     "(%llu bytes) now; restore the original data%s",
                     cur, as, rsha, cJSON_GetNumberValue(rb), h.hex, (unsigned long long)bytes,
                     allow_change ? "" : ", or pass --allow-data-change to train on it anyway");
    }
    if (changed && !allow_change) {
        rc = runs_error_set(RUNS_EINVALID, "%s%s", msg, changed > 1 ? " (and other files)" : "");
        goto done;
    }
    if (changed && note &&
        asprintf(note, "%s (--allow-data-change: going on)%s", msg, changed > 1 ? "; other files changed too" : "") < 0)
        *note = NULL;
    if (now)
        rc = runs_provenance_fingerprint(now, s, config);
done:
    for (int i = 0; i < n; i++)
        free(orig[i]);
    return rc;
}
