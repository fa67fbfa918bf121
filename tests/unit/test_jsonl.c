/* tests/unit/test_jsonl.c — the JSON Lines log module (store/jsonl.h): one policy
 * for damage (torn last line skipped and counted, bad middle line RUNS_ECORRUPT
 * with file:line), empty and missing files, checked appends that mend a torn tail,
 * truncation's keep/drop boundary and that a corrupt log is left as it was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "store/jsonl.h"

typedef struct {
    char dir[256];
    char file[300];
} fx;

static int setup(void **state)
{
    fx *x = calloc(1, sizeof *x);
    snprintf(x->dir, sizeof x->dir, "%s/runs-jsonl-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(x->dir))
        return -1;
    snprintf(x->file, sizeof x->file, "%s/.loss.json", x->dir);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    fx *x = *state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", x->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", x->dir);
    free(x);
    return 0;
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = calloc(1, 1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

typedef struct {
    long steps[16];
    long lines[16];
    int n;
} seen;

static int collect(void *ctx, const cJSON *obj, const char *line, size_t len, long lineno)
{
    seen *s = ctx;
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(obj, "step");
    assert_true(cJSON_IsNumber(st));
    assert_true(len > 0 && line[0] == '{' && line[len - 1] == '}');
    if (s->n < 16) {
        s->steps[s->n] = (long)st->valuedouble;
        s->lines[s->n] = lineno;
    }
    s->n++;
    return 0;
}

static void test_reads_records_and_skips_blank_lines(void **state)
{
    fx *x = *state;
    put(x->file, "{\"step\":0,\"loss\":5}\n\n  \n{\"step\":1,\"loss\":4}\n");
    seen s = {0};
    size_t torn = 7;
    assert_int_equal(runs_jsonl_read_file(x->file, collect, &s, &torn), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.steps[1], 1);
    assert_int_equal(s.lines[1], 4); /* line numbers count blank lines too */
    assert_int_equal(torn, 0);
}

