/* store/store.c — opening and creating stores, locks (durable-write helpers: store/publish.c).
 *
 * CRASH INVARIANTS. A process may die (SIGKILL, power loss after fsync'd writes)
 * at any instruction. What the code guarantees afterwards, whatever the moment:
 *
 *  1. A file objects/ab/cdef… holds exactly the bytes whose SHA-256 is abcdef…, and is
 *     complete: it gets that name only by rename() after its bytes were made durable
 *     (fsync of the file, or for a batch one syncfs of the store's file system). An
 *     existing name is replaced only by the same bytes (dedup compares the stored
 *     bytes with ours and rewrites a copy damaged after the fact).
 *  2. No ref (refs/heads/<run>, refs/tags/<name>) names a commit whose manifest references a
 *     missing object, unless the node is listed in `thinned`. Order: objects are
 *     fsync'd (file and directory) before the manifest commit is written; the commit
 *     and its tree are fsync'd before any ref is moved; gc deletes objects only after
 *     `thinned` lists every node losing them.
 *  3. No ref names a missing or partial commit: refs are written as whole files
 *     (temp in locks/, fsync, rename, fsync the directory).
 *  4. Files in tmp/, objects/.tmp-*, objects/xx/.tmp-*, locks/.tmp-* and unreferenced objects are
 *     garbage: a crash may leave them, nothing reads them, `runs gc` removes them.
 *     Lineage commits not reachable from a ref may also remain; nothing lists them.
 *  5. `thinned` is replaced atomically (temp, fsync, rename): it is either the old or
 *     the new list, and the new list is durable before the first deletion.
 *  6. Ref updates are serialised by locks/refs.lock. Its owner writes and fsyncs its pid
 *     into a temp file it flock()s, then link()s that to the lock name (O_EXCL), and
 *     holds the flock for the lock's whole life, so a live writer's lock is never empty.
 *     A lock nobody flock()s that names a pid is stale (its owner died); one nobody
 *     flock()s that is empty, or one that cannot be opened, is stale once older than
 *     60 s. The next writer removes a stale lock and says so (runs_store_set_warning);
 *     a flock()ed lock is never taken, whatever it holds. So a killed writer never
 *     wedges the store, and two writers never both move a ref from the same old value.
 *  7. gc runs only while no writer holds locks/gc.lock shared (writers take it on
 *     their first write and keep it until runs_store_free), so it never deletes the
 *     fresh objects of a commit in progress.
 *  8. What a crash can lose: the commit in progress (its objects may remain as
 *     orphans, invariant 4) and, before refs are fsync'd, the last ref move. It cannot
 *     lose or damage a node some ref already named when the crash began, nor produce
 *     a node whose restore returns different bytes than were committed.
 *  9. Every ref move is journalled: "<old> <new> <unix time> <ref>\n" is appended to
 *     lineage.git/runs-reflog and fsync'd (store/reflog.c) before the new ref file is
 *     renamed into place, under locks/refs.lock. So the journal's last line for a ref
 *     names its current value, or (a crash between the two) the line's old value is
 *     still in place; a ref file holding neither is damaged, and `runs verify
 *     --repair` puts it back to its newest journalled value whose node reads fine.
 *     A missing ref whose last line is its creation is that crash window, not damage,
 *     when nothing was lost: a per-step tag (its node stays on its branch), or a
 *     first branch ref whose node nothing else reaches and no later line names.
 * 10. Readers of the lineage tell "end" from "error": a ref file that is not exactly
 *     40 lower-case hex digits and "\n" (HEAD: "ref: refs/heads/<run>\n"), a ref
 *     naming an unreadable commit, or a commit, tree or manifest that cannot be read
 *     is RUNS_ECORRUPT naming it, never a shorter list of nodes. gc fails closed: it
 *     deletes nothing unless it read every ref, every reachable commit and every
 *     manifest (and the `thinned` list, whose trailing checksum line is checked)
 *     without error.
 * 11. Per-step tags may live in lineage.git/packed-refs instead of their own files
 *     (store/packrefs.c: a session's end and gc move them there). A loose file wins
 *     over its packed line. The new packed-refs is complete and fsync'd (written as
 *     packed-refs.lock, git's lock for it) and renamed into place before any loose
 *     file goes, and a loose file goes only while it holds the value packed, so a
 *     crash leaves a ref loose, packed or both, never missing or changed. A packed
 *     line that does not parse is RUNS_ECORRUPT for every reader (invariant 10) and
 *     is never rewritten by packing; the journal's <old> for a ref with no loose file
 *     is its packed value. runs writes packed-refs.lock only while holding
 *     locks/refs.lock, so one older than 60 s that a packer finds is a crash's: it is
 *     removed and said so; a younger one (git at work?) makes packing wait for later.
 */
