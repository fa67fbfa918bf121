/* tests/unit/test_error.c — the error channel: set, sys, wrap (once, twice, with
 * the old message as an argument, past the length cap), clear, escaping of control
 * bytes and malformed UTF-8, and that each thread keeps its own message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"

static void test_set_returns_code(void **state)
{
    (void)state;
    runs_error_clear();
    assert_string_equal(runs_error_message(), "");
    assert_int_equal(runs_error_code(), 0);
    assert_int_equal(runs_error_set(RUNS_EINVALID, "lr: expected %s, got %d", "a number", 3), RUNS_EINVALID);
    assert_string_equal(runs_error_message(), "lr: expected a number, got 3");
    assert_int_equal(runs_error_code(), RUNS_EINVALID);
    runs_error_clear();
    assert_string_equal(runs_error_message(), "");
    assert_int_equal(runs_error_code(), 0);
}

static void test_sys(void **state)
{
    (void)state;
    errno = ENOENT;
    assert_int_equal(runs_error_sys(RUNS_EIO, "open", "/x/y"), RUNS_EIO);
    assert_string_equal(runs_error_message(), "open /x/y: No such file or directory");
    errno = ENOSPC;
    runs_error_sys(RUNS_EIO, "write", "f");
    assert_non_null(strstr(runs_error_message(), "free some space"));
}

/* the old code formatted last_message into itself: undefined, and in practice
 * "ctx: ctx: ..." */
static void test_set_with_own_message(void **state)
{
    (void)state;
    runs_error_set(RUNS_ENOTFOUND, "tokenizer tok.bin does not exist");
    runs_error_set(RUNS_ENOTFOUND, "data.tokenizer: %s (hint)", runs_error_message());
    assert_string_equal(runs_error_message(), "data.tokenizer: tokenizer tok.bin does not exist (hint)");
}

static void test_wrap(void **state)
{
    (void)state;
    runs_error_set(RUNS_ENOTFOUND, "tokenizer tok.bin does not exist");
    assert_int_equal(runs_error_wrap(RUNS_EINVALID, "data.tokenizer of %s", "cfg.json"), RUNS_EINVALID);
    assert_string_equal(runs_error_message(), "data.tokenizer of cfg.json: tokenizer tok.bin does not exist");
    assert_int_equal(runs_error_code(), RUNS_EINVALID);
    runs_error_wrap(RUNS_EINVALID, "start");
    assert_string_equal(runs_error_message(), "start: data.tokenizer of cfg.json: tokenizer tok.bin does not exist");
    /* the current message as an argument is safe too */
    runs_error_set(RUNS_EIO, "abc");
    runs_error_wrap(RUNS_EIO, "[%s]", runs_error_message());
    assert_string_equal(runs_error_message(), "[abc]: abc");
    /* nothing to wrap: just the context */
    runs_error_clear();
    runs_error_wrap(RUNS_ERROR, "context only");
    assert_string_equal(runs_error_message(), "context only");
}

static void test_long_messages_cut_safely(void **state)
{
    (void)state;
    char big[3000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    runs_error_set(RUNS_EINVALID, "%s", big);
    size_t len = strlen(runs_error_message());
    assert_true(len > 1000 && len < 1024);
    runs_error_wrap(RUNS_EINVALID, "ctx");
    len = strlen(runs_error_message());
    assert_true(len < 1024);
    assert_memory_equal(runs_error_message(), "ctx: aaa", 8);
    /* a context longer than the cap keeps its start */
    runs_error_wrap(RUNS_EINVALID, "%s", big);
    assert_true(strlen(runs_error_message()) < 1024);
    /* a multibyte character or an escape is never cut in half */
    char wide[1100] = {0};
    for (size_t i = 0; i + 3 < sizeof wide; i += 2)
        memcpy(wide + i, "\xc3\xa9", 2);
    runs_error_set(RUNS_EINVALID, "%s", wide);
    len = strlen(runs_error_message());
    assert_true(len < 1024 && len % 2 == 0);
    char ctl[1100];
    memset(ctl, '\x1b', sizeof ctl - 1);
    ctl[sizeof ctl - 1] = '\0';
    runs_error_set(RUNS_EINVALID, "%s", ctl);
    len = strlen(runs_error_message());
    assert_true(len < 1024 && len % 4 == 0);
    assert_memory_equal(runs_error_message() + len - 4, "\\x1b", 4);
}

static void test_escaping(void **state)
{
    (void)state;
    runs_error_set(RUNS_ENOTFOUND, "no key '%s'", "a\nb\tc\r\x1b[31mred\x7f");
    assert_string_equal(runs_error_message(), "no key 'a\\nb\\tc\\r\\x1b[31mred\\x7f'");
    /* valid UTF-8 passes; malformed bytes and C1 controls are escaped */
    runs_error_set(RUNS_ENOTFOUND, "%s", "caf\xc3\xa9 \xff \xc2\x9b x\xe2\x82");
    assert_string_equal(runs_error_message(), "caf\xc3\xa9 \\xff \\xc2\\x9b x\\xe2\\x82");
    /* wrapping an escaped message does not escape it again */
    runs_error_set(RUNS_ENOTFOUND, "k\n");
    runs_error_wrap(RUNS_ENOTFOUND, "ctx\t");
    assert_string_equal(runs_error_message(), "ctx\\t: k\\n");
    char buf[8];
    assert_string_equal(runs_error_escape(buf, sizeof buf, "ab\ncd"), "ab\\ncd");
    assert_string_equal(runs_error_escape(buf, sizeof buf, "abcdef\n"), "abcdef");
    assert_string_equal(runs_error_escape(buf, sizeof buf, NULL), "");
}

static void *other_thread(void *arg)
{
    (void)arg;
    static char seen[64];
    snprintf(seen, sizeof seen, "%s", runs_error_message());
    runs_error_set(RUNS_EIO, "thread failure");
    return seen;
}

static void test_thread_local(void **state)
{
    (void)state;
    runs_error_set(RUNS_EINVALID, "main failure");
    pthread_t t;
    void *seen = NULL;
    assert_int_equal(pthread_create(&t, NULL, other_thread, NULL), 0);
    assert_int_equal(pthread_join(t, &seen), 0);
    assert_string_equal((const char *)seen, "");
    assert_string_equal(runs_error_message(), "main failure");
    assert_int_equal(runs_error_code(), RUNS_EINVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_returns_code),
        cmocka_unit_test(test_sys),
        cmocka_unit_test(test_set_with_own_message),
        cmocka_unit_test(test_wrap),
        cmocka_unit_test(test_long_messages_cut_safely),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_thread_local),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
