/* cuda/cpu/cpu_adapt.h — how many OpenMP threads the CPU trainer's next step uses
 * (internal to cuda/, exposed for tests and benches).
 *
 * On a shared machine two threads can lose to one: when the cores are busy
 * with other jobs, one of our threads is descheduled and the other spins at
 * every fork-join barrier (libgomp spins about 3 ms before it sleeps, and the
 * wait policy cannot be changed once the runtime has started). Every kernel
 * gives the same bits for any thread count, so the count can change between
 * steps freely; this controller measures and picks the faster of "all"
 * (the caller's omp_get_max_threads()) and "one".
 *
 * Policy, per forward pass (the backend times each step's forward, which has
 * the step's kernels and shapes at a third of its cost, and runs the backward
 * on the count chosen after it). At "all", a forward in which the calling
 * thread got less than CPU_ADAPT_BUSY of the wall-clock time (it was
 * descheduled: other jobs want the cores) counts as contended; after
 * CPU_ADAPT_BUSY_STEPS contended ones in a row, and no sooner than `interval`
 * forwards after the last probe (unless all threads have become slower than
 * one thread was when last probed), one forward runs on one thread (a probe). At
 * "one", every `interval` forwards one runs on all threads (at once when one
 * thread has become no faster than all threads were). After a probe the
 * faster arm per token wins ("one" must be CPU_ADAPT_MARGIN faster to be
 * chosen, so noise keeps all threads); a probe that confirms the current arm
 * doubles `interval` (up to CPU_ADAPT_MAX_INTERVAL), a switch resets it. On a
 * quiet machine nothing is contended, so nothing is probed and the speed is
 * that of the fixed count. A pure state machine: timings go in, a count comes
 * out, so tests drive it with made-up timings. */
#ifndef RUNS_CUDA_CPU_ADAPT_H
#define RUNS_CUDA_CPU_ADAPT_H

#define CPU_ADAPT_BUSY 0.85        /* caller's CPU time / wall time below this: contended */
#define CPU_ADAPT_BUSY_STEPS 1     /* contended forwards in a row before a probe of one thread */
#define CPU_ADAPT_MARGIN 0.9       /* one thread is chosen when its time per token < MARGIN × all's */
#define CPU_ADAPT_MIN_INTERVAL 8   /* steps between probes after a switch */
#define CPU_ADAPT_MAX_INTERVAL 128 /* steps between probes once the choice keeps being confirmed */

typedef struct {
    int max_nt;      /* the caller's thread count ("all"); <= 1: the controller is off */
    int nt;          /* the count the next step runs with */
    int probing;     /* the next step is a probe of the other arm */
    int busy_run;    /* contended steps in a row at "all" */
    int since_probe; /* steps since the last probe */
    int interval;    /* steps between probes */
    int switches;    /* arm changes so far (for benches and tests) */
    int probes;      /* probes so far */
    double est[2];   /* seconds per unit of work: [0] all threads, [1] one thread; 0 = unknown */
} cpu_adapt;

/* Starts at max_nt threads (values < 1 count as 1: the controller stays off). */
void cpu_adapt_init(cpu_adapt *a, int max_nt);

/* The thread count for the next forward pass (and for the rest of a step after
 * cpu_adapt_record). */
int cpu_adapt_threads(const cpu_adapt *a);

/* Records the forward pass that ran with cpu_adapt_threads(a) threads: wall_s
 * wall seconds, of which the calling thread was on a CPU for cpu_s seconds, for
 * `work` units (tokens; > 0). Chooses the next count. */
void cpu_adapt_record(cpu_adapt *a, double wall_s, double cpu_s, double work);

#endif
