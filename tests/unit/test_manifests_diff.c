/* tests/unit/test_manifests_diff.c — semantic diff by dotted key path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "manifests/canon.h"
#include "manifests/diff.h"

static cJSON *parse(const char *text)
{
    cJSON *v = NULL;
    if (runs_json_parse(&v, text, "test"))
        fail_msg("parse of %s failed: %s", text, runs_error_message());
    return v;
}

/* The canonical --json output of diff(a, b). */
static char *diff_json(const char *a, const char *b)
{
    cJSON *ja = a ? parse(a) : NULL, *jb = b ? parse(b) : NULL;
    runs_diff_entry *d = NULL;
    size_t n = 99;
    assert_int_equal(runs_json_diff(&d, &n, ja, jb), 0);
    cJSON *j = runs_diff_to_json(d, n);
    assert_non_null(j);
    char *s = runs_json_canonical(j);
    cJSON_Delete(j);
    runs_diff_free(d, n);
    cJSON_Delete(ja);
    cJSON_Delete(jb);
    return s;
}

static void expect_diff(const char *a, const char *b, const char *want)
{
    char *got = diff_json(a, b);
    if (strcmp(got, want) != 0)
        fail_msg("diff(%s, %s)\n got  %s\n want %s", a, b, got, want);
    free(got);
}

static void test_nested_config(void **state)
{
    const char *a = "{\"optimizer\":{\"lr\":4e-4,\"beta1\":0.9},"
                    "\"data\":{\"sources\":{\"chat\":{\"path\":\"c.tok\",\"cap\":0.4,\"floor\":0.3},"
                    "\"repo-docs\":{\"path\":\"d.tok\",\"cap\":1}},\"exclude\":[\"x\"]},"
                    "\"model\":{\"n_layer\":4}}";
    const char *b = "{\"model\":{\"n_layer\":4},\"optimizer\":{\"beta1\":0.9,\"lr\":1e-4,\"eps\":1e-8},"
                    "\"data\":{\"sources\":{\"chat\":{\"path\":\"c.tok\",\"cap\":0.2,\"floor\":0.3},"
                    "\"new\":{\"path\":\"n.tok\"}},\"exclude\":[\"x\",\"y\"]}}";
    expect_diff(a, b,
                "["
                "{\"a\":[\"x\"],\"b\":[\"x\",\"y\"],\"path\":\"data.exclude\"},"
                "{\"a\":0.4,\"b\":0.2,\"path\":\"data.sources.chat.cap\"},"
                "{\"a\":null,\"b\":\"n.tok\",\"path\":\"data.sources.new.path\"},"
                "{\"a\":1,\"b\":null,\"path\":\"data.sources.repo-docs.cap\"},"
                "{\"a\":\"d.tok\",\"b\":null,\"path\":\"data.sources.repo-docs.path\"},"
                "{\"a\":null,\"b\":1e-08,\"path\":\"optimizer.eps\"},"
                "{\"a\":0.0004,\"b\":0.0001,\"path\":\"optimizer.lr\"}"
                "]");
}

static void test_sorted_by_path(void **state)
{
    cJSON *a = parse("{\"z\":1,\"a\":{\"y\":1,\"b\":1},\"m\":1}"),
          *b = parse("{\"z\":2,\"a\":{\"y\":2,\"b\":2},\"m\":2}");
    runs_diff_entry *d;
    size_t n;
    assert_int_equal(runs_json_diff(&d, &n, a, b), 0);
    assert_int_equal(n, 4);
    assert_string_equal(d[0].path, "a.b");
    assert_string_equal(d[1].path, "a.y");
    assert_string_equal(d[2].path, "m");
    assert_string_equal(d[3].path, "z");
    assert_non_null(d[0].a);
    assert_true(d[0].a != cJSON_GetObjectItem(cJSON_GetObjectItem(a, "a"), "b")); /* copies, not borrowed */
    runs_diff_free(d, n);
    cJSON_Delete(a);
    cJSON_Delete(b);
}

static void test_equal_and_numbers(void **state)
{
    expect_diff("{\"a\":1,\"b\":[1,2],\"c\":{\"d\":\"x\"}}", "{\"c\":{\"d\":\"x\"},\"b\":[1.0,2e0],\"a\":1.0}", "[]");
    runs_diff_entry *d = (runs_diff_entry *)1;
    size_t n = 5;
    cJSON *x = parse("{}");
    assert_int_equal(runs_json_diff(&d, &n, x, x), 0);
    assert_int_equal(n, 0);
    runs_diff_free(d, n);
    cJSON_Delete(x);
}

