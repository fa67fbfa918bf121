/* store/verify.h — checking a store end to end (`runs verify`) and putting damaged refs
 * back from the ref journal (`runs verify --repair`). Thinned nodes (store/gc.h) are
 * expected to lack their tensors and are not counted as damage. */
#ifndef RUNS_STORE_VERIFY_H
#define RUNS_STORE_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "common/progress.h"
#include "store/store.h"

typedef struct {
    uint64_t nodes;         /* lineage nodes checked */
    uint64_t nodes_thinned; /* of which thinned (their tensors are not expected) */
    uint64_t objects;       /* distinct objects re-hashed */
    uint64_t bytes;         /* bytes re-hashed */
    uint64_t unreferenced;  /* with all: objects no node references (re-hashed too) */
    uint64_t problems;      /* corrupt or missing objects, bad manifests, damaged refs,
                                commits, git objects, journal or thinned list */
    uint64_t refs;          /* ref files checked (HEAD, heads, tags) */
    uint64_t refs_damaged;  /* of which damaged or missing (`--repair` may fix them) */
    uint64_t git_objects;   /* loose objects in lineage.git re-hashed */
} runs_verify_report;

/* Called once per problem: subject is the object name or node id, message one line
 * naming it (and, for objects, the nodes that use it). */
typedef void (*runs_verify_cb)(void *ctx, const char *subject, const char *message);

/* Checks every ref file (HEAD, refs/heads, refs/tags: exact bytes, agrees with the
 * ref journal, names a readable commit), every commit reachable from them (reads,
 * its tree, its manifest parses and validates, its parent matches the commit's),
 * every loose object of lineage.git (inflates and re-hashes to its name), the ref
 * journal's lines, the `thinned` list's checksum, and every object a node references
 * (tensors unless the node is thinned, loss_log, archived): present and re-hashes to
 * its name. With all, every other object file is re-hashed as well. Walks on past
 * damage so that each broken item is reported once. Returns 0 when the check ran
 * (problems are counted in out->problems and reported through cb), or an error
 * when it could not run. progress (NULL ok) counts bytes. */
int runs_store_verify(runs_verify_report *out, runs_store *s, int all, runs_progress *progress, runs_verify_cb cb,
                      void *ctx);

/* Puts each damaged or missing ref (see runs_store_verify) back to its newest value
 * in the ref journal (lineage.git/runs-reflog) whose commit reads fine; HEAD to its
 * newest journalled valid value. cb gets one line per ref: "repaired REF: OLD -> NEW"
 * or "cannot repair REF: ...". *repaired / *unrepaired count them. Returns 0 when
 * the repair ran. */
int runs_store_repair_refs(size_t *repaired, size_t *unrepaired, runs_store *s, runs_verify_cb cb, void *ctx);

#endif
