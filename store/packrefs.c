/* store/packrefs.c — the per-step tags packed into lineage.git/packed-refs (invariant
 * 11 in store/store.c).
 *
 * Why: every node gets a tag refs/tags/<run>/step_N, one file each. A store of 100k
 * nodes has 100k ref files, and every listing opened all of them (four system calls
 * each: most of `runs log --all --json`'s time at 100k nodes). git's answer is
 * packed-refs: one sorted file "<40 hex> <ref>\n" that readers (libgit2, git, the node
 * cache) consult for any ref without a loose file; a loose file, when there is one,
 * wins. Only per-step tags are packed: they are written once by runs_node_commit
 * (again only after a rewind, as a loose file that then shadows the packed line), while
 * branches, user tags and HEAD move and stay loose.
 *
 * Order (crash safety): the new packed-refs is written whole to packed-refs.lock
 * (O_EXCL: git's own lock for that file), fsync'd and renamed into place, and the
 * directory fsync'd, before any loose file is removed; a loose file is removed only
 * when it still holds the value packed. A crash leaves each ref either loose, packed,
 * or both with the same value: never missing, never changed. The whole move runs under
 * locks/refs.lock (invariant 6), so no ref moves meanwhile, and as a writer (gc waits).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/file.h"
#include "manifests/manifest.h"
#include "store/internal.h"
#include "store/lineage.h"

#define PACKED_HEADER "# pack-refs with: peeled fully-peeled sorted \n"
#define PACK_LOCK_STALE_S 60 /* as a lock file nobody holds (invariant 6) */

static int cmp_packed(const void *a, const void *b)
{
    return strcmp(((const runs__packed_ref *)a)->name, ((const runs__packed_ref *)b)->name);
}

void runs__packed_refs_free(runs__packed_ref *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].name);
        free(v[i].peel);
    }
    free(v);
}

static int push(runs__packed_ref **v, size_t *n, size_t *cap, const char *name, size_t len, const char *hex)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 256;
        runs__packed_ref *nv = realloc(*v, nc * sizeof *nv);
        if (!nv)
            return runs_error_set(RUNS_ENOMEM, "out of memory reading packed refs");
        *v = nv;
        *cap = nc;
    }
    runs__packed_ref *e = &(*v)[*n];
    memset(e, 0, sizeof *e);
    if (!(e->name = strndup(name, len)))
        return runs_error_set(RUNS_ENOMEM, "out of memory reading packed refs");
    memcpy(e->hex, hex, 40);
    e->hex[40] = '\0';
    (*n)++;
    return 0;
}

int runs__packed_refs_load(runs__packed_ref **out, size_t *nout, runs_store *s)
{
    char p[PATH_MAX], *text = NULL;
    size_t len = 0, n = 0, cap = 0, lineno = 0;
    runs__packed_ref *v = NULL;
    int rc;
    *out = NULL;
    *nout = 0;
    snprintf(p, sizeof p, "%s/lineage.git/packed-refs", s->dir);
    if ((rc = runs_file_read(&text, &len, p)) != 0) {
        if (rc == RUNS_ENOTFOUND) {
            runs_error_clear(); /* no packed refs: every ref is a loose file */
            return 0;
        }
        return rc;
    }
    for (size_t at = 0; at < len && rc == 0;) {
        char *line = text + at, *nl = memchr(line, '\n', len - at);
        size_t l = nl ? (size_t)(nl - line) : len - at;
        at += l + 1;
        lineno++;
        if (l > 0 && line[0] == '#' && lineno == 1)
            continue; /* the traits line */
        if (l == 41 && line[0] == '^' && n > 0 && !v[n - 1].peel) {
            /* an annotated tag's commit (git writes these; runs never does): kept as is */
            if (!(v[n - 1].peel = strndup(line + 1, 40)))
                rc = runs_error_set(RUNS_ENOMEM, "out of memory reading packed refs");
            else if (!runs_is_hex(v[n - 1].peel, 40))
                rc = runs_error_set(RUNS_ECORRUPT, "%s line %zu: damaged (\"%.60s\"); run `runs verify --all`", p,
                                    lineno, line);
            continue;
        }
        char hex[41];
        if (!nl || l < 42 || line[40] != ' ' || memchr(line, '\0', l) ||
            (memcpy(hex, line, 40), hex[40] = '\0', !runs_is_hex(hex, 40)) || strncmp(line + 41, "refs/", 5)) {
            rc = runs_error_set(RUNS_ECORRUPT,
                                "%s line %zu: damaged (\"%.60s\"), expected \"<40 hex> refs/...\"; "
                                "run `runs verify --all`",
                                p, lineno, line);
            break;
        }
        rc = push(&v, &n, &cap, line + 41, l - 41, hex);
    }
    free(text);
    if (rc) {
        runs__packed_refs_free(v, n);
        return rc;
    }
    if (n > 1)
        qsort(v, n, sizeof *v, cmp_packed);
    *out = v;
    *nout = n;
    return 0;
}

