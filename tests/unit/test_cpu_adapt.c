/* tests/unit/test_cpu_adapt.c — the CPU trainer's thread-count controller
 * (cuda/cpu/cpu_adapt.h) driven with made-up timings: a quiet machine is never
 * probed, a busy one where one thread is faster ends on one thread with few
 * two-thread probes, a busy one where two threads still win stays on two, the
 * end of contention brings two threads back, noise within the margin keeps two,
 * one thread means off; one lucky forward of the other arm never flips the
 * choice (either way), an arm that measured slower back to back is never
 * chosen, a change of load is followed within the shortest interval, and a
 * split vote is looked at again soon. Plus, through gpt.h: the caller's OpenMP
 * thread count is the same after a step as before it, whatever the controller
 * chose. */
#include <omp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "cuda/cpu/cpu_adapt.h"
#include "cuda/gpt.h"

/* A machine: seconds per token on all threads and on one; the share of the
 * wall clock the calling thread gets; the cores the process gets on all
 * threads and on one (CPU seconds per wall second; 0: each thread gets the
 * caller's share). */
typedef struct {
    double t_all, t_one, busy, c_all, c_one;
} machine;

/* Runs n forwards; returns how many ran on all threads. */
static int run(cpu_adapt *a, machine m, int n)
{
    int on_all = 0;
    for (int i = 0; i < n; i++) {
        int nt = cpu_adapt_threads(a);
        double wall = nt == a->max_nt ? m.t_all : m.t_one;
        on_all += nt == a->max_nt;
        double cores = nt == a->max_nt ? (m.c_all > 0 ? m.c_all : m.busy * nt) : (m.c_one > 0 ? m.c_one : m.busy);
        cpu_adapt_record(a, wall * 100, wall * 100 * m.busy, wall * 100 * cores, 100);
    }
    return on_all;
}

static void quiet_is_never_probed(void **state)
{
    (void)state;
    cpu_adapt a;
    cpu_adapt_init(&a, 2);
    assert_int_equal(run(&a, (machine){1.0, 1.8, 0.99, 0, 0}, 500), 500);
    assert_int_equal(a.probes, 0);
    assert_int_equal(cpu_adapt_threads(&a), 2);
}

static void busy_and_one_faster_goes_to_one(void **state)
{
    (void)state;
    cpu_adapt a;
    cpu_adapt_init(&a, 2);
    /* The spin-wait case the issue measured: two threads 5x slower. */
    int on_all = run(&a, (machine){5.0, 1.0, 0.3, 0, 0}, 500);
    assert_int_equal(cpu_adapt_threads(&a), 1);
    assert_int_equal(a.switches, 1);
    /* The first contended forward and the two pairs that switch; then probes
     * of all threads, each lost in two pairs, backing off: 8, 16, 32, 64, 128,
     * 128 forwards apart. */
    assert_true(on_all <= 3 + 2 * 6);
    assert_true(on_all >= 5); /* it does keep looking */
}

static void busy_but_two_faster_stays(void **state)
{
    (void)state;
    cpu_adapt a;
    cpu_adapt_init(&a, 2);
    int on_all = run(&a, (machine){1.0, 1.7, 0.5, 0, 0}, 500);
    assert_int_equal(cpu_adapt_threads(&a), 2);
    assert_int_equal(a.switches, 0);
    /* Two forwards on one thread per probe; probes back off: 8, 16, 32, 64,
     * 128, 128 ... forwards apart. */
    assert_true(500 - on_all <= 2 * 7);
    assert_true(a.interval == CPU_ADAPT_MAX_INTERVAL);
}

static void contention_ends(void **state)
{
    (void)state;
    cpu_adapt a;
    cpu_adapt_init(&a, 2);
    run(&a, (machine){5.0, 1.0, 0.3, 0, 0}, 300);
    assert_int_equal(cpu_adapt_threads(&a), 1);
    /* Quiet again: back on two threads within one probe interval. */
    machine quiet = {0.55, 1.0, 0.99, 0, 0};
    int n = 0;
    while ((cpu_adapt_threads(&a) == 1 || a.probing) && n <= CPU_ADAPT_MAX_INTERVAL + 1)
        n += 1, run(&a, quiet, 1);
    assert_int_equal(cpu_adapt_threads(&a), 2);
    assert_true(n <= CPU_ADAPT_MAX_INTERVAL + 1);
    int probes = a.probes;
    assert_int_equal(run(&a, quiet, 300), 300);
    assert_int_equal(a.probes, probes);
}

/* On one thread (two threads 5x slower), the probe of all threads lands in a
 * lull where they look fast for one forward: the old controller switched on
 * that one forward. Now the pairs after it, on the real load, outvote it. */
