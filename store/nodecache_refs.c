/* store/nodecache_refs.c — reading the refs a listing starts from: every loose file
 * under lineage.git/refs/ (one open each) and packed-refs, where the per-step tags go
 * when a session ends (store/packrefs.c); see store/nodecache.h. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "manifests/manifest.h"
#include "store/internal.h"
#include "store/nodecache_int.h"

static int cmp_nc_ref(const void *a, const void *b)
{
    return strcmp(((const nc_ref *)a)->name, ((const nc_ref *)b)->name);
}

static int wanted_ref(const char *name)
{
    return !strncmp(name, "refs/heads/", 11) || !strncmp(name, "refs/tags/", 10) || !strncmp(name, "refs/rewound/", 13);
}

/* The ref files read so far: names packed in one buffer (offsets until the scan ends,
 * since the buffer moves as it grows). */
typedef struct {
    nc_ref *v;
    size_t n, cap;
    size_t *off;
    char *names;
    size_t nlen, ncap;
    int damaged; /* a file that is not 40 hex digits and a newline */
} ref_scan;

static int scan_add(ref_scan *sc, const char *name, const char *hex)
{
    size_t l = strlen(name) + 1;
    if (sc->n == sc->cap) {
        size_t nc = sc->cap ? sc->cap * 2 : 256;
        nc_ref *nv = realloc(sc->v, nc * sizeof *nv);
        size_t *no = nv ? realloc(sc->off, nc * sizeof *no) : NULL;
        if (nv)
            sc->v = nv;
        if (!no)
            return runs_error_set(RUNS_ENOMEM, "out of memory reading refs");
        sc->off = no;
        sc->cap = nc;
    }
    if (sc->nlen + l > sc->ncap) {
        size_t nc = sc->ncap ? sc->ncap * 2 : 1 << 16;
        while (nc < sc->nlen + l)
            nc *= 2;
        char *nb = realloc(sc->names, nc);
        if (!nb)
            return runs_error_set(RUNS_ENOMEM, "out of memory reading refs");
        sc->names = nb;
        sc->ncap = nc;
    }
    memcpy(sc->names + sc->nlen, name, l);
    sc->off[sc->n] = sc->nlen;
    memcpy(sc->v[sc->n].hex, hex, 41);
    sc->nlen += l;
    sc->n++;
    return 0;
}

/* Reads every ref file under dirfd (named rel), as runs__refs_check does without
 * "deep" (dot files skipped: temp files), but with one open per file and no stat:
 * at 100k nodes there are 100k per-step tags to read on every listing. */
static int scan_refs(ref_scan *sc, int dfd, const char *rel, int recurse)
{
    DIR *d = fdopendir(dfd);
    struct dirent *e;
    int rc = 0;
    if (!d) {
        close(dfd);
        return runs_error_sys(RUNS_EIO, "fdopendir", rel);
    }
    while (rc == 0 && !sc->damaged && (e = readdir(d)) != NULL) {
        char sub[1024], buf[64];
        if (e->d_name[0] == '.')
            continue;
        if ((size_t)snprintf(sub, sizeof sub, "%s/%s", rel, e->d_name) >= sizeof sub)
            continue; /* no ref name is this long: runs__refs_check would refuse it */
        int type = e->d_type;
        if (type == DT_UNKNOWN) {
            struct stat st;
            if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
                continue;
            type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
        }
        if (type == DT_DIR) {
            if (!recurse)
                continue;
            int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            rc = fd < 0 ? runs_error_sys(RUNS_EIO, "open", sub) : scan_refs(sc, fd, sub, 1);
            continue;
        }
        if (type != DT_REG)
            continue;
        int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue; /* gone since readdir: a ref being replaced is renamed, never missing */
        ssize_t r = read(fd, buf, sizeof buf);
        close(fd);
        if (r != 41 || buf[40] != '\n') {
            sc->damaged = 1;
            break;
        }
        buf[40] = '\0';
        if (!runs_is_hex(buf, 40)) {
            sc->damaged = 1;
            break;
        }
        if (wanted_ref(sub))
            rc = scan_add(sc, sub, buf);
    }
    closedir(d);
    return rc;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Refs of lineage.git/packed-refs (runs_refs_pack moves per-step tags there; git
 * pack-refs may have too) that have no loose file, appended to sc. A damaged file is
 * RUNS_ECORRUPT naming its line (runs__packed_refs_load), never a shorter list. */
static int packed_refs(ref_scan *sc, runs_store *s, int tags_only)
{
    runs__packed_ref *v = NULL;
    size_t n = 0, loose = sc->n;
    const char **names = NULL;
    unsigned char *keep = NULL;
    int rc = runs__packed_refs_load(&v, &n, s);
    if (rc || n == 0)
        goto done;
    if (!(keep = calloc(n, 1)) || (loose && !(names = malloc(loose * sizeof *names)))) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory reading refs");
        goto done;
    }
    /* shadowed lines are found before any is added: adding moves sc->names */
    for (size_t i = 0; i < loose; i++)
        names[i] = sc->names + sc->off[i];
    if (loose > 1)
        qsort(names, loose, sizeof *names, cmp_name);
    for (size_t i = 0; i < n; i++) {
        const char *key = v[i].name;
        /* tags_only: user tags (refs/tags/NAME), not the per-step tags packed beside them */
        int want = tags_only ? !strncmp(key, "refs/tags/", 10) && !strchr(key + 10, '/') : wanted_ref(key);
        keep[i] = want && !(loose && bsearch(&key, names, loose, sizeof *names, cmp_name));
    }
    for (size_t i = 0; i < n && rc == 0; i++)
        if (keep[i])
            rc = scan_add(sc, v[i].name, v[i].hex);
done:
    free(keep);
    free(names);
    runs__packed_refs_free(v, n);
    return rc;
}

int runs__nc_read_refs(nc_ref **out, size_t *nout, char **names, runs_store *s, int tags_only)
{
    ref_scan sc = {0};
    char p[4096];
    int rc = 0;
    *out = NULL;
    *nout = 0;
    *names = NULL;
    /* tags_only: the files directly in refs/tags/ (user tags), not the per-step tags below */
    const char *under = tags_only ? "refs/tags" : "refs";
    snprintf(p, sizeof p, "%s/lineage.git/%s", s->dir, under);
    int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0)
        rc = scan_refs(&sc, fd, under, !tags_only);
    if (!rc && sc.damaged) {
        rc = runs__refs_first_damage(s, 0);
        if (!rc) /* mended between the two reads: read again rather than guess */
            rc = runs_error_set(RUNS_ELOCKED, "a ref of %s/lineage.git changed while it was read; try again", s->dir);
    }
    if (!rc)
        rc = packed_refs(&sc, s, tags_only);
    if (rc) {
        free(sc.v);
        free(sc.off);
        free(sc.names);
        return rc;
    }
    for (size_t i = 0; i < sc.n; i++)
        sc.v[i].name = sc.names + sc.off[i];
    free(sc.off);
    if (sc.n) /* qsort of no elements would be given v == NULL */
        qsort(sc.v, sc.n, sizeof *sc.v, cmp_nc_ref);
    *out = sc.v;
    *nout = sc.n;
    *names = sc.names;
    return 0;
}
