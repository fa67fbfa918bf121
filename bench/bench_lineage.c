/* bench/bench_lineage.c — how `runs log` scales with the nodes of a store.
 *
 *   build/bench/bench_lineage [MAX]   (default 100000 nodes)
 *
 * Builds one synthetic store (one run plus nine forks, the shape of issue 16:
 * tools/runs-synth-commit --bulk, one tiny tensor set shared by all nodes) and grows it
 * to 1k, 10k and 100k nodes, each run extended in place (its processes NPROC at a time).
 * At each size it times, in this order:
 *   cold      the first `runs log --all --json`: every manifest read, STORE/cache/nodes
 *             written (store/nodecache.h);
 *   uncached  `log --all --json` with RUNS_NO_NODECACHE=1 (what every listing cost
 *             before the cache);
 *   log, --all --graph, --all --json   from the cache;
 *   verify, gc --dry-run   once each: every ref, commit, manifest and object read;
 * (best of 3 below 100k nodes, one run at 100k), then prints the ratios between sizes:
 * 10x the nodes should cost about 10x, not 100x. The load average is printed at the
 * start and the end: on a shared machine the wall times follow it.
 *
 * The store lives in $TMPDIR, or /dev/shm when TMPDIR is unset and /dev/shm exists (the
 * build is a commit per node: on a disk that is fsyncs). A size whose build would take
 * longer than BENCH_LINEAGE_CAP seconds (default 900), estimated from the previous
 * size's, is skipped and said so. Not a test: nothing is asserted. */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Runs argv with stdout on /dev/null (stderr kept for errors); seconds, or -1. */
static double last_cpu; /* user + system seconds of the last run() */
static long last_rss;   /* peak resident set of the last run(), KB */

