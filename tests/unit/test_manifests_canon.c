/* tests/unit/test_manifests_canon.c — canonical JSON stability and the strict parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "manifests/canon.h"

static cJSON *parse(const char *text)
{
    cJSON *v = NULL;
    int rc = runs_json_parse(&v, text, "test");
    if (rc)
        fail_msg("parse of %s failed: %s", text, runs_error_message());
    return v;
}

/* canonical(parse(text)) */
static char *canon(const char *text)
{
    cJSON *v = parse(text);
    char *s = runs_json_canonical(v);
    assert_non_null(s);
    cJSON_Delete(v);
    return s;
}

static void expect_canon(const char *text, const char *want)
{
    char *got = canon(text);
    assert_string_equal(got, want);
    /* idempotence: canonical(parse(canonical(x))) == canonical(x) */
    char *again = canon(got);
    assert_string_equal(again, got);
    free(again);
    free(got);
}

static void test_key_order_permutations(void **state)
{
    const char *perms[] = {
        "{\"b\":1,\"a\":2,\"c\":{\"z\":1,\"y\":[3,{\"q\":1,\"p\":2}]}}",
        "{\"c\":{\"y\":[3,{\"p\":2,\"q\":1}],\"z\":1},\"a\":2,\"b\":1}",
        " { \"a\" : 2 ,\n\t\"c\":{\"z\":1.0,\"y\":[3e0,{\"q\":1,\"p\":2}]},\"b\":1 } ",
    };
    for (size_t i = 0; i < 3; i++)
        expect_canon(perms[i], "{\"a\":2,\"b\":1,\"c\":{\"y\":[3,{\"p\":2,\"q\":1}],\"z\":1}}");
    /* byte order, not locale order: upper case before lower case, shorter prefix first */
    expect_canon("{\"b\":0,\"B\":0,\"ab\":0,\"a\":0,\"\xc3\xa9\":0}",
                 "{\"B\":0,\"a\":0,\"ab\":0,\"b\":0,\"\xc3\xa9\":0}");
    /* array order is content and is kept */
    expect_canon("[3,1,2]", "[3,1,2]");
}

static void test_numbers(void **state)
{
    expect_canon("1", "1");
    expect_canon("1.0", "1");
    expect_canon("1e0", "1");
    expect_canon("1E+0", "1");
    expect_canon("10e-1", "1");
    expect_canon("0.1", "0.1");
    expect_canon("-0", "0");
    expect_canon("-0.0", "0");
    expect_canon("-5", "-5");
    expect_canon("4e-4", "0.0004");
    expect_canon("1e-8", "1e-08");
    expect_canon("0.3", "0.3");
    expect_canon("2.5", "2.5");
    expect_canon("123456789012", "123456789012");
    expect_canon("9007199254740991", "9007199254740991"); /* 2^53 - 1 */
    expect_canon("-9007199254740991", "-9007199254740991");
    expect_canon("9007199254740992", "9007199254740992"); /* 2^53: %g form round-trips */
    expect_canon("1e20", "1e+20");
    expect_canon("12345678901234567890", "1.2345678901234567e+19");
    expect_canon("0.30000000000000004", "0.30000000000000004");
    expect_canon("3.141592653589793", "3.141592653589793");
    expect_canon("5e-324", "5e-324"); /* smallest subnormal */
    /* every form of the same value gives the same bytes */
    char *a = canon("[100, 1e2, 100.0, 1.00e+2]");
    assert_string_equal(a, "[100,100,100,100]");
    free(a);
}

