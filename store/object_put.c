/* store/object_put.c — SHA-256 named objects, the durable write path: put (one object)
 * and put_many (hashing workers hand written objects to syncing threads: fsync,
 * rename, fsync the directories). Reading objects is store/object.c. See the
 * invariants at the top of store/store.c (1, 4). */
#define _GNU_SOURCE
#include "store/object.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "store/internal.h"
#include "store/pool.h"
#include "store/publish.h"
#include "store/put_stats.h"
#include "store/sha256.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* The last put_many's phase times (runs__put_stats_get); t0 is its start. */
static pthread_mutex_t stats_mu = PTHREAD_MUTEX_INITIALIZER;
static runs__put_stats stats;
static double stats_t0;

void runs__put_stats_get(runs__put_stats *out)
{
    pthread_mutex_lock(&stats_mu);
    *out = stats;
    pthread_mutex_unlock(&stats_mu);
}

/* Adds seconds to one of stats' sums and moves its mark (a time since t0) later. */
static void stats_add(double *sum, double dt, double *mark)
{
    pthread_mutex_lock(&stats_mu);
    if (sum)
        *sum += dt;
    if (mark && now() - stats_t0 > *mark)
        *mark = now() - stats_t0;
    pthread_mutex_unlock(&stats_mu);
}

/* An object written to its temp file but not yet durable nor named. */
typedef struct {
    int fd;
    char tmp[4200];
    char path[4200];
} pending;

/* Starts writing one object whose name is already known: dedup check, temp file in
 * objects/ab/, write, and writeback started (sync_file_range) so the device works
 * while the caller hashes the next object. p->fd < 0 when the object was already
 * there (dedup, checked). Finish with put_finish. */
