/* runner/omp_env.c — the training commands' one re-exec with a short OpenMP spin
 * (runner/omp_env.h says why). */
#define _GNU_SOURCE
#include "runner/omp_env.h"

#include <errno.h>
#include <omp.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"

int runs_omp_env_trains(const char *command)
{
    static const char *const trains[] = {"start", "resume", "fork", "restart", "eval", "sharpness"};
    if (!command)
        return 0;
    for (size_t i = 0; i < sizeof trains / sizeof trains[0]; i++)
        if (!strcmp(command, trains[i]))
            return 1;
    return 0;
}

/* Set at all, even empty: libgomp treats an empty value as unset, but a user
 * who wrote it meant to choose, and runs does not second-guess them. */
static int is_set(const char *name)
{
    return getenv(name) != NULL;
}

/* OMP_NUM_THREADS=1 (the test suite's setting): one thread never waits at a
 * barrier, so the re-exec would buy nothing. A list ("1,2", nested levels) or
 * anything else counts as more. */
static int one_thread(void)
{
    const char *v = getenv("OMP_NUM_THREADS");
    if (!v)
        return 0;
    char *end;
    long n = strtol(v, &end, 10);
    while (*end == ' ' || *end == '\t')
        end++;
    return end != v && !*end && n == 1;
}

int runs_omp_env_wanted(const char *command)
{
    return runs_omp_env_trains(command) && !is_set("OMP_WAIT_POLICY") && !is_set("GOMP_SPINCOUNT") &&
           !is_set(RUNS_OMP_ENV_MARK) && !one_thread();
}

/* When the user asked for binding (OMP_PROC_BIND, OMP_PLACES, GOMP_CPU_AFFINITY),
 * libgomp's start-up bound this, the initial thread, to the first place, and exec
 * keeps a thread's CPU mask: the re-executed libgomp would compute its places from
 * that one place and put every thread on it (2 threads on one core ran a step at
 * half speed). So the mask goes back to the CPUs of all the places libgomp computed
 * from the original one. 0 when there was nothing to widen or it was widened;
 * RUNS_EIO when the mask could not be set (the caller then does not re-execute). */
static int widen_to_places(void)
{
    int np = omp_get_num_places();
    if (np <= 0)
        return 0; /* no binding asked for: the mask was not narrowed */
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int p = 0; p < np; p++) {
        int n = omp_get_place_num_procs(p);
        if (n <= 0)
            continue;
        int ids[n];
        omp_get_place_proc_ids(p, ids);
        for (int i = 0; i < n; i++)
            if (ids[i] >= 0 && ids[i] < CPU_SETSIZE)
                CPU_SET(ids[i], &set);
    }
    if (CPU_COUNT(&set) == 0)
        return 0;
    if (sched_setaffinity(0, sizeof set, &set) != 0)
        return runs_error_set(RUNS_EIO,
                              "omp_env: cannot give the re-executed trainer back the CPUs of its OpenMP places (%s); "
                              "training keeps libgomp's default spin",
                              strerror(errno));
    return 0;
}

int runs_omp_env_reexec(char **argv, const char *command)
{
    int rc = 0;
    if (!argv || !argv[0] || !runs_omp_env_wanted(command) || (rc = widen_to_places()) != 0)
        goto done;
    /* The marker goes in first: whatever happens next, no process started
     * from here re-executes again. */
    if (setenv(RUNS_OMP_ENV_MARK, "1", 1) || setenv("GOMP_SPINCOUNT", RUNS_OMP_SPINCOUNT, 1)) {
        rc = runs_error_set(RUNS_EIO, "omp_env: setenv failed (%s); training keeps libgomp's default spin",
                            strerror(errno));
        goto done;
    }
    /* /proc/self/exe, not argv[0]: the program that runs now, wherever PATH
     * would lead. exec keeps the pid, so mpirun and a parent's wait() see one
     * process. */
    execv("/proc/self/exe", argv);
    rc = runs_error_set(RUNS_EIO,
                        "omp_env: re-exec of /proc/self/exe failed (%s); training keeps libgomp's default spin",
                        strerror(errno));
done:
    if (rc) { /* this process's libgomp keeps its defaults: its children should match */
        unsetenv("GOMP_SPINCOUNT");
        unsetenv(RUNS_OMP_ENV_MARK);
    }
    return rc;
}
