/* bench/bench_dp.c — data-parallel training on this machine's cores: 2 ranks x 1 thread
 * (mpirun -np 2, OMP_NUM_THREADS=1, grad_accum 1) against 1 rank x 2 threads
 * (OMP_NUM_THREADS=2, grad_accum 2): the same global batch, the same bits (t8001), so
 * only the speed differs. Also the all-reduce's share of a 2-rank step, as rank 0
 * measures it (RUNDIR/.ranks.json: time in the gradient receives and the broadcasts
 * of the mean over the time from one step's start to the next; a receive includes
 * waiting for a slower rank, so on a loaded machine it is an upper bound).
 *
 *   build/bench/bench_dp [ROUNDS] [RUNS]   (default 2 rounds; RUNS: build/runs)
 *
 * Each configuration trains S1 and S2 steps from scratch (`runs start --steps`); its
 * tokens/s is (S2 - S1) x batch tokens over the difference of the wall times, so
 * start-up (mpirun's, the store's, the first checkpoint) cancels. Checkpoint saves:
 * one node's objects (3 x 48 tensors of 256 KiB, 38 MB) written by one process, as
 * the committer of a one-rank run does, against two processes writing half each at
 * the same time, as the ranks of a 2-rank job do (runner/dp_loop.h); the write path
 * alone (no MPI, no training), best of 2 x ROUNDS, alternating. The best of ROUNDS
 * for each; the configurations alternate so a load change hits both. ZeRO-1's memory:
 * the AdamW state (m and v) each rank holds, 1 rank (2 x n floats) against the largest
 * of the 2 ranks (.ranks.json's adam_floats; whole tensors, so not quite n each).
 * Skips (exit 0, one line) where the build has no MPI or mpirun is missing. Not a test. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "common/file.h"
#include "store/object.h"
#include "store/store.h"

enum { S1 = 5, S2 = 35, B = 8, T = 64 };

/* the checkpoint write: NT tensors of TB bytes in each of the 3 groups */
enum { NT = 48, TB = 256 * 256 * 4 };

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static char dir[256], runs[4096];

/* runs a shell command in dir; its wall seconds, or -1 where it failed */
static double sh(const char *fmt, const char *a, const char *b, long c)
{
    char cmd[8192], inner[4096];
    snprintf(inner, sizeof inner, fmt, a, b, c);
    snprintf(cmd, sizeof cmd, "cd '%s' && RUNS_STORE='%s/.runs' %s >>bench.log 2>&1", dir, dir, inner);
    double t0 = now_s();
    int st = system(cmd);
    return st == 0 ? now_s() - t0 : -1;
}

/* One checkpoint's objects written into a fresh store by `procs` processes at once,
 * each its share (every procs-th object, as runner/dp_loop.c shares out equal
 * sizes) with runs_object_put_many, the call the committer and each rank make;
 * seconds from the first fork to the last exit, -1 on failure. salt makes every
 * round's bytes new (no object is already there). */
static double save_once(int procs, int salt)
{
    char sd[300];
    snprintf(sd, sizeof sd, "%s/store-%d", dir, salt);
    if (runs_store_init(sd))
        return -1;
    size_t n = 3 * NT;
    float *data = malloc(n * (size_t)TB);
    if (!data)
        return -1;
    uint64_t x = 0x9e3779b97f4a7c15ull * (uint64_t)(salt + 1);
    for (size_t i = 0; i < n * (size_t)TB / sizeof(float); i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        data[i] = (float)(x >> 40) / (float)(1 << 24);
    }
    double t0 = now_s();
    pid_t kids[2];
    int ok = 1;
    for (int p = 0; p < procs; p++) {
        if ((kids[p] = fork()) == 0) {
            runs_store *s = NULL;
            runs_put items[3 * NT];
            size_t k = 0;
            for (size_t j = (size_t)p; j < n; j += (size_t)procs, k++) {
                memset(&items[k], 0, sizeof items[k]);
                items[k].data = (const char *)data + j * TB;
                items[k].len = TB;
            }
            int rc = runs_store_open(&s, sd) || runs_object_put_many(s, items, k, NULL);
            runs_store_free(s);
            _exit(rc ? 1 : 0);
        }
        if (kids[p] < 0)
            ok = 0;
    }
    for (int p = 0; p < procs; p++) {
        int st;
        if (kids[p] <= 0 || waitpid(kids[p], &st, 0) != kids[p] || !WIFEXITED(st) || WEXITSTATUS(st))
            ok = 0;
    }
    double t = now_s() - t0;
    free(data);
    return ok ? t : -1;
}