static void test_strings(void **state)
{
    expect_canon("\"plain\"", "\"plain\"");
    expect_canon("\"q\\\"b\\\\s\\/\"", "\"q\\\"b\\\\s/\"");
    expect_canon("\"\\n\\t\\r\\b\\f\\u0001\\u001F\"", "\"\\u000a\\u0009\\u000d\\u0008\\u000c\\u0001\\u001f\"");
    /* UTF-8 passed through; \u escapes of non-ASCII become UTF-8 */
    expect_canon("\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
    expect_canon("\"caf\\u00e9 \\u20AC \\ud83d\\ude00\"", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
    expect_canon("\"\x7f\"", "\"\x7f\"");
    /* keys are escaped the same way */
    expect_canon("{\"a\\nb\":\"\\u00e9\"}", "{\"a\\u000ab\":\"\xc3\xa9\"}");
}

static void test_literals_and_nesting(void **state)
{
    expect_canon("[true,false,null,{},[],\"\"]", "[true,false,null,{},[],\"\"]");
    expect_canon("{\"x\":{\"y\":{\"z\":[[[]]]}}}", "{\"x\":{\"y\":{\"z\":[[[]]]}}}");
}

static void test_nan_inf_refused(void **state)
{
    cJSON *v = cJSON_CreateObject();
    cJSON_AddNumberToObject(v, "x", NAN);
    runs_error_clear();
    assert_null(runs_json_canonical(v));
    assert_int_equal(runs_error_code(), RUNS_EINVALID);
    assert_non_null(strstr(runs_error_message(), "NaN"));
    cJSON_Delete(v);
    v = cJSON_CreateNumber(INFINITY);
    assert_null(runs_json_canonical(v));
    assert_int_equal(runs_error_code(), RUNS_EINVALID);
    cJSON_Delete(v);
}

/* Built directly through cJSON (not parsed): canonical output must not depend on insertion order. */
static void test_built_trees(void **state)
{
    cJSON *a = cJSON_CreateObject(), *b = cJSON_CreateObject();
    cJSON_AddNumberToObject(a, "lr", 4e-4);
    cJSON_AddStringToObject(a, "name", "x");
    cJSON_AddStringToObject(b, "name", "x");
    cJSON_AddNumberToObject(b, "lr", 0.0004);
    char *sa = runs_json_canonical(a), *sb = runs_json_canonical(b);
    assert_string_equal(sa, sb);
    assert_string_equal(sa, "{\"lr\":0.0004,\"name\":\"x\"}");
    free(sa);
    free(sb);
    cJSON_Delete(a);
    cJSON_Delete(b);
}

static void expect_parse_error(const char *text, const char *want)
{
    cJSON *v = (cJSON *)1;
    int rc = runs_json_parse(&v, text, "cfg.json");
    assert_int_equal(rc, RUNS_EINVALID);
    assert_null(v);
    if (!strstr(runs_error_message(), want))
        fail_msg("parse of %s: message \"%s\" lacks \"%s\"", text, runs_error_message(), want);
}

static void test_parse_errors(void **state)
{
    expect_parse_error("", "cfg.json:1:1: empty input");
    expect_parse_error("{\"a\":1,}", "cfg.json:1:8: unexpected '}', expected a string key");
    expect_parse_error("{\n  \"a\": 1\n  \"b\": 2\n}", "cfg.json:3:3: unexpected '\"', expected ',' or '}'");
    expect_parse_error("[1,2", "cfg.json:1:5: unexpected end of input, expected ',' or ']'");
    expect_parse_error("{\"a\":1,\"a\":2}", "cfg.json:1:8: duplicate key \"a\"");
    expect_parse_error("{\"a\": tru}", "cfg.json:1:7: unexpected 't', expected a JSON value");
    expect_parse_error("01", "leading zeros");
    expect_parse_error("1.", "expected a digit after '.'");
    expect_parse_error("-", "expected a digit after '-'");
    expect_parse_error("1e", "exponent");
    expect_parse_error("1e999", "number out of range");
    expect_parse_error("\"abc", "cfg.json:1:1: unterminated string");
    expect_parse_error("\"a\tb\"", "control character 0x09");
    expect_parse_error("\"\\x\"", "bad escape '\\x'");
    expect_parse_error("\"\\u12\"", "bad \\u escape");
    expect_parse_error("\"\\ud800\"", "not followed by a low surrogate");
    expect_parse_error("\"\\udc00\"", "lone low surrogate");
    expect_parse_error("\"\\u0000\"", "\\u0000 is not supported");
    expect_parse_error("\"\xff\"", "invalid UTF-8 byte 0xff");
    expect_parse_error("\"\xc0\xaf\"", "invalid UTF-8"); /* overlong '/' */
    expect_parse_error("{} {}", "cfg.json:1:4: unexpected data after the JSON value");
    expect_parse_error("{'a':1}", "unexpected ''', expected a string key");
    expect_parse_error("NaN", "expected a JSON value");
    /* columns count characters, not bytes */
    expect_parse_error("[\"\xc3\xa9\xc3\xa9\", x]", "cfg.json:1:8:");
    /* nesting limit */
    char deep[1100];
    memset(deep, '[', 1000);
    deep[1000] = '\0';
    expect_parse_error(deep, "nesting deeper than 512");
    cJSON *v = NULL;
    assert_int_equal(runs_json_parse(&v, "[]", NULL), 0);
    cJSON_Delete(v);
    assert_int_equal(runs_json_parse(&v, "{", NULL), RUNS_EINVALID);
    assert_non_null(strstr(runs_error_message(), "<json>:1:2:"));
}

static void test_parse_file(void **state)
{
    char dir[] = "/tmp/runs-canon-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/bad.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\n  \"model\": {\n    \"n_layer\": 4,,\n  }\n}\n", f);
    fclose(f);
    cJSON *v = NULL;
    assert_int_equal(runs_json_parse_file(&v, path), RUNS_EINVALID);
    char want[300];
    snprintf(want, sizeof want, "%s:3:18: unexpected ',', expected a string key", path);
    assert_non_null(strstr(runs_error_message(), want));

    f = fopen(path, "w");
    fputs("\xEF\xBB\xBF{\"b\": [1, 2.50], \"a\": \"x\"}\n", f); /* with a BOM */
    fclose(f);
    assert_int_equal(runs_json_parse_file(&v, path), 0);
    char *s = runs_json_canonical(v);
    assert_string_equal(s, "{\"a\":\"x\",\"b\":[1,2.5]}");
    free(s);
    cJSON_Delete(v);
    unlink(path);

    snprintf(path, sizeof path, "%s/missing.json", dir);
    assert_int_equal(runs_json_parse_file(&v, path), RUNS_ENOTFOUND);
    assert_non_null(strstr(runs_error_message(), "missing.json"));
    assert_null(v);
    rmdir(dir);
}

static void test_describe_and_equal(void **state)
{
    char buf[96];
    cJSON *v = parse("{\"s\":\"x\",\"n\":-1,\"o\":{},\"a\":[1]}");
    assert_string_equal(runs_json_describe(buf, sizeof buf, cJSON_GetObjectItem(v, "s")), "\"x\"");
    assert_string_equal(runs_json_describe(buf, sizeof buf, cJSON_GetObjectItem(v, "n")), "-1");
    assert_string_equal(runs_json_describe(buf, sizeof buf, cJSON_GetObjectItem(v, "o")), "an object");
    assert_string_equal(runs_json_describe(buf, sizeof buf, cJSON_GetObjectItem(v, "a")), "an array");
    cJSON *w = parse("{\"a\":[1.0],\"o\":{},\"n\":-1e0,\"s\":\"x\"}");
    assert_true(runs_json_equal(v, w));
    cJSON *z = parse("{\"a\":[1.0],\"o\":{},\"n\":-1e0,\"s\":\"y\"}");
    assert_false(runs_json_equal(v, z));
    cJSON *t = parse("[true]"), *fl = parse("[false]");
    assert_false(runs_json_equal(t, fl));
    assert_true(runs_json_equal(NULL, NULL));
    assert_false(runs_json_equal(v, NULL));
    cJSON_Delete(v);
    cJSON_Delete(w);
    cJSON_Delete(z);
    cJSON_Delete(t);
    cJSON_Delete(fl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_order_permutations),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_literals_and_nesting),
        cmocka_unit_test(test_nan_inf_refused),
        cmocka_unit_test(test_built_trees),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_file),
        cmocka_unit_test(test_describe_and_equal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
