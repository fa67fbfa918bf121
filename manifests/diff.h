/* manifests/diff.h — semantic diff of two JSON trees by dotted key path.
 * Used by `runs diff A B` on configs and manifests. */
#ifndef RUNS_MANIFESTS_DIFF_H
#define RUNS_MANIFESTS_DIFF_H

#include <stddef.h>
#include <cJSON.h>

/* One changed leaf. path is a dotted key path ("optimizer.lr",
 * "data.sources.chat.cap"; "" for the roots themselves); a/b are copies of the
 * values on each side, NULL where that side lacks the path. Objects present on
 * both sides are descended into; an object present on one side only is listed
 * leaf by leaf; arrays and values of different kinds are compared whole. */
typedef struct {
    char *path;
    cJSON *a;
    cJSON *b;
} runs_diff_entry;

/* Differences between a and b (either may be NULL = missing), sorted by path
 * (byte order); numbers compare by value (1 == 1.0). *out is an array of *n
 * entries (NULL when *n == 0) the caller frees with runs_diff_free. */
int runs_json_diff(runs_diff_entry **out, size_t *n, const cJSON *a, const cJSON *b);

/* Frees the entries, their paths and values, and the array. NULL is fine. */
void runs_diff_free(runs_diff_entry *d, size_t n);

/* [{"path": "...", "a": VALUE|null, "b": VALUE|null}, ...] in entry order
 * (the `runs diff --json` contract). Caller cJSON_Delete()s; NULL on out of memory. */
cJSON *runs_diff_to_json(const runs_diff_entry *d, size_t n);

/* The `runs diff` section a view path belongs to: "config", "metrics", "data",
 * "bandit" or "tensors" by its first key, else "node" (run, kind, step, tokens,
 * optimizer). A static string; nothing to free. */
const char *runs_diff_section(const char *path);

/* 1 when the dotted path lies under filter (equal, or continuing it at a dot:
 * "optimizer" covers "optimizer.lr", not "optimizer_x"); a path under "config."
 * also matches without that prefix, so `-- optimizer.lr` finds
 * "config.optimizer.lr". An empty filter matches everything. */
int runs_diff_path_matches(const char *path, const char *filter);

/* Keeps, in place and in order, the entries matching at least one of the nf
 * filters (runs_diff_path_matches) and frees the others; *n becomes the count
 * kept. nf == 0 keeps everything. The array itself stays the caller's to free
 * with runs_diff_free(d, *n). */
void runs_diff_filter(runs_diff_entry *d, size_t *n, const char *const *filters, size_t nf);

#endif
