/* manifests/manifest.h — the per-node manifest, schema "runs.manifest/1".
 *
 * Required: schema, kind, run, step, tokens, config (object), tensors (array of
 * {name, group, dtype, shape, bytes, sha256}); parent (40-hex commit id) is
 * required except for kind "start"/"import", where it may be null or absent.
 * Optional: optimizer, rng, data, bandit, metrics, changes, sharpness (objects),
 * loss_log and samples_log (64-hex or null: JSON Lines segments since the parent), archived (object NAME -> 64-hex),
 * data_files (array of {path, bytes, sha256}: the data files' fingerprints), backend,
 * code_version, created, note (strings). Any other top-level key is refused.
 * Stored canonically (manifests/canon.h) so equal content hashes equally.
 */
#ifndef RUNS_MANIFESTS_MANIFEST_H
#define RUNS_MANIFESTS_MANIFEST_H

#include <cJSON.h>

#define RUNS_MANIFEST_SCHEMA "runs.manifest/1"

/* The tensor groups a node holds, in their stored order: the weights and AdamW's first
 * and second moments. One spelling here so writers and readers cannot drift apart. */
#define RUNS_GROUP_WEIGHTS "weights"
#define RUNS_GROUP_ADAM_M "adam_m"
#define RUNS_GROUP_ADAM_V "adam_v"
#define RUNS_GROUP_COUNT 3
extern const char *const runs_manifest_groups[RUNS_GROUP_COUNT];

/* Node kinds: a root is "start" (trained from scratch) or "import" (weights from another
 * program's file); the rest have a parent. */
#define RUNS_KIND_START "start"
#define RUNS_KIND_IMPORT "import"

/* 0 if m is a valid manifest; otherwise RUNS_EINVALID with a message naming the
 * field and what was expected, e.g.
 * "manifest.step: expected a non-negative integer, got \"x\"". Reads only. */
int runs_manifest_validate(const cJSON *m);

/* Checks used by the store and tools as well. 1 if s is n lowercase hex digits. */
int runs_is_hex(const char *s, size_t n);

/* Run and tag names, the one rule for the CLI, the session, the store and the manifest
 * validator: [A-Za-z0-9._-]+, at most 63 chars, not starting with '.' or '-', no "..",
 * no ".lock" ending, not HEAD (git ref rules), not of the form step_N (which names
 * nodes). what ("run", "tag") is used in the message. 0 or RUNS_EINVALID. Lives here,
 * the lowest layer that needs it; store/store.h includes this header for its callers. */
int runs_name_check(const char *name, const char *what);

#endif
