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

#include "common/progress.h"
#include "store/store.h"

typedef struct {
    int dry_run;     /* count only, change nothing */
    long keep_last;  /* 0 = no last-N rule */
    long keep_every; /* 0 = no multiple-of-K rule */
    /* NULL: none; else the reading of the nodes (most of gc's time: 12 s at 100k
     * nodes) is counted on it, drawn on a TTY only (common/progress.h) */
    runs_progress *progress;
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

/* Called once for each checkpoint node retention thins (with dry_run: would thin). */
typedef void (*runs_gc_thin_fn)(void *ctx, const char *run, long long step, const char *id);

/* runs_gc, and on_thin (may be NULL) hears of every node thinned, run by run in
 * name order, steps ascending, before anything is deleted: so a dry run can say
 * which nodes and not only how many. The strings are gc's, valid during the call. */
int runs_gc_list(runs_gc_report *out, runs_store *s, const runs_gc_options *opt, runs_gc_thin_fn on_thin, void *ctx);

/* 1 when node id was thinned by gc, 0 otherwise. */
int runs_node_thinned(runs_store *s, const char *id);

#endif