int runs__packed_ref_lookup(char hex[41], runs_store *s, const char *ref)
{
    char p[PATH_MAX];
    struct stat st;
    snprintf(p, sizeof p, "%s/lineage.git/packed-refs", s->dir);
    int fd = open(p, O_RDONLY | O_CLOEXEC), rc = RUNS_ENOTFOUND;
    if (fd < 0)
        return errno == ENOENT ? RUNS_ENOTFOUND : runs_error_sys(RUNS_EIO, "open", p);
    if (fstat(fd, &st) != 0) {
        rc = runs_error_sys(RUNS_EIO, "fstat", p);
        close(fd);
        return rc;
    }
    if (st.st_size == 0) {
        close(fd);
        return RUNS_ENOTFOUND;
    }
    const char *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return runs_error_sys(RUNS_EIO, "mmap", p);
    size_t len = (size_t)st.st_size, rl = strlen(ref);
    /* Every commit looks up its new step tag here, so a sorted file (what runs and git
     * write, said by the " sorted" trait) is binary-searched; anything else (no trait,
     * or a "^" line met on the way) is read line by line. */
    const char *nl0 = memchr(m, '\n', len);
    size_t body = m[0] == '#' ? (nl0 ? (size_t)(nl0 - m) + 1 : len) : 0;
    int sorted = body > 0 && memmem(m, body, " sorted", 7) != NULL, linear = !sorted;
    for (size_t lo = body, hi = len; sorted && lo < hi;) {
        size_t ls = lo + (hi - lo) / 2;
        while (ls > lo && m[ls - 1] != '\n')
            ls--;
        const char *nl = memchr(m + ls, '\n', len - ls);
        size_t le = nl ? (size_t)(nl - m) : len, l = le - ls;
        if (l < 42 || m[ls + 40] != ' ') { /* a peel line or damage: no order to trust */
            linear = 1;
            break;
        }
        size_t nlen = l - 41;
        int c = memcmp(ref, m + ls + 41, rl < nlen ? rl : nlen);
        if (c == 0)
            c = rl < nlen ? -1 : rl > nlen;
        if (c == 0) {
            memcpy(hex, m + ls, 40);
            hex[40] = '\0';
            rc = runs_is_hex(hex, 40) ? 0 : RUNS_ENOTFOUND;
            break;
        }
        if (c < 0)
            hi = ls;
        else
            lo = le + 1;
    }
    for (size_t at = 0; linear && at < len;) {
        const char *line = m + at, *nl = memchr(line, '\n', len - at);
        size_t l = nl ? (size_t)(nl - line) : len - at;
        at += l + 1;
        if (l == 41 + rl && line[40] == ' ' && !memcmp(line + 41, ref, rl)) {
            memcpy(hex, line, 40);
            hex[40] = '\0';
            rc = runs_is_hex(hex, 40) ? 0 : RUNS_ENOTFOUND;
            break;
        }
    }
    munmap((void *)m, len);
    return rc;
}