#define _GNU_SOURCE
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "store/internal.h"
#include "store/git_lazy.h"
#include "store/lineage.h"

int runs__git_error(int code, const char *what)
{
    const git_error *e = git_error_last();
    return runs_error_set(code, "%s: %s", what, e && e->message ? e->message : "libgit2 failed");
}

void runs__object_path(char *buf, size_t n, const runs_store *s, const char *hex)
{
    snprintf(buf, n, "%s/objects/%.2s/%s", s->dir, hex, hex + 2);
}

int runs__threads(size_t items)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    const char *env = getenv("RUNS_THREADS");
    if (env && atoi(env) > 0)
        n = atoi(env);
    if (n < 1)
        n = 1;
    if (n > 64)
        n = 64;
    if ((size_t)n > items)
        n = (long)(items ? items : 1);
    return (int)n;
}

int runs_oid_valid(const char *hex)
{
    return runs_is_hex(hex, 64); /* manifests/manifest.h: the one hex checker */
}

static int mkdir_p1(const char *path)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return runs_error_sys(RUNS_EIO, "mkdir", path);
    return 0;
}

static int git_initialised;

/* 0, or the error of loading libgit2 (store/git_lazy.c): it is loaded here, on the
 * first store opened or made, not at start-up. */
static int git_init_once(void)
{
    int rc = runs__git_load();
    if (rc != 0)
        return rc;
    if (!git_initialised) {
        git_libgit2_init();
        /* commits and refs written by libgit2 are fsync'd (invariants 2, 3) */
        git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 1);
        /* we verify our own objects; libgit2's re-hash of tiny manifests is cheap */
        git_initialised = 1;
    }
    return 0;
}

int runs_store_init(const char *dir)
{
    char p[PATH_MAX];
    struct stat st;
    int rc = 0;
    git_repository *repo = NULL;
    if ((rc = git_init_once()) != 0)
        return rc;
    snprintf(p, sizeof p, "%s/lineage.git", dir);
    if (stat(p, &st) == 0)
        return runs_error_set(RUNS_EEXISTS, "a store already exists at %s", dir);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return runs_error_sys(RUNS_EIO, "mkdir", dir);
    const char *subs[] = {"objects", "tmp", "locks"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, subs[i]);
        if ((rc = mkdir_p1(p)) != 0)
            goto done;
    }
    /* all 256 fan-out directories up front: a put never has to create (and fsync) one */
    for (int i = 0; i < 256; i++) {
        snprintf(p, sizeof p, "%s/objects/%02x", dir, i);
        if ((rc = mkdir_p1(p)) != 0)
            goto done;
        if ((rc = runs__fsync_dir(p)) != 0)
            goto done;
    }
    snprintf(p, sizeof p, "%s/objects", dir);
    if ((rc = runs__fsync_dir(p)) != 0)
        goto done;
    /* lineage.git last: its presence is what marks a store (runner/main.c) */
    git_repository_init_options o;
    git_repository_init_options_init(&o, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
    o.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH;
    o.initial_head = "main";
    o.description = "runs lineage: one commit per node, manifest.json in each";
    snprintf(p, sizeof p, "%s/lineage.git", dir);
    if (git_repository_init_ext(&repo, p, &o) != 0) {
        rc = runs__git_error(RUNS_EIO, "creating lineage.git");
        goto done;
    }
    if ((rc = runs__fsync_dir(dir)) != 0)
        goto done;
done:
    git_repository_free(repo);
    return rc;
}

