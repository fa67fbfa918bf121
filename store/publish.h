/* store/publish.h — the one way this project writes a file: atomic publish.
 *
 * Every file the library, the CLI and the tools write (except the append-only
 * JSON Lines logs, see store/jsonl.h) goes through here:
 *
 *   temp file beside the target (mkostemp "DIR/.tmp-XXXXXX", same file system so
 *   rename is atomic) → write → chmod mode → fsync → close → rename onto the
 *   target → fsync the target's directory.
 *
 * Whatever fails, and whenever the process dies, a reader sees either the old
 * file (untouched) or the complete, durable new one; never a mix. On a failure
 * the temp file is removed; after a crash a ".tmp-*" file may remain beside the
 * target (nothing reads it; delete it at will).
 *
 * Large or incremental writers stream: runs_publish_open, then any mix of
 * runs_publish_write calls or stdio on runs_publish_file, then
 * runs_publish_commit (or runs_publish_abort to give up). Whole buffers use
 * runs_file_write_atomic. The handle is not thread-safe.
 */
#ifndef RUNS_STORE_PUBLISH_H
#define RUNS_STORE_PUBLISH_H

#include <stddef.h>
#include <stdio.h>

typedef struct runs_publish runs_publish;

/* Starts publishing path with permission bits mode (e.g. 0644; applied exactly,
 * umask does not narrow it): creates the temp file in path's directory. *out is
 * owned by the caller until runs_publish_commit or runs_publish_abort frees it.
 * RUNS_EIO when the directory does not exist or is not writable. */
int runs_publish_open(runs_publish **out, const char *path, int mode);

/* As runs_publish_open, with the temp file in tmpdir (which must be on path's
 * file system, or rename fails); tmpdir NULL means path's directory. */
int runs_publish_open_in(runs_publish **out, const char *path, const char *tmpdir, int mode);

/* Appends len bytes. A short write or I/O error is RUNS_EIO naming the step
 * ("write") and the temp file; the handle stays usable only for abort. */
int runs_publish_write(runs_publish *p, const void *data, size_t len);

/* A stdio stream on the temp file, for writers that fprintf (owned by p: do not
 * fclose it). Mixing it with runs_publish_write keeps the order. NULL with the
 * error set when the stream cannot be made (out of memory). */
FILE *runs_publish_file(runs_publish *p);

/* The temp file's descriptor, for writers that pwrite or copy (owned by p).
 * Do not mix with runs_publish_file's buffered writes without fflush. */
int runs_publish_fd(runs_publish *p);

/* The temp file's path (owned by p), for messages and tests. */
const char *runs_publish_tmp_path(const runs_publish *p);

/* Finishes: flushes the stream (a buffered write error surfaces here), chmod,
 * fsync, close, rename onto the target, fsync its directory. Always frees p
 * (NULL is RUNS_EINVALID). On failure the temp file is removed and the target
 * is untouched; the error names the step ("fsync", "rename", ...). */
int runs_publish_commit(runs_publish *p);

/* Gives up: closes and removes the temp file, frees p. The target is untouched.
 * NULL is fine. Keeps the thread's error message (callers abort on a failure
 * path and report the first error). */
void runs_publish_abort(runs_publish *p);

/* Writes data to path atomically (the publish path above), mode 0644: readers
 * see the old file or the new one. */
int runs_file_write_atomic(const char *path, const void *data, size_t len);

/* As runs_file_write_atomic with explicit permission bits. */
int runs_file_write_atomic_mode(const char *path, const void *data, size_t len, int mode);

/* As runs_file_write_atomic (0644), without the two fsyncs: a reader still sees the
 * old file or the whole new one (rename is atomic), but after a power loss the
 * file may be old or empty. Only for advisory files rewritten often and never
 * trusted, such as a run's .status.json (once a second on the training thread,
 * where two fsyncs a second cost more than the file is worth). */
int runs_file_write_advisory(const char *path, const void *data, size_t len);

/* ---- test seam: the durable steps, in the order they happen ----
 *
 * The store's durability order (invariants 1-3 in store/store.c: an object's bytes
 * before its name, its name before its directory, every object before the manifest,
 * the manifest before any ref) is otherwise seen only by the crash test. A hook set
 * here is told of each step as it completes: RUNS_STEP_FSYNC (the bytes meant for
 * path are durable; path is the final name, the temp file is not named yet),
 * RUNS_STEP_RENAME (path now has them), RUNS_STEP_FSYNC_DIR (directory path is
 * durable). Objects (store/object.c) and every file written through this header
 * report; libgit2's own writes (the manifest commit) and the reflog's append do not.
 * The hook may be called from several threads at once (put_many): it locks what it
 * records. For tests: set it while no store is writing; NULL removes it. */
typedef enum { RUNS_STEP_FSYNC = 1, RUNS_STEP_RENAME, RUNS_STEP_FSYNC_DIR } runs_durable_step;
typedef void (*runs_durable_hook)(void *ctx, runs_durable_step step, const char *path);
void runs_publish_set_hook(runs_durable_hook hook, void *ctx);

/* Library-internal: reports one step to the hook (nothing when none is set). */
void runs__durable_note(runs_durable_step step, const char *path);

#endif