static int put_begin(pending *p, runs_store *s, const runs_oid *oid, const void *data, size_t len)
{
    struct stat st;
    int rc = 0;
    p->fd = -1;
    p->tmp[0] = '\0';
    runs__object_path(p->path, sizeof p->path, s, oid->hex);
    if (stat(p->path, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == len) {
        /* dedup, checked: the stored bytes must equal ours (cheaper than re-hashing) */
        int efd = open(p->path, O_RDONLY | O_CLOEXEC);
        if (efd >= 0) {
            char *buf = malloc(RUNS__OBJECT_CHUNK);
            int same = buf != NULL;
            for (size_t off = 0; same && off < len;) {
                size_t n = len - off > RUNS__OBJECT_CHUNK ? RUNS__OBJECT_CHUNK : len - off;
                ssize_t r = pread(efd, buf, n, (off_t)off);
                if (r <= 0 || memcmp(buf, (const char *)data + off, (size_t)r) != 0)
                    same = 0;
                else
                    off += (size_t)r;
            }
            free(buf);
            close(efd);
            if (same)
                return 0;
        }
        /* a damaged copy under the right name: replace it with the good bytes */
    }
    snprintf(p->tmp, sizeof p->tmp, "%s/objects/%.2s/.tmp-XXXXXX", s->dir, oid->hex);
    if ((p->fd = mkostemp(p->tmp, O_CLOEXEC)) < 0) {
        rc = runs_error_sys(RUNS_EIO, "create temporary object", p->tmp);
        p->tmp[0] = '\0';
        return rc;
    }
    if ((rc = runs__write_all(p->fd, data, len, p->tmp)) != 0)
        goto fail;
    if (fchmod(p->fd, 0444) != 0) {
        rc = runs_error_sys(RUNS_EIO, "chmod", p->tmp);
        goto fail;
    }
    sync_file_range(p->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    return 0;
fail:
    close(p->fd);
    p->fd = -1;
    unlink(p->tmp);
    p->tmp[0] = '\0';
    return rc;
}

/* Names a begun object whose bytes are already durable: close, then rename. Removes
 * the temp file on failure. *written = 1 when bytes were written. A concurrent writer
 * of the same object renames identical bytes: harmless. */
static int put_name(int *written, pending *p)
{
    int rc = 0;
    *written = 0;
    if (p->fd < 0)
        return 0;
    if (close(p->fd) != 0)
        rc = runs_error_sys(RUNS_EIO, "close", p->tmp);
    p->fd = -1;
    if (rc == 0 && rename(p->tmp, p->path) != 0)
        rc = runs_error_sys(RUNS_EIO, "rename", p->path);
    if (rc) {
        unlink(p->tmp);
    } else {
        *written = 1;
        runs__durable_note(RUNS_STEP_RENAME, p->path);
    }
    p->tmp[0] = '\0';
    return rc;
}

/* Drops a begun object: closes and removes its temp file. */
static void put_drop(pending *p)
{
    if (p->fd < 0)
        return;
    close(p->fd);
    unlink(p->tmp);
    p->fd = -1;
    p->tmp[0] = '\0';
}

/* Makes a begun object durable and gives it its name (invariant 1: fsync, then
 * rename). */
static int put_finish(int *written, pending *p)
{
    *written = 0;
    if (p->fd < 0)
        return 0;
    double t = now();
    if (fsync(p->fd) != 0) {
        int rc = runs_error_sys(RUNS_EIO, "fsync", p->tmp);
        put_drop(p);
        return rc;
    }
    stats_add(&stats.fsync_s, now() - t, NULL);
    pthread_mutex_lock(&stats_mu);
    stats.fsyncs++;
    pthread_mutex_unlock(&stats_mu);
    runs__durable_note(RUNS_STEP_FSYNC, p->path);
    int rc = put_name(written, p);
    stats_add(NULL, 0, &stats.synced);
    return rc;
}

/* put_begin for bytes whose name is not known yet: hashes and writes in one pass,
 * chunk by chunk (the chunk is still in cache when write() copies it), into a temp
 * file in objects/ (same file system as objects/ab/, so the rename stays atomic).
 * Dedup is found after the fact: the temp file is dropped before any fsync. */
static int put_begin_stream(pending *p, runs_oid *oid, runs_store *s, const void *data, size_t len)
{
    int rc = 0;
    unsigned char d[32];
    unsigned int dl = 0;
    EVP_MD_CTX *c = runs__sha256_begin();
    p->fd = -1;
    p->tmp[0] = '\0';
    if (!c)
        return runs_error_code();
    snprintf(p->tmp, sizeof p->tmp, "%s/objects/.tmp-XXXXXX", s->dir);
    if ((p->fd = mkostemp(p->tmp, O_CLOEXEC)) < 0) {
        rc = runs_error_sys(RUNS_EIO, "create temporary object", p->tmp);
        p->tmp[0] = '\0';
        goto done;
    }
    double hash_s = 0, write_s = 0, t = now(), t1;
    for (size_t off = 0; off < len;) {
        size_t n = len - off > RUNS__OBJECT_CHUNK ? RUNS__OBJECT_CHUNK : len - off;
        EVP_DigestUpdate(c, (const char *)data + off, n);
        t1 = now();
        hash_s += t1 - t;
        if ((rc = runs__write_all(p->fd, (const char *)data + off, n, p->tmp)) != 0)
            goto done;
        t = now();
        write_s += t - t1;
        off += n;
    }
    stats_add(&stats.hash_s, hash_s, NULL);
    stats_add(&stats.write_s, write_s, NULL);
    EVP_DigestFinal_ex(c, d, &dl);
    runs_sha256_digest_hex(oid, d);
    runs__object_path(p->path, sizeof p->path, s, oid->hex);
    struct stat st;
    if (stat(p->path, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == len) {
        /* probably dedup: check it the careful way, then drop our copy unsynced */
        pending q;
        close(p->fd);
        p->fd = -1;
        unlink(p->tmp);
        p->tmp[0] = '\0';
        rc = put_begin(&q, s, oid, data, len);
        if (rc == 0)
            *p = q;
        goto done;
    }
    if (fchmod(p->fd, 0444) != 0) {
        rc = runs_error_sys(RUNS_EIO, "chmod", p->tmp);
        goto done;
    }
    sync_file_range(p->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    stats_add(NULL, 0, &stats.written);
done:
    EVP_MD_CTX_free(c);
    if (rc && p->fd >= 0) {
        close(p->fd);
        p->fd = -1;
    }
    if (rc && p->tmp[0]) {
        unlink(p->tmp);
        p->tmp[0] = '\0';
    }
    return rc;
}

/* put_begin + put_finish; fsync_dir: also fsync objects/ab/ (single puts). */
static int put_known(int *written, runs_store *s, const runs_oid *oid, const void *data, size_t len, int fsync_dir)
{
    pending p;
    int rc = put_begin(&p, s, oid, data, len);
    *written = 0;
    if (rc == 0)
        rc = put_finish(written, &p);
    if (rc == 0 && *written && fsync_dir) {
        char d[PATH_MAX];
        snprintf(d, sizeof d, "%s/objects/%.2s", s->dir, oid->hex);
        rc = runs__fsync_dir(d);
    }
    return rc;
}

int runs_object_put(runs_oid *out, runs_store *s, const void *data, size_t len)
{
    int written = 0;
    int rc = runs__writer_begin(s);
    if (rc)
        return rc;
    if ((rc = runs_sha256_hex(out, data, len)) != 0)
        return rc;
    return put_known(&written, s, out, data, len, 1);
}

/* put_many's shared state. Hashing workers (a background pool) hash and write each
 * object (put_begin_stream, which also starts its writeback) and hand it over,
 * still unnamed, through `ready`. Syncing threads (a second pool, on the caller's
 * thread and PUT_SYNCERS-1 more) take the handed-over objects in that order and
 * fsync + rename each one (invariant 1); the touched objects/ab/ directories are
 * then fsynced once each, in parallel (invariant 2).
 *
 * Why fsync per object and not one syncfs per batch (what this did before): syncfs
 * waits for every dirty page of the whole file system, so a save also paid for what
 * other programs were writing (the save fell to 0.27-0.37x of a plain write+fsync on
 * a busy disk), and each batch waited for the pages the workers were still writing.
 * An fsync waits only for its own file, whose writeback began when it was written;
 * concurrent fsyncs share the file system's journal commits. Directories: one
 * fsync each, deduplicated, several at once (one after another they were ~0.3-0.6 s
 * of a 1.5 GB save, each paying a device flush alone). */
struct put_job {
    runs_store *s;
    runs_put *items;
    size_t *order; /* items by size, largest first: the hashing pool's index i is item order[i] */
    size_t n;
    pending *slot;   /* slot[k]: object k, begun by a worker; fd >= 0 until named or dropped */
    size_t *ready;   /* item indexes in the order their writes finished */
    size_t nready;   /* entries of ready filled; the syncing pool's index i is ready[i] */
    size_t inflight; /* begun and not yet named: bounds open files */
    unsigned char dirs[256];
    int dir_list[256]; /* the touched directories, for the directory pass */
    runs_progress *progress;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int rc; /* set by the first failure on either side: both sides stop */
    char msg[1024];
};

#define PUT_INFLIGHT 64 /* objects written but not yet durable (open files) */
#define PUT_SYNCERS 8   /* fsyncs in flight at once: they wait on the device, not the CPU */

/* Records the first failure; the others stop at their next object. Call with j->mu held. */
static void put_fail(struct put_job *j, int rc)
{
    if (rc != 0 && j->rc == 0) {
        j->rc = rc;
        snprintf(j->msg, sizeof j->msg, "%s", runs_error_message());
    }
}

/* A hashing worker's item: hashes and writes object order[i], then hands it to the
 * syncing side. Waits while PUT_INFLIGHT objects are not yet durable; once either
 * side failed it begins nothing more. */
static int put_one(void *ctx, size_t i)
{
    struct put_job *j = ctx;
    size_t k = j->order[i];
    pthread_mutex_lock(&j->mu);
    while (j->rc == 0 && j->inflight >= PUT_INFLIGHT)
        pthread_cond_wait(&j->cv, &j->mu);
    if (j->rc != 0) {
        pthread_mutex_unlock(&j->mu);
        return 0; /* the failure is recorded already; this object was never begun */
    }
    j->inflight++;
    pthread_mutex_unlock(&j->mu);
    runs_put *it = &j->items[k];
    int rc = put_begin_stream(&j->slot[k], &it->oid, j->s, it->data, it->len);
    pthread_mutex_lock(&j->mu);
    put_fail(j, rc);
    if (rc == 0)
        j->ready[j->nready++] = k;
    else
        j->inflight--; /* put_begin_stream cleaned its slot */
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    return rc;
}

/* A syncing thread's item: waits for the i-th object handed over, makes it durable
 * and names it (put_finish: fsync, then rename). Stops (RUNS_E* with the first
 * failure's message) once either side failed. */
static int sync_one(void *ctx, size_t i)
{
    struct put_job *j = ctx;
    pthread_mutex_lock(&j->mu);
    while (j->rc == 0 && i >= j->nready)
        pthread_cond_wait(&j->cv, &j->mu);
    if (j->rc != 0) {
        int rc = runs_error_set(j->rc, "%s", j->msg);
        pthread_mutex_unlock(&j->mu);
        return rc;
    }
    size_t k = j->ready[i];
    pthread_mutex_unlock(&j->mu);
    int rc = put_finish(&j->items[k].written, &j->slot[k]);
    pthread_mutex_lock(&j->mu);
    put_fail(j, rc);
    j->inflight--;
    if (rc == 0) {
        unsigned d = 0;
        sscanf(j->items[k].oid.hex, "%2x", &d);
        j->dirs[d & 255] = 1;
        if (j->progress)
            runs_progress_add(j->progress, j->items[k].len);
    }
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    return rc;
}

/* A syncing thread's item in the directory pass: fsyncs objects/<dir_list[i]>/. */
static int sync_dir_one(void *ctx, size_t i)
{
    struct put_job *j = ctx;
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/objects/%02x", j->s->dir, j->dir_list[i]);
    double t = now();
    int rc = runs__fsync_dir(p);
    stats_add(&stats.dir_s, now() - t, NULL);
    return rc;
}

static struct put_job *sort_job;
static int by_len_desc(const void *a, const void *b)
{
    size_t la = sort_job->items[*(const size_t *)a].len, lb = sort_job->items[*(const size_t *)b].len;
    return la < lb ? 1 : la > lb ? -1 : 0;
}

int runs_object_put_many(runs_store *s, runs_put *items, size_t n, runs_progress *progress)
{
    int rc = runs__writer_begin(s);
    if (rc || n == 0)
        return rc;
    struct put_job j;
    memset(&j, 0, sizeof j);
    int nt = runs__threads(n), locks = 0;
    j.s = s;
    j.items = items;
    j.n = n;
    j.progress = progress;
    pthread_mutex_lock(&stats_mu);
    memset(&stats, 0, sizeof stats);
    stats_t0 = now();
    stats.objects = n;
    pthread_mutex_unlock(&stats_mu);
    j.order = malloc(n * sizeof *j.order);
    j.ready = malloc(n * sizeof *j.ready);
    j.slot = malloc(n * sizeof *j.slot);
    if (!j.order || !j.ready || !j.slot) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory storing %zu objects", n);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        j.order[i] = i;
        j.slot[i].fd = -1;
        j.slot[i].tmp[0] = '\0';
        items[i].written = 0;
    }
    /* largest first, so the last worker to finish is not stuck with a big one */
    static pthread_mutex_t sort_mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&sort_mu);
    sort_job = &j;
    qsort(j.order, n, sizeof *j.order, by_len_desc);
    pthread_mutex_unlock(&sort_mu);
    pthread_mutex_init(&j.mu, NULL);
    pthread_cond_init(&j.cv, NULL);
    locks = 1;
    /* the hashing pool works on the CPU; this thread and the syncing pool wait on
     * the device, each fsync overlapping the hashing of the objects after it */
    runs_pool *pool = NULL;
    if ((rc = runs_pool_start(&pool, n, nt, put_one, &j)) != 0)
        goto done;
    int src = runs_pool_run(n, PUT_SYNCERS, sync_one, &j);
    /* the hashing side's error first (the lowest failing object by size order, with
     * its message): a syncing thread that stopped on it only repeats it */
    int prc = runs_pool_wait(pool);
    if ((rc = prc ? prc : src) != 0)
        goto done;
    /* invariant 2: every renamed object's directory entry is durable before we return */
    size_t nd = 0;
    for (int d = 0; d < 256; d++)
        if (j.dirs[d])
            j.dir_list[nd++] = d;
    if ((rc = runs_pool_run(nd, PUT_SYNCERS, sync_dir_one, &j)) != 0)
        goto done;
    pthread_mutex_lock(&stats_mu);
    stats.dirs = nd;
    stats.wall = now() - stats_t0;
    pthread_mutex_unlock(&stats_mu);
done:
    if (rc != 0) {
        /* objects handed over but never named: their temp files go */
        for (size_t i = 0; locks && i < n; i++)
            put_drop(&j.slot[i]);
        for (size_t i = 0; i < n; i++)
            items[i].written = 0;
    }
    if (locks) {
        pthread_cond_destroy(&j.cv);
        pthread_mutex_destroy(&j.mu);
    }
    free(j.order);
    free(j.ready);
    free(j.slot);
    return rc;
}
