/* tests/unit/test_manifests_manifest.c — manifest validation names the field and what was expected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "manifests/canon.h"
#include "manifests/manifest.h"
#include "manifests/merge_patch.h"

#define SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define COMMIT "0123456789abcdef0123456789abcdef01234567"

static const char *valid =
    "{\"schema\":\"runs.manifest/1\",\"kind\":\"checkpoint\",\"run\":\"andrea-120m.v3\",\"step\":112600,"
    "\"tokens\":1000000,\"parent\":\"" COMMIT "\",\"config\":{\"optimizer\":{\"lr\":4e-4}},"
    "\"tensors\":[{\"name\":\"wte\",\"group\":\"weights\",\"dtype\":\"f32\",\"shape\":[4096,128],\"bytes\":2097152,"
    "\"sha256\":\"" SHA "\"},"
    "{\"name\":\"wte\",\"group\":\"adam_m\",\"dtype\":\"f32\",\"shape\":[4096,128],\"bytes\":2097152,"
    "\"sha256\":\"" SHA "\"},"
    "{\"name\":\"ln_f.b\",\"group\":\"adam_v\",\"dtype\":\"f32\",\"shape\":[128],\"bytes\":512,\"sha256\":\"" SHA
    "\"}],"
    "\"optimizer\":{\"t\":112600},\"rng\":{\"state\":\"1\"},\"data\":{},\"bandit\":{},\"loss_log\":\"" SHA "\","
    "\"archived\":{\"samples\":\"" SHA "\"},\"metrics\":{\"loss_ema\":2.5},\"backend\":\"cpu\","
    "\"code_version\":\"abc\",\"created\":\"2024-01-01T00:00:00Z\",\"note\":\"hi\",\"changes\":{},\"sharpness\":{}}";

/* Validates valid patched with patch (RFC 7396); returns rc, message in runs_error_message(). */
static int validate_patched(const char *patch)
{
    cJSON *m = NULL, *p = NULL;
    assert_int_equal(runs_json_parse(&m, valid, "valid"), 0);
    assert_int_equal(runs_json_parse(&p, patch, "patch"), 0);
    cJSON *r = runs_merge_patch(m, p);
    runs_error_clear();
    int rc = runs_manifest_validate(r);
    cJSON_Delete(m);
    cJSON_Delete(p);
    cJSON_Delete(r);
    return rc;
}

static void expect_error(const char *patch, const char *want)
{
    int rc = validate_patched(patch);
    if (rc != RUNS_EINVALID)
        fail_msg("patch %s: expected RUNS_EINVALID, got %d", patch, rc);
    if (!strstr(runs_error_message(), want))
        fail_msg("patch %s: message \"%s\" lacks \"%s\"", patch, runs_error_message(), want);
}

static void test_valid(void **state)
{
    assert_int_equal(validate_patched("{}"), 0);
    /* optional fields may be absent */
    assert_int_equal(validate_patched("{\"optimizer\":null,\"rng\":null,\"data\":null,\"bandit\":null,"
                                      "\"loss_log\":null,\"archived\":null,\"metrics\":null,\"backend\":null,"
                                      "\"code_version\":null,\"created\":null,\"note\":null,\"changes\":null,"
                                      "\"sharpness\":null}"),
                     0);
    assert_int_equal(validate_patched("{\"tensors\":[]}"), 0);
    /* a start node may have no parent */
    assert_int_equal(validate_patched("{\"kind\":\"start\",\"parent\":null}"), 0);
    assert_int_equal(validate_patched("{\"kind\":\"import\",\"step\":0}"), 0);
    /* every kind with a parent */
    const char *kinds[] = {"checkpoint", "fork", "restart", "stage", "halt", "start"};
    for (size_t i = 0; i < 6; i++) {
        char p[64];
        snprintf(p, sizeof p, "{\"kind\":\"%s\"}", kinds[i]);
        assert_int_equal(validate_patched(p), 0);
    }
    /* a scalar tensor (shape []) holds one float */
    char p[256];
    snprintf(p, sizeof p,
             "{\"tensors\":[{\"name\":\"s\",\"group\":\"weights\",\"dtype\":\"f32\",\"shape\":[],"
             "\"bytes\":4,\"sha256\":\"%s\"}]}",
             SHA);
    assert_int_equal(validate_patched(p), 0);
}

