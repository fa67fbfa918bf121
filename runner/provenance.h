/* runner/provenance.h — where a run's data comes from, and whether it is still the same.
 *
 * Paths: a config's data paths (data.tokenizer, data.sources.NAME.path) are made
 * absolute when a run starts (relative to the config file's directory), so the node's
 * effective config names the files from anywhere: resume, fork, restart and sharpness
 * then work from any directory.
 *
 * Fingerprints: every node records "data_files": [{"path", "bytes", "sha256"}, ...]
 * (sorted by path) for the tokenizer and every source shard that exists. Hashing a
 * 120M-token shard takes a while, so hashes are cached in STORE/cache/data-hashes,
 * one line "SHA256 BYTES MTIME_NS PATH" per file, keyed by (path, size, mtime_ns):
 * a file is hashed once per change, not at every checkpoint. The cache is rewritten
 * atomically; two writers racing lose at most an entry (it is hashed again later).
 *
 * Moved corpus: --data-root DIR maps each recorded path P to DIR + (P without the
 * directory prefix common to all the config's data paths), else to DIR/basename(P);
 * the file found there must hash as recorded.
 */
#ifndef RUNS_RUNNER_PROVENANCE_H
#define RUNS_RUNNER_PROVENANCE_H

#include <stdint.h>
#include <cJSON.h>

#include "store/store.h"

/* Rewrites every relative path in config (a full config or a merge patch: only the
 * keys present are touched; null and non-string values are left alone) as an
 * absolute path under base_dir, a directory (NULL or "" = the current directory).
 * One exception keeps older configs working: when no file exists under base_dir but
 * one does relative to the current directory, that one is meant (made absolute).
 * base_dir must exist. Returns 0, RUNS_EIO (base_dir cannot be resolved) or
 * RUNS_EINVALID (a resulting path longer than a config path may be). */
int runs_provenance_absolute_paths(cJSON *config, const char *base_dir);

/* SHA-256 (hex) and size of the file at path, from the store's hash cache when
 * (path, size, mtime_ns) is unchanged, else by reading the file (and recording it
 * in the cache). s may be NULL (no cache). RUNS_ENOTFOUND when path does not exist. */
int runs_provenance_file_hash(runs_oid *out, uint64_t *bytes, runs_store *s, const char *path);

/* The fingerprints of config's data files that exist now:
 * [{"path", "bytes", "sha256"}, ...] sorted by path, duplicates once.
 * *out is freed by the caller (cJSON_Delete). */
int runs_provenance_fingerprint(cJSON **out, runs_store *s, const cJSON *config);

/* Rewrites config's data paths for a corpus moved under data_root (see above).
 * A path with no file under data_root is left as it is (a later check names it). */
int runs_provenance_remap(cJSON *config, const char *data_root);

/* Checks that the files config names hash as recorded (recorded = a node's
 * "data_files", NULL or absent = nothing to check). config holds the node's paths;
 * with data_root != NULL they are first remapped in place (runs_provenance_remap).
 * A recorded file that config no longer names is not checked (a fork may point a
 * source elsewhere). Refusals (RUNS_EINVALID, one line naming the file, both hash
 * prefixes and --allow-data-change): a changed file, or a missing one.
 * With allow_change those are not errors: *note (may be NULL) receives a malloc'd
 * line saying what changed (NULL when nothing did); caller frees.
 * On success *now (may be NULL) receives the fingerprints of the files as they are
 * now (runs_provenance_fingerprint), for the nodes to come; caller frees. */
int runs_provenance_check(cJSON **now, char **note, runs_store *s, const cJSON *recorded, cJSON *config,
                          const char *data_root, int allow_change);

#endif
