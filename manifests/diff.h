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

#endif