static void test_missing_sides_and_kinds(void **state)
{
    /* a whole section present on one side only is listed leaf by leaf */
    expect_diff("{\"gate\":{\"threshold\":30,\"patience\":5}}", "{}",
                "[{\"a\":5,\"b\":null,\"path\":\"gate.patience\"},{\"a\":30,\"b\":null,\"path\":\"gate.threshold\"}]");
    /* an empty object on one side is a leaf */
    expect_diff("{\"x\":{}}", "{}", "[{\"a\":{},\"b\":null,\"path\":\"x\"}]");
    /* object vs scalar: compared whole at that path */
    expect_diff("{\"x\":{\"y\":1}}", "{\"x\":3}", "[{\"a\":{\"y\":1},\"b\":3,\"path\":\"x\"}]");
    /* arrays compared whole, order matters */
    expect_diff("{\"p\":[1,2]}", "{\"p\":[2,1]}", "[{\"a\":[1,2],\"b\":[2,1],\"path\":\"p\"}]");
    expect_diff("{\"p\":[{\"a\":1}]}", "{\"p\":[{\"a\":2}]}", "[{\"a\":[{\"a\":1}],\"b\":[{\"a\":2}],\"path\":\"p\"}]");
    /* null is a value, distinct from missing */
    expect_diff("{\"p\":null}", "{}", "[{\"a\":null,\"b\":null,\"path\":\"p\"}]");
    expect_diff("{\"t\":true}", "{\"t\":false}", "[{\"a\":true,\"b\":false,\"path\":\"t\"}]");
    expect_diff("{\"s\":\"1\"}", "{\"s\":1}", "[{\"a\":\"1\",\"b\":1,\"path\":\"s\"}]");
    /* whole trees missing */
    expect_diff(NULL, "{\"a\":{\"b\":1}}", "[{\"a\":null,\"b\":1,\"path\":\"a.b\"}]");
    expect_diff("[1]", "[2]", "[{\"a\":[1],\"b\":[2],\"path\":\"\"}]");
}

static void test_missing_side_is_null_pointer(void **state)
{
    cJSON *a = parse("{\"k\":null}"), *b = parse("{}");
    runs_diff_entry *d;
    size_t n;
    assert_int_equal(runs_json_diff(&d, &n, a, b), 0);
    assert_int_equal(n, 1);
    assert_non_null(d[0].a); /* present, value null */
    assert_true(cJSON_IsNull(d[0].a));
    assert_null(d[0].b); /* missing */
    runs_diff_free(d, n);
    cJSON_Delete(a);
    cJSON_Delete(b);
}

/* `runs diff A B -- PATH...`: prefix match at dots, config paths also without
 * "config.", entries kept in order and the rest freed (ASan checks the frees). */
static void test_filter_by_path(void **state)
{
    (void)state;
    cJSON *a = parse("{\"config\":{\"optimizer\":{\"lr\":1,\"eps\":1},\"optimizer_x\":1,"
                     "\"data\":{\"sources\":{\"c\":{\"cap\":1}}}},\"data\":{\"c\":{\"position\":1}},"
                     "\"metrics\":{\"loss\":1}}");
    cJSON *b = parse("{\"config\":{\"optimizer\":{\"lr\":2,\"eps\":2},\"optimizer_x\":2,"
                     "\"data\":{\"sources\":{\"c\":{\"cap\":2}}}},\"data\":{\"c\":{\"position\":2}},"
                     "\"metrics\":{\"loss\":2}}");
    runs_diff_entry *d;
    size_t n;
    assert_int_equal(runs_json_diff(&d, &n, a, b), 0);
    assert_int_equal(n, 6);
    const char *f[] = {"optimizer.lr", "data.sources", "metrics."};
    runs_diff_filter(d, &n, f, 3);
    assert_int_equal(n, 3);
    assert_string_equal(d[0].path, "config.data.sources.c.cap");
    assert_string_equal(d[1].path, "config.optimizer.lr");
    assert_string_equal(d[2].path, "metrics.loss");
    runs_diff_filter(d, &n, NULL, 0); /* no filter keeps all */
    assert_int_equal(n, 3);
    const char *none[] = {"nosuch"};
    runs_diff_filter(d, &n, none, 1);
    assert_int_equal(n, 0);
    runs_diff_free(d, n);
    cJSON_Delete(a);
    cJSON_Delete(b);
}

static void test_path_matches_at_dots(void **state)
{
    (void)state;
    assert_true(runs_diff_path_matches("config.optimizer.lr", "optimizer"));
    assert_true(runs_diff_path_matches("config.optimizer.lr", "config.optimizer"));
    assert_true(runs_diff_path_matches("config.optimizer.lr", "config.optimizer.lr"));
    assert_false(runs_diff_path_matches("config.optimizer_x", "optimizer"));
    assert_false(runs_diff_path_matches("config.optimizer.lr", "optimizer.l"));
    assert_true(runs_diff_path_matches("data.chat.position", "data"));
    assert_true(runs_diff_path_matches("config.data.sources.chat.cap", "data"));
    assert_false(runs_diff_path_matches("metrics.loss", "config"));
    assert_true(runs_diff_path_matches("step", ""));
}

static void test_sections(void **state)
{
    (void)state;
    assert_string_equal(runs_diff_section("config.optimizer.lr"), "config");
    assert_string_equal(runs_diff_section("metrics.val_loss"), "metrics");
    assert_string_equal(runs_diff_section("data.chat.position"), "data");
    assert_string_equal(runs_diff_section("bandit.arms.chat.pulls"), "bandit");
    assert_string_equal(runs_diff_section("tensors.weights.wte"), "tensors");
    assert_string_equal(runs_diff_section("step"), "node");
    assert_string_equal(runs_diff_section("optimizer.adam_step"), "node");
    assert_string_equal(runs_diff_section("configx"), "node");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nested_config),
        cmocka_unit_test(test_sorted_by_path),
        cmocka_unit_test(test_equal_and_numbers),
        cmocka_unit_test(test_missing_sides_and_kinds),
        cmocka_unit_test(test_missing_side_is_null_pointer),
        cmocka_unit_test(test_filter_by_path),
        cmocka_unit_test(test_path_matches_at_dots),
        cmocka_unit_test(test_sections),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
