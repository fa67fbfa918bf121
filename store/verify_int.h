/* store/verify_int.h — shared by store/verify.c (objects, the report) and
 * store/verify_lineage.c (commits, lineage.git objects, refs, node cache); not part of
 * the public API. Each check reports through runs__verify_problem and walks on past
 * damage: its return is an error only when the check could not run. */
#ifndef RUNS_STORE_VERIFY_INT_H
#define RUNS_STORE_VERIFY_INT_H

#include <stddef.h>

#include "store/store.h"
#include "store/verify.h"

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