int runs_store_open(runs_store **out, const char *dir)
{
    char p[PATH_MAX];
    struct stat st;
    int rc = 0;
    runs_store *s = NULL;
    *out = NULL;
    snprintf(p, sizeof p, "%s/lineage.git", dir);
    if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) {
        rc = runs_error_set(RUNS_ENOTFOUND, "no store at %s; run `runs init` there first", dir);
        goto done;
    }
    snprintf(p, sizeof p, "%s/objects", dir);
    if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) {
        rc = runs_error_set(RUNS_ECORRUPT, "store at %s has no objects/ directory", dir);
        goto done;
    }
    if (!(s = calloc(1, sizeof *s))) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory opening store %s", dir);
        goto done;
    }
    s->writer_fd = -1; /* before anything can fail: runs_store_free closes it */
    pthread_mutex_init(&s->lineage_mu, NULL);
    if (!(s->dir = strdup(dir))) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory opening store %s", dir);
        goto done;
    }
    *out = s;
    s = NULL;
done:
    runs_store_free(s);
    return rc;
}

void runs_store_free(runs_store *s)
{
    if (!s)
        return;
    if (s->lineage)
        git_repository_free(s->lineage);
    pthread_mutex_destroy(&s->lineage_mu);
    if (s->writer_fd >= 0)
        close(s->writer_fd);
    free(s->thinned);
    free(s->dir);
    free(s);
}

int runs__store_git(git_repository **out, runs_store *s)
{
    char p[PATH_MAX];
    int rc = 0;
    pthread_mutex_lock(&s->lineage_mu);
    if (!s->lineage && (rc = git_init_once()) == 0) {
        snprintf(p, sizeof p, "%s/lineage.git", s->dir);
        if (git_repository_open_bare(&s->lineage, p) != 0) {
            s->lineage = NULL;
            rc = runs__git_error(RUNS_ECORRUPT, "opening lineage.git");
        }
    }
    *out = s->lineage;
    pthread_mutex_unlock(&s->lineage_mu);
    return rc;
}

const char *runs_store_dir(const runs_store *s)
{
    return s->dir;
}