static double run(char *const argv[])
{
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int st;
    struct rusage ru;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    double t0 = now_s();
    int e = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (e != 0 || wait4(pid, &st, 0, &ru) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return -1;
    last_rss = ru.ru_maxrss;
    last_cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    return now_s() - t0;
}

static void loadavg(char *buf, size_t n)
{
    FILE *f = fopen("/proc/loadavg", "r");
    buf[0] = '\0';
    if (f) {
        if (!fgets(buf, (int)n, f))
            buf[0] = '\0';
        fclose(f);
    }
    buf[strcspn(buf, "\n")] = '\0';
}

/* Starts argv with stdout on /dev/null; the pid, or -1. */
static pid_t start(char *const argv[])
{
    posix_spawn_file_actions_t fa;
    pid_t pid;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    int e = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    return e ? -1 : pid;
}

static int reap(pid_t pid)
{
    int st;
    return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* Extends every run of the store by `add` nodes: main first (a fork names one of its
 * nodes on the first call), then the forks par processes at a time. Seconds, or -1. */
static double grow(const char *synth, const char *store, long per_before, long add, int par)
{
    static const char *runs[] = {"main",  "fork1", "fork2", "fork3", "fork4",
                                 "fork5", "fork6", "fork7", "fork8", "fork9"};
    char count[32], from[10][64];
    pid_t pids[10];
    int bad = 0;
    double t0 = now_s();
    snprintf(count, sizeof count, "%ld", add);
    for (int r = 0; r < 10; r++) {
        /* fork r leaves main at a tenth of its first length times r (steps advance by 10) */
        snprintf(from[r], sizeof from[r], "main@step_%ld", 10 * (r * add / 10));
        char *argv[] = {(char *)synth, "--store", (char *)store, "--run", (char *)runs[r],
                        "--count",     count,     "--tensors",   "1",     "--elems",
                        "8",           "--bulk",  NULL,          NULL,    NULL};
        if (r > 0 && per_before == 0) {
            argv[12] = "--from";
            argv[13] = from[r];
        }
        pids[r] = start(argv);
        if (r == 0 || r % par == 0 || r == 9) /* wait for this batch */
            for (int k = r == 0 ? 0 : r - (r % par == 0 ? par : r % par) + 1; k <= r; k++)
                bad |= reap(pids[k]);
    }
    return bad ? -1 : now_s() - t0;
}

/* Best of reps runs of argv (with RUNS_NO_NODECACHE=1 when nocache): the least wall
 * time, and in *cpu the least CPU time (the figure a busy machine disturbs less);
 * -1 on failure. */
static double best_of(double *cpu, char *const argv[], int reps, int nocache)
{
    double best = -1;
    *cpu = -1;
    if (nocache)
        setenv("RUNS_NO_NODECACHE", "1", 1);
    for (int r = 0; r < reps; r++) {
        double s = run(argv);
        if (s < 0) {
            best = -1;
            break;
        }
        if (best < 0 || s < best)
            best = s;
        if (*cpu < 0 || last_cpu < *cpu)
            *cpu = last_cpu;
    }
    unsetenv("RUNS_NO_NODECACHE");
    return best;
}

int main(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: bench_lineage [MAX]\ntimes `runs log` (plain, --all --graph, --all --json; cold, uncached and\n"
               "from the node cache) on synthetic stores of 1k, 10k, 100k nodes (up to MAX, default\n"
               "100000) built in $TMPDIR (default /dev/shm when it exists, else /tmp);\n"
               "BENCH_LINEAGE_CAP (seconds, default 900) skips a size that would build longer.\n");
        return 0;
    }
    long max = argc > 1 ? atol(argv[1]) : 100000;
    const char *capenv = getenv("BENCH_LINEAGE_CAP");
    double cap = capenv ? atof(capenv) : 900;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int par = ncpu < 1 ? 1 : ncpu > 4 ? 4 : (int)ncpu;
    char exe[4096], runs[4200], synth[4200], dir[4200], store[4300], cmd[8600], la[128];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    char *slash = k > 0 ? (exe[k] = '\0', strrchr(exe, '/')) : NULL;
    if (!slash) {
        fprintf(stderr, "bench_lineage: cannot find my own path (/proc/self/exe)\n");
        return 1;
    }
    *slash = '\0'; /* build/bench */
    snprintf(runs, sizeof runs, "%s/../runs", exe);
    snprintf(synth, sizeof synth, "%s/../../tools/runs-synth-commit", exe);
    if (access(runs, X_OK) || access(synth, X_OK)) {
        fprintf(stderr, "bench_lineage: %s or %s missing; run `make` first\n", runs, synth);
        return 1;
    }
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof dir, "%s/bench_lineage.XXXXXX", tmp);
    if (!mkdtemp(dir)) {
        fprintf(stderr, "bench_lineage: cannot make a directory under %s; set TMPDIR\n", tmp);
        return 1;
    }
    snprintf(store, sizeof store, "%s/.runs", dir);
    setenv("RUNS_STORE", store, 1);
    setenv("RUNS_NO_PROGRESS", "1", 1);
    unsetenv("RUNS_NO_NODECACHE");
    int rc = 1;
    {
        char *init[] = {runs, "init", NULL};
        if (chdir(dir) != 0 || run(init) < 0) {
            fprintf(stderr, "bench_lineage: `runs init` failed in %s\n", dir);
            goto done;
        }
    }
    static const long sizes[] = {1000, 10000, 100000};
    enum { COLD, UNCACHED, LOG, GRAPH, JSON, NCOL };
    static const char *names[NCOL] = {"cold --all --json", "uncached --all --json", "log", "log --all --graph",
                                      "log --all --json"};
    double t[3][NCOL] = {{0}}, cpu[3][NCOL] = {{0}}, vt[3][2] = {{0}}, vc[3][2] = {{0}};
    int done_sizes = 0;
    long per = 0;
    double last_build = 0;
    loadavg(la, sizeof la);
    printf("bench_lineage: one run + nine forks in %s; load average %s\n", dir, la);
    printf("  %-7s %8s %10s %10s %8s %8s %8s   (seconds; cold = first listing, writes the cache;\n", "nodes", "build",
           "cold json", "uncached", "log", "graph", "json");
    printf("  %-7s %8s %10s %10s %8s %8s %8s    uncached = RUNS_NO_NODECACHE=1; the rest from the cache)\n", "", "", "",
           "json", "", "", "");
    for (int i = 0; i < 3 && sizes[i] <= max; i++) {
        long add = sizes[i] / 10 - per;
        if (per && last_build * add / per > cap) {
            printf("  %-7ld skipped: building it would take ~%.0f s (BENCH_LINEAGE_CAP=%.0f)\n", sizes[i],
                   last_build * add / per, cap);
            break;
        }
        double b = grow(synth, store, per, add, par);
        if (b < 0) {
            fprintf(stderr, "bench_lineage: building %ld nodes failed (%s)\n", sizes[i], synth);
            goto done;
        }
        per += add;
        last_build = b;
        int reps = sizes[i] < 100000 ? 3 : 1;
        char *a0[] = {runs, "log", NULL};
        char *a1[] = {runs, "log", "--all", "--graph", NULL};
        char *a2[] = {runs, "log", "--all", "--json", NULL};
        t[i][COLD] = best_of(&cpu[i][COLD], a2, 1, 0);
        t[i][UNCACHED] = best_of(&cpu[i][UNCACHED], a2, reps, 1);
        t[i][LOG] = best_of(&cpu[i][LOG], a0, reps, 0);
        t[i][GRAPH] = best_of(&cpu[i][GRAPH], a1, reps, 0);
        t[i][JSON] = best_of(&cpu[i][JSON], a2, reps, 0);
        for (int c = 0; c < NCOL; c++)
            if (t[i][c] < 0) {
                fprintf(stderr, "bench_lineage: `runs %s` failed at %ld nodes\n", names[c], sizes[i]);
                goto done;
            }
        printf("  %-7ld %8.1f %10.3f %10.3f %8.3f %8.3f %8.3f   wall\n", sizes[i], b, t[i][COLD], t[i][UNCACHED],
               t[i][LOG], t[i][GRAPH], t[i][JSON]);
        printf("  %-7s %8s %10.3f %10.3f %8.3f %8.3f %8.3f   cpu (user+sys)\n", "", "", cpu[i][COLD], cpu[i][UNCACHED],
               cpu[i][LOG], cpu[i][GRAPH], cpu[i][JSON]);
        /* the whole-store commands, once each (they read every node; gc --dry-run only plans) */
        char *a3[] = {runs, "verify", NULL};
        char *a4[] = {runs, "gc", "--dry-run", NULL};
        long rss[2];
        vt[i][0] = best_of(&vc[i][0], a3, 1, 0);
        rss[0] = last_rss;
        vt[i][1] = best_of(&vc[i][1], a4, 1, 0);
        rss[1] = last_rss;
        if (vt[i][0] < 0 || vt[i][1] < 0) {
            fprintf(stderr, "bench_lineage: `runs verify` or `runs gc --dry-run` failed at %ld nodes\n", sizes[i]);
            goto done;
        }
        printf("  %-7s verify %.3f s (cpu %.3f, peak RSS %.0f MB), gc --dry-run %.3f s (cpu %.3f, peak RSS %.0f MB)\n",
               "", vt[i][0], vc[i][0], rss[0] / 1024.0, vt[i][1], vc[i][1], rss[1] / 1024.0);
        fflush(stdout);
        done_sizes = i + 1;
    }
    for (int i = 1; i < done_sizes; i++)
        for (int w = 0; w < 2; w++) {
            double(*x)[NCOL] = w ? cpu : t;
            printf("  ratio %ldk/%ldk %s (10x nodes): cold %.1fx, uncached %.1fx, log %.1fx, --all --graph %.1fx, "
                   "--all --json %.1fx\n",
                   sizes[i] / 1000, sizes[i - 1] / 1000, w ? "cpu " : "wall", x[i][COLD] / x[i - 1][COLD],
                   x[i][UNCACHED] / x[i - 1][UNCACHED], x[i][LOG] / x[i - 1][LOG], x[i][GRAPH] / x[i - 1][GRAPH],
                   x[i][JSON] / x[i - 1][JSON]);
            double(*y)[2] = w ? vc : vt;
            printf("  ratio %ldk/%ldk %s (10x nodes): verify %.1fx, gc --dry-run %.1fx\n", sizes[i] / 1000,
                   sizes[i - 1] / 1000, w ? "cpu " : "wall", y[i][0] / y[i - 1][0], y[i][1] / y[i - 1][1]);
        }
    loadavg(la, sizeof la);
    printf("  load average at the end: %s (goal: --all --json <= 0.3 s at 10k, <= 3 s at 100k)\n", la);
    rc = 0;
done:
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_lineage: could not remove %s\n", dir);
    return rc;
}
