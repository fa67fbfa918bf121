/* bench/bench_contention.c — the CPU trainer on a busy machine (a benchmark, not a test).
 *
 *   build/bench/bench_contention [STEPS] [BUSY[,BUSY...]]
 *       (defaults: 24 steps; beside 1, then 2, then 3 busy-loop children)
 *
 * Shape (a) of bench_trainer (n_layer 4, n_head 4, n_embd 128, vocab 8192,
 * batch 4 × seq 256). Three trainers are timed side by side: one thread, two
 * threads at a fixed count (RUNS_CPU_ADAPT=0, the old behaviour) and two
 * threads with the step-by-step thread-count controller (cuda/cpu/cpu_adapt.h,
 * the default). Each is timed over STEPS training steps (forward, backward,
 * AdamW) after SETTLE untimed ones (page faults; the adaptive trainer's first
 * choice, which a long run pays once), in rounds of ROUND steps that take
 * turns so a change of the background load hits all three alike; the figure is the wall-clock mean ms/step, the
 * throughput a run sees. First quiet (whatever else shares the machine), then
 * beside each BUSY count of children spinning in a loop (a competing CPU
 * load), and the ratios of the two-thread trainers to the one-thread one in
 * each condition are printed, with the load average seen and the CPU cores
 * each trainer's process used while it ran (CPU time / wall time: under 1 for
 * one thread means it was descheduled; for two threads, how much of what they
 * got the barriers let them use). All three give the same bits (checked on the
 * final loss).
 *
 * The bench waits as `runs start` does: it re-executes itself once with the
 * short OpenMP spin the training commands use (runner/omp_env.h) unless
 * OMP_WAIT_POLICY or GOMP_SPINCOUNT is set, and prints the setting it ran
 * with; `GOMP_SPINCOUNT=300000 bench_contention` measures libgomp's default
 * (the old behaviour) for comparison. BENCH_TRACE=1 prints a line per step
 * of the adaptive trainer: its forward's thread count, time, the caller's
 * share of a core and the process's cores, and the controller's state. */
#include <omp.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cuda/cpu/cpu_impl.h" /* the adaptive trainer's counters, for the report */
#include "cuda/gpt_backend.h"
#include "runner/omp_env.h"

extern char **environ;

/* Steps per turn: short, because other people's jobs change the load within
 * seconds and each trainer must see the same load (at load 6-8, rounds of 8
 * steps gave two identical trainers times 25% apart). */
#define ROUND 2
#define SETTLE 8 /* untimed steps per trainer before each condition */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double cpu_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
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
    double secs, cpu; /* wall and process CPU seconds over the timed steps */
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

/* BENCH_TRACE=1: a line per adaptive step (its forward's count and cores).
 * BENCH_TIMES_ONLY=1: a fourth trainer, adaptive with the controller's CPU-time
 * rules off (times alone decide, as before them), for a comparison under the
 * same load. */
static int trace, ntr = 3;
static const char *cond = "settle";

static void steps(trainer *t, const int32_t *in, const int32_t *tg, int n)
{
    static const gpt_adamw hp = {0.9f, 0.95f, 1e-8f, 0.1f, 1.0f};
    omp_set_num_threads(t->threads);
    double t0 = now(), c0 = cpu_now();
    cpu_adapt *ad = &((cpu_impl *)t->m->impl)->adapt;
    ad->times_only = t->adapt == 2;
    for (int k = 0; k < n; k++) {
        int nt = cpu_adapt_threads(ad);
        double s0 = now(), sc0 = cpu_now();
        gpt_forward(t->m, in, tg, B, T, 1, &t->loss);
        gpt_update(t->m, &hp, 1e-4f, NULL);
        if (trace && t->adapt)
            printf("trace%c %-7s fwd %d thr %6.1f ms caller %.2f cores %.2f | step %6.1f ms cores %.2f | next %d%s "
                   "won %d lost %d\n",
                   t->adapt == 2 ? 't' : ' ', cond, nt, ad->last[0] * 1e3, ad->last[1] / ad->last[0],
                   ad->last[2] / ad->last[0], (now() - s0) * 1e3, (cpu_now() - sc0) / (now() - s0),
                   cpu_adapt_threads(ad), ad->probing ? " probing" : "", ad->won, ad->lost);
    }
    t->secs += now() - t0;
    t->cpu += cpu_now() - c0;
    t->steps += n;
}

