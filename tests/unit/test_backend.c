/* tests/unit/test_backend.c — runs_backend_pick: the one rule for backend names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/error.h"
#include "runner/backend.h"

static void known_names(void **state)
{
    gpt_backend b = GPT_BACKEND_CUDA;
    assert_int_equal(runs_backend_pick(&b, "cpu"), RUNS_OK);
    assert_int_equal(b, GPT_BACKEND_CPU);
    assert_int_equal(runs_backend_pick(&b, "auto"), RUNS_OK);
    assert_int_equal(b, gpt_cuda_available() ? GPT_BACKEND_CUDA : GPT_BACKEND_CPU);
    int rc = runs_backend_pick(&b, "cuda");
    if (gpt_cuda_available()) {
        assert_int_equal(rc, RUNS_OK);
        assert_int_equal(b, GPT_BACKEND_CUDA);
    } else {
        /* asked for CUDA and none answers: an error, not a quiet CPU run */
        assert_int_equal(rc, RUNS_EINVALID);
        assert_non_null(strstr(runs_error_message(), "cuda"));
    }
}

/* The old sharpness/eval code turned any name it did not know into the CPU. */
static void unknown_name_is_an_error(void **state)
{
    gpt_backend b = GPT_BACKEND_CUDA;
    assert_int_equal(runs_backend_pick(&b, "tpu"), RUNS_EINVALID);
    assert_non_null(strstr(runs_error_message(), "'tpu'"));
    assert_non_null(strstr(runs_error_message(), "cpu, cuda or auto"));
    assert_int_equal(b, GPT_BACKEND_CUDA); /* untouched on error */
    assert_int_equal(runs_backend_pick(&b, "CPU"), RUNS_EINVALID);
    assert_int_equal(runs_backend_pick(&b, ""), RUNS_EINVALID);
    assert_int_equal(runs_backend_pick(&b, NULL), RUNS_EINVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(known_names),
        cmocka_unit_test(unknown_name_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
