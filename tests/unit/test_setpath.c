/* tests/unit/test_setpath.c — runs_config_set_path: -S PATH=VALUE as a merge patch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "manifests/canon.h"
#include "manifests/setpath.h"

/* Applies each assignment in order onto an empty patch; returns the patch's canonical text. */
static char *apply(const char *const *as, int n)
{
    cJSON *p = cJSON_CreateObject();
    for (int i = 0; i < n; i++)
        if (runs_config_set_path(p, as[i]))
            fail_msg("%s: %s", as[i], runs_error_message());
    char *s = runs_json_canonical(p);
    cJSON_Delete(p);
    return s;
}

static void test_values_json_else_string(void **state)
{
    (void)state;
    const char *as[] = {"optimizer.lr=1e-3",
                        "train.total_steps=20",
                        "data.exclude=[\"x\"]",
                        "train.backend=cpu",
                        "sampling.prompts=[\"a\",\"b\"]",
                        "data.tokenizer={\"k\":",
                        "data.sources.lists.cap=0.2",
                        "data.sources.prose={\"path\":\"p.tok\"}"};
    char *s = apply(as, 8);
    assert_string_equal(s, "{\"data\":{\"exclude\":[\"x\"],\"sources\":{\"lists\":{\"cap\":0.2},"
                           "\"prose\":{\"path\":\"p.tok\"}},\"tokenizer\":\"{\\\"k\\\":\"},"
                           "\"optimizer\":{\"lr\":0.001},\"sampling\":{\"prompts\":[\"a\",\"b\"]},"
                           "\"train\":{\"backend\":\"cpu\",\"total_steps\":20}}");
    free(s);
}

static void test_later_wins_and_keeps_siblings(void **state)
{
    (void)state;
    cJSON *p = NULL;
    assert_int_equal(runs_json_parse(&p, "{\"optimizer\":{\"lr\":0.5,\"weight_decay\":0.1}}", "t"), 0);
    assert_int_equal(runs_config_set_path(p, "optimizer.lr=2e-4"), 0);
    assert_int_equal(runs_config_set_path(p, "optimizer.lr=3e-4"), 0);
    /* a value with '=' in it keeps everything after the first '=' */
    assert_int_equal(runs_config_set_path(p, "train.backend=a=b"), 0);
    char *s = runs_json_canonical(p);
    assert_string_equal(s, "{\"optimizer\":{\"lr\":0.0003,\"weight_decay\":0.1},\"train\":{\"backend\":\"a=b\"}}");
    free(s);
    cJSON_Delete(p);
}

/* Errors leave the patch untouched and say what to do. */
static void expect_error(const char *assignment, int code, const char *needle)
{
    cJSON *p = NULL;
    assert_int_equal(runs_json_parse(&p, "{\"train\":{\"seed\":1}}", "t"), 0);
    assert_int_equal(runs_config_set_path(p, assignment), code);
    if (!strstr(runs_error_message(), needle))
        fail_msg("%s: message '%s' lacks '%s'", assignment, runs_error_message(), needle);
    char *s = runs_json_canonical(p);
    assert_string_equal(s, "{\"train\":{\"seed\":1}}");
    free(s);
    cJSON_Delete(p);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("optimizer.lr", RUNS_EINVALID, "expected PATH=VALUE");
    expect_error("=1", RUNS_EINVALID, "expected PATH=VALUE");
    expect_error("optimizer..lr=1", RUNS_EINVALID, "an empty key");
    expect_error("train.=1", RUNS_EINVALID, "an empty key");
    expect_error("optimizer.lrr=1", RUNS_EINVALID, "unknown config key 'optimizer.lrr' (did you mean \"lr\"?)");
    expect_error("optimiser.lr=1", RUNS_EINVALID, "unknown config key 'optimiser' (did you mean \"optimizer\"?)");
    expect_error("train.seed.x=1", RUNS_EINVALID, "'train.seed' holds a value");
    expect_error("data.sources.lists.capp=1", RUNS_EINVALID,
                 "unknown config key 'data.sources.lists.capp' (did you mean \"cap\"?)");
    expect_error("data.sources.lists.cap.x=1", RUNS_EINVALID, "'data.sources.lists.cap' holds a value");
}

/* the form alone, which the CLI checks first to answer a malformed -S with a usage
 * line (129) rather than an error (1) */
static void test_assignment_form(void **state)
{
    (void)state;
    assert_int_equal(runs_config_assignment_check("optimizer.lr=1e-3"), 0);
    assert_int_equal(runs_config_assignment_check("optimizer.lrr=1"), 0); /* keys are not its business */
    assert_int_equal(runs_config_assignment_check("a=b=c"), 0);
    const char *bad[] = {"optimizer.lr", "=1", "optimizer..lr=1", "train.=1", ".lr=1", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(runs_config_assignment_check(bad[i]), RUNS_EINVALID);
        assert_non_null(strstr(runs_error_message(), "-S "));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_json_else_string),
        cmocka_unit_test(test_later_wins_and_keeps_siblings),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_assignment_form),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
