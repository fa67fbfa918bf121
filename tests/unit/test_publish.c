/* tests/unit/test_publish.c — the one atomic publish path (store/publish.h):
 * commit is visible with the asked mode, abort and every failure leave the old
 * file and no temp, the stdio stream and raw writes keep their order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "store/publish.h"
#include "store/store.h"

typedef struct {
    char dir[256];
    char file[300];
} fx;

static int setup(void **state)
{
    fx *x = calloc(1, sizeof *x);
    snprintf(x->dir, sizeof x->dir, "%s/runs-publish-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(x->dir))
        return -1;
    snprintf(x->file, sizeof x->file, "%s/out.txt", x->dir);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    fx *x = *state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "chmod -R u+w '%s'; rm -rf '%s'", x->dir, x->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", x->dir);
    free(x);
    return 0;
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

static void put_old(const fx *x)
{
    assert_int_equal(runs_file_write_atomic(x->file, "old\n", 4), 0);
}

static void assert_content(const char *path, const char *want)
{
    char *got = slurp(path);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

/* Only out.txt (and what the test made on purpose) may be in the directory. */
static int count_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, ".tmp", 4))
            n++;
    closedir(d);
    return n;
}

static void test_commit_visible_and_mode(void **state)
{
    fx *x = *state;
    put_old(x);
    runs_publish *p = NULL;
    assert_int_equal(runs_publish_open(&p, x->file, 0600), 0);
    const char *tmp = runs_publish_tmp_path(p);
    /* the temp sits beside the target, so the rename cannot cross file systems */
    assert_int_equal(strncmp(tmp, x->dir, strlen(x->dir)), 0);
    assert_int_equal(runs_publish_write(p, "new ", 4), 0);
    assert_content(x->file, "old\n"); /* not visible before commit */
    assert_int_equal(runs_publish_write(p, "bytes\n", 6), 0);
    assert_int_equal(count_tmp(x->dir), 1);
    assert_int_equal(runs_publish_commit(p), 0);
    assert_content(x->file, "new bytes\n");
    struct stat st;
    assert_int_equal(stat(x->file, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(count_tmp(x->dir), 0);

    /* the whole-buffer form gives 0644 and mode_ gives what it is asked */
    assert_int_equal(runs_file_write_atomic(x->file, "a", 1), 0);
    assert_int_equal(stat(x->file, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    assert_int_equal(runs_file_write_atomic_mode(x->file, "b", 1, 0755), 0);
    assert_int_equal(stat(x->file, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0755);
    assert_content(x->file, "b");
}

static void test_stream_and_raw_keep_order(void **state)
{
    fx *x = *state;
    runs_publish *p = NULL;
    assert_int_equal(runs_publish_open(&p, x->file, 0644), 0);
    FILE *f = runs_publish_file(p);
    assert_non_null(f);
    fprintf(f, "line %d\n", 1);
    assert_int_equal(runs_publish_write(p, "line 2\n", 7), 0);
    fputs("line 3\n", f);
    assert_int_equal(runs_publish_commit(p), 0);
    assert_content(x->file, "line 1\nline 2\nline 3\n");
    assert_int_equal(count_tmp(x->dir), 0);
}

static void test_abort_leaves_old_file(void **state)
{
    fx *x = *state;
    put_old(x);
    runs_publish *p = NULL;
    assert_int_equal(runs_publish_open(&p, x->file, 0644), 0);
    assert_int_equal(runs_publish_write(p, "half", 4), 0);
    fputs(" more", runs_publish_file(p));
    runs_publish_abort(p);
    assert_content(x->file, "old\n");
    assert_int_equal(count_tmp(x->dir), 0);
    runs_publish_abort(NULL); /* NULL is fine */

    /* abort of a new file leaves no file at all */
    char fresh[400];
    snprintf(fresh, sizeof fresh, "%s/fresh", x->dir);
    assert_int_equal(runs_publish_open(&p, fresh, 0644), 0);
    runs_publish_abort(p);
    assert_int_equal(access(fresh, F_OK), -1);
    assert_int_equal(count_tmp(x->dir), 0);
}

static void test_missing_directory_fails(void **state)
{
    fx *x = *state;
    char p[400];
    snprintf(p, sizeof p, "%s/no/such/dir/file", x->dir);
    runs_publish *h = NULL;
    assert_int_equal(runs_publish_open(&h, p, 0644), RUNS_EIO);
    assert_null(h);
    assert_non_null(strstr(runs_error_message(), "no/such/dir"));
    assert_int_equal(runs_file_write_atomic(p, "x", 1), RUNS_EIO);
}

/* A write that fails half way (file size limit: EFBIG, as a full disk would give
 * ENOSPC) is an error naming the step, and neither the target nor a temp changes. */
static void test_failed_write_leaves_old_file(void **state)
{
    fx *x = *state;
    put_old(x);
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = 100;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    char big[1000];
    memset(big, 'x', sizeof big);

    int rc = runs_file_write_atomic(x->file, big, sizeof big);
    char msg[512];
    snprintf(msg, sizeof msg, "%s", runs_error_message());

    /* the streaming form fails at commit (stdio buffers), same guarantee */
    runs_publish *p = NULL;
    int rc_open = runs_publish_open(&p, x->file, 0644);
    int rc_commit = RUNS_OK;
    if (!rc_open) {
        FILE *f = runs_publish_file(p);
        fwrite(big, 1, sizeof big, f);
        rc_commit = runs_publish_commit(p);
    }
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);

    assert_int_equal(rc, RUNS_EIO);
    assert_non_null(strstr(msg, "write"));
    assert_int_equal(rc_open, 0);
    assert_int_equal(rc_commit, RUNS_EIO);
    assert_content(x->file, "old\n");
    assert_int_equal(count_tmp(x->dir), 0);
}

/* A rename that cannot happen (the target is a non-empty directory) removes the
 * temp and leaves the target alone. */
static void test_failed_rename_removes_temp(void **state)
{
    fx *x = *state;
    char d[400], inner[450];
    snprintf(d, sizeof d, "%s/adir", x->dir);
    assert_int_equal(mkdir(d, 0755), 0);
    snprintf(inner, sizeof inner, "%s/keep", d);
    assert_int_equal(runs_file_write_atomic(inner, "k", 1), 0);
    assert_int_equal(runs_file_write_atomic(d, "x", 1), RUNS_EIO);
    assert_non_null(strstr(runs_error_message(), "rename"));
    assert_content(inner, "k");
    assert_int_equal(count_tmp(x->dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_commit_visible_and_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_and_raw_keep_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort_leaves_old_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_directory_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_write_leaves_old_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_rename_removes_temp, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
