/* store/internal.h — shared by the store/ sources only; not part of the public API. */
#ifndef RUNS_STORE_INTERNAL_H
#define RUNS_STORE_INTERNAL_H

#include <cJSON.h>
#include <git2.h>
#include <stddef.h>
#include <limits.h>
#include <pthread.h>
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
    git_repository *lineage;      /* NULL until runs__store_git opens it */
    pthread_mutex_t lineage_mu;   /* serialises that opening */
    int writer_fd;                /* flock(LOCK_SH) on locks/gc.lock while this handle writes; -1 */
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

/* Passes a warning line to the callback of runs_store_set_warning (the library never
 * prints): a stale lock removed, and the like. */
void runs__store_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

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
int runs__write_atomic(const char *path, const void *data, size_t len, const char *tmpdir, mode_t mode);
/* write() all of buf, retrying short writes and EINTR; sets the error naming path. */
int runs__write_all(int fd, const void *buf, size_t len, const char *path);

/* objects/ab/cdef... of hex into buf. */
void runs__object_path(char *buf, size_t n, const runs_store *s, const char *hex);
/* Read+hash granularity of objects (store/object.c, store/object_put.c): a chunk
 * stays in cache between the two. */
#define RUNS__OBJECT_CHUNK (2u << 20)

/* lineage.git through libgit2: 0 and *out (owned by s, freed by runs_store_free), or
 * the error of loading libgit2 or opening the repository. Loaded and opened on the
 * first call, not by runs_store_open: a command that reads only ref files and the
 * node cache (`runs log` on a cached store) never loads libgit2. Thread-safe. */
int runs__store_git(git_repository **out, runs_store *s);

/* Converts a libgit2 failure into our error channel; returns code. */
int runs__git_error(int code, const char *what);

/* strcmp for qsort/bsearch over arrays of char[41] node ids. */
int runs__cmp_id41(const void *a, const void *b);
/* Collects the objects a manifest references: tensors (thinnable) and the others
 * (kept for every node). Arrays of pointers into manifest strings. */
int runs__manifest_objects(const cJSON *m, const char ***tensors, size_t *nt, const char ***aux, size_t *na);

/* Orders struct runs_thinned by id (qsort/bsearch): the thinned list's order. */
int runs__thinned_cmp(const void *a, const void *b);
int runs__thinned_load(runs_store *s);
/* Replaces the thinned list atomically (invariant 5); v sorted by id. */
int runs__thinned_write(runs_store *s, const struct runs_thinned *v, size_t n);
/* The entry of node id / of (run, step), or NULL. */
const struct runs_thinned *runs__thinned_find(runs_store *s, const char *id);
const struct runs_thinned *runs__thinned_find_step(runs_store *s, const char *run, long long step);

/* Number of worker threads for hashing/writing. */
int runs__threads(size_t items);

/* ---- ref files and their journal (store/reflog.c; invariants 9, 10 in store.c) ---- */

#define RUNS_REF_TOKEN 160

/* One line of lineage.git/runs-reflog: "<old> <new> <unix time> <ref>\n". */
typedef struct {
    char old[RUNS_REF_TOKEN], new_[RUNS_REF_TOKEN];
    long long time;
    char ref[256];
} runs_reflog_entry;

/* What one ref file holds and whether it is sound. */
typedef struct {
    char ref[256]; /* "HEAD", "refs/heads/main", ... */
    int exists;
    char token[RUNS_REF_TOKEN];   /* its value as a journal token, or "damaged" */
    char raw[RUNS_REF_TOKEN * 2]; /* its bytes, escaped, for messages */
    char journal[RUNS_REF_TOKEN]; /* the journal's last value for it, or "" */
    int damaged;                  /* its bytes are wrong or it is missing (repairable) */
    int target_broken;            /* its bytes are right, the commit it names is not */
    char problem[512];            /* one line when either */
} runs_ref_state;

typedef void (*runs_ref_cb)(void *ctx, const char *ref, const char *message);

/* The journal token of content written to ref: 40 hex for a sound ref file,
 * "ref:refs/heads/RUN" for a sound HEAD, "damaged" otherwise. */
void runs__ref_token(char out[RUNS_REF_TOKEN], const char *ref, const char *content, size_t len);
/* Appends "<old> <new> <time> <ref>" (old read from the ref file now) and fsyncs the
 * journal. Called under locks/refs.lock before the ref file is replaced. */
int runs__reflog_append(runs_store *s, const char *ref, const char *content);
/* Reads the ref file at path into buf (up to cap bytes); *len = -1 when it does not
 * exist (store/reflog.c; store/refcheck.c reads every ref with it too). */
int runs__ref_read_bytes(char *buf, size_t cap, long *len, const char *path);
/* Every well-formed journal line, oldest first (caller frees *out); *malformed counts
 * the others (a torn last line is not counted). No journal: 0 entries. */