static int setup(void)
{
    char p[512];
    snprintf(p, sizeof p, "%s/text.txt", dir);
    FILE *f = fopen(p, "w");
    if (!f)
        return -1;
    static const char *w[] = {"the", "cat", "sat", "on", "a", "mat", "while", "dogs", "ran", "over", "hills", "and"};
    unsigned x = 7;
    for (int i = 0; i < 20000; i++) {
        for (int j = 0; j < 12; j++) {
            x = x * 1103515245u + 12345u;
            fprintf(f, "%s ", w[(x >> 16) % 12]);
        }
        fprintf(f, ".\n");
    }
    fclose(f);
    for (int a = 1; a <= 2; a++) {
        snprintf(p, sizeof p, "%s/g%d.json", dir, a);
        if (!(f = fopen(p, "w")))
            return -1;
        fprintf(f,
                "{\"model\": {\"n_layer\": 2, \"n_head\": 4, \"n_embd\": 128, \"vocab_size\": 512, \"block_size\": "
                "%d},\n \"train\": {\"total_steps\": 1000, \"batch_size\": %d, \"seq_len\": %d, \"seed\": 1, "
                "\"grad_accum\": %d},\n \"data\": {\"tokenizer\": \"%s/tok.bin\", \"sources\": {\"text\": {\"path\": "
                "\"%s/text.tok\"}}},\n \"sampling\": {\"every\": 0}, \"eval\": {\"every\": 0},\n \"checkpoint\": "
                "{\"every\": 0, \"keep_last\": 0, \"keep_every\": 0}}\n",
                T, B, T, a, dir, dir);
        fclose(f);
    }
    if (sh("%s tokenizer train --vocab-size 300 --out tok.bin text.txt", runs, "", 0) < 0 ||
        sh("%s tokenizer encode --tokenizer tok.bin --out text.tok text.txt", runs, "", 0) < 0 ||
        sh("%s init", runs, "", 0) < 0)
        return -1;
    return 0;
}

static double ranks_field(const char *run, const char *key)
{
    char p[512], *text = NULL;
    snprintf(p, sizeof p, "%s/runs/%s/.ranks.json", dir, run);
    double v = -1;
    if (runs_file_read(&text, NULL, p) == 0) {
        cJSON *j = cJSON_Parse(text);
        cJSON *x = cJSON_GetObjectItemCaseSensitive(j, key);
        if (cJSON_IsNumber(x))
            v = x->valuedouble;
        cJSON_Delete(j);
    }
    free(text);
    return v;
}

/* the numbers of .ranks.json's array `key`, up to max; how many, -1 where unreadable */
static int ranks_array(const char *run, const char *key, double *out, int max)
{
    char p[512], *text = NULL;
    snprintf(p, sizeof p, "%s/runs/%s/.ranks.json", dir, run);
    int k = -1;
    if (runs_file_read(&text, NULL, p) == 0) {
        cJSON *j = cJSON_Parse(text), *a = cJSON_GetObjectItemCaseSensitive(j, key), *x;
        if (cJSON_IsArray(a)) {
            k = 0;
            cJSON_ArrayForEach (x, a)
                if (k < max && cJSON_IsNumber(x))
                    out[k++] = x->valuedouble;
        }
        cJSON_Delete(j);
    }
    free(text);
    return k;
}

