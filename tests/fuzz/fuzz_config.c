/* Fuzz target: config validation (manifests/config.h).
 * Properties, for any input the JSON parser accepts:
 *   - validation either succeeds or refuses with RUNS_EINVALID and a message,
 *   - a config that validates serialises (runs_config_to_json, canonical) to text that
 *     parses and validates again, to the same canonical bytes (a fixed point), so the
 *     effective config a manifest records loads back to the same run,
 *   - validation depends on the value only: the input's canonical form validates
 *     with the same result. */
#include "tests/fuzz/fuzz_util.h"

#include "common/error.h"
#include "manifests/canon.h"
#include "manifests/config.h"

/* cfg -> canonical effective-config text (malloc'd). */
static char *effective(const runs_config *cfg)
{
    cJSON *j = runs_config_to_json(cfg);
    FUZZ_CHECK(j != NULL, "runs_config_to_json failed: %s", runs_error_message());
    char *s = runs_json_canonical(j);
    FUZZ_CHECK(s != NULL, "the effective config has no canonical form: %s", runs_error_message());
    cJSON_Delete(j);
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    cJSON *j = NULL, *j2 = NULL, *jc = NULL;
    char *c1 = NULL, *c2 = NULL, *ctext = NULL;
    runs_config *cfg = fuzz_xmalloc(sizeof *cfg), *cfg2 = fuzz_xmalloc(sizeof *cfg2);
    if (runs_json_parse(&j, text, "fuzz") != 0)
        goto done;
    runs_error_clear();
    int rc = runs_config_from_json(cfg, j, "fuzz.json");
    FUZZ_CHECK(rc == 0 || rc == RUNS_EINVALID, "validation returned %d", rc);
    FUZZ_CHECK(rc == 0 || runs_error_message()[0], "a refusal without a message");

    ctext = runs_json_canonical(j);
    FUZZ_CHECK(ctext != NULL, "canonical refused a parsed value: %s", runs_error_message());
    FUZZ_CHECK(runs_json_parse(&jc, ctext, "canonical") == 0, "canonical text does not parse");
    int rcc = runs_config_from_json(cfg2, jc, "fuzz.json");
    FUZZ_CHECK(rcc == rc, "the canonical form validates differently (%d, was %d)", rcc, rc);
    if (rc != 0)
        goto done;

    c1 = effective(cfg);
    FUZZ_CHECK(runs_json_parse(&j2, c1, "effective") == 0, "the effective config does not parse: %s",
               runs_error_message());
    FUZZ_CHECK(runs_config_from_json(cfg2, j2, "effective") == 0,
               "the effective config of a valid config does not validate: %s\n%s", runs_error_message(), c1);
    c2 = effective(cfg2);
    FUZZ_CHECK(strcmp(c1, c2) == 0, "the effective config is not a fixed point:\n%s\n%s", c1, c2);
done:
    cJSON_Delete(j);
    cJSON_Delete(j2);
    cJSON_Delete(jc);
    free(c1);
    free(c2);
    free(ctext);
    free(cfg);
    free(cfg2);
    free(text);
    return 0;
}
