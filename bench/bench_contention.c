/* bench/bench_contention.c — the CPU trainer on a busy machine (a benchmark, not a test).
 *
 *   build/bench/bench_contention [STEPS] [BUSY]   (defaults 24 steps, 2 busy-loop children)
 *
 * Shape (a) of bench_trainer (n_layer 4, n_head 4, n_embd 128, vocab 8192,
 * batch 4 × seq 256). Three trainers are timed side by side: one thread, two
 * threads at a fixed count (RUNS_CPU_ADAPT=0, the old behaviour) and two
 * threads with the step-by-step thread-count controller (cuda/cpu/cpu_adapt.h,
 * the default). Each is timed over STEPS training steps (forward, backward,
 * AdamW) after 8 untimed ones (page faults; the adaptive trainer's first
 * choice, which a long run pays once), in rounds of 8 steps that take turns so a change of the background
 * load hits all three alike; the figure is the wall-clock mean ms/step, the
 * throughput a run sees. First quiet (whatever else shares the machine), then
 * with BUSY children spinning in a loop (a competing CPU load), and the ratios
 * of the two-thread trainers to the one-thread one in each condition are
 * printed, with the load average seen. All three give the same bits (checked
 * on the final loss).
 *
 * The bench waits as `runs start` does: it re-executes itself once with the
 * short OpenMP spin the training commands use (runner/omp_env.h) unless
 * OMP_WAIT_POLICY or GOMP_SPINCOUNT is set, and prints the setting it ran
 * with; `GOMP_SPINCOUNT=300000 bench_contention` measures libgomp's default
 * (the old behaviour) for comparison. */
#include <omp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cuda/gpt.h"
#include "runner/omp_env.h"

#define ROUND 8

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double loadavg(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1;
        fclose(f);
    }
    return l;
}

typedef struct {
    const char *name;
    int threads, adapt;
    gpt_model *m;
    double secs;
    int steps;
    float loss;
} trainer;

static const gpt_config shape = {4, 4, 128, 8192, 256};
enum { B = 4, T = 256 };

static int make(trainer *t)
{
    /* The controller reads RUNS_CPU_ADAPT when the model is created. */
    setenv("RUNS_CPU_ADAPT", t->adapt ? "1" : "0", 1);
    if (gpt_create(&t->m, &shape, B, T, GPT_BACKEND_CPU) || gpt_init_weights(t->m, 1)) {
        fprintf(stderr, "bench_contention: %s\n", gpt_last_error());
        return 1;
    }
    return 0;
}

static void steps(trainer *t, const int32_t *in, const int32_t *tg, int n)
{
    static const gpt_adamw hp = {0.9f, 0.95f, 1e-8f, 0.1f, 1.0f};
    omp_set_num_threads(t->threads);
    double t0 = now();
    for (int k = 0; k < n; k++) {
        gpt_forward(t->m, in, tg, B, T, 1, &t->loss);
        gpt_update(t->m, &hp, 1e-4f, NULL);
    }
    t->secs += now() - t0;
    t->steps += n;
}

/* Times the three trainers over `n` steps each, in turns of ROUND steps. */
static void condition(trainer *tr, int ntr, const int32_t *in, const int32_t *tg, int n)
{
    for (int i = 0; i < ntr; i++) {
        tr[i].secs = 0;
        tr[i].steps = 0;
        /* settle: page faults, the thread pool, the adaptive one's first choice;
         * all three take the same steps, so their final losses must agree */
        steps(&tr[i], in, tg, ROUND);
        tr[i].secs = 0;
        tr[i].steps = 0;
    }
    for (int done = 0; done < n; done += ROUND)
        for (int i = 0; i < ntr; i++)
            steps(&tr[i], in, tg, n - done < ROUND ? n - done : ROUND);
}

