/* tests/unit/test_omp_env.c — which `runs` commands re-execute with a short
 * OpenMP spin (runner/omp_env.h): the training commands only, never when the
 * user chose a wait policy or spin count, never twice (the marker), never for
 * one thread; and a command that does not want it returns without touching the
 * environment. The re-exec itself is tests/cli/t0210-omp-env.sh's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runner/omp_env.h"

static int clean_env(void **state)
{
    (void)state;
    unsetenv("OMP_WAIT_POLICY");
    unsetenv("GOMP_SPINCOUNT");
    unsetenv(RUNS_OMP_ENV_MARK);
    unsetenv("OMP_NUM_THREADS");
    return 0;
}

static void training_commands_only(void **state)
{
    (void)state;
    const char *yes[] = {"start", "resume", "fork", "restart", "eval", "sharpness"};
    const char *no[] = {"log", "ls", "status", "init", "lr", "show", "tokenizer", "export", "", "starts", "star"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        assert_int_equal(runs_omp_env_trains(yes[i]), 1);
        assert_int_equal(runs_omp_env_wanted(yes[i]), 1);
    }
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        assert_int_equal(runs_omp_env_trains(no[i]), 0);
        assert_int_equal(runs_omp_env_wanted(no[i]), 0);
    }
    assert_int_equal(runs_omp_env_trains(NULL), 0);
}

static void user_choice_is_kept(void **state)
{
    (void)state;
    const char *vars[] = {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT", RUNS_OMP_ENV_MARK};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        setenv(vars[i], "", 1); /* set, even empty, is a choice */
        assert_int_equal(runs_omp_env_wanted("start"), 0);
        setenv(vars[i], "active", 1);
        assert_int_equal(runs_omp_env_wanted("start"), 0);
        unsetenv(vars[i]);
        assert_int_equal(runs_omp_env_wanted("start"), 1);
    }
}

static void one_thread_needs_none(void **state)
{
    (void)state;
    setenv("OMP_NUM_THREADS", "1", 1);
    assert_int_equal(runs_omp_env_wanted("start"), 0);
    setenv("OMP_NUM_THREADS", " 1 ", 1);
    assert_int_equal(runs_omp_env_wanted("start"), 0);
    const char *more[] = {"2", "1,2", "16", "x", ""};
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++) {
        setenv("OMP_NUM_THREADS", more[i], 1);
        assert_int_equal(runs_omp_env_wanted("start"), 1);
    }
}

static void not_wanted_returns_untouched(void **state)
{
    (void)state;
    char *argv[] = {"runs", "log", NULL};
    assert_int_equal(runs_omp_env_reexec(argv, "log"), 0);
    assert_null(getenv("GOMP_SPINCOUNT"));
    assert_null(getenv(RUNS_OMP_ENV_MARK));
    setenv("GOMP_SPINCOUNT", "123", 1);
    char *argv2[] = {"runs", "start", NULL};
    assert_int_equal(runs_omp_env_reexec(argv2, "start"), 0);
    assert_string_equal(getenv("GOMP_SPINCOUNT"), "123");
    assert_null(getenv(RUNS_OMP_ENV_MARK));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(training_commands_only, clean_env),
        cmocka_unit_test_setup(user_choice_is_kept, clean_env),
        cmocka_unit_test_setup(one_thread_needs_none, clean_env),
        cmocka_unit_test_setup(not_wanted_returns_untouched, clean_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