static void test_top_level_errors(void **state)
{
    expect_error("{\"schema\":\"runs.manifest/2\"}",
                 "manifest.schema: expected \"runs.manifest/1\", got \"runs.manifest/2\"");
    expect_error("{\"schema\":null}", "manifest.schema: expected \"runs.manifest/1\", got nothing");
    expect_error("{\"kind\":\"checkpt\"}", "manifest.kind: expected one of \"start\", \"checkpoint\"");
    expect_error("{\"run\":\"a b\"}", "manifest.run: expected a run name");
    expect_error("{\"run\":\"\"}", "manifest.run: expected a run name");
    expect_error("{\"run\":\".hidden\"}", "manifest.run:");
    expect_error("{\"run\":\"x.lock\"}", "manifest.run:");
    expect_error("{\"run\":\"a..b\"}", "manifest.run:");
    expect_error("{\"step\":\"x\"}", "manifest.step: expected a non-negative integer, got \"x\"");
    expect_error("{\"step\":-1}", "manifest.step: expected a non-negative integer, got -1");
    expect_error("{\"step\":1.5}", "manifest.step: expected a non-negative integer, got 1.5");
    expect_error("{\"step\":null}", "manifest.step: expected a non-negative integer, got nothing");
    expect_error("{\"tokens\":1e300}", "manifest.tokens: expected a non-negative integer");
    expect_error("{\"parent\":null}",
                 "manifest.parent: expected a 40-hex commit id (a \"checkpoint\" node has a parent), got nothing");
    expect_error("{\"parent\":\"0123\"}", "manifest.parent: expected a 40-hex commit id");
    expect_error("{\"kind\":\"fork\",\"parent\":\"0123456789ABCDEF0123456789abcdef01234567\"}", "manifest.parent:");
    expect_error("{\"kind\":\"start\",\"parent\":5}", "manifest.parent: expected null or a 40-hex commit id, got 5");
    expect_error("{\"config\":[]}", "manifest.config: expected an object");
    expect_error("{\"config\":null}", "manifest.config: expected an object");
    expect_error("{\"tensors\":{}}", "manifest.tensors: expected an array, got an object");
    expect_error("{\"optimizer\":[1]}", "manifest.optimizer: expected an object, got an array");
    expect_error("{\"sharpness\":1}", "manifest.sharpness: expected an object");
    expect_error("{\"note\":1}", "manifest.note: expected a string, got 1");
    expect_error("{\"loss_log\":\"abc\"}", "manifest.loss_log: expected null or a 64-hex object id, got \"abc\"");
    expect_error("{\"archived\":{\"state\":\"nothex\"}}", "manifest.archived.state: expected a 64-hex object id");
    expect_error("{\"archived\":[]}", "manifest.archived: expected an object");
    expect_error("{\"stepp\":1}", "manifest.stepp: unknown key (did you mean \"step\"?)");
    expect_error("{\"confg\":{}}", "manifest.confg: unknown key (did you mean \"config\"?)");
    /* an explicit null parent (merge patch would delete the key) */
    cJSON *m = NULL;
    assert_int_equal(runs_json_parse(&m, valid, "valid"), 0);
    cJSON_ReplaceItemInObjectCaseSensitive(m, "parent", cJSON_CreateNull());
    assert_int_equal(runs_manifest_validate(m), RUNS_EINVALID);
    assert_non_null(
        strstr(runs_error_message(),
               "manifest.parent: expected a 40-hex commit id (a \"checkpoint\" node has a parent), got null"));
    cJSON_ReplaceItemInObjectCaseSensitive(m, "kind", cJSON_CreateString("start"));
    assert_int_equal(runs_manifest_validate(m), 0);
    cJSON_Delete(m);
    runs_error_clear();
    cJSON *arr = cJSON_CreateArray();
    assert_int_equal(runs_manifest_validate(arr), RUNS_EINVALID);
    assert_non_null(strstr(runs_error_message(), "manifest: expected an object, got an array"));
    cJSON_Delete(arr);
}

/* Replaces tensors[0] with the given object text. */
static void expect_tensor_error(const char *tensor, const char *want)
{
    char patch[2100];
    snprintf(patch, sizeof patch, "{\"tensors\":[%s]}", tensor);
    expect_error(patch, want);
}