int runs__writer_begin(runs_store *s)
{
    if (s->writer_fd >= 0)
        return 0;
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/locks/gc.lock", s->dir);
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return runs_error_sys(RUNS_EIO, "open", p);
    for (int tries = 0;; tries++) {
        if (flock(fd, LOCK_SH | LOCK_NB) == 0)
            break;
        if (errno != EWOULDBLOCK || tries > 300) {
            close(fd);
            return runs_error_set(RUNS_ELOCKED,
                                  "the store %s is being garbage-collected (locks/gc.lock); retry when `runs gc` ends",
                                  s->dir);
        }
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    s->writer_fd = fd;
    return 0;
}

/* Store warnings go to the CLI's callback (the library never prints). */
static void (*warn_fn)(void *ctx, const char *msg);
static void *warn_ctx;

void runs_store_set_warning(void (*fn)(void *ctx, const char *msg), void *ctx)
{
    warn_fn = fn;
    warn_ctx = ctx;
}

void runs__store_warn(const char *fmt, ...)
{
    if (!warn_fn)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    warn_fn(warn_ctx, msg);
}

/* A lock nobody holds and that names no owner (empty, or unreadable) is taken as
 * stale only once this old: a writer of some other make may create it before it
 * writes and flock()s it. Ours never shows an empty lock (invariant 6). */
#define LOCK_STALE_AGE_S 60

/* Looks at the lock file at path once: removes it when stale, and says why through
 * the warning callback. Leaves in why (for the timeout message) what holds it. */
static void lock_clear_stale(const char *path, char *why, size_t whylen)
{
    struct stat a, b;
    char buf[32] = {0};
    int ofd = open(path, O_RDONLY | O_CLOEXEC);
    if (ofd < 0) {
        /* cannot ask its flock: go by age alone */
        if (errno != ENOENT && lstat(path, &b) == 0) {
            long age = (long)(time(NULL) - b.st_mtime);
            if (age > LOCK_STALE_AGE_S && unlink(path) == 0)
                runs__store_warn("removed stale lock %s (unreadable, %ld s old)", path, age);
            else
                snprintf(why, whylen, "is unreadable and %ld s old (taken as stale after %d s)", age, LOCK_STALE_AGE_S);
        }
        return;
    }
    ssize_t r = pread(ofd, buf, sizeof buf - 1, 0);
    buf[r > 0 ? strcspn(buf, "\n") : 0] = '\0';
    if (flock(ofd, LOCK_EX | LOCK_NB) != 0) {
        /* a living process holds it, whatever it wrote */
        snprintf(why, whylen, "is held by process %s", *buf ? buf : "? (the lock names no pid)");
        close(ofd);
        return;
    }
    /* holding its flock, nobody else can remove it; the inode check sees whether the
     * name still refers to the file we hold (its owner may have released it) */
    if (fstat(ofd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
        long age = (long)(time(NULL) - a.st_mtime);
        if (*buf) {
            if (unlink(path) == 0)
                runs__store_warn("removed stale lock %s (process %s died holding it)", path, buf);
        } else if (age > LOCK_STALE_AGE_S) {
            if (unlink(path) == 0)
                runs__store_warn("removed stale lock %s (empty, nobody holds it, %ld s old)", path, age);
        } else {
            snprintf(why, whylen, "is empty and nobody holds it (%ld s old; taken as stale after %d s)", age,
                     LOCK_STALE_AGE_S);
        }
    }
    close(ofd);
}

/* Invariant 6: create a flock()ed temp file holding our pid (fsync'd), then link() it
 * to the lock name, so the name only ever refers to a complete file its living owner
 * holds flock()ed, or to a dead owner's file (stale, removed by the next writer). */
int runs__lock_acquire(runs_lock *l, runs_store *s, const char *name, double wait_s)
{
    char tmp[PATH_MAX], why[160] = "";
    int rc = 0;
    l->fd = -1;
    snprintf(l->path, sizeof l->path, "%s/locks/%s.lock", s->dir, name);
    snprintf(tmp, sizeof tmp, "%s/locks/.tmp-lock-XXXXXX", s->dir);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return runs_error_sys(RUNS_EIO, "create lock file", tmp);
    if (flock(fd, LOCK_EX) != 0) {
        rc = runs_error_sys(RUNS_EIO, "flock", tmp);
        goto done;
    }
    char pid[32];
    int pl = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if ((rc = runs__write_all(fd, pid, (size_t)pl, tmp)) != 0)
        goto done;
    /* durable before it has the lock's name: a crash cannot leave an empty lock */
    if (fsync(fd) != 0) {
        rc = runs_error_sys(RUNS_EIO, "fsync", tmp);
        goto done;
    }
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        if (link(tmp, l->path) == 0)
            break;
        if (errno != EEXIST) {
            rc = runs_error_sys(RUNS_EIO, "create lock", l->path);
            goto done;
        }
        why[0] = '\0';
        lock_clear_stale(l->path, why, sizeof why);
        if (link(tmp, l->path) == 0)
            break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) * 1e-9 > wait_s) {
            rc =
                runs_error_set(RUNS_ELOCKED, "%s %s; wait for it to finish, or remove it if no runs process is running",
                               l->path, why[0] ? why : "is held by another process");
            goto done;
        }
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    l->fd = fd;
    fd = -1;
done:
    unlink(tmp);
    if (fd >= 0)
        close(fd);
    return rc;
}

void runs__lock_release(runs_lock *l)
{
    if (l->fd < 0)
        return;
    unlink(l->path);
    close(l->fd);
    l->fd = -1;
}
