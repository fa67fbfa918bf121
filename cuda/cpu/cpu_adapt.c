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

int cpu_adapt_threads(const cpu_adapt *a)
{
    return a->nt;
}

void cpu_adapt_record(cpu_adapt *a, double wall_s, double cpu_s, double work)
{
    if (a->max_nt <= 1 || !(work > 0) || !(wall_s > 0))
        return;
    int arm = a->nt == a->max_nt ? 0 : 1;
    double t = wall_s / work;
    if (a->probing) {
        /* est[arm] is this one step; the other arm's estimate is its recent
         * average. One noisy probe costs at most `interval` steps on the wrong
         * arm before the next probe corrects it. */
        a->est[arm] = t;
        a->probing = 0;
        a->probes++;
        a->since_probe = 0;
        a->busy_run = 0;
        int prev = 1 - arm;
        int best = a->est[0] > 0 && a->est[1] > 0 && a->est[1] < CPU_ADAPT_MARGIN * a->est[0] ? 1 : 0;
        if (best == prev) {
            a->interval = 2 * a->interval > CPU_ADAPT_MAX_INTERVAL ? CPU_ADAPT_MAX_INTERVAL : 2 * a->interval;
        } else {
            a->interval = CPU_ADAPT_MIN_INTERVAL;
            a->switches++;
        }
        a->nt = best ? 1 : a->max_nt;
        return;
    }
    /* Half-weight average: follows a change of load within a few steps. */
    a->est[arm] = a->est[arm] > 0 ? 0.5 * a->est[arm] + 0.5 * t : t;
    a->since_probe++;
    if (arm == 0) {
        a->busy_run = cpu_s < CPU_ADAPT_BUSY * wall_s ? a->busy_run + 1 : 0;
        /* All threads now slower than one thread was when last measured: do
         * not wait out the interval (a probe under a burst of load may have
         * chosen all threads wrongly, and those forwards are the costly ones). */
        int worse = a->est[1] > 0 && a->est[1] < CPU_ADAPT_MARGIN * a->est[0];
        if (a->busy_run >= CPU_ADAPT_BUSY_STEPS && (a->since_probe >= a->interval || worse)) {
            a->probing = 1;
            a->nt = 1;
        }
    } else {
        /* One thread no longer MARGIN faster than all threads were: the choice
         * would not be made again, so probe at once (the mirror of `worse`
         * above: a probe of one thread under a burst of load chose it wrongly).
         * Otherwise every `interval` forwards, contended or not: with the short
         * spin the training commands run with (runner/omp_env.h) two threads
         * often win under load, and a probe of them costs little; at libgomp's
         * long default spin the doubling interval keeps the costly probes rare. */
        int worse = a->est[0] > 0 && !(a->est[1] < CPU_ADAPT_MARGIN * a->est[0]);
        if (a->since_probe >= a->interval || worse) {
            a->probing = 1;
            a->nt = a->max_nt;
        }
    }
}
