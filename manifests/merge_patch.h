/* manifests/merge_patch.h — JSON Merge Patch (RFC 7396).
 * A fork's config is a merge patch onto its parent's; config files are merged
 * onto the defaults the same way. */
#ifndef RUNS_MANIFESTS_MERGE_PATCH_H
#define RUNS_MANIFESTS_MERGE_PATCH_H

#include <cJSON.h>

/* Returns MergePatch(target, patch) as a new tree; target and patch are left
 * untouched (target may be NULL = absent). The caller cJSON_Delete()s the
 * result. NULL on out of memory (error set). */
cJSON *runs_merge_patch(const cJSON *target, const cJSON *patch);

#endif
