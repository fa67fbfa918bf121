/* store/object.h — immutable objects named by the SHA-256 of their bytes.
 *
 * objects/ab/cdef… (the first two hex digits name the directory), mode 0444.
 * Writes: temp file in the destination directory -> write -> fsync -> rename to
 * the hash name -> fsync the directory; a name already present is dedup, checked
 * (same size and bytes that hash to the name). Reads re-hash what they read and
 * fail with RUNS_ECORRUPT (naming the object) when bytes and name disagree.
 */
#ifndef RUNS_STORE_OBJECT_H
#define RUNS_STORE_OBJECT_H

#include <stddef.h>
#include <stdint.h>

#include "common/progress.h"
#include "store/store.h"

/* Stores data (len bytes) and puts its name in *out. Durable on return. */
int runs_object_put(runs_oid *out, runs_store *s, const void *data, size_t len);

/* One item of runs_object_put_many: data/len in, oid and written out
 * (written = 0 when the object was already there). */
typedef struct {
    const void *data;
    size_t len;
    runs_oid oid;
    int written;
} runs_put;

/* Stores n objects, hashing and writing them on several threads. All are durable
 * on return (directories fsynced once at the end). progress (NULL ok) counts bytes;
 * the caller starts and ends it. On failure no item is reported written. */
int runs_object_put_many(runs_store *s, runs_put *items, size_t n, runs_progress *progress);

/* Reads and verifies object hex into a new buffer (*out, *len); the caller free()s
 * *out (it may be larger-aligned memory from posix_memalign; free() is right). */
int runs_object_get(void **out, size_t *len, runs_store *s, const char *hex);

/* Reads and verifies object hex into dst; len must equal the object's size
 * (RUNS_EINVALID otherwise). dst may be partly written when verification fails. */
int runs_object_read_into(runs_store *s, const char *hex, void *dst, size_t len);

/* Streams object hex into path (temp file beside it, fsync, rename), verifying on
 * the way; on mismatch nothing is left at path. */
int runs_object_copy_to_file(runs_store *s, const char *hex, const char *path);

/* Re-hashes object hex: 0, RUNS_ENOTFOUND, or RUNS_ECORRUPT naming the object. */
int runs_object_verify(runs_store *s, const char *hex);

/* 1 when object hex is present (not checked), 0 otherwise. */
int runs_object_exists(runs_store *s, const char *hex);

/* Size of object hex in *size (from the file system, not verified). */
int runs_object_size(uint64_t *size, runs_store *s, const char *hex);

#endif
