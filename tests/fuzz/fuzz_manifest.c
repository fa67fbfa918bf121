/* Fuzz target: manifest validation (manifests/manifest.h).
 * Properties, for any input the JSON parser accepts:
 *   - validation depends on the value only: the canonical form (keys sorted, no
 *     whitespace) validates with the same result as the input,
 *   - a refusal is RUNS_EINVALID with a message,
 *   - a valid manifest's canonical text parses to an equal, valid manifest, and
 *     loses validity when its required "schema" key is removed. */
#include "tests/fuzz/fuzz_util.h"

#include "common/error.h"
#include "manifests/canon.h"
#include "manifests/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    cJSON *m = NULL, *m2 = NULL;
    char *c = NULL;
    if (runs_json_parse(&m, text, "fuzz") != 0)
        goto done;
    runs_error_clear();
    int rc = runs_manifest_validate(m);
    FUZZ_CHECK(rc == 0 || rc == RUNS_EINVALID, "validate returned %d", rc);
    FUZZ_CHECK(rc == 0 || runs_error_message()[0], "a refusal without a message");
    c = runs_json_canonical(m);
    FUZZ_CHECK(c != NULL, "canonical refused a parsed value: %s", runs_error_message());
    FUZZ_CHECK(runs_json_parse(&m2, c, "canonical") == 0, "canonical text does not parse: %s", runs_error_message());
    FUZZ_CHECK(runs_json_equal(m, m2), "canonical text parses to a different value");
    int rc2 = runs_manifest_validate(m2);
    FUZZ_CHECK(rc2 == rc, "the canonical form validates differently (%d, was %d): %s", rc2, rc, runs_error_message());
    if (rc == 0) {
        cJSON_DeleteItemFromObjectCaseSensitive(m2, "schema");
        FUZZ_CHECK(runs_manifest_validate(m2) == RUNS_EINVALID, "a manifest without \"schema\" validated");
    }
done:
    cJSON_Delete(m);
    cJSON_Delete(m2);
    free(c);
    free(text);
    return 0;
}