static void test_torn_last_line_is_skipped_and_counted(void **state)
{
    fx *x = *state;
    /* the last record lacks its newline: a crash mid-append, even if it parses */
    put(x->file, "{\"step\":0}\n{\"step\":1}\n{\"step\":2,\"lo");
    seen s = {0};
    size_t torn = 0;
    assert_int_equal(runs_jsonl_read_file(x->file, collect, &s, &torn), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(torn, 1);
    put(x->file, "{\"step\":0}\n{\"step\":1}");
    memset(&s, 0, sizeof s);
    assert_int_equal(runs_jsonl_read_file(x->file, collect, &s, &torn), 0);
    assert_int_equal(s.n, 1);
    assert_int_equal(torn, 1);
}

static void test_bad_middle_line_is_corruption(void **state)
{
    fx *x = *state;
    put(x->file, "{\"step\":0}\n{\"step\":1,\"lo\n{\"step\":2}\n");
    seen s = {0};
    assert_int_equal(runs_jsonl_read_file(x->file, collect, &s, NULL), RUNS_ECORRUPT);
    char want[400];
    snprintf(want, sizeof want, "%s:2: not a JSON object", x->file);
    assert_non_null(strstr(runs_error_message(), want));
    /* a complete last line that does not parse is damage too, not a crash */
    put(x->file, "{\"step\":0}\n[1,2]\n");
    assert_int_equal(runs_jsonl_read_file(x->file, collect, &s, NULL), RUNS_ECORRUPT);
    assert_non_null(strstr(runs_error_message(), ":2: not a JSON object"));
    /* the buffer form names its origin */
    const char *seg = "garbage\n{\"step\":3}\n";
    assert_int_equal(runs_jsonl_read_buf(seg, strlen(seg), "object 1234", 0, collect, &s, NULL), RUNS_ECORRUPT);
    assert_non_null(strstr(runs_error_message(), "object 1234:1:"));
}

/* A store object was whole when hashed: its last line needs no '\n', and if it
 * does not parse it is damage, not a tear. */
static void test_whole_buffer_has_no_torn_line(void **state)
{
    (void)state;
    const char *seg = "{\"step\":1}\n{\"step\":2}";
    seen s = {0};
    size_t torn = 9;
    assert_int_equal(runs_jsonl_read_buf(seg, strlen(seg), "seg", RUNS_JSONL_WHOLE, collect, &s, &torn), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.steps[1], 2);
    assert_int_equal(torn, 0);
    const char *cut = "{\"step\":1}\n{\"step\":2,";
    assert_int_equal(runs_jsonl_read_buf(cut, strlen(cut), "seg", RUNS_JSONL_WHOLE, collect, &s, NULL), RUNS_ECORRUPT);
    assert_non_null(strstr(runs_error_message(), "seg:2: not a JSON object"));
}

static void test_empty_and_missing(void **state)
{
    fx *x = *state;
    put(x->file, "");
    seen s = {0};
    size_t torn = 3;
    assert_int_equal(runs_jsonl_read_file(x->file, collect, &s, &torn), 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(torn, 0);
    char missing[400];
    snprintf(missing, sizeof missing, "%s/nope.json", x->dir);
    assert_int_equal(runs_jsonl_read_file(missing, collect, &s, NULL), RUNS_ENOTFOUND);
    assert_non_null(strstr(runs_error_message(), "nope.json"));
}

static int stop_at_two(void *ctx, const cJSON *obj, const char *line, size_t len, long lineno)
{
    (void)obj, (void)line, (void)len;
    return lineno == 2 ? RUNS_EINVALID : 0;
}

static void test_callback_stops_reading(void **state)
{
    fx *x = *state;
    put(x->file, "{\"step\":0}\n{\"step\":1}\n{\"step\":2}\n");
    assert_int_equal(runs_jsonl_read_file(x->file, stop_at_two, NULL, NULL), RUNS_EINVALID);
}

static void test_append_mends_torn_tail(void **state)
{
    fx *x = *state;
    put(x->file, "{\"step\":0}\n{\"step\":1,\"lo");
    FILE *f = NULL;
    size_t torn = 0;
    assert_int_equal(runs_jsonl_open_append(&f, &torn, x->file), 0);
    assert_int_equal(torn, 1);
    const char *rec = "{\"step\":1,\"loss\":3}";
    assert_int_equal(runs_jsonl_append(f, x->file, rec, strlen(rec)), 0);
    assert_int_equal(runs_jsonl_sync(f, x->file), 0);
    assert_int_equal(runs_jsonl_append(f, x->file, "{\"a\":\n1}", 8), RUNS_EINVALID);
    fclose(f);
    char *got = slurp(x->file);
    assert_string_equal(got, "{\"step\":0}\n{\"step\":1,\"loss\":3}\n");
    free(got);
    /* a fresh file is created; a whole file is left alone */
    char fresh[400];
    snprintf(fresh, sizeof fresh, "%s/.samples.json", x->dir);
    assert_int_equal(runs_jsonl_open_append(&f, &torn, fresh), 0);
    assert_int_equal(torn, 0);
    fclose(f);
    assert_int_equal(runs_jsonl_open_append(&f, &torn, x->file), 0);
    assert_int_equal(torn, 0);
    fclose(f);
    got = slurp(x->file);
    assert_string_equal(got, "{\"step\":0}\n{\"step\":1,\"loss\":3}\n");
    free(got);
}

/* /dev/full refuses every write (ENOSPC): the error names the step "write". */
static void test_append_failure_is_reported(void **state)
{
    (void)state;
    FILE *f = fopen("/dev/full", "w");
    if (!f) {
        skip();
        return;
    }
    assert_int_equal(runs_jsonl_append(f, "/dev/full", "{\"step\":1}", 10), RUNS_EIO);
    assert_non_null(strstr(runs_error_message(), "write"));
    fclose(f);
}

static void test_truncate_boundary(void **state)
{
    fx *x = *state;
    const char *log = "{\"step\":0,\"x\":\"a\"}\n{\"step\":1}\n{\"step\":2}\n{\"step\":3}\n{\"step\":4,\"to";
    put(x->file, log);
    assert_int_equal(runs_jsonl_truncate_steps(x->file, 2, 1), 0); /* keep <= 2 */
    char *got = slurp(x->file);
    assert_string_equal(got, "{\"step\":0,\"x\":\"a\"}\n{\"step\":1}\n{\"step\":2}\n");
    free(got);
    assert_int_equal(runs_jsonl_truncate_steps(x->file, 2, 0), 0); /* keep < 2 */
    got = slurp(x->file);
    assert_string_equal(got, "{\"step\":0,\"x\":\"a\"}\n{\"step\":1}\n");
    free(got);
    assert_int_equal(runs_jsonl_truncate_steps(x->file, 0, 0), 0);
    got = slurp(x->file);
    assert_string_equal(got, "");
    free(got);

    char missing[400];
    snprintf(missing, sizeof missing, "%s/fresh.json", x->dir);
    assert_int_equal(runs_jsonl_truncate_steps(missing, 5, 1), 0);
    got = slurp(missing);
    assert_non_null(got);
    assert_string_equal(got, "");
    free(got);
}

static void test_truncate_keeps_corrupt_log(void **state)
{
    fx *x = *state;
    const char *log = "{\"step\":0}\nnot json\n{\"step\":2}\n";
    put(x->file, log);
    assert_int_equal(runs_jsonl_truncate_steps(x->file, 1, 0), RUNS_ECORRUPT);
    assert_non_null(strstr(runs_error_message(), ":2: not a JSON object"));
    char *got = slurp(x->file);
    assert_string_equal(got, log);
    free(got);
    put(x->file, "{\"step\":0}\n{\"loss\":1}\n");
    assert_int_equal(runs_jsonl_truncate_steps(x->file, 1, 0), RUNS_ECORRUPT);
    assert_non_null(strstr(runs_error_message(), ":2: a log record without a numeric \"step\""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reads_records_and_skips_blank_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_last_line_is_skipped_and_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_middle_line_is_corruption, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_and_missing, setup, teardown),
        cmocka_unit_test(test_whole_buffer_has_no_torn_line),
        cmocka_unit_test_setup_teardown(test_callback_stops_reading, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_mends_torn_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_failure_is_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncate_boundary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncate_keeps_corrupt_log, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
