/* bench/bench_lineage.c — how `runs log` scales with the nodes of a store.
 *
 *   build/bench/bench_lineage [MAX]   (default 100000 nodes)
 *
 * Builds one synthetic store in $TMPDIR (one run plus nine forks, the shape of
 * issue 16: tools/runs-synth-commit, one tiny tensor per group) and grows it to 1k,
 * 10k and 100k nodes, each run extended in place. At each size it times `runs log`
 * (the main run: a tenth of the nodes), `runs log --all --graph` and `runs log --all
 * --json` (best of 3 below 10k nodes, one run above), then prints the ratios between
 * sizes: 10x the nodes should cost about 10x, not 100x.
 *
 * Building is the slow part (a durable commit per node: fsyncs; TMPDIR=/dev/shm makes
 * it fast). A size whose build would take longer than BENCH_LINEAGE_CAP seconds
 * (default 60), estimated from the previous size's, is skipped and said so. Not a
 * test: nothing is asserted. */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
static double run(char *const argv[])
{
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int st;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    double t0 = now_s();
    int e = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (e != 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return -1;
    return now_s() - t0;
}

/* Extends every run of the store by `add` nodes; forks are made on the first call.
 * Seconds, or -1. */
static double grow(const char *synth, const char *store, long per_before, long add)
{
    static const char *runs[] = {"main",  "fork1", "fork2", "fork3", "fork4",
                                 "fork5", "fork6", "fork7", "fork8", "fork9"};
    char count[32], from[64];
    double t0 = now_s();
    snprintf(count, sizeof count, "%ld", add);
    for (int r = 0; r < 10; r++) {
        /* fork r leaves main at a tenth of its first length times r (steps advance by 10) */
        snprintf(from, sizeof from, "main@step_%ld", 10 * (r * add / 10));
        char *argv[] = {(char *)synth, "--store", (char *)store, "--run", (char *)runs[r],
                        "--count",     count,     "--tensors",   "1",     "--elems",
                        "8",           NULL,      NULL,          NULL};
        if (r > 0 && per_before == 0) {
            argv[11] = "--from";
            argv[12] = from;
        }
        if (run(argv) < 0)
            return -1;
    }
    return now_s() - t0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: bench_lineage [MAX]\ntimes `runs log` (plain, --all --graph, --all --json) on synthetic\n"
               "stores of 1k, 10k, 100k nodes (up to MAX, default 100000) built in $TMPDIR;\n"
               "BENCH_LINEAGE_CAP (seconds, default 60) skips a size that would build longer.\n");
        return 0;
    }
    long max = argc > 1 ? atol(argv[1]) : 100000;
    const char *capenv = getenv("BENCH_LINEAGE_CAP");
    double cap = capenv ? atof(capenv) : 60;
    char exe[4096], runs[4200], synth[4200], dir[4200], store[4300], cmd[8600];
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
    snprintf(dir, sizeof dir, "%s/bench_lineage.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "bench_lineage: cannot make a directory under %s; set TMPDIR\n", tmp ? tmp : "/tmp");
        return 1;
    }
    snprintf(store, sizeof store, "%s/.runs", dir);
    setenv("RUNS_STORE", store, 1);
    setenv("RUNS_NO_PROGRESS", "1", 1);
    int rc = 1;
    {
        char *init[] = {runs, "init", NULL};
        if (chdir(dir) != 0 || run(init) < 0) {
            fprintf(stderr, "bench_lineage: `runs init` failed in %s\n", dir);
            goto done;
        }
    }
    static const long sizes[] = {1000, 10000, 100000};
    static const char *names[] = {"log", "log --all --graph", "log --all --json"};
    double t[3][3] = {{0}};
    int done_sizes = 0;
    long per = 0;
    double last_build = 0;
    printf("bench_lineage: one run + nine forks in %s (TMPDIR)\n", dir);
    printf("  %-8s %10s %12s %20s %19s\n", "nodes", "build s", "log s", "log --all --graph s", "log --all --json s");
    for (int i = 0; i < 3 && sizes[i] <= max; i++) {
        long add = sizes[i] / 10 - per;
        if (per && last_build * add / per > cap) {
            printf("  %-8ld skipped: building it would take ~%.0f s (BENCH_LINEAGE_CAP=%.0f; TMPDIR=/dev/shm builds "
                   "faster)\n",
                   sizes[i], last_build * add / per, cap);
            break;
        }
        double b = grow(synth, store, per, add);
        if (b < 0) {
            fprintf(stderr, "bench_lineage: building %ld nodes failed (%s)\n", sizes[i], synth);
            goto done;
        }
        per += add;
        last_build = b;
        int reps = sizes[i] < 10000 ? 3 : 1;
        for (int c = 0; c < 3; c++) {
            char *a0[] = {runs, "log", NULL};
            char *a1[] = {runs, "log", "--all", "--graph", NULL};
            char *a2[] = {runs, "log", "--all", "--json", NULL};
            char **av[] = {a0, a1, a2};
            double best = -1;
            for (int r = 0; r < reps; r++) {
                double s = run(av[c]);
                if (s < 0) {
                    fprintf(stderr, "bench_lineage: `runs %s` failed at %ld nodes\n", names[c], sizes[i]);
                    goto done;
                }
                if (best < 0 || s < best)
                    best = s;
            }
            t[i][c] = best;
        }
        printf("  %-8ld %10.1f %12.3f %20.3f %19.3f\n", sizes[i], b, t[i][0], t[i][1], t[i][2]);
        fflush(stdout);
        done_sizes = i + 1;
    }
    for (int i = 1; i < done_sizes; i++)
        printf("  ratio %ldk/%ldk (10x nodes): log %.1fx, --all --graph %.1fx, --all --json %.1fx\n", sizes[i] / 1000,
               sizes[i - 1] / 1000, t[i][0] / t[i - 1][0], t[i][1] / t[i - 1][1], t[i][2] / t[i - 1][2]);
    rc = 0;
done:
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_lineage: could not remove %s\n", dir);
    return rc;
}
