/* store/store.h — the content-addressed store (.runs/): open, close, locations.
 *
 * A store is a directory holding objects/ (immutable blobs named by the SHA-256
 * of their bytes), lineage.git/ (a bare git repository with one commit per
 * lineage node; see store/lineage.h), tmp/ and locks/. The crash invariants the
 * code keeps are listed at the top of store/store.c.
 */
#ifndef RUNS_STORE_STORE_H
#define RUNS_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "manifests/manifest.h" /* runs_name_check */
#include "store/publish.h"

typedef struct runs_store runs_store;

/* An object name: SHA-256 of the object's bytes as 64 lowercase hex digits. */
typedef struct {
    char hex[65];
} runs_oid;

/* Creates an empty store in dir (dir itself may exist and be empty of a store):
 * dir/{objects/00..ff, lineage.git (bare), tmp, locks}. RUNS_EEXISTS when a store
 * is already there. */
int runs_store_init(const char *dir);

/* Opens the store in dir. *out is freed with runs_store_free. RUNS_ENOTFOUND when
 * dir holds no store. Opening takes no lock; the first write through the handle
 * takes the shared writer lock that keeps `runs gc` away until runs_store_free. */
int runs_store_open(runs_store **out, const char *dir);

/* Closes the handle and releases its locks. NULL is fine. */
void runs_store_free(runs_store *s);

/* The directory the store was opened from (owned by s). */
const char *runs_store_dir(const runs_store *s);

/* runs_file_write_atomic and the streaming publish path live in store/publish.h. */

/* True (1) when hex is a well-formed object name (64 lowercase hex digits). */
int runs_oid_valid(const char *hex);

#endif
