/* tests/unit/test_lazylib.c — common/lazylib: a library loaded on first use. A missing
 * library is one error naming it, its reason and what to install, and stays missing
 * (loaded once); a present one gives its symbols; a forwarding function built by
 * RUNS_LAZY_FN reaches the library's function, and returns its failure value where the
 * library or the symbol is missing; several threads loading at once load it once. The
 * store's own forwarders (store/git_lazy.c, store/crypto_lazy.c) are driven by every
 * store test; tests/cli/t0200 checks `runs --help` loads neither library. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <string.h>

#include "common/error.h"
#include "common/lazylib.h"

static runs_lazylib absent = RUNS_LAZYLIB_INIT("libruns-test-absent.so.7", "the test's make-believe package");
static runs_lazylib libm_ = RUNS_LAZYLIB_INIT("libm.so.6", "glibc's libm");

/* forwarders to a real function (libm's ldexpf, same signature as math.h's), to a
 * function the library lacks, and to a function of a library that is not there */
RUNS_LAZY_FN(libm_, float, ldexpf, (float x, int e), (x, e), -1.0f)
RUNS_LAZY_FN(libm_, int, runs_test_no_such_function, (int x), (x), -7)
RUNS_LAZY_FN(absent, int, runs_test_absent_function, (int x), (x), -9)

static void missing_library_is_one_error_naming_it(void **state)
{
    (void)state;
    runs_error_clear();
    assert_int_equal(runs_lazylib_load(&absent), RUNS_EIO);
    const char *m = runs_error_message();
    assert_non_null(strstr(m, "cannot load libruns-test-absent.so.7 ("));
    assert_non_null(strstr(m, "install the test's make-believe package (`make deps` does)"));
    assert_null(strchr(m, '\n'));
    assert_null(runs_lazylib_sym(&absent, "anything"));
    /* loaded once: the second try reports the first try's reason */
    assert_int_equal(runs_lazylib_load(&absent), RUNS_EIO);
    assert_null(absent.handle);
}

static void present_library_gives_its_symbols(void **state)
{
    (void)state;
    assert_int_equal(runs_lazylib_load(&libm_), 0);
    assert_non_null(libm_.handle);
    assert_non_null(runs_lazylib_sym(&libm_, "cosf"));
    assert_null(runs_lazylib_sym(&libm_, "runs_test_no_such_function"));
}

static void forwarders_reach_the_function_or_return_their_failure_value(void **state)
{
    (void)state;
    volatile float x = 1.5f; /* volatile: the compiler must not fold ldexpf itself */
    volatile int e = 3;
    assert_true(ldexpf(x, e) == 12.0f);
    x = -0.75f, e = -2;
    assert_true(ldexpf(x, e) == -0.1875f); /* the resolved pointer is kept and reused */
    assert_int_equal(runs_test_no_such_function(1), -7);
    assert_int_equal(runs_test_absent_function(1), -9);
}

static runs_lazylib raced = RUNS_LAZYLIB_INIT("libm.so.6", "glibc's libm");

static void *load_raced(void *out)
{
    *(int *)out = runs_lazylib_load(&raced);
    return NULL;
}

static void threads_loading_at_once_load_once(void **state)
{
    (void)state;
    pthread_t t[8];
    int rc[8];
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&t[i], NULL, load_raced, &rc[i]), 0);
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(rc[i], 0);
    }
    assert_non_null(raced.handle);
    assert_ptr_equal(runs_lazylib_sym(&raced, "cosf"), runs_lazylib_sym(&libm_, "cosf"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(missing_library_is_one_error_naming_it),
        cmocka_unit_test(present_library_gives_its_symbols),
        cmocka_unit_test(forwarders_reach_the_function_or_return_their_failure_value),
        cmocka_unit_test(threads_loading_at_once_load_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
