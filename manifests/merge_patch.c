/* manifests/merge_patch.c — RFC 7396, section 2, on copies. */
#include "manifests/merge_patch.h"
#include "common/error.h"

#include <stddef.h>

/* Applies patch onto t in place (t is ours); returns the new value for the slot
 * (t itself or a replacement, t having been freed). NULL on out of memory: an
 * object t that was patched in place is still the caller's to free, anything
 * else is already freed. */
static cJSON *apply(cJSON *t, const cJSON *patch)
{
    if (!cJSON_IsObject(patch)) {
        cJSON_Delete(t);
        return cJSON_Duplicate(patch, 1);
    }
    int created = 0;
    if (!cJSON_IsObject(t)) {
        cJSON_Delete(t); /* a non-object target is replaced by {} before patching */
        t = cJSON_CreateObject();
        if (!t)
            return NULL;
        created = 1;
    }
    for (const cJSON *p = patch->child; p; p = p->next) {
        if (cJSON_IsNull(p)) {
            cJSON_DeleteItemFromObjectCaseSensitive(t, p->string);
            continue;
        }
        cJSON *old = cJSON_GetObjectItemCaseSensitive(t, p->string);
        if (old && cJSON_IsObject(old) && cJSON_IsObject(p)) {
            if (!apply(old, p))
                goto fail; /* patched in place, keeps its position */
            continue;
        }
        cJSON *nv = apply(NULL, p);
        if (!nv)
            goto fail;
        if (old)
            cJSON_ReplaceItemInObjectCaseSensitive(t, p->string, nv);
        else
            cJSON_AddItemToObject(t, p->string, nv);
    }
    return t;
fail:
    if (created)
        cJSON_Delete(t);
    return NULL;
}

cJSON *runs_merge_patch(const cJSON *target, const cJSON *patch)
{
    cJSON *t = target ? cJSON_Duplicate(target, 1) : NULL;
    if (target && !t)
        goto oom;
    if (!patch)
        return t ? t : cJSON_CreateNull();
    int in_place = cJSON_IsObject(t) && cJSON_IsObject(patch);
    cJSON *r = apply(t, patch);
    if (!r) {
        if (in_place)
            cJSON_Delete(t);
        goto oom;
    }
    return r;
oom:
    runs_error_set(RUNS_ENOMEM, "merge patch: out of memory");
    return NULL;
}
