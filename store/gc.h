/* store/gc.h — garbage collection and retention.
 *
 * Unreferenced objects (orphans a crash can leave before its commit landed) and
 * leftovers in tmp/ and objects/xx/.tmp-* are removed. Retention (keep_last > 0 or
 * keep_every > 0) thins the checkpoint nodes (kind "checkpoint") of each run: a node's
 * tensor data is kept when it is among the last keep_last checkpoint nodes of its run
 * (by step), or its step is a multiple of keep_every, or it is pinned; otherwise the
 * node is thinned: its id is added to the store's `thinned` list (written atomically
 * before anything is deleted) and its tensor objects that no kept node uses are
 * deleted. Lineage is never rewritten: git history, `runs log`, the manifest and the
 * node's non-tensor objects (loss_log, archived, objects) stay; `restore` of a thinned
 * node says so and `verify` does not count it as corruption.
 * Pinned: named by a user tag, a run tip, a tip kept under refs/rewound/ (any leaf), a
 * start node, or a fork point (a node with a child in another run, or more than one child). Nodes of kinds other than checkpoint
 * (start, fork, restart, stage, halt) are never thinned.
 * gc needs the store to itself: it fails with RUNS_ELOCKED while a writer holds it.
 * gc fails closed (invariant 10 in store/store.c): unless every ref file is sound,
 * every commit reachable from them reads, every manifest validates and the `thinned`
 * list reads (its trailing "# sha256 <hex>" line matches), it returns RUNS_ECORRUPT
 * naming the damage and deletes nothing.
 */
#ifndef RUNS_STORE_GC_H
#define RUNS_STORE_GC_H

#include <stdint.h>

#include "store/store.h"

typedef struct {
    int dry_run;          /* count only, change nothing */
    long keep_last;       /* 0 = no last-N rule */
    long keep_every;      /* 0 = no multiple-of-K rule */
} runs_gc_options;

typedef struct {
    uint64_t objects_total;   /* object files seen */
    uint64_t objects_removed; /* (would be) removed */
    uint64_t bytes_freed;     /* (would be) freed, objects + tmp leftovers */
    uint64_t orphans;         /* of objects_removed: referenced by no node at all */
    uint64_t tmp_removed;     /* temp leftovers */
    uint64_t nodes;           /* lineage nodes */
    uint64_t nodes_thinned;   /* newly thinned now */
    uint64_t nodes_thinned_before;
    uint64_t nodes_pinned;
} runs_gc_report;

int runs_gc(runs_gc_report *out, runs_store *s, const runs_gc_options *opt);

/* 1 when node id was thinned by gc, 0 otherwise. */
int runs_node_thinned(runs_store *s, const char *id);

#endif

#ifndef RUNS_STORE_VERIFY_DECL
#define RUNS_STORE_VERIFY_DECL
#include "common/progress.h"

typedef struct {
    uint64_t nodes;          /* lineage nodes checked */
    uint64_t nodes_thinned;  /* of which thinned (their tensors are not expected) */
    uint64_t objects;        /* distinct objects re-hashed */
    uint64_t bytes;          /* bytes re-hashed */
    uint64_t unreferenced;   /* with all: objects no node references (re-hashed too) */
    uint64_t problems;       /* corrupt or missing objects, bad manifests, damaged refs,
                                commits, git objects, journal or thinned list */
    uint64_t refs;           /* ref files checked (HEAD, heads, tags) */
    uint64_t refs_damaged;   /* of which damaged or missing (`--repair` may fix them) */
    uint64_t git_objects;    /* loose objects in lineage.git re-hashed */
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