/* Times the three trainers over `n` steps each, in turns of ROUND steps. */
static void condition(trainer *tr, const int32_t *in, const int32_t *tg, int n)
{
    for (int i = 0; i < ntr; i++) {
        /* settle: page faults, the thread pool, the adaptive one's first choice;
         * all three take the same steps, so their final losses must agree */
        steps(&tr[i], in, tg, SETTLE);
        tr[i].secs = tr[i].cpu = 0;
        tr[i].steps = 0;
    }
    /* The rounds go through the six orders in turn, so that each trainer
     * follows each other one equally often: in a fixed cyclic order the
     * two-thread trainer after the one-thread one (its OpenMP worker asleep
     * meanwhile) ran 5-20% slower than an identical one after it. */
    static const int order[6][3] = {{0, 1, 2}, {1, 2, 0}, {2, 0, 1}, {0, 2, 1}, {2, 1, 0}, {1, 0, 2}};
    /* four trainers: a Williams square, each follows each other once in 4 rounds */
    static const int order4[4][4] = {{0, 1, 3, 2}, {1, 2, 0, 3}, {2, 3, 1, 0}, {3, 0, 2, 1}};
    for (int done = 0, r = 0; done < n; done += ROUND, r++)
        for (int k = 0; k < ntr; k++)
            steps(&tr[ntr == 4 ? order4[r % 4][k] : order[r % 6][k]], in, tg, n - done < ROUND ? n - done : ROUND);
}

/* The controller's counters of trainer k since the last report (settling
 * steps included). */
static void counters(const char *name, const trainer *t, int k)
{
    static long seen[4][4];
    const cpu_adapt *ad = &((const cpu_impl *)t->m->impl)->adapt;
    printf("        %s: %ld of %ld forwards on one thread, %ld probes, %ld switches\n", name,
           ad->forwards[1] - seen[k][1], ad->forwards[0] + ad->forwards[1] - seen[k][0] - seen[k][1],
           ad->probes - seen[k][2], ad->switches - seen[k][3]);
    seen[k][0] = ad->forwards[0], seen[k][1] = ad->forwards[1], seen[k][2] = ad->probes, seen[k][3] = ad->switches;
}

/* One line per condition; the ratios are the speed-ups over one thread. */
static void report(const char *label, trainer *tr, double la0, double la1)
{
    double ms[4], cores[4];
    for (int i = 0; i < ntr; i++) {
        ms[i] = tr[i].secs / tr[i].steps * 1e3;
        cores[i] = tr[i].cpu / tr[i].secs;
    }
    printf("%-7s load %4.1f-%4.1f  ms/step: 1 thread %6.1f, 2 fixed %6.1f, 2 adaptive %6.1f  "
           "over 1 thread: fixed %.2fx, adaptive %.2fx  cores used %.2f %.2f %.2f\n",
           label, la0, la1, ms[0], ms[1], ms[2], ms[0] / ms[1], ms[0] / ms[2], cores[0], cores[1], cores[2]);
    counters("adaptive", &tr[2], 2);
    if (ntr == 4) {
        printf("        times only: %6.1f ms/step, over 1 thread %.2fx, cores used %.2f\n", ms[3], ms[0] / ms[3],
               cores[3]);
        counters("times only", &tr[3], 3);
    }
    fflush(stdout);
}

/* Parses "1,2,3" into busy[]; returns the count, or -1 on a bad list. */
static int parse_busy(const char *s, int *busy, int max)
{
    int n = 0;
    for (;;) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 0 || v > 64 || n == max)
            return -1;
        busy[n++] = (int)v;
        if (*end == '\0')
            return n;
        if (*end != ',')
            return -1;
        s = end + 1;
    }
}

/* A busy-loop child: this program again with SPIN_ARG. It is spawned, not
 * forked: a fork would make every page of the trainers copy-on-write, and the
 * first write to each after it costs a fault and, with two threads running, a
 * TLB shoot-down on the other core (perf showed 5% of the samples there) that
 * would be charged to the trainers. */
#define SPIN_ARG "--busy-loop-child"

static void spin_forever(void)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the bench */
    if (getppid() == 1)
        _exit(0);
    volatile unsigned long x = 0;
    for (;;)
        x++;
}

