/* runner/rundir.c — see rundir.h. */
#include "runner/rundir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>

#include "common/error.h"

int runs_read_file(char **out, size_t *len, const char *path)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT ? runs_error_set(RUNS_ENOTFOUND, "%s: no such file", path)
                               : runs_error_sys(RUNS_EIO, "open", path);
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    int rc = RUNS_OK;
    for (;;) {
        if (!buf) {
            rc = runs_error_set(RUNS_ENOMEM, "out of memory reading %s", path);
            break;
        }
        n += fread(buf + n, 1, cap - n - 1, f);
        if (ferror(f)) {
            rc = runs_error_sys(RUNS_EIO, "read", path);
            break;
        }
        if (feof(f))
            break;
        cap *= 2;
        char *nb = realloc(buf, cap);
        if (!nb)
            free(buf);
        buf = nb;
    }
    fclose(f);
    if (rc != RUNS_OK) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *out = buf;
    if (len)
        *len = n;
    return RUNS_OK;
}

static void rundir_path(char *buf, size_t len, runs_store *s, const char *run)
{
    snprintf(buf, len, "%s/rundirs/%s", runs_store_dir(s), run);
}

int runs_rundir_set(runs_store *s, const char *run, const char *dir)
{
    char p[PATH_MAX], abs[PATH_MAX];
    snprintf(p, sizeof p, "%s/rundirs", runs_store_dir(s));
    if (mkdir(p, 0755) != 0 && errno != EEXIST)
        return runs_error_sys(RUNS_EIO, "mkdir", p);
    if (!realpath(dir, abs))
        return runs_error_sys(RUNS_EIO, "realpath", dir);
    rundir_path(p, sizeof p, s, run);
    size_t n = strlen(abs);
    abs[n] = '\n';
    return runs_file_write_atomic(p, abs, n + 1);
}

int runs_rundir_get(char *buf, size_t len, runs_store *s, const char *run)
{
    char p[PATH_MAX];
    rundir_path(p, sizeof p, s, run);
    FILE *f = fopen(p, "r");
    if (!f)
        return runs_error_set(RUNS_ENOTFOUND, "run '%s' has no recorded directory", run);
    if (!fgets(buf, (int)len, f))
        buf[0] = '\0';
    fclose(f);
    buf[strcspn(buf, "\n")] = '\0';
    if (!buf[0])
        return runs_error_set(RUNS_ENOTFOUND, "run '%s' has no recorded directory", run);
    return RUNS_OK;
}

static void lock_path(char *buf, size_t len, runs_store *s, const char *run)
{
    snprintf(buf, len, "%s/locks/%s.trainer", runs_store_dir(s), run);
}

int runs_trainer_lock(int *fd_out, runs_store *s, const char *run)
{
    char p[PATH_MAX];
    lock_path(p, sizeof p, s, run);
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return runs_error_sys(RUNS_EIO, "open", p);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t r = pread(fd, pid, sizeof pid - 1, 0);
        if (r > 0)
            pid[r] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        close(fd);
        return runs_error_set(RUNS_ELOCKED,
                              "run '%s' already has a trainer (pid %s); stop it first or "
                              "fork a new run",
                              run, pid[0] ? pid : "?");
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
        int rc = runs_error_sys(RUNS_EIO, "write", p);
        close(fd);
        return rc;
    }
    *fd_out = fd;
    return RUNS_OK;
}

int runs_trainer_pid(runs_store *s, const char *run)
{
    char p[PATH_MAX];
    lock_path(p, sizeof p, s, run);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int pid = 0;
    if (flock(fd, LOCK_SH | LOCK_NB) != 0) {
        char buf[32] = "";
        ssize_t r = pread(fd, buf, sizeof buf - 1, 0);
        if (r > 0) {
            buf[r] = '\0';
            pid = atoi(buf);
        }
    }
    close(fd);
    return pid;
}