int runs__reflog_load(runs_reflog_entry **out, size_t *n, size_t *malformed, runs_store *s);
/* HEAD, every file under refs/ (any depth), and every ref the journal says
 * exists: its bytes, its journal value, and a problem line when it is damaged (bad
 * bytes, missing, differs from the journal, or names no readable node commit with a
 * valid manifest). Without deep, only the bytes of the files under refs/ (safe while
 * writers move refs). Caller frees. */
int runs__refs_check(runs_ref_state **out, size_t *n, runs_store *s, int deep);
/* As runs__refs_check, where the caller has already read the nodes known[0..nknown)
 * (sorted by runs__cmp_id41), each with its commit, tree and valid manifest: a deep
 * check does not read those again (gc reads every node's manifest itself; reading
 * each twice was a third of its time at 100k nodes). NULL, 0: none known. */
int runs__refs_check_known(runs_ref_state **out, size_t *n, runs_store *s, int deep, const char (*known)[41],
                           size_t nknown);
/* 0 when every ref is sound, else RUNS_ECORRUPT naming the first damaged one. */
int runs__refs_first_damage(runs_store *s, int deep);
/* The same with the nodes known to read (runs__refs_check_known). */
int runs__refs_first_damage_known(runs_store *s, int deep, const char (*known)[41], size_t nknown);
/* Puts each damaged or missing ref back to its newest journalled value that reads
 * fine (under locks/refs.lock, journalled like any move); cb gets one line per ref. */
int runs__refs_repair(runs_store *s, runs_ref_cb cb, void *ctx, size_t *repaired, size_t *unrepaired);
/* Writes a ref file whole (journal first); the caller holds locks/refs.lock. */
int runs__ref_write_file(runs_store *s, const char *ref, const char *content);

/* ---- lineage nodes and their refs (store/lineage.c, store/refs.c), shared by
 * store/commit.c, tags.c, resolve.c, rewind.c ---- */

/* 0 and *oid when id is 40 hex digits; RUNS_EINVALID (message set) otherwise. */
int runs__parse_id(git_oid *oid, const char *id);
/* The node commit id (caller frees *c); RUNS_EINVALID or RUNS_ENOTFOUND, message set. */
int runs__lookup_commit(git_commit **c, runs_store *s, const char *id);
/* STORE/lineage.git/<ref> into buf; RUNS_EINVALID when it does not fit. */
int runs__ref_path(char *buf, size_t n, runs_store *s, const char *ref);
/* Writes oid as the whole ref file (journalled, invariants 3 and 9); the caller holds
 * locks/refs.lock. */
int runs__ref_write(runs_store *s, const char *ref, const git_oid *oid);
/* ref's value into hex, read from the files alone (no libgit2, so listings start
 * without it): its loose file, else its packed-refs line (invariant 11). 0;
 * RUNS_ENOTFOUND (no message) when it has neither or ref is not a valid ref name;
 * RUNS_ECORRUPT (message set) when the loose file is not 40 hex digits and a newline
 * (invariant 10); RUNS_EIO when a file cannot be read. */
int runs__ref_read_hex(char hex[41], runs_store *s, const char *ref);
/* The same as an oid. */
int runs__ref_read(git_oid *oid, runs_store *s, const char *ref);
/* bytes[0..len) as one printable line into out (cap bytes): unprintable bytes and
 * backslashes as \xNN; cut short where out is full. For messages about damaged ref
 * files. */
void runs__ref_escape(char *out, size_t cap, const char *bytes, size_t len);
/* Points HEAD at refs/heads/run; the caller holds locks/refs.lock. */
int runs__head_set_locked(runs_store *s, const char *run);

/* ---- packed refs (store/packrefs.c, invariant 11) ---- */

/* One line of lineage.git/packed-refs: "<hex> <name>", and "^<peel>" after it (git's
 * annotated tags; runs writes none). */
typedef struct {
    char *name;
    char hex[41];
    char *peel; /* NULL when none */
} runs__packed_ref;

/* Every packed ref, sorted by name (none: *out NULL, *n 0). RUNS_ECORRUPT naming the
 * line when the file is damaged. Free with runs__packed_refs_free. */
int runs__packed_refs_load(runs__packed_ref **out, size_t *n, runs_store *s);
void runs__packed_refs_free(runs__packed_ref *v, size_t n);
/* The packed value of ref into hex: 0, or RUNS_ENOTFOUND (no message) when it has
 * none; RUNS_EIO when the file cannot be read. */
int runs__packed_ref_lookup(char hex[41], runs_store *s, const char *ref);
/* 1 when ref is refs/tags/<run>/step_<digits> (what runs_refs_pack moves). */
int runs__is_step_tag(const char *ref);

#endif
