/* runner/nodeview.h — what `runs show` tells about one node beyond its manifest's
 * own fields, computed here so the CLI only prints (and `runs log` can reuse it):
 * the node a spec names, and what the fork or restart behind a node changed. */
#ifndef RUNS_RUNNER_NODEVIEW_H
#define RUNS_RUNNER_NODEVIEW_H

#include <cJSON.h>

#include "store/store.h"

/* Resolves spec (step_N, RUN@step_N, a tag, a run, an id prefix: runs_node_resolve)
 * and reads that node's manifest: id gets the full node id, *m the manifest, which
 * the caller cJSON_Delete()s. On error *m is NULL and the message names spec. */
int runs_nodeview_open(char id[41], cJSON **m, runs_store *s, const char *spec);

/* What changed at the fork or restart behind node manifest m: m itself when it is a
 * fork or restart node, else the first fork or restart node up m's own run (the
 * checkpoints of a forked run keep showing what their run changed). *out is NULL
 * when there is none (a run started from scratch), else an object the caller
 * cJSON_Delete()s:
 *   {"kind": "fork"|"restart", "from_run": RUN (when recorded),
 *    "at": "RUN@step_N" (only when found up the run, not m itself),
 *    "bandit_kept": bool, "peak_lr": number (when recorded),
 *    "config": [{"path": "a.b", "a": OLD, "b": NEW}, ...] (a side missing where
 *              the path is absent on it),
 *    "config_unreadable": true (only when the list could be neither read from the
 *              node's recorded changes nor computed against its parent's config)}
 * The recorded changes.config list is used when present; nodes written before it
 * was recorded get it computed against the parent's config. A node up the run that
 * cannot be read ends the walk (no changes), as a damaged lineage must not stop
 * `runs show`. Returns 0, or RUNS_ENOMEM. */
int runs_nodeview_changes(cJSON **out, runs_store *s, const cJSON *m);

/* An arm's state as the bandit sees it on load (runner/bandit.h eligibility) under
 * a node's config: "active", "off (cap 0)", "excluded" (data.exclude names it) or
 * "dropped (not in config)". A static string. */
const char *runs_nodeview_arm_state(const cJSON *config, const char *arm);

/* Node manifest m's tensors per group: *count tensors, *bytes in all, and *out an
 * object (caller cJSON_Delete()s) with one member per group in order of first
 * appearance: {"n": tensors, "bytes": total, "dtypes": [dtypes in order of first
 * appearance]}. A tensor without a group counts in *count and *bytes only; a
 * missing "bytes" counts 0. Returns 0 or RUNS_ENOMEM (*out NULL). */
int runs_nodeview_tensor_groups(cJSON **out, int *count, double *bytes, const cJSON *m);

#endif