int main(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: bench_dp [ROUNDS] [RUNS]\ntokens/s of 2 ranks x 1 thread vs 1 rank x 2 threads, same batch.\n");
        return 0;
    }
    int rounds = argc > 1 ? atoi(argv[1]) : 2;
    if (rounds < 1 || rounds > 100) {
        fprintf(stderr, "bench_dp: ROUNDS (%s) must be 1..100\n", argv[1]);
        return 1;
    }
    if (argc > 2) {
        snprintf(runs, sizeof runs, "%s", argv[2]);
    } else {
        ssize_t k = readlink("/proc/self/exe", runs, sizeof runs - 16);
        char *slash = k > 0 ? (runs[k] = '\0', strrchr(runs, '/')) : NULL;
        if (!slash) {
            fprintf(stderr, "bench_dp: cannot find my own path; pass the runs binary as the second argument\n");
            return 1;
        }
        strcpy(slash, "/../runs");
    }
    char probe[4200];
    snprintf(probe, sizeof probe, "grep -q libruns-mpi.so '%s' && command -v mpirun >/dev/null", runs);
    if (system(probe) != 0) {
        printf("bench_dp: skipped: %s has no MPI or mpirun is missing (make deps, then rebuild)\n", runs);
        return 0;
    }
    snprintf(dir, sizeof dir, "/tmp/bench_dp.XXXXXX");
    if (!mkdtemp(dir) || setup()) {
        fprintf(stderr, "bench_dp: setting up a store in %s failed (see %s/bench.log)\n", dir, dir);
        return 1;
    }
    static const char *cmd[2] = {
        "OMP_NUM_THREADS=2 %s start --config g2.json --name %s --steps %ld --quiet",
        "OMP_NUM_THREADS=1 mpirun --allow-run-as-root --oversubscribe -x OMP_NUM_THREADS -np 2 %s start --config "
        "g1.json --name %s --steps %ld --quiet"};
    double best[2] = {1e30, 1e30}, share = -1, adam[2] = {0};
    int n_adam = -1;
    int rc = 1;
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < 2; i++) {
            int c = (r % 2) ? 1 - i : i;
            char n1[32], n2[32];
            snprintf(n1, sizeof n1, "c%d-r%d-a", c, r);
            snprintf(n2, sizeof n2, "c%d-r%d-b", c, r);
            double t1 = sh(cmd[c], runs, n1, S1), t2 = sh(cmd[c], runs, n2, S2);
            if (t1 < 0 || t2 < 0) {
                fprintf(stderr, "bench_dp: a training run failed (see %s/bench.log)\n", dir);
                goto done;
            }
            if (t2 - t1 < best[c])
                best[c] = t2 - t1;
            if (c == 1) {
                share = ranks_field(n2, "reduce_share");
                n_adam = ranks_array(n2, "adam_floats", adam, 2);
            }
        }
    double kbest[2] = {1e30, 1e30};
    for (int r = 0; r < rounds * 2; r++)
        for (int i = 0; i < 2; i++) {
            int c = (r % 2) ? 1 - i : i;
            double t = save_once(c + 1, r * 2 + c);
            if (t < 0) {
                fprintf(stderr, "bench_dp: writing a checkpoint's objects failed\n");
                goto done;
            }
            if (t < kbest[c])
                kbest[c] = t;
        }
    double tok = (double)(S2 - S1) * B * T * 2;
    double load[3] = {0};
    if (getloadavg(load, 3) < 0)
        load[0] = -1;
    printf("bench_dp: model 2 x 128 (vocab 512), batch %d x %d x 2 = %d tokens a step, steps %d..%d, best of %d\n", B,
           T, B * T * 2, S1, S2, rounds);
    printf("  1 rank  x 2 threads (grad_accum 2)  %9.0f tokens/s\n", tok / best[0]);
    printf("  2 ranks x 1 thread  (mpirun -np 2)  %9.0f tokens/s\n", tok / best[1]);
    printf("  ratio 2 ranks / 1 rank %.2f; all-reduce %.0f%% of a 2-rank step (rank 0's view)\n",
           best[1] > 0 ? best[0] / best[1] : 0, 100 * share);
    if (n_adam == 2) { /* one rank holds all of m and v: the sum of the ranks' shares */
        double one = (adam[0] + adam[1]) * sizeof(float),
               most = (adam[0] > adam[1] ? adam[0] : adam[1]) * sizeof(float);
        printf("  AdamW state a rank holds: 1 rank %.2f MB; 2 ranks %.2f + %.2f MB; ratio 1 rank / largest %.2f\n",
               one / 1e6, adam[0] * sizeof(float) / 1e6, adam[1] * sizeof(float) / 1e6, most > 0 ? one / most : 0);
    } else {
        printf("  AdamW state a rank holds: not reported (.ranks.json has no adam_floats)\n");
    }
    printf("bench_dp: one node's objects (%d tensors of %d KiB, %.0f MB), fresh store each, best of %d\n", 3 * NT,
           TB / 1024, 3.0 * NT * TB / 1e6, rounds * 2);
    printf("  1 process writes every object          %8.3f s\n", kbest[0]);
    printf("  2 processes write half each, at once   %8.3f s\n", kbest[1]);
    printf("  ratio 1 rank / 2 ranks %.2f; load average %.2f\n", kbest[1] > 0 ? kbest[0] / kbest[1] : 0, load[0]);
    rc = 0;
done:;
    char rm[300];
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    if (system(rm) != 0)
        fprintf(stderr, "bench_dp: could not remove %s\n", dir);
    return rc;
}
