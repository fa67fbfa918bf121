/* store/verify_int.h — shared by store/verify.c (objects, the report) and
 * store/verify_lineage.c (commits, lineage.git objects, refs, node cache); not part of
 * the public API. Each check reports through runs__verify_problem and walks on past
 * damage: its return is an error only when the check could not run. */
#ifndef RUNS_STORE_VERIFY_INT_H
#define RUNS_STORE_VERIFY_INT_H

#include <stddef.h>

#include <git2.h>

#include "store/store.h"
#include "store/verify.h"

/* verify reads each node's manifest more than once (the ref check reads the node of
 * every ref, a per-step tag naming each node; then the node walk; then the node cache
 * check; gc reads each once and does without the cache). libgit2 caches commits and trees but, by default, no blob, so each of those
 * reads re-opened, inflated and re-hashed the manifest's loose object: 3-4 reads per node.
 * on = 1 caches blobs up to 64 KiB (within libgit2's cache budget, 256 MiB by default,
 * beyond which it evicts) for the length of the command; on = 0 restores libgit2's
 * default (no blob cached). Fail-closed is unchanged: an object's first read is still
 * from disk, a failed read is never cached (so a damaged object fails every read), and
 * runs__verify_git_objects re-reads every object from disk with caching off. */
static inline void runs__manifest_cache(int on)
{
    git_libgit2_opts(GIT_OPT_SET_CACHE_OBJECT_LIMIT, GIT_OBJECT_BLOB, (size_t)(on ? 64 << 10 : 0));
}

/* Counts one problem in r and hands its line to cb (NULL ok). */
void runs__verify_problem(runs_verify_report *r, runs_verify_cb cb, void *ctx, const char *subject, const char *msg);

/* Every readable commit reachable from refs/heads and refs/tags into *ids (caller
 * frees); each ref or commit that cannot be read is reported (and the walk goes on). */
int runs__verify_walk_lineage(char (**ids)[41], size_t *nids, runs_verify_report *r, runs_store *s, runs_verify_cb cb,
                              void *ctx);
/* Re-reads (inflates and re-hashes) every loose object of lineage.git. */
int runs__verify_git_objects(runs_verify_report *r, runs_store *s, runs_verify_cb cb, void *ctx);
/* Every ref file (bytes, journal, target) and the journal's lines. */
int runs__verify_refs(runs_verify_report *r, runs_store *s, runs_verify_cb cb, void *ctx);
/* STORE/cache/nodes against the n lineage nodes ids. */
void runs__verify_nodecache(runs_verify_report *r, runs_store *s, const char (*ids)[41], size_t n, runs_verify_cb cb,
                            void *ctx);

#endif