/* refs/tags/<run>/step_N with N digits only */
int runs__is_step_tag(const char *ref)
{
    const char *t = strncmp(ref, "refs/tags/", 10) ? NULL : strrchr(ref + 10, '/');
    if (!t || t == ref + 10 || strncmp(t, "/step_", 6) != 0 || !t[6])
        return 0;
    for (t += 6; *t; t++)
        if (*t < '0' || *t > '9')
            return 0;
    return 1;
}

/* The loose per-step tags of refs/tags/<run>/ appended to v (damaged files are left
 * where they are, for `runs verify` to name). */
static int scan_run(runs__packed_ref **v, size_t *n, size_t *cap, runs_store *s, const char *run)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/lineage.git/refs/tags/%s", s->dir, run);
    DIR *d = opendir(dir);
    struct dirent *e;
    int rc = 0;
    if (!d)
        return errno == ENOENT || errno == ENOTDIR ? 0 : runs_error_sys(RUNS_EIO, "opendir", dir);
    while (rc == 0 && (e = readdir(d)) != NULL) {
        char ref[PATH_MAX], buf[64];
        if ((size_t)snprintf(ref, sizeof ref, "refs/tags/%s/%s", run, e->d_name) >= 512 || !runs__is_step_tag(ref))
            continue;
        int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
            continue;
        ssize_t r = read(fd, buf, sizeof buf);
        close(fd);
        if (r != 41 || buf[40] != '\n')
            continue;
        buf[40] = '\0';
        if (runs_is_hex(buf, 40))
            rc = push(v, n, cap, ref, strlen(ref), buf);
    }
    closedir(d);
    return rc;
}

/* Writes v (sorted, names unique) to packed-refs through packed-refs.lock (O_EXCL:
 * git's lock for the file), published as every durable file is (runs__tmp_publish:
 * fsync, rename, fsync the directory). */
static int write_packed(runs_store *s, const runs__packed_ref *v, size_t n)
{
    char p[PATH_MAX], lock[PATH_MAX];
    snprintf(p, sizeof p, "%s/lineage.git/packed-refs", s->dir);
    if ((size_t)snprintf(lock, sizeof lock, "%s.lock", p) >= sizeof lock)
        return runs_error_set(RUNS_EINVALID, "store path too long: %s", s->dir);
    int fd = open(lock, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644), rc = 0;
    struct stat st;
    if (fd < 0 && errno == EEXIST && lstat(lock, &st) == 0 && time(NULL) - st.st_mtime > PACK_LOCK_STALE_S &&
        unlink(lock) == 0) {
        /* every runs writer of the file holds locks/refs.lock, as we do now: an old one
         * was left by a crash (git's pack-refs takes well under a minute) */
        runs__store_warn("removed stale lock %s (%ld s old, left by a crash)", lock, (long)(time(NULL) - st.st_mtime));
        fd = open(lock, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    }
    if (fd < 0) {
        if (errno == EEXIST)
            return runs_error_set(RUNS_ELOCKED,
                                  "%s exists: another program (git?) is rewriting the packed refs; try again "
                                  "when it is done, or remove the file if no such program runs",
                                  lock);
        return runs_error_sys(RUNS_EIO, "open", lock);
    }
    size_t cap = 1 << 16, used = 0;
    char *buf = malloc(cap);
    if (!buf) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory writing packed refs");
        goto done;
    }
    used = (size_t)snprintf(buf, cap, "%s", PACKED_HEADER);
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t need = strlen(v[i].name) + 44 + (v[i].peel ? 42 : 0);
        if (used + need > cap) {
            while (used + need > cap)
                cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                rc = runs_error_set(RUNS_ENOMEM, "out of memory writing packed refs");
                break;
            }
            buf = nb;
        }
        used += (size_t)snprintf(buf + used, cap - used, "%s %s\n", v[i].hex, v[i].name);
        if (v[i].peel)
            used += (size_t)snprintf(buf + used, cap - used, "^%s\n", v[i].peel);
    }
    if (rc == 0 && (rc = runs__write_all(fd, buf, used, lock)) == 0)
        rc = runs__tmp_publish(&fd, lock, p, 0644); /* closes fd; removes the lock on failure */
