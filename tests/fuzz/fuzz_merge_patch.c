/* Fuzz target: JSON Merge Patch (manifests/merge_patch.h, RFC 7396).
 * Input: TARGET NUL PATCH (two JSON texts split at the first NUL byte); without a NUL
 * the whole input is the patch and the target is absent. Properties:
 *   - idempotence: apply(apply(t, p), p) == apply(t, p),
 *   - neither argument is modified (canonical bytes before == after),
 *   - a patch made of the target's own values changes nothing: apply(t, t) == t
 *     when t has no null object members (null in a patch means "delete"),
 *   - the result holds no null object member that came from an object patch,
 *     i.e. applying {} changes nothing: apply(t, {}) == t for an object t. */
#include "tests/fuzz/fuzz_util.h"

#include "common/error.h"
#include "manifests/canon.h"
#include "manifests/merge_patch.h"

/* 1 if some object inside v (at any depth reachable through objects) has a null member. */
static int has_null_member(const cJSON *v)
{
    if (!cJSON_IsObject(v))
        return 0;
    for (const cJSON *c = v->child; c; c = c->next)
        if (cJSON_IsNull(c) || has_null_member(c))
            return 1;
    return 0;
}

static char *canon(const cJSON *v)
{
    if (!v)
        return strdup("(absent)");
    char *s = runs_json_canonical(v);
    FUZZ_CHECK(s != NULL, "canonical refused a parsed value: %s", runs_error_message());
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    char *ttext = NULL, *ptext = NULL;
    if (nul) {
        ttext = fuzz_cstr(data, (size_t)(nul - data));
        ptext = fuzz_cstr(nul + 1, size - (size_t)(nul - data) - 1);
    } else {
        ptext = fuzz_cstr(data, size);
    }
    cJSON *t = NULL, *p = NULL, *r1 = NULL, *r2 = NULL, *self = NULL, *empty = NULL, *re = NULL;
    char *t_before = NULL, *p_before = NULL, *t_after = NULL, *p_after = NULL;
    if (ttext && runs_json_parse(&t, ttext, "target") != 0)
        goto done;
    if (runs_json_parse(&p, ptext, "patch") != 0)
        goto done;
    t_before = canon(t);
    p_before = canon(p);

    r1 = runs_merge_patch(t, p);
    FUZZ_CHECK(r1 != NULL, "merge patch failed: %s", runs_error_message());
    r2 = runs_merge_patch(r1, p);
    FUZZ_CHECK(r2 != NULL, "merge patch failed: %s", runs_error_message());
    FUZZ_CHECK(runs_json_equal(r1, r2), "not idempotent: apply(apply(t,p),p) != apply(t,p)");

    t_after = canon(t);
    p_after = canon(p);
    FUZZ_CHECK(strcmp(t_before, t_after) == 0, "the target was modified");
    FUZZ_CHECK(strcmp(p_before, p_after) == 0, "the patch was modified");

    if (t && !has_null_member(t)) {
        self = runs_merge_patch(t, t);
        FUZZ_CHECK(self != NULL && runs_json_equal(self, t), "a patch of the target's own values changed it");
    }
    if (cJSON_IsObject(t)) {
        empty = cJSON_CreateObject();
        FUZZ_CHECK(empty != NULL, "out of memory");
        re = runs_merge_patch(t, empty);
        FUZZ_CHECK(re != NULL && runs_json_equal(re, t), "the empty patch changed the target");
    }
done:
    cJSON_Delete(t);
    cJSON_Delete(p);
    cJSON_Delete(r1);
    cJSON_Delete(r2);
    cJSON_Delete(self);
    cJSON_Delete(empty);
    cJSON_Delete(re);
    free(t_before);
    free(p_before);
    free(t_after);
    free(p_after);
    free(ttext);
    free(ptext);
    return 0;
}
