/* bench/bench_startup.c — how long a `runs` command takes to start, against
 * /bin/true started the same way in the same run (the fork+exec floor of this
 * machine at this moment).
 *
 *   build/bench/bench_startup [N] [RUNS]   (default 50 starts each; RUNS defaults to
 *                                           the runs next to build/bench/, i.e. build/runs)
 *
 * Each start is posix_spawn + waitpid of `runs --help` with stdout and stderr on
 * /dev/null; the two programs alternate so a load change on a shared machine hits
 * both alike. Prints the median and the mean ms per start of each and the ratio of
 * medians. Why it exists: while `runs` linked cuBLAS/cudart (~540 MB mapped at
 * start-up) every command took ~80 ms quiet and 1-2 s on a busy machine; with the
 * backend dlopen()ed on demand (cuda/cuda_loader.c) it is a few ms. Not a test. */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* One start of argv; ms, or -1 where it could not run or failed. */
static double start_once(char *const argv[], posix_spawn_file_actions_t *fa)
{
    pid_t pid;
    int st;
    double t0 = now_ms();
    if (posix_spawn(&pid, argv[0], fa, NULL, argv, environ) != 0)
        return -1;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return -1;
    return now_ms() - t0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double mean(const double *v, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += v[i];
    return s / n;
}

int main(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: bench_startup [N] [RUNS]\nms per start of `runs --help` vs /bin/true, N starts each (default "
               "50).\n");
        return 0;
    }
    int n = argc > 1 ? atoi(argv[1]) : 50;
    if (n <= 0 || n > 100000) {
        fprintf(stderr, "bench_startup: N (%s) must be 1..100000\n", argv[1]);
        return 1;
    }
    char runs[4096];
    if (argc > 2) {
        snprintf(runs, sizeof runs, "%s", argv[2]);
    } else {
        /* build/bench/bench_startup -> build/runs */
        ssize_t k = readlink("/proc/self/exe", runs, sizeof runs - 16);
        char *slash = k > 0 ? (runs[k] = '\0', strrchr(runs, '/')) : NULL;
        if (!slash) {
            fprintf(stderr, "bench_startup: cannot find my own path; pass the runs binary as the second argument\n");
            return 1;
        }
        strcpy(slash, "/../runs");
    }
    char *runs_argv[] = {runs, "--help", NULL};
    char *true_argv[] = {"/bin/true", NULL};

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);

    double *tr = malloc(sizeof *tr * (size_t)n), *tt = malloc(sizeof *tt * (size_t)n);
    int rc = 1;
    if (!tr || !tt) {
        fprintf(stderr, "bench_startup: out of memory\n");
        goto done;
    }
    /* one warm-up of each: page cache, dynamic loader cache */
    if (start_once(runs_argv, &fa) < 0) {
        fprintf(stderr, "bench_startup: `%s --help` did not run or failed; build it (make) or pass its path\n", runs);
        goto done;
    }
    if (start_once(true_argv, &fa) < 0) {
        fprintf(stderr, "bench_startup: /bin/true did not run\n");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        tr[i] = start_once(runs_argv, &fa);
        tt[i] = start_once(true_argv, &fa);
        if (tr[i] < 0 || tt[i] < 0) {
            fprintf(stderr, "bench_startup: start %d failed\n", i);
            goto done;
        }
    }
    double mr = mean(tr, n), mt = mean(tt, n);
    double dr = median(tr, n), dt = median(tt, n);
    printf("bench_startup: %d starts each, alternating\n", n);
    printf("  runs --help  median %8.2f ms  mean %8.2f ms  (%s)\n", dr, mr, runs);
    printf("  /bin/true    median %8.2f ms  mean %8.2f ms\n", dt, mt);
    printf("  ratio runs/true (medians) %.2f\n", dt > 0 ? dr / dt : 0.0);
    rc = 0;
done:
    posix_spawn_file_actions_destroy(&fa);
    free(tr);
    free(tt);
    return rc;
}
