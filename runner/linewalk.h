/* runner/linewalk.h — one walk down a lineage that builds a history text from the
 * nodes' manifests, root first: .loss.json from the loss_log segments
 * (runner/runlog.h) and .eval.json from the eval_log rows (runner/eval.h) are both
 * this walk with a different step per node. */
#ifndef RUNS_RUNNER_LINEWALK_H
#define RUNS_RUNNER_LINEWALK_H

#include <stddef.h>

#include <cJSON.h>

#include "runner/committer.h"
#include "store/store.h"

/* Appends what node id (manifest m) adds to the history to b; 0 or a RUNS_E* code
 * after runs_error_set. m and id are the walk's, valid during the call only. */
typedef int (*runs_linewalk_fn)(runs_seg *b, runs_store *s, const cJSON *m, const char *id, void *ctx);

/* Calls fn for every node of node_id's lineage, root first, on one buffer, and
 * hands the buffer over: *out is malloc'd, never NULL on success (an empty history
 * is ""), *len its length without the NUL; the caller frees *out. On error *out is
 * untouched and nothing is leaked. */
int runs_linewalk_concat(char **out, size_t *len, runs_store *s, const char *node_id, runs_linewalk_fn fn, void *ctx);

#endif