static void lucky_probe_of_all_does_not_flip(void **state)
{
    (void)state;
    cpu_adapt a;
    machine load = {5.0, 1.0, 0.3, 0, 0};
    cpu_adapt_init(&a, 2);
    run(&a, load, 300);
    assert_int_equal(cpu_adapt_threads(&a), 1);
    int switches = a.switches;
    while (cpu_adapt_threads(&a) == 1)
        run(&a, load, 1);
    run(&a, (machine){0.5, 1.0, 0.3, 0, 0}, 1); /* the lucky forward on all threads */
    for (int i = 0; i < 8; i++) {
        run(&a, load, 1);
        assert_int_equal(a.switches, switches);
    }
    assert_int_equal(cpu_adapt_threads(&a), 1);
}

/* The mirror case, with the short spin the training commands use: two threads
 * win under load, but the probe of one thread lands in a lull and looks twice
 * as fast for one forward. The old controller switched to one thread on it;
 * now two threads are kept throughout. */
static void lucky_probe_of_one_does_not_flip(void **state)
{
    (void)state;
    cpu_adapt a;
    cpu_adapt_init(&a, 2);
    machine load = {1.0, 1.7, 0.5, 0, 0};
    while (cpu_adapt_threads(&a) == 2)
        run(&a, load, 1);
    run(&a, (machine){1.0, 0.5, 0.5, 0, 0}, 1); /* the lucky forward on one thread */
    for (int i = 0; i < 8; i++) {
        assert_int_equal(a.switches, 0);
        run(&a, load, 1);
    }
    assert_int_equal(a.switches, 0);
    assert_int_equal(cpu_adapt_threads(&a), 2);
}

/* A burst of load made the last forwards on two threads slow; it ends as one
 * thread is probed. Back to back, two threads are faster than the probed
 * one (1.0 against 1.5 per token), so one thread must not be chosen: the old
 * controller compared the probe with the burst's average and switched. */
static void arm_measured_slower_is_not_chosen(void **state)
{
    (void)state;
    cpu_adapt a;
    cpu_adapt_init(&a, 2);
    while (cpu_adapt_threads(&a) == 2)
        run(&a, (machine){3.0, 1.5, 0.5, 0, 0}, 1); /* the burst, until the probe */
    for (int i = 0; i < 20; i++) {
        run(&a, (machine){1.0, 1.5, 0.5, 0, 0}, 1);
        assert_int_equal(a.switches, 0);
    }
    assert_int_equal(a.nt, 2);
    assert_true(a.probes >= 1 && a.probes <= 2);
}

/* After long confirmation (the interval at its maximum), the load changes so
 * that one thread wins: the next probe comes within the shortest interval,
 * not the longest, and switches. */
static void load_change_is_followed_within_min_interval(void **state)
{
    (void)state;
    cpu_adapt a;
    cpu_adapt_init(&a, 2);
    run(&a, (machine){1.0, 0.97, 0.5, 0, 0}, 600); /* one thread never MARGIN faster */
    assert_int_equal(a.interval, CPU_ADAPT_MAX_INTERVAL);
    assert_int_equal(a.switches, 0);
    int n = 0;
    while (cpu_adapt_threads(&a) == 2 || a.switches == 0) {
        run(&a, (machine){3.0, 1.0, 0.3, 0, 0}, 1);
        assert_true(++n <= CPU_ADAPT_MIN_INTERVAL + 2 * CPU_ADAPT_PAIRS + 1);
    }
    assert_int_equal(a.switches, 1);
}

/* After long confirmation (the interval at its maximum), a probe in which one
 * thread wins one pair and loses two keeps two threads but looks again after
 * the shortest interval: the counts are close or the load is changing (it
 * used to back off to the longest interval as after a clear confirmation). */
static void split_vote_looks_again_soon(void **state)
{
    (void)state;
    cpu_adapt a;
    machine load = {1.0, 1.7, 0.5, 0, 0};
    cpu_adapt_init(&a, 2);
    run(&a, load, 600);
    assert_int_equal(a.interval, CPU_ADAPT_MAX_INTERVAL);
    while (cpu_adapt_threads(&a) == 2)
        run(&a, load, 1);
    run(&a, (machine){1.0, 0.5, 0.5, 0, 0}, 2); /* one thread wins the first pair */
    run(&a, load, 4);                           /* and loses the next two */
    assert_int_equal(cpu_adapt_threads(&a), 2);
    assert_int_equal(a.switches, 0);
    assert_int_equal(a.interval, CPU_ADAPT_MIN_INTERVAL);
}

/* Beside one busy loop both threads run on one core (1.0 cores, the caller
 * half of it) and one thread, on the other core, is only 2% faster: within the
 * timing margin, so the old controller kept two threads for good. The CPU
 * shows two threads got no more than one: one thread is chosen, and the
 * probes of two threads that follow, with their timing noise (two threads
 * "win" every other pair by 10%), never bring them back. */
