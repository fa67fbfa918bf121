/* store/internal.h — shared by the store/ sources only; not part of the public API. */
#ifndef RUNS_STORE_INTERNAL_H
#define RUNS_STORE_INTERNAL_H

#include <cJSON.h>
#include <git2.h>
#include <stddef.h>
#include <limits.h>
#include <sys/types.h>

#include "store/store.h"

/* One line of the store's `thinned` file: "<id> <run> <step>". */
struct runs_thinned {
    char id[41];
    char run[64];
    long long step;
};

struct runs_store {
    char *dir;
    git_repository *repo;
    int writer_fd;       /* flock(LOCK_SH) on locks/gc.lock while this handle writes; -1 */
    struct runs_thinned *thinned; /* nodes thinned by gc, sorted by id (loaded lazily) */
    size_t n_thinned;
    int thinned_loaded;
};

/* A held lock file locks/<name>.lock (see store.c, invariant 6). */
typedef struct {
    int fd;
    char path[4096];
} runs_lock;

int runs__lock_acquire(runs_lock *l, runs_store *s, const char *name, double wait_s);
void runs__lock_release(runs_lock *l);

/* Takes the shared writer lock (once per handle) so gc cannot run concurrently. */
int runs__writer_begin(runs_store *s);

/* Creates a temp file for path: in tmpdir when given, else beside path (same file
 * system, so the final rename is atomic). On success *fd is open and tmp names it;
 * the caller writes, then runs__tmp_publish (or closes and unlinks on failure). */
int runs__tmp_create(int *fd, char tmp[PATH_MAX], const char *path, const char *tmpdir);

/* Publishes a written temp file: chmod mode, fsync, close, rename to path, fsync
 * path's directory. Always closes *fd (set to -1) and, on failure, removes tmp:
 * path is either untouched or holds the complete, durable new bytes. */
int runs__tmp_publish(int *fd, char tmp[PATH_MAX], const char *path, mode_t mode);

int runs__fsync_dir(const char *dir);
int runs__fsync_parent(const char *path);
/* Writes data to path atomically: temp in tmpdir (or path's directory when NULL),
 * fsync, rename, fsync the destination directory. mode applies to the result. */
int runs__write_atomic(const char *path, const void *data, size_t len, const char *tmpdir,
                       mode_t mode);
/* write() all of buf, retrying short writes and EINTR; sets the error naming path. */
int runs__write_all(int fd, const void *buf, size_t len, const char *path);

/* objects/ab/cdef... of hex into buf. */
void runs__object_path(char *buf, size_t n, const runs_store *s, const char *hex);

/* Converts a libgit2 failure into our error channel; returns code. */
int runs__git_error(int code, const char *what);

/* Collects the objects a manifest references: tensors (thinnable) and the others
 * (kept for every node). Arrays of pointers into manifest strings. */
int runs__manifest_objects(const cJSON *m, const char ***tensors, size_t *nt, const char ***aux,
                           size_t *na);

int runs__thinned_load(runs_store *s);
/* Replaces the thinned list atomically (invariant 5); v sorted by id. */
int runs__thinned_write(runs_store *s, const struct runs_thinned *v, size_t n);
/* The entry of node id / of (run, step), or NULL. */
const struct runs_thinned *runs__thinned_find(runs_store *s, const char *id);
const struct runs_thinned *runs__thinned_find_step(runs_store *s, const char *run, long long step);

/* Number of worker threads for hashing/writing. */
int runs__threads(size_t items);

#endif
