/* store/lineage.h — lineage nodes: one git commit per node in lineage.git.
 *
 * Each commit's tree holds manifest.json (canonical JSON, schema runs.manifest/1);
 * tensors live in the object store and are named by sha256 in the manifest. The
 * first git parent is the manifest's "parent". Refs: refs/heads/<run> (a run's tip),
 * refs/tags/<run>/step_N (node names), refs/tags/<name> (user tags), HEAD -> the
 * current run. `git --git-dir .runs/lineage.git log` shows the lineage.
 *
 * Objects a manifest references (runs__manifest_objects lists them; manifests/
 * manifest.c validates them): tensors[].sha256 (thinnable by gc), and, kept for
 * every node, "loss_log" and "samples_log" (each null or an object id) and every
 * string in "archived" (a fork's "samples" and "state"). data_files[].sha256 are
 * fingerprints of training data outside the store, not objects.
 */
#ifndef RUNS_STORE_LINEAGE_H
#define RUNS_STORE_LINEAGE_H

#include <stddef.h>
#include <stdint.h>
#include <cJSON.h>

#include "store/store.h"

typedef struct {
    const char *name;  /* "h.0.attn.c_attn.w" */
    const char *group; /* "weights" | "adam_m" | "adam_v" */
    int ndim;
    int64_t shape[2];
    const void *data; /* dtype f32 */
    size_t bytes;
} runs_tensor;

/* Commits a lineage node, in the order objects -> manifest -> refs:
 * (1) writes the tensors' objects (put_many);
 * (2) sets manifest "tensors" to [{name, group, dtype:"f32", shape, bytes, sha256}]
 *     in the given order, validates the manifest and serialises it canonically;
 * (3) writes a git commit whose tree holds manifest.json, its parent the commit named
 *     by manifest "parent" (null = a root), message "<kind> <run> step_<step>";
 * (4) moves refs/heads/<run> (under the ref lock), (5) sets refs/tags/<run>/step_<step>
 *     (moving it when that step was committed before), and points HEAD at <run> when
 *     HEAD names no existing run yet.
 * With n == 0 and a "tensors" array already in manifest (a fork reusing its parent's
 * tensors), that array is kept: every object it names must exist (checked by size,
 * not re-hashed), so no tensor bytes are hashed or written.
 * out_id receives the commit id (40 hex) = the node id. manifest is modified (tensors
 * added); the caller still owns it. */
int runs_node_commit(char out_id[41], runs_store *s, cJSON *manifest, const runs_tensor *tensors, size_t n);

/* Resolves a node name: RUN@step_N, step_N (in HEAD's run), a user tag, a run name
 * (its tip), HEAD, or a commit-id prefix (>= 4 hex digits, unambiguous).
 * RUNS_ENOTFOUND (or RUNS_EINVALID for an ambiguous prefix) with a message. */
int runs_node_resolve(char out_id[41], runs_store *s, const char *spec);

/* The parsed manifest.json of node id, validated (RUNS_ECORRUPT when it does not
 * parse or validate); the caller cJSON_Delete()s *out. */
int runs_node_manifest(cJSON **out, runs_store *s, const char *id);

/* The manifest.json bytes of node id exactly as stored (malloc'd, NUL-terminated;
 * the caller free()s *out). */
int runs_node_manifest_text(char **out, size_t *len, runs_store *s, const char *id);

/* Concatenates the tensors of group (in manifest order) into dst, verified; bytes
 * must equal their total size. RUNS_ENOTFOUND when the node was thinned by gc. */
int runs_node_load_group(runs_store *s, const cJSON *manifest, const char *group, void *dst, size_t bytes);

/* Total size of the tensors of group in manifest (0 when none). */
size_t runs_manifest_group_bytes(const cJSON *manifest, const char *group);

/* The current run (HEAD -> refs/heads/<run>) into run[len]; RUNS_ENOTFOUND when HEAD
 * names no run that has nodes yet (run still receives the name HEAD points at). */
int runs_head_get(char *run, size_t len, runs_store *s);
/* Points HEAD at refs/heads/<run> (the run need not exist yet). */
int runs_head_set(runs_store *s, const char *run);

