/* bench/bench_startup.c — how long a `runs` command takes to start, against
 * /bin/true started the same way in the same run (the fork+exec floor of this
 * machine at this moment), and against a second build of `runs` without MPI.
 *
 *   build/bench/bench_startup [N] [RUNS [RUNS2]]
 *
 * N starts of each (default 50). RUNS defaults to the runs next to build/bench/
 * (build/runs); RUNS2 to build/nompi/runs where it exists, which `make bench`
 * builds (MPI=0, into $(B)/nompi) when the build found mpicc: then the two columns
 * are the same commit with MPI support (the transport build/libruns-mpi.so, loaded
 * only under mpirun) and without any; their difference should be noise.
 *
 * Three commands, each a posix_spawn + waitpid with stdout and stderr on /dev/null:
 * `runs --help`; `runs log` on a small store (SMALL_NODES nodes the bench commits
 * through the library); `runs lr --config F` (a schedule, no store). Every round
 * starts each command of each binary and /bin/true once, so a load change on a
 * shared machine hits all alike. Prints the median and mean ms per start, the
 * difference of medians between the two builds, and the load average. Why it
 * exists: while `runs` linked cuBLAS/cudart (~540 MB mapped at start-up) every
 * command took ~80 ms quiet and 1-2 s on a busy machine; with the backend
 * dlopen()ed on demand (cuda/cuda_loader.c) it is a few ms. Linking libmpi
 * (with open-rte, open-pal, hwloc, libevent) cost another 3-20 ms a start, so
 * it too is loaded only under mpirun (runner/dp.c, runner/mpi/). libgit2 (with its
 * 15 dependencies) and libcrypto cost another ~9 ms to load and ~13 ms to start; they
 * are loaded when a command first needs them (common/lazylib.h), so `--help`, `lr`
 * and `log` (its store's node cache warm after the first start) go without them.
 * Not a test. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "store/lineage.h"
#include "store/store.h"

extern char **environ;

#define SMALL_NODES 20
#define NCMD 3

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* One start of argv: wall ms, and in *cpu (NULL ok) the child's user+system CPU ms
 * (what the start costs, less the waiting a busy machine adds); -1 where it could
 * not run or failed. */
