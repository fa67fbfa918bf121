/* cuda/cpu/cpu_adapt.c — the thread-count controller of cpu_adapt.h. */
#include "cuda/cpu/cpu_adapt.h"

void cpu_adapt_init(cpu_adapt *a, int max_nt)
{
    *a = (cpu_adapt){0};
    a->max_nt = max_nt < 1 ? 1 : max_nt;
    a->nt = a->max_nt;
    a->interval = CPU_ADAPT_MIN_INTERVAL;
    /* The first contention may be probed at once: a run that starts on a busy
     * machine should not pay `interval` slow steps first. */
    a->since_probe = CPU_ADAPT_MIN_INTERVAL;
}

static int other_count(const cpu_adapt *a)
{
    return a->nt == a->max_nt ? 1 : a->max_nt;
}

int cpu_adapt_threads(const cpu_adapt *a)
{
    return a->probing && a->other_next ? other_count(a) : a->nt;
}

int cpu_adapt_chosen(const cpu_adapt *a)
{
    return a->nt;
}

static void probe_start(cpu_adapt *a)
{
    a->probing = 1;
    a->other_next = 1;
    a->won = a->lost = 0;
    a->sum_other = 0;
}

/* All threads' forward had `c_all` cores, one thread's `c_one` (0 = unknown):
 * were they in one core's worth? Then all threads cannot beat one thread but
 * by the luck of the load (their CPU per token is higher: the barriers). */
static int one_core(const cpu_adapt *a, double c_all, double c_one)
{
    return !a->times_only && c_all > 0 && c_one > 0 && c_all <= CPU_ADAPT_CORES * c_one;
}

/* The chosen arm's forward `t` closes a pair; a majority ends the probe. The
 * pair's two forwards are the last on all threads and on one (c_all, c_one). */
static void pair_end(cpu_adapt *a, int arm, double t)
{
    int other_wins;
    if (one_core(a, a->c_all, a->c_one))
        other_wins = arm == 0;
    else
        /* Leaving all threads takes a clear win (noise keeps the quiet
         * machine's choice); coming back to them only a win. */
        other_wins = a->t_other < (arm == 0 ? CPU_ADAPT_MARGIN * t : t);
    if (other_wins)
        a->won++;
    else
        a->lost++;
    int need = CPU_ADAPT_PAIRS / 2 + 1;
    if (a->won < need && a->lost < need) {
        a->other_next = 1;
        return;
    }
    a->probing = 0;
    a->probes++;
    a->since_probe = 0;
    a->busy_run = 0;
    a->est[1 - arm] = a->sum_other / (a->won + a->lost);
    if (a->won >= need) {
        a->nt = other_count(a);
        a->interval = CPU_ADAPT_MIN_INTERVAL;
        a->switches++;
    } else if (a->won > 0) {
        /* A split vote: the counts are close or the load is changing; look
         * again soon (probing costs little when the counts are close). */
        a->interval = CPU_ADAPT_MIN_INTERVAL;
    } else {
        a->interval = 2 * a->interval > CPU_ADAPT_MAX_INTERVAL ? CPU_ADAPT_MAX_INTERVAL : 2 * a->interval;
    }
}

void cpu_adapt_record(cpu_adapt *a, double wall_s, double cpu_s, double proc_s, double work)
{
    if (a->max_nt <= 1 || !(work > 0) || !(wall_s > 0))
        return;
    a->last[0] = wall_s, a->last[1] = cpu_s, a->last[2] = proc_s;
    int arm = a->nt == a->max_nt ? 0 : 1;
    double t = wall_s / work, c = proc_s > 0 ? proc_s / wall_s : 0;
    int on_one = cpu_adapt_threads(a) != a->max_nt;
    a->forwards[on_one]++;
    if (on_one)
        a->c_one = c;
    else
        a->c_all = c;
    if (a->probing && a->other_next) {
        a->t_other = t;
        a->sum_other += t;
        a->other_next = 0;
        return;
    }
    /* Half-weight average: follows a change of load within a few steps. */
    a->est[arm] = a->est[arm] > 0 ? 0.5 * a->est[arm] + 0.5 * t : t;
    if (a->probing) {
        pair_end(a, arm, t);
        return;
    }
    a->since_probe++;
    /* The chosen arm has become slower than the other was at the last probe:
     * probe again without waiting out a long interval (the load changed, or
     * the last probe was unlucky), but no more often than every
     * CPU_ADAPT_MIN_INTERVAL forwards, so a stale estimate cannot keep the
     * controller probing. */
    int due = a->since_probe >= a->interval;
    if (arm == 0) {
        a->busy_run = cpu_s < CPU_ADAPT_BUSY * wall_s ? a->busy_run + 1 : 0;
        /* Slower than one thread was, or in no more cores than it had (the
         * threads share a core: the load changed). */
        int worse = (a->est[1] > 0 && a->est[1] < CPU_ADAPT_MARGIN * a->est[0]) || one_core(a, c, a->c_one);
        if (a->busy_run >= CPU_ADAPT_BUSY_STEPS && (due || (worse && a->since_probe >= CPU_ADAPT_MIN_INTERVAL)))
            probe_start(a);
    } else {
        /* At one thread, every `interval` forwards, contended or not: with the
         * short spin the training commands run with (runner/omp_env.h) two
         * threads often win under load; at libgomp's long default spin the
         * doubling interval and the early end of a lost probe keep the costly
         * probes rare. */
        /* Not when all threads were last seen in one core's worth: then one
         * thread is as fast, not faster, and two are no better. */
        int worse = a->est[0] > 0 && !(a->est[1] < CPU_ADAPT_MARGIN * a->est[0]) && !one_core(a, a->c_all, a->c_one);
        if (due || (worse && a->since_probe >= CPU_ADAPT_MIN_INTERVAL))
            probe_start(a);
    }
}