static void report(const char *label, trainer *tr, double la0, double la1)
{
    double ms[3];
    for (int i = 0; i < 3; i++)
        ms[i] = tr[i].secs / tr[i].steps * 1e3;
    printf("%-6s load %.1f-%.1f  ms/step: 1 thread %.1f, 2 fixed %.1f, 2 adaptive %.1f  "
           "speed-up over 1 thread: fixed %.2fx, adaptive %.2fx\n",
           label, la0, la1, ms[0], ms[1], ms[2], ms[0] / ms[1], ms[0] / ms[2]);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 24, busy = argc > 2 ? atoi(argv[2]) : 2;
    if (n < 1 || busy < 0 || argc > 3) {
        fprintf(stderr, "usage: bench_contention [STEPS >= 1] [BUSY >= 0]\n");
        return 129;
    }
    /* as the training commands do; a failed re-exec measures libgomp's defaults */
    (void)runs_omp_env_reexec(argv, "start");
    const char *spin = getenv("GOMP_SPINCOUNT"), *policy = getenv("OMP_WAIT_POLICY");
    printf("OpenMP waiting: GOMP_SPINCOUNT=%s OMP_WAIT_POLICY=%s (%s)\n", spin ? spin : "unset",
           policy ? policy : "unset",
           getenv(RUNS_OMP_ENV_MARK) && !policy && spin && !strcmp(spin, RUNS_OMP_SPINCOUNT)
               ? "runs' choice for training, as runs start"
               : spin || policy ? "set by the caller" : "libgomp's default spin, 300000");
    int32_t *in = malloc((size_t)B * T * 4), *tg = malloc((size_t)B * T * 4);
    uint64_t s = 3;
    for (int i = 0; i < B * T; i++)
        in[i] = (int32_t)(gpt_rng_next(&s) % (uint64_t)shape.vocab_size);
    for (int i = 0; i < B * T; i++)
        tg[i] = (int32_t)(gpt_rng_next(&s) % (uint64_t)shape.vocab_size);
    trainer tr[3] = {{.name = "1 thread", .threads = 1, .adapt = 0},
                     {.name = "2 fixed", .threads = 2, .adapt = 0},
                     {.name = "2 adaptive", .threads = 2, .adapt = 1}};
    for (int i = 0; i < 3; i++)
        if (make(&tr[i]))
            return 1;
    printf("contention (a) L4 H4 C128 V8192 B4xT256, %d steps each, rounds of %d; busy load: %d spinning children\n", n,
           ROUND, busy);
    double la0 = loadavg();
    condition(tr, 3, in, tg, n);
    report("quiet", tr, la0, loadavg());
    double q[3];
    for (int i = 0; i < 3; i++)
        q[i] = tr[i].secs / tr[i].steps;

    pid_t kids[64];
    int nk = 0;
    for (; nk < busy && nk < 64; nk++) {
        pid_t pid = fork();
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the bench */
            volatile unsigned long x = 0;
            for (;;)
                x++;
        }
        if (pid < 0)
            break;
        kids[nk] = pid;
    }
    la0 = loadavg();
    condition(tr, 3, in, tg, n);
    double la1 = loadavg();
    for (int i = 0; i < nk; i++)
        kill(kids[i], SIGKILL);
    for (int i = 0; i < nk; i++)
        waitpid(kids[i], NULL, 0);
    report("busy", tr, la0, la1);
    printf("adaptive / fixed 2-thread time per step (< 1 is faster): quiet %.2f, busy %.2f\n", q[2] / q[1],
           (tr[2].secs / tr[2].steps) / (tr[1].secs / tr[1].steps));
    /* Same data and seed: the three must have trained to the same bits. */
    int same = tr[0].loss == tr[1].loss && tr[1].loss == tr[2].loss;
    printf("final loss %.6f %.6f %.6f: %s\n", tr[0].loss, tr[1].loss, tr[2].loss,
           same ? "identical" : "DIFFERENT (a determinism bug)");
    for (int i = 0; i < 3; i++)
        gpt_free(tr[i].m);
    free(in);
    free(tg);
    return same ? 0 : 1;
}
