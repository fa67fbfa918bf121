/* runner/rundir.c — see rundir.h. */
#include "runner/rundir.h"
#include "store/lineage.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>

#include "common/error.h"
#include "common/file.h"

static void rundir_path(char *buf, size_t len, runs_store *s, const char *run)
{
    snprintf(buf, len, "%s/rundirs/%s", runs_store_dir(s), run);
}

/* The store's parent directory, resolved ("/home/u/proj" for /home/u/proj/.runs). */
static int store_parent(char *buf, size_t len, runs_store *s)
{
    char abs[PATH_MAX];
    if (!realpath(runs_store_dir(s), abs))
        return runs_error_sys(RUNS_EIO, "realpath", runs_store_dir(s));
    char *slash = strrchr(abs, '/');
    if (slash == abs)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    snprintf(buf, len, "%s", abs);
    return RUNS_OK;
}

int runs_rundir_set(runs_store *s, const char *run, const char *dir)
{
    char p[PATH_MAX], abs[PATH_MAX], parent[PATH_MAX];
    int rc;
    snprintf(p, sizeof p, "%s/rundirs", runs_store_dir(s));
    if (mkdir(p, 0755) != 0 && errno != EEXIST)
        return runs_error_sys(RUNS_EIO, "mkdir", p);
    if (!realpath(dir, abs))
        return runs_error_sys(RUNS_EIO, "realpath", dir);
    if ((rc = store_parent(parent, sizeof parent, s)))
        return rc;
    /* inside the store's parent tree: relative, so a copy of the whole tree
     * finds its own copy of the directory, never the original */
    const char *rec = abs;
    size_t pl = strlen(parent);
    if (strcmp(parent, "/") && !strncmp(abs, parent, pl) && abs[pl] == '/')
        rec = abs + pl + 1;
    rundir_path(p, sizeof p, s, run);
    char line[PATH_MAX + 1];
    int n = snprintf(line, sizeof line, "%s\n", rec);
    return runs_file_write_atomic(p, line, (size_t)n);
}

int runs_rundir_get(char *buf, size_t len, runs_store *s, const char *run)
{
    char p[PATH_MAX], rec[PATH_MAX];
    rundir_path(p, sizeof p, s, run);
    FILE *f = fopen(p, "r");
    if (!f)
        return runs_error_set(RUNS_ENOTFOUND, "run '%s' has no recorded directory", run);
    if (!fgets(rec, (int)sizeof rec, f))
        rec[0] = '\0';
    fclose(f);
    rec[strcspn(rec, "\n")] = '\0';
    if (!rec[0])
        return runs_error_set(RUNS_ENOTFOUND, "run '%s' has no recorded directory", run);
    if (rec[0] == '/') {
        snprintf(buf, len, "%s", rec);
        return RUNS_OK;
    }
    char parent[PATH_MAX];
    int rc = store_parent(parent, sizeof parent, s);
    if (rc)
        return rc;
    if ((size_t)snprintf(buf, len, "%s/%s", parent, rec) >= len)
        return runs_error_set(RUNS_EINVALID, "run '%s': directory %s/%s is too long a path", run, parent, rec);
    return RUNS_OK;
}

/* The marker names the store and the directory as they were when it was written. */
int runs_rundir_claim(runs_store *s, const char *run, const char *dir)
{
    char real[PATH_MAX], store[PATH_MAX], mp[PATH_MAX + 16];
    char *text = NULL, *out = NULL;
    cJSON *j = NULL, *w = NULL;
    int rc;
    if (!realpath(dir, real))
        return runs_error_sys(RUNS_EIO, "realpath", dir);
    if (!realpath(runs_store_dir(s), store))
        return runs_error_sys(RUNS_EIO, "realpath", runs_store_dir(s));
    snprintf(mp, sizeof mp, "%s/" RUNS_RUNDIR_MARKER, real);
    rc = runs_file_read(&text, NULL, mp);
    if (rc == RUNS_ENOTFOUND) {
        runs_error_clear();
    } else if (rc) {
        goto done;
    } else if ((j = cJSON_Parse(text))) {
        const char *ms = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "store"));
        const char *md = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "dir"));
        char lg[PATH_MAX + 16];
        struct stat st;
        /* the other store's own directory (not a copy of it), and that store is still there */
        if (ms && md && strcmp(ms, store) && !strcmp(md, real) &&
            (snprintf(lg, sizeof lg, "%s/lineage.git", ms), stat(lg, &st) == 0)) {
            rc = runs_error_set(RUNS_EEXISTS,
                                "run directory %s belongs to the store at %s, not to this one (%s): a copied "
                                "store must not write into the original's runs; pass --dir DIR to give run "
                                "'%s' a directory of its own",
                                real, ms, store, run);
            goto done;
        }
    }
    if (!(w = cJSON_CreateObject()) || !cJSON_AddStringToObject(w, "store", store) ||
        !cJSON_AddStringToObject(w, "dir", real) || !cJSON_AddStringToObject(w, "run", run) ||
        !(out = cJSON_PrintUnformatted(w))) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory writing %s", mp);
        goto done;
    }
    size_t n = strlen(out);
    char *line = realloc(out, n + 2);
    if (!line) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory writing %s", mp);
        goto done;
    }
    out = line;
    out[n] = '\n';
    rc = runs_file_write_atomic(mp, out, n + 1);
done:
    cJSON_Delete(j);
    cJSON_Delete(w);
    free(text);
    free(out);
    return rc;
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

int runs_trainer_signal(int *pid, runs_store *s, const char *run, int sig)
{
    char tip[41];
    *pid = 0;
    int rc = runs_run_tip(tip, s, run);
    if (rc == RUNS_ENOTFOUND)
        return runs_error_set(RUNS_ENOTFOUND, "no run named '%s'; `runs ls` lists the runs", run);
    if (rc)
        return rc;
    if ((*pid = runs_trainer_pid(s, run)) <= 0)
        return runs_error_set(RUNS_ENOTFOUND, "no trainer is running run '%s'; `runs resume %s` starts one", run, run);
    if (kill(*pid, sig) != 0)
        return runs_error_sys(RUNS_EIO, "kill", "the trainer");
    return 0;
}