/* The tip of run; RUNS_ENOTFOUND when there is no such run. */
int runs_run_tip(char out_id[41], runs_store *s, const char *run);
/* Moves the loose per-step tags (refs/tags/<run>/step_N) of run, or of every run when
 * run is NULL, into lineage.git/packed-refs, where every reader still finds them (one
 * file read instead of one per node; store/packrefs.c says why and in what order).
 * Values never change. *packed: how many were moved (0: nothing to do). Under the refs
 * lock, as a writer; RUNS_ECORRUPT when packed-refs is damaged (it is left as it is). */
int runs_refs_pack(size_t *packed, runs_store *s, const char *run);

/* All run names, sorted; free with runs_strings_free. */
int runs_run_list(char ***names, size_t *n, runs_store *s);
void runs_strings_free(char **v, size_t n);

/* Names node id: refs/tags/<name>. Refuses an existing tag, a run name, step_N. */
int runs_tag_create(runs_store *s, const char *name, const char *id);
/* Points tag name at node id whether or not it exists (`runs tag -f`), journalled like
 * every ref move; old_id gets the node it named before, or "" for a new tag. A name
 * that is a run, or a run's step-tag directory, is refused as runs_tag_create does. */
int runs_tag_move(char old_id[41], runs_store *s, const char *name, const char *id);
/* User tag names (sorted, refs/tags/<name> without a slash) pointing at id; free with
 * runs_strings_free. id NULL = every user tag. */
int runs_tag_list(char ***names, size_t *n, runs_store *s, const char *id);

/* One user tag and the node it names (see runs_tag_map). */
typedef struct {
    char id[41];
    char *name;
} runs_tag_ref;
/* Every user tag with its node, sorted by id then name, from one pass over refs/tags/
 * (per-step tags RUN/step_N skipped): a command printing many nodes looks their tags
 * up here (runs_tag_map_find) instead of listing every ref once per node, which made
 * `runs log` quadratic. Free with runs_tag_map_free. */
int runs_tag_map(runs_tag_ref **out, size_t *n, runs_store *s);
/* The first entry of v (sorted, from runs_tag_map) naming id, or NULL; the entries for
 * id follow it while their id matches. */
const runs_tag_ref *runs_tag_map_find(const runs_tag_ref *v, size_t n, const char *id);
void runs_tag_map_free(runs_tag_ref *v, size_t n);

/* id, its parent, ..., the root (first git parent = manifest parent); the caller
 * free()s *ids. */
int runs_lineage(char (**ids)[41], size_t *n, runs_store *s, const char *id);

/* Every node reachable from a ref under refs/heads/, refs/rewound/ or refs/tags/,
 * children before parents, newer commit first among nodes whose children are all
 * listed, then the order the walk met them (store/node_all.c); RUNS_ECORRUPT naming
 * the damage, never a shorter list. The caller free()s *ids. */
int runs_node_all(char (**ids)[41], size_t *n, runs_store *s);

/* The node's first parent into parent (40 hex), or "" for a root. */
int runs_node_parent(char parent[41], runs_store *s, const char *id);

/* ---- rewinding (resume from a node behind the tip) ---- */

/* Moves run's tip from old_tip back to node id, first keeping old_tip reachable under
 * refs/rewound/<run>/<n> (n = 1, 2, ...: the first free number, never overwritten),
 * both under the ref lock. RUNS_ELOCKED when the tip is no longer old_tip. kept
 * receives the new ref's name ("" on failure). Nodes under refs/rewound/ are listed
 * by runs_node_all, so gc keeps them (thinning aside) and `runs log --all` shows them. */
int runs_run_rewind(char kept[128], runs_store *s, const char *run, const char *old_tip, const char *id);

/* Nodes reachable from a rewound tip (refs/rewound/) but from no run's tip, sorted by
 * id (strcmp, for bsearch); the caller free()s *ids. */
int runs_node_rewound(char (**ids)[41], size_t *n, runs_store *s);

/* Warnings the store gives while carrying on (today: a stale locks/NAME.lock it removed).
 * The library never prints: a CLI installs fn (process-wide; NULL = drop warnings);
 * msg is one line, valid during the call. Defined in store/store.c. */
void runs_store_set_warning(void (*fn)(void *ctx, const char *msg), void *ctx);

#endif