static void shared_core_goes_to_one(void **state)
{
    (void)state;
    cpu_adapt a;
    cpu_adapt_init(&a, 2);
    machine shared = {1.0, 0.98, 0.5, 1.0, 1.0}, lucky = {0.9, 1.0, 0.5, 1.0, 1.0};
    int on_all = 0;
    for (int i = 0; i < 300; i++)
        on_all += run(&a, i % 2 ? lucky : shared, 1);
    assert_int_equal(cpu_adapt_threads(&a), 1);
    assert_int_equal(a.switches, 1);
    assert_true(on_all <= 3 + 2 * 6); /* the switch, then probes backing off */
}

/* Two threads won for long (the interval at its maximum; 1.9 cores against
 * one thread's 1.0), then the threads come to share a core: the next probe
 * comes within the shortest interval (not the longest: two threads are still
 * faster than one thread was at the last probe) and switches, though one
 * thread is only 4% faster (within the margin: the old controller never
 * left). */
static void shared_core_is_seen_within_min_interval(void **state)
{
    (void)state;
    cpu_adapt a;
    cpu_adapt_init(&a, 2);
    run(&a, (machine){1.0, 1.7, 0.8, 1.9, 1.0}, 600);
    assert_int_equal(a.interval, CPU_ADAPT_MAX_INTERVAL);
    assert_int_equal(a.switches, 0);
    int n = 0;
    while (a.switches == 0) {
        run(&a, (machine){1.1, 1.06, 0.5, 1.0, 1.0}, 1);
        assert_true(++n <= CPU_ADAPT_MIN_INTERVAL + 2 * CPU_ADAPT_PAIRS + 1);
    }
    assert_int_equal(cpu_adapt_threads(&a), 1);
}

/* Beside two busy loops each of four threads gets half a core: two threads
 * 1.0 cores, one thread alone 0.67. More CPU: the times decide, and two
 * threads, faster, are kept. */
static void more_cores_lets_times_decide(void **state)
{
    (void)state;
    cpu_adapt a;
    cpu_adapt_init(&a, 2);
    run(&a, (machine){1.0, 1.3, 0.5, 1.0, 0.67}, 300);
    assert_int_equal(cpu_adapt_threads(&a), 2);
    assert_int_equal(a.switches, 0);
}

static void noise_within_margin_keeps_all(void **state)
{
    (void)state;
    cpu_adapt a;
    cpu_adapt_init(&a, 2);
    run(&a, (machine){1.0, 0.97, 0.5, 0, 0}, 300);
    assert_int_equal(cpu_adapt_threads(&a), 2);
    assert_int_equal(a.switches, 0);
}

static void one_thread_is_off(void **state)
{
    (void)state;
    cpu_adapt a;
    cpu_adapt_init(&a, 1);
    run(&a, (machine){5.0, 1.0, 0.1, 0, 0}, 50);
    assert_int_equal(cpu_adapt_threads(&a), 1);
    assert_int_equal(a.probes, 0);
    cpu_adapt_init(&a, 0);
    assert_int_equal(cpu_adapt_threads(&a), 1);
}

/* Whatever the controller picks for a step, the caller's count comes back. */
static void caller_threads_unchanged(void **state)
{
    (void)state;
    gpt_config c = {.n_layer = 1, .n_head = 2, .n_embd = 16, .vocab_size = 31, .block_size = 8};
    gpt_model *m = NULL;
    omp_set_num_threads(2);
    assert_int_equal(gpt_create(&m, &c, 2, 8, GPT_BACKEND_CPU), 0);
    assert_int_equal(gpt_init_weights(m, 7), 0);
    int32_t in[16], tg[16];
    for (int i = 0; i < 16; i++)
        in[i] = i % 31, tg[i] = (i * 7) % 31;
    gpt_adamw hp = {.beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f, .grad_clip = 1.0f};
    for (int s = 0; s < 20; s++) {
        float loss;
        assert_int_equal(gpt_forward(m, in, tg, 2, 8, 1, &loss), 0);
        assert_int_equal(omp_get_max_threads(), 2);
        assert_int_equal(gpt_update(m, &hp, 1e-3f, NULL), 0);
        assert_int_equal(omp_get_max_threads(), 2);
    }
    gpt_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(quiet_is_never_probed),
        cmocka_unit_test(busy_and_one_faster_goes_to_one),
        cmocka_unit_test(busy_but_two_faster_stays),
        cmocka_unit_test(contention_ends),
        cmocka_unit_test(noise_within_margin_keeps_all),
        cmocka_unit_test(one_thread_is_off),
        cmocka_unit_test(caller_threads_unchanged),
        cmocka_unit_test(lucky_probe_of_all_does_not_flip),
        cmocka_unit_test(lucky_probe_of_one_does_not_flip),
        cmocka_unit_test(arm_measured_slower_is_not_chosen),
        cmocka_unit_test(load_change_is_followed_within_min_interval),
        cmocka_unit_test(split_vote_looks_again_soon),
        cmocka_unit_test(shared_core_goes_to_one),
        cmocka_unit_test(shared_core_is_seen_within_min_interval),
        cmocka_unit_test(more_cores_lets_times_decide),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
