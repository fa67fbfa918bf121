/* tests/unit/test_manifests_merge_patch.c — RFC 7396's own examples (section 3 and appendix A). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "manifests/canon.h"
#include "manifests/merge_patch.h"

static cJSON *parse(const char *text)
{
    cJSON *v = NULL;
    if (runs_json_parse(&v, text, "test"))
        fail_msg("parse of %s failed: %s", text, runs_error_message());
    return v;
}

static char *canon_text(const char *text)
{
    cJSON *v = parse(text);
    char *s = runs_json_canonical(v);
    cJSON_Delete(v);
    return s;
}

/* MergePatch(original, patch) == result, and neither input is modified. */
static void check(const char *original, const char *patch, const char *result)
{
    cJSON *t = parse(original), *p = parse(patch);
    char *t0 = runs_json_canonical(t), *p0 = runs_json_canonical(p);
    cJSON *r = runs_merge_patch(t, p);
    assert_non_null(r);
    char *got = runs_json_canonical(r), *want = canon_text(result);
    if (strcmp(got, want) != 0)
        fail_msg("MergePatch(%s, %s) = %s, want %s", original, patch, got, want);
    char *t1 = runs_json_canonical(t), *p1 = runs_json_canonical(p);
    assert_string_equal(t0, t1);
    assert_string_equal(p0, p1);
    free(t0);
    free(p0);
    free(t1);
    free(p1);
    free(got);
    free(want);
    cJSON_Delete(t);
    cJSON_Delete(p);
    cJSON_Delete(r);
}

static void test_rfc7396_appendix_a(void **state)
{
    check("{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}");
    check("{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}");
    check("{\"a\":\"b\"}", "{\"a\":null}", "{}");
    check("{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}");
    check("{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}");
    check("{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}");
    check("{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}");
    check("{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}");
    check("[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]");
    check("{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]");
    check("{\"a\":\"foo\"}", "null", "null");
    check("{\"a\":\"foo\"}", "\"bar\"", "\"bar\"");
    check("{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}");
    check("[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}");
    check("{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}");
}

static void test_rfc7396_section_3(void **state)
{
    check("{\"title\":\"Goodbye!\",\"author\":{\"givenName\":\"John\",\"familyName\":\"Doe\"},"
          "\"tags\":[\"example\",\"sample\"],\"content\":\"This will be unchanged\"}",
          "{\"title\":\"Hello!\",\"phoneNumber\":\"+01-123-456-7890\",\"author\":{\"familyName\":null},"
          "\"tags\":[\"example\"]}",
          "{\"title\":\"Hello!\",\"author\":{\"givenName\":\"John\"},\"tags\":[\"example\"],"
          "\"content\":\"This will be unchanged\",\"phoneNumber\":\"+01-123-456-7890\"}");
}

/* The polish pivot: a fork's patch onto its parent's config. */
static void test_config_patch(void **state)
{
    check("{\"optimizer\":{\"lr\":4e-4,\"beta1\":0.9},\"data\":{\"sources\":{\"chat\":{\"path\":\"c\",\"cap\":0.4},"
          "\"docs\":{\"path\":\"d\",\"cap\":1}}}}",
          "{\"optimizer\":{\"lr\":1e-4},\"data\":{\"sources\":{\"docs\":{\"cap\":0},\"repo-docs\":null,"
          "\"new\":{\"path\":\"n\"}}}}",
          "{\"optimizer\":{\"lr\":1e-4,\"beta1\":0.9},\"data\":{\"sources\":{\"chat\":{\"path\":\"c\",\"cap\":0.4},"
          "\"docs\":{\"path\":\"d\",\"cap\":0},\"new\":{\"path\":\"n\"}}}}");
    /* nested nulls inside a value replacing a non-object are stripped */
    check("{\"a\":5}", "{\"a\":{\"b\":null,\"c\":1}}", "{\"a\":{\"c\":1}}");
    /* an empty patch object changes nothing */
    check("{\"a\":{\"b\":[1,2]}}", "{}", "{\"a\":{\"b\":[1,2]}}");
}

static void test_keeps_key_order_and_null_target(void **state)
{
    cJSON *t = parse("{\"x\":1,\"y\":{\"a\":1,\"b\":2},\"z\":3}"), *p = parse("{\"y\":{\"a\":9},\"x\":0}");
    cJSON *r = runs_merge_patch(t, p);
    char *s = cJSON_PrintUnformatted(r);
    assert_string_equal(s, "{\"x\":0,\"y\":{\"a\":9,\"b\":2},\"z\":3}"); /* patched keys stay where they were */
    free(s);
    cJSON_Delete(r);
    r = runs_merge_patch(NULL, p); /* absent target */
    char *c = runs_json_canonical(r);
    assert_string_equal(c, "{\"x\":0,\"y\":{\"a\":9}}");
    free(c);
    cJSON_Delete(r);
    r = runs_merge_patch(t, NULL); /* no patch: a copy */
    assert_true(runs_json_equal(r, t));
    assert_ptr_not_equal(r, t);
    cJSON_Delete(r);
    cJSON_Delete(t);
    cJSON_Delete(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc7396_appendix_a),
        cmocka_unit_test(test_rfc7396_section_3),
        cmocka_unit_test(test_config_patch),
        cmocka_unit_test(test_keeps_key_order_and_null_target),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
