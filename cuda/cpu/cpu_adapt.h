/* cuda/cpu/cpu_adapt.h — how many OpenMP threads the CPU trainer's next step uses
 * (internal to cuda/, exposed for tests and benches).
 *
 * On a shared machine two threads can lose to one: when the cores are busy
 * with other jobs, one of our threads is descheduled and the other waits for
 * it at every fork-join barrier (spinning, or asleep and then woken late: on a
 * loaded 2-core machine a fixed two-thread step used fewer CPU cores than one
 * thread did, bench_contention). Every kernel gives the same bits for any
 * thread count, so the count can change between steps freely; this controller
 * measures and picks the faster of "all" (the caller's omp_get_max_threads())
 * and "one".
 *
 * Policy, per forward pass (the backend times each training step's forward,
 * which has the step's kernels and shapes at about 40% of its cost; the
 * backward and everything else run on the chosen arm). At "all", a forward in
 * which the calling thread got less than CPU_ADAPT_BUSY of the wall-clock time
 * (it was descheduled: other jobs want the cores) counts as contended; after
 * CPU_ADAPT_BUSY_STEPS contended ones in a row, and no sooner than `interval`
 * forwards after the last probe (unless all threads have become slower than
 * one thread was when last probed), a probe starts. At "one", a probe starts
 * every `interval` forwards (at once when one thread has become no faster than
 * all threads were).
 *
 * A probe is up to CPU_ADAPT_PAIRS pairs of forwards back to back: one on the
 * other arm, then one on the chosen arm, so a change of the background load
 * between probes does not bias the comparison. A pair is won by the other arm
 * when its time per token is below the chosen arm's, times CPU_ADAPT_MARGIN
 * when leaving "all" (noise keeps all threads, the quiet machine's choice);
 * the probe ends as soon as one side has won a majority of the pairs, and only
 * a majority switches. A pair in which all threads together got no more CPU
 * than one thread did (process CPU time / wall time, at most CPU_ADAPT_CORES
 * times one thread's: the threads shared a core) goes to one thread whatever
 * the times: more threads are faster only with more CPU, so a faster time is
 * then the luck of the load. For the same reason a forward on all threads
 * that got no more cores than one thread got at the last probe starts a probe
 * as a slowdown would (below). So one noisy forward never flips the arm, and an arm
 * that measured slower in most pairs is never chosen. A probe that confirms
 * the chosen arm in every pair doubles `interval` (up to
 * CPU_ADAPT_MAX_INTERVAL); a switch or a split vote resets it. On a quiet
 * machine nothing is contended, so nothing is probed and the speed is that of
 * the fixed count. A pure state machine: timings go in, a count comes out, so
 * tests drive it with made-up timings. */
#ifndef RUNS_CUDA_CPU_ADAPT_H
#define RUNS_CUDA_CPU_ADAPT_H

#define CPU_ADAPT_BUSY 0.85        /* caller's CPU time / wall time below this: contended */
#define CPU_ADAPT_BUSY_STEPS 1     /* contended forwards in a row before a probe of one thread */
#define CPU_ADAPT_MARGIN 0.95      /* one thread wins a pair when its time per token < MARGIN × all's */
#define CPU_ADAPT_PAIRS 3          /* pairs per probe at most; a majority of them decides */
#define CPU_ADAPT_MIN_INTERVAL 8   /* forwards between probes after a switch */
#define CPU_ADAPT_MAX_INTERVAL 128 /* forwards between probes once the choice keeps being confirmed */
#define CPU_ADAPT_CORES 1.1        /* all threads' process CPU / wall at most this × one thread's: one core's worth */

typedef struct {
    int max_nt;       /* the caller's thread count ("all"); <= 1: the controller is off */
    int nt;           /* the chosen count: the backward, the update, and forwards that are not probes */
    int probing;      /* a probe is under way (pairs of forwards) */
    int other_next;   /* the next forward runs on the other arm (the first half of a pair) */
    int won, lost;    /* pairs of this probe won and lost by the other arm */
    double t_other;   /* seconds per unit of work of the pair's other-arm forward */
    double c_one;     /* the process's cores (CPU seconds / wall second) in the last one-thread forward; 0 = unknown */
    double c_all;     /* the same in the last forward on all threads */
    double sum_other; /* of this probe's other-arm forwards, for est[] */
    int busy_run;     /* contended steps in a row at "all" */
    int since_probe;  /* steps since the last probe */
    int interval;     /* steps between probes */
    int switches;     /* arm changes so far (for benches and tests) */
    int probes;       /* probes so far */
    long forwards[2]; /* forwards recorded so far on all threads [0] and on one [1] (benches) */
    double est[2];    /* seconds per unit of work: [0] all threads, [1] one thread; 0 = unknown */
    double last[3];   /* the last forward recorded: wall, caller's CPU and process CPU seconds (benches) */
    int times_only;   /* 1: the CPU-time rules are off, times alone decide (benches compare; 0 by default) */
} cpu_adapt;

/* Starts at max_nt threads (values < 1 count as 1: the controller stays off). */
void cpu_adapt_init(cpu_adapt *a, int max_nt);

/* The thread count for the next training forward pass: the other arm's during
 * the first half of a probe's pair, the chosen count otherwise. */
int cpu_adapt_threads(const cpu_adapt *a);

/* The chosen count: for everything but a training step's forward (its
 * backward, the update, evaluation). */
int cpu_adapt_chosen(const cpu_adapt *a);

/* Records the forward pass that ran with cpu_adapt_threads(a) threads: wall_s
 * wall seconds, of which the calling thread was on a CPU for cpu_s seconds and
 * all the process's threads together for proc_s seconds, for `work` units
 * (tokens; > 0). Chooses the next counts. */
void cpu_adapt_record(cpu_adapt *a, double wall_s, double cpu_s, double proc_s, double work);

#endif