static double start_once(char *const argv[], posix_spawn_file_actions_t *fa, double *cpu)
{
    pid_t pid;
    int st;
    struct rusage ru;
    double t0 = now_ms();
    if (posix_spawn(&pid, argv[0], fa, NULL, argv, environ) != 0)
        return -1;
    if (wait4(pid, &st, 0, &ru) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return -1;
    double wall = now_ms() - t0;
    if (cpu)
        *cpu = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
    return wall;
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

static const char *loadavg(void)
{
    static char buf[128];
    FILE *f = fopen("/proc/loadavg", "r");
    snprintf(buf, sizeof buf, "?");
    if (f) {
        if (fgets(buf, sizeof buf, f))
            buf[strcspn(buf, "\n")] = '\0';
        fclose(f);
    }
    return buf;
}

/* 1 when the file at path names libmpi among its libraries (its dynamic section's
 * strings), 0 when not, -1 when it cannot be read. */
static int links_libmpi(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    static char buf[1 << 16];
    const char *needle = "libmpi.so";
    size_t nl = strlen(needle), keep = 0, n;
    int found = 0;
    while (!found && (n = fread(buf + keep, 1, sizeof buf - keep, f)) > 0) {
        n += keep;
        found = memmem(buf, n, needle, nl) != NULL;
        keep = n < nl ? n : nl - 1;
        memmove(buf, buf + n - keep, keep);
    }
    fclose(f);
    return found;
}

/* A store with SMALL_NODES nodes of one tiny tensor each, on run main. */
static int make_store(const char *dir)
{
    runs_store *s = NULL;
    char id[41] = "";
    int rc = runs_store_init(dir);
    if (rc == 0)
        rc = runs_store_open(&s, dir);
    float w[16] = {0};
    for (int i = 0; rc == 0 && i < SMALL_NODES; i++) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "schema", "runs.manifest/1");
        cJSON_AddStringToObject(m, "kind", i ? "checkpoint" : "start");
        cJSON_AddStringToObject(m, "run", "main");
        cJSON_AddNumberToObject(m, "step", i * 100);
        cJSON_AddNumberToObject(m, "tokens", i * 100 * 1024);
        if (i)
            cJSON_AddStringToObject(m, "parent", id);
        else
            cJSON_AddNullToObject(m, "parent");
        cJSON_AddObjectToObject(m, "config");
        w[0] = (float)i;
        runs_tensor t = {.name = "w", .group = "weights", .ndim = 1, .shape = {16, 0}, .data = w, .bytes = sizeof w};
        rc = runs_node_commit(id, s, m, &t, 1);
        cJSON_Delete(m);
    }
    if (rc)
        fprintf(stderr, "bench_startup: making the small store in %s: %s\n", dir, runs_error_message());
    runs_store_free(s);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: bench_startup [N] [RUNS [RUNS2]]\nms per start of `runs --help`, `runs log` (small store) and "
               "`runs lr` vs /bin/true,\nN starts each (default 50); RUNS2 (default build/nompi/runs where built) is "
               "a second build to compare.\n");
        return 0;
    }
    int n = argc > 1 ? atoi(argv[1]) : 50;
    if (n <= 0 || n > 100000) {
        fprintf(stderr, "bench_startup: N (%s) must be 1..100000\n", argv[1]);
        return 1;
    }
    char bin[2][4096] = {"", ""};
    int nbin = 1;
    if (argc > 2) {
        snprintf(bin[0], sizeof bin[0], "%s", argv[2]);
        if (argc > 3) {
            snprintf(bin[1], sizeof bin[1], "%s", argv[3]);
            nbin = 2;
        }
    } else {
        /* build/bench/bench_startup -> build/runs, build/nompi/runs */
        char self[4000];
        ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
        char *slash = k > 0 ? (self[k] = '\0', strrchr(self, '/')) : NULL;
        if (!slash) {
            fprintf(stderr, "bench_startup: cannot find my own path; pass the runs binary as the second argument\n");
            return 1;
        }
        *slash = '\0';
        snprintf(bin[0], sizeof bin[0], "%s/../runs", self);
        snprintf(bin[1], sizeof bin[1], "%s/../nompi/runs", self);
        nbin = access(bin[1], X_OK) == 0 ? 2 : 1;
    }

    char dir[4096], store[4200], cfg[4200];
    snprintf(dir, sizeof dir, "%s/runs-startup-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) {
        perror("bench_startup: mkdtemp");
        return 1;
    }
    snprintf(store, sizeof store, "%s/.runs", dir);
    snprintf(cfg, sizeof cfg, "%s/cos.json", dir);
    FILE *f = fopen(cfg, "w");
    if (!f || fputs("{\"train\": {\"total_steps\": 1000}, \"optimizer\": {\"lr\": 3e-4},\n \"schedule\": {\"type\": "
                    "\"cosine\", \"warmup_steps\": 100, \"min_lr_factor\": 0.1}}\n",
                    f) < 0) {
        perror(cfg);
        return 1;
    }
    fclose(f);
    int rc = 1;
    /* t: wall ms, u: CPU ms, per build, command and round; tt, ut: /bin/true's */
    double *t[2][NCMD], *u[2][NCMD], *tt = malloc(sizeof *tt * (size_t)n), *ut = malloc(sizeof *ut * (size_t)n);
    for (int b = 0; b < 2; b++)
        for (int c = 0; c < NCMD; c++) {
            t[b][c] = malloc(sizeof(double) * (size_t)n);
            u[b][c] = malloc(sizeof(double) * (size_t)n);
            if (!t[b][c] || !u[b][c] || !tt || !ut) {
                fprintf(stderr, "bench_startup: out of memory\n");
                return 1;
            }
        }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    if (make_store(store) != 0)
        goto done;

    char logname[64];
    snprintf(logname, sizeof logname, "runs log (%d nodes)", SMALL_NODES);
    const char *names[NCMD] = {"runs --help", logname, "runs lr --config"};
    char *argvs[2][NCMD][6];
    for (int b = 0; b < nbin; b++) {
        char **a = argvs[b][0];
        a[0] = bin[b], a[1] = "--help", a[2] = NULL;
        a = argvs[b][1];
        a[0] = bin[b], a[1] = "--store", a[2] = store, a[3] = "log", a[4] = NULL;
        a = argvs[b][2];
        a[0] = bin[b], a[1] = "lr", a[2] = "--config", a[3] = cfg, a[4] = NULL;
    }
    char *true_argv[] = {"/bin/true", NULL};
    /* one warm-up of each: page cache, dynamic loader cache */
    for (int b = 0; b < nbin; b++)
        for (int c = 0; c < NCMD; c++)
            if (start_once(argvs[b][c], &fa, NULL) < 0) {
                fprintf(stderr, "bench_startup: `%s %s` did not run or failed; build it (make) or pass its path\n",
                        bin[b], argvs[b][c][1]);
                goto done;
            }
    if (start_once(true_argv, &fa, NULL) < 0) {
        fprintf(stderr, "bench_startup: /bin/true did not run\n");
        goto done;
    }
    printf("bench_startup: %d starts each, alternating; load average %s\n", n, loadavg());
    for (int i = 0; i < n; i++) {
        for (int c = 0; c < NCMD; c++)
            for (int b = 0; b < nbin; b++)
                /* the builds' order alternates too */
                if ((t[(b + i) % nbin][c][i] = start_once(argvs[(b + i) % nbin][c], &fa, &u[(b + i) % nbin][c][i])) <
                    0) {
                    fprintf(stderr, "bench_startup: start %d of `%s` failed\n", i, names[c]);
                    goto done;
                }
        if ((tt[i] = start_once(true_argv, &fa, &ut[i])) < 0) {
            fprintf(stderr, "bench_startup: start %d of /bin/true failed\n", i);
            goto done;
        }
    }
    for (int b = 0; b < nbin; b++) {
        int mpi = links_libmpi(bin[b]);
        printf("  [%c] %s  (%s)\n", 'A' + b, bin[b],
               mpi > 0    ? "links libmpi"
               : mpi == 0 ? "no libmpi"
                          : "cannot read it");
    }
    /* wall: what a user waits; CPU (user+system of the child): what the start costs,
     * steadier than wall on a busy machine */
    printf("  %-20s %23s %23s", "median ms: wall (CPU)", "[A]", nbin > 1 ? "[B]" : "");
    printf("%s\n", nbin > 1 ? "   A - B: wall (CPU)" : "");
    for (int c = 0; c < NCMD; c++) {
        double d[2] = {0, 0}, e[2] = {0, 0};
        for (int b = 0; b < nbin; b++) {
            d[b] = median(t[b][c], n);
            e[b] = median(u[b][c], n);
        }
        printf("  %-20s %10.2f (%10.2f)", names[c], d[0], e[0]);
        if (nbin > 1)
            printf(" %10.2f (%10.2f)  %+7.2f (%+7.2f)", d[1], e[1], d[0] - d[1], e[0] - e[1]);
        printf("\n");
    }
    double dt = median(tt, n);
    printf("  %-20s %10.2f (%10.2f)\n", "/bin/true", dt, median(ut, n));
    printf("  ratio runs --help / true (medians, [A]) %.2f; load average at the end %s\n",
           dt > 0 ? median(t[0][0], n) / dt : 0.0, loadavg());
    rc = 0;
done:
    posix_spawn_file_actions_destroy(&fa);
    for (int b = 0; b < 2; b++)
        for (int c = 0; c < NCMD; c++) {
            free(t[b][c]);
            free(u[b][c]);
        }
    free(tt);
    free(ut);
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_startup: could not remove %s\n", dir);
    return rc;
}