done:
    if (fd >= 0) {
        close(fd);
        unlink(lock);
    }
    free(buf);
    return rc;
}

/* Removes the loose files of refs now packed with the same value, then makes each
 * directory's removals durable (a lost unlink would only leave a duplicate). */
static int drop_loose(runs_store *s, const runs__packed_ref *loose, size_t n)
{
    char last_dir[PATH_MAX] = "";
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char p[PATH_MAX], buf[64];
        runs__ref_path(p, sizeof p, s, loose[i].name);
        int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
            continue;
        ssize_t r = read(fd, buf, sizeof buf);
        close(fd);
        if (r != 41 || memcmp(buf, loose[i].hex, 40) != 0 || buf[40] != '\n')
            continue; /* not what was packed (cannot happen under the refs lock): keep it */
        if (unlink(p) != 0 && errno != ENOENT)
            rc = runs_error_sys(RUNS_EIO, "unlink", p);
        char *slash = strrchr(p, '/');
        *slash = '\0';
        if (rc == 0 && strcmp(p, last_dir) != 0) {
            if (last_dir[0] && (rc = runs__fsync_dir(last_dir)) != 0)
                break;
            snprintf(last_dir, sizeof last_dir, "%s", p);
        }
    }
    if (rc == 0 && last_dir[0])
        rc = runs__fsync_dir(last_dir);
    return rc;
}

int runs_refs_pack(size_t *packed, runs_store *s, const char *run)
{
    runs__packed_ref *old = NULL, *loose = NULL, *all = NULL;
    size_t nold = 0, nloose = 0, cloose = 0, nall = 0;
    char **runs = NULL;
    size_t nruns = 0;
    runs_lock l = {.fd = -1};
    int rc;
    *packed = 0;
    if (run && (rc = runs_name_check(run, "run")) != 0)
        return rc;
    if ((rc = runs__writer_begin(s)) != 0 || (rc = runs__lock_acquire(&l, s, "refs", 30)) != 0)
        goto done;
    if (run)
        rc = scan_run(&loose, &nloose, &cloose, s, run);
    else if ((rc = runs_run_list(&runs, &nruns, s)) == 0)
        for (size_t i = 0; i < nruns && rc == 0; i++)
            rc = scan_run(&loose, &nloose, &cloose, s, runs[i]);
    if (rc || nloose == 0)
        goto done;
    /* a damaged packed-refs is reported, never rewritten on a guess */
    if ((rc = runs__packed_refs_load(&old, &nold, s)) != 0)
        goto done;
    qsort(loose, nloose, sizeof *loose, cmp_packed);
    if (!(all = calloc(nold + nloose, sizeof *all))) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory packing refs");
        goto done;
    }
    /* merge two sorted lists; a loose file wins over its packed line (it is newer) */
    for (size_t i = 0, k = 0; i < nold || k < nloose;) {
        int c = i == nold ? 1 : k == nloose ? -1 : strcmp(old[i].name, loose[k].name);
        if (c < 0)
            all[nall++] = old[i++];
        else {
            all[nall++] = loose[k++];
            if (c == 0)
                i++;
        }
    }
    if ((rc = write_packed(s, all, nall)) != 0 || (rc = drop_loose(s, loose, nloose)) != 0)
        goto done;
    *packed = nloose;
done:
    runs__lock_release(&l);
    free(all); /* its entries are old's and loose's */
    runs__packed_refs_free(old, nold);
    runs__packed_refs_free(loose, nloose);
    runs_strings_free(runs, nruns);
    return rc;
}