/* Times the trainers beside `busy` children spinning in a loop. */
static void beside(trainer *tr, const int32_t *in, const int32_t *tg, int n, int busy)
{
    pid_t kids[64];
    int nk = 0;
    char self[] = "/proc/self/exe", arg[] = SPIN_ARG, *av[] = {self, arg, NULL};
    for (; nk < busy && nk < 64; nk++)
        if (posix_spawn(&kids[nk], self, NULL, NULL, av, environ) != 0)
            break;
    double la0 = loadavg();
    char label[16];
    snprintf(label, sizeof label, "busy %d", nk);
    cond = label;
    condition(tr, in, tg, n);
    double la1 = loadavg();
    for (int i = 0; i < nk; i++)
        kill(kids[i], SIGKILL);
    for (int i = 0; i < nk; i++)
        waitpid(kids[i], NULL, 0);
    report(label, tr, la0, la1);
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], SPIN_ARG))
        spin_forever();
    int n = argc > 1 ? atoi(argv[1]) : 24, busy[16] = {1, 2, 3}, nb = 3;
    if (argc > 2)
        nb = parse_busy(argv[2], busy, 16);
    if (n < 1 || nb < 0 || argc > 3) {
        fprintf(stderr, "usage: bench_contention [STEPS >= 1] [BUSY[,BUSY...] each 0..64]\n");
        return 129;
    }
    /* as the training commands do; a failed re-exec measures libgomp's defaults */
    (void)runs_omp_env_reexec(argv, "start");
    const char *spin = getenv("GOMP_SPINCOUNT"), *policy = getenv("OMP_WAIT_POLICY");
    printf("OpenMP waiting: GOMP_SPINCOUNT=%s OMP_WAIT_POLICY=%s (%s)\n", spin ? spin : "unset",
           policy ? policy : "unset",
           getenv(RUNS_OMP_ENV_MARK) && !policy && spin && !strcmp(spin, RUNS_OMP_SPINCOUNT)
               ? "runs' choice for training, as runs start"
           : spin || policy ? "set by the caller"
                            : "libgomp's default spin, 300000");
    int32_t *in = malloc((size_t)B * T * 4), *tg = malloc((size_t)B * T * 4);
    uint64_t s = 3;
    for (int i = 0; i < B * T; i++)
        in[i] = (int32_t)(gpt_rng_next(&s) % (uint64_t)shape.vocab_size);
    for (int i = 0; i < B * T; i++)
        tg[i] = (int32_t)(gpt_rng_next(&s) % (uint64_t)shape.vocab_size);
    trainer tr[4] = {{.name = "1 thread", .threads = 1, .adapt = 0},
                     {.name = "2 fixed", .threads = 2, .adapt = 0},
                     {.name = "2 adaptive", .threads = 2, .adapt = 1},
                     {.name = "2 adaptive, times only", .threads = 2, .adapt = 2}};
    if (getenv("BENCH_TIMES_ONLY") && strcmp(getenv("BENCH_TIMES_ONLY"), "0"))
        ntr = 4;
    for (int i = 0; i < ntr; i++)
        if (make(&tr[i]))
            return 1;
    printf("contention (a) L4 H4 C128 V8192 B4xT256, %d steps each, rounds of %d\n", n, ROUND);
    trace = getenv("BENCH_TRACE") && strcmp(getenv("BENCH_TRACE"), "0");
    double la0 = loadavg();
    cond = "quiet";
    condition(tr, in, tg, n);
    report("quiet", tr, la0, loadavg());
    double q = (tr[2].secs / tr[2].steps) / (tr[1].secs / tr[1].steps);
    printf("quiet: adaptive / fixed 2-thread time per step %.3f (> 1: the adaptive one is slower)\n", q);
    for (int i = 0; i < nb; i++)
        beside(tr, in, tg, n, busy[i]);
    /* Same data and seed: the three must have trained to the same bits. */
    int same = tr[0].loss == tr[1].loss && tr[1].loss == tr[2].loss && (ntr < 4 || tr[3].loss == tr[0].loss);
    printf("final loss %.6f %.6f %.6f: %s\n", tr[0].loss, tr[1].loss, tr[2].loss,
           same ? "identical" : "DIFFERENT (a determinism bug)");
    for (int i = 0; i < ntr; i++)
        gpt_free(tr[i].m);
    free(in);
    free(tg);
    return same ? 0 : 1;
}