static void test_tensor_errors(void **state)
{
    expect_tensor_error("1", "manifest.tensors[0]: expected an object");
    expect_tensor_error("{\"name\":\"w\",\"group\":\"weights\",\"dtype\":\"f32\",\"shape\":[2],\"bytes\":8}",
                        "manifest.tensors[0].sha256: missing");
    expect_tensor_error(
        "{\"name\":\"\",\"group\":\"weights\",\"dtype\":\"f32\",\"shape\":[2],\"bytes\":8,\"sha256\":\"" SHA "\"}",
        "manifest.tensors[0].name: expected a non-empty string");
    expect_tensor_error(
        "{\"name\":\"w\",\"group\":\"adam\",\"dtype\":\"f32\",\"shape\":[2],\"bytes\":8,\"sha256\":\"" SHA "\"}",
        "manifest.tensors[0].group: expected one of \"weights\", \"adam_m\", \"adam_v\", got \"adam\"");
    expect_tensor_error(
        "{\"name\":\"w\",\"group\":\"weights\",\"dtype\":\"bf16\",\"shape\":[2],\"bytes\":8,\"sha256\":\"" SHA "\"}",
        "manifest.tensors[0].dtype: expected \"f32\", got \"bf16\"");
    expect_tensor_error(
        "{\"name\":\"w\",\"group\":\"weights\",\"dtype\":\"f32\",\"shape\":2,\"bytes\":8,\"sha256\":\"" SHA "\"}",
        "manifest.tensors[0].shape: expected an array of non-negative integers, got 2");
    expect_tensor_error(
        "{\"name\":\"w\",\"group\":\"weights\",\"dtype\":\"f32\",\"shape\":[2,-1],\"bytes\":8,\"sha256\":\"" SHA "\"}",
        "manifest.tensors[0].shape[1]: expected a non-negative integer, got -1");
    expect_tensor_error(
        "{\"name\":\"w\",\"group\":\"weights\",\"dtype\":\"f32\",\"shape\":[2,3],\"bytes\":8,\"sha256\":\"" SHA "\"}",
        "manifest.tensors[0].bytes: expected 24 (4 bytes x shape [2,3]), got 8");
    expect_tensor_error(
        "{\"name\":\"w\",\"group\":\"weights\",\"dtype\":\"f32\",\"shape\":[2],\"bytes\":\"8\",\"sha256\":\"" SHA "\"}",
        "manifest.tensors[0].bytes: expected a non-negative integer, got \"8\"");
    expect_tensor_error(
        "{\"name\":\"w\",\"group\":\"weights\",\"dtype\":\"f32\",\"shape\":[2],\"bytes\":8,\"sha256\":\"xyz\"}",
        "manifest.tensors[0].sha256: expected 64 lowercase hex digits, got \"xyz\"");
    expect_tensor_error(
        "{\"name\":\"w\",\"group\":\"weights\",\"dtype\":\"f32\",\"shape\":[2],\"bytes\":8,\"sha256\":\"" SHA "\","
        "\"shap\":[2]}",
        "manifest.tensors[0].shap: unknown key (did you mean \"shape\"?)");
    char two[1024];
    snprintf(two, sizeof two,
             "{\"name\":\"w\",\"group\":\"weights\",\"dtype\":\"f32\",\"shape\":[2],\"bytes\":8,\"sha256\":\"%s\"},"
             "{\"name\":\"w\",\"group\":\"weights\",\"dtype\":\"f32\",\"shape\":[1],\"bytes\":4,\"sha256\":\"%s\"}",
             SHA, SHA);
    expect_tensor_error(two, "manifest.tensors[1]: duplicate of tensors[0] (w in weights)");
    /* the same name in another group is no duplicate; the first later repeat is named */
    char four[2048];
#define T(n, g)                                                                                                        \
    "{\"name\":\"" n "\",\"group\":\"" g "\",\"dtype\":\"f32\",\"shape\":[1],\"bytes\":4,\"sha256\":\"" SHA "\"}"
    snprintf(four, sizeof four, "%s,%s,%s,%s,%s", T("b", "weights"), T("a", "weights"), T("a", "adam_m"),
             T("b", "weights"), T("a", "weights"));
#undef T
    expect_tensor_error(four, "manifest.tensors[3]: duplicate of tensors[0] (b in weights)");
}

static void test_helpers(void **state)
{
    assert_true(runs_is_hex(COMMIT, 40));
    assert_false(runs_is_hex(COMMIT, 64));
    assert_false(runs_is_hex("0123456789ABCDEF0123456789abcdef01234567", 40));
    assert_false(runs_is_hex(NULL, 40));
    assert_int_equal(runs_name_check("polish_v3-2.1", "run"), 0);
    assert_int_equal(runs_name_check("a/b", "run"), RUNS_EINVALID);
    assert_int_equal(runs_name_check("", "run"), RUNS_EINVALID);
    assert_int_equal(runs_name_check(NULL, "run"), RUNS_EINVALID);
    /* the validator and the store share the rule: a node-like run name is refused here
     * too (the validator used to let step_5 pass and the commit refuse it) */
    assert_int_equal(runs_name_check("step_5", "run"), RUNS_EINVALID);
    assert_int_equal(runs_name_check("-x", "run"), RUNS_EINVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_top_level_errors),
        cmocka_unit_test(test_tensor_errors),
        cmocka_unit_test(test_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
