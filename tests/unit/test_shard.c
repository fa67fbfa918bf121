/* tests/unit/test_shard.c — llm.c-layout shards: layout, validation errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "tools/shard.h"

static char dir[64];

static int setup(void **state)
{
    strcpy(dir, "/tmp/test_shard_XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

static void path_of(char *p, const char *name)
{
    snprintf(p, 256, "%s/%s", dir, name);
}

static void test_layout(void **state)
{
    char p[256];
    path_of(p, "a.tok");
    int32_t ids[5] = {0, 1, 65535, 256, 4095};
    assert_int_equal(runs_shard_write(p, ids, 5), 0);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, 1024 + 10);
    FILE *f = fopen(p, "rb");
    int32_t h[256];
    uint16_t t[5];
    assert_int_equal(fread(h, 4, 256, f), 256);
    assert_int_equal(fread(t, 2, 5, f), 5);
    fclose(f);
    assert_int_equal(h[0], 20240520);
    assert_int_equal(h[1], 1);
    assert_int_equal(h[2], 5);
    for (int i = 3; i < 256; i++)
        assert_int_equal(h[i], 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(t[i], ids[i]);
    runs_shard s;
    assert_int_equal(runs_shard_open(&s, p, 0), 0);
    assert_int_equal(s.count, 5);
    assert_int_equal(s.tokens[2], 65535);
    runs_shard_close(&s);
}

static void test_streaming_writer(void **state)
{
    char p[256];
    path_of(p, "big.tok");
    runs_shard_writer *w;
    assert_int_equal(runs_shard_writer_open(&w, p), 0);
    int32_t buf[10000];
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < 10000; i++)
            buf[i] = (k * 10000 + i) % 5000;
        assert_int_equal(runs_shard_writer_add(w, buf, 10000), 0);
    }
    assert_int_equal(access(p, F_OK), -1); /* nothing under the final name until close */
    assert_int_equal(runs_shard_writer_close(w), 0);
    runs_shard s;
    assert_int_equal(runs_shard_open(&s, p, 5000), 0);
    assert_int_equal(s.count, 30000);
    for (int i = 0; i < 30000; i++)
        assert_int_equal(s.tokens[i], i % 5000);
    runs_shard_close(&s);
    /* a token that does not fit uint16 is refused with its index */
    assert_int_equal(runs_shard_writer_open(&w, p), 0);
    int32_t bad[3] = {1, 2, 70000};
    assert_int_equal(runs_shard_writer_add(w, bad, 3), RUNS_EINVALID);
    assert_non_null(strstr(runs_error_message(), "index 2"));
    runs_shard_writer_abort(w);
}

static void test_validation_errors(void **state)
{
    char p[256];
    runs_shard s;
    path_of(p, "missing.tok");
    assert_int_equal(runs_shard_open(&s, p, 0), RUNS_ENOTFOUND);
    assert_non_null(strstr(runs_error_message(), "missing.tok"));

    /* token >= vocab: names the file, the index and the byte offset */
    path_of(p, "vocab.tok");
    int32_t ids[4] = {1, 2, 3, 900};
    assert_int_equal(runs_shard_write(p, ids, 4), 0);
    assert_int_equal(runs_shard_open(&s, p, 512), RUNS_EINVALID);
    const char *m = runs_error_message();
    assert_non_null(strstr(m, "vocab.tok"));
    assert_non_null(strstr(m, "index 3"));
    assert_non_null(strstr(m, "byte offset 1030"));
    assert_int_equal(runs_shard_open(&s, p, 901), 0);
    runs_shard_close(&s);

    /* truncated file */
    assert_int_equal(truncate(p, 1024 + 5), 0);
    assert_int_equal(runs_shard_open(&s, p, 0), RUNS_ECORRUPT);
    assert_non_null(strstr(runs_error_message(), "truncated"));
    /* shorter than the header */
    assert_int_equal(truncate(p, 100), 0);
    assert_int_equal(runs_shard_open(&s, p, 0), RUNS_ECORRUPT);
    /* bad magic */
    path_of(p, "magic.tok");
    FILE *f = fopen(p, "wb");
    int32_t h[256] = {12345, 1, 0};
    fwrite(h, 4, 256, f);
    fclose(f);
    assert_int_equal(runs_shard_open(&s, p, 0), RUNS_ECORRUPT);
    assert_non_null(strstr(runs_error_message(), "magic"));
    /* bad version */
    f = fopen(p, "wb");
    h[0] = 20240520;
    h[1] = 7;
    fwrite(h, 4, 256, f);
    fclose(f);
    assert_int_equal(runs_shard_open(&s, p, 0), RUNS_ECORRUPT);
    assert_non_null(strstr(runs_error_message(), "version 7"));
    /* empty shard is valid at this level (the data loader refuses it) */
    path_of(p, "empty.tok");
    assert_int_equal(runs_shard_write(p, NULL, 0), 0);
    assert_int_equal(runs_shard_open(&s, p, 10), 0);
    assert_int_equal(s.count, 0);
    runs_shard_close(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_streaming_writer),
        cmocka_unit_test(test_validation_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
