/* tests/unit/test_cpu_adapt.c — the CPU trainer's thread-count controller
 * (cuda/cpu/cpu_adapt.h) driven with made-up timings: a quiet machine is never
 * probed, a busy one where one thread is faster ends on one thread with few
 * two-thread probes, a busy one where two threads still win stays on two, the
 * end of contention brings two threads back, noise within the margin keeps two,
 * and one thread means off. Plus, through gpt.h: the caller's OpenMP thread
 * count is the same after a step as before it, whatever the controller chose. */
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
 * wall clock the calling thread gets. */
typedef struct {
    double t_all, t_one, busy;
} machine;

/* Runs n forwards; returns how many ran on all threads. */
static int run(cpu_adapt *a, machine m, int n)
{
    int on_all = 0;
    for (int i = 0; i < n; i++) {
        int nt = cpu_adapt_threads(a);
        double wall = nt == a->max_nt ? m.t_all : m.t_one;
        on_all += nt == a->max_nt;
        cpu_adapt_record(a, wall * 100, wall * 100 * m.busy, 100);
    }
    return on_all;
}

static void quiet_is_never_probed(void **state)
{
    (void)state;
    cpu_adapt a;
    cpu_adapt_init(&a, 2);
    assert_int_equal(run(&a, (machine){1.0, 1.8, 0.99}, 500), 500);
    assert_int_equal(a.probes, 0);
    assert_int_equal(cpu_adapt_threads(&a), 2);
}

static void busy_and_one_faster_goes_to_one(void **state)
{
    (void)state;
    cpu_adapt a;
    cpu_adapt_init(&a, 2);
    /* The spin-wait case the issue measured: two threads 5x slower. */
    int on_all = run(&a, (machine){5.0, 1.0, 0.3}, 500);
    assert_int_equal(cpu_adapt_threads(&a), 1);
    assert_int_equal(a.switches, 1);
    /* The first contended forward, then probes of all threads backing off:
     * 8, 16, 32, 64, 128, 128 forwards apart. */
    assert_true(on_all <= 1 + 6);
    assert_true(on_all >= 2); /* it does keep looking */
}

static void busy_but_two_faster_stays(void **state)
{
    (void)state;
    cpu_adapt a;
    cpu_adapt_init(&a, 2);
    int on_all = run(&a, (machine){1.0, 1.7, 0.5}, 500);
    assert_int_equal(cpu_adapt_threads(&a), 2);
    assert_int_equal(a.switches, 0);
    /* Probes back off: 8, 16, 32, 64, 128, 128 ... forwards apart. */
    assert_true(500 - on_all <= 8);
    assert_true(a.interval == CPU_ADAPT_MAX_INTERVAL);
}

static void contention_ends(void **state)
{
    (void)state;
    cpu_adapt a;
    cpu_adapt_init(&a, 2);
    run(&a, (machine){5.0, 1.0, 0.3}, 300);
    assert_int_equal(cpu_adapt_threads(&a), 1);
    /* Quiet again: back on two threads within one probe interval. */
    machine quiet = {0.55, 1.0, 0.99};
    int n = 0;
    while ((cpu_adapt_threads(&a) == 1 || a.probing) && n <= CPU_ADAPT_MAX_INTERVAL + 1)
        n += 1, run(&a, quiet, 1);
    assert_int_equal(cpu_adapt_threads(&a), 2);
    assert_true(n <= CPU_ADAPT_MAX_INTERVAL + 1);
    int probes = a.probes;
    assert_int_equal(run(&a, quiet, 300), 300);
    assert_int_equal(a.probes, probes);
}

/* A probe under a burst of load picks all threads wrongly: the next
 * contended forward that is slower than one thread was probes again at once. */
static void wrong_switch_is_undone_at_once(void **state)
{
    (void)state;
    cpu_adapt a;
    cpu_adapt_init(&a, 2);
    run(&a, (machine){5.0, 1.0, 0.3}, 300);
    assert_int_equal(cpu_adapt_threads(&a), 1);
    /* Run on one thread until the next probe of all threads is due, then let
     * that probe see a burst where all threads look fast. */
    while (!a.probing)
        run(&a, (machine){5.0, 1.0, 0.3}, 1);
    run(&a, (machine){0.5, 1.0, 0.3}, 1);
    assert_int_equal(cpu_adapt_threads(&a), 2);
    /* Back to the real load: one slow forward, then one thread again. */
    int on_all = run(&a, (machine){5.0, 1.0, 0.3}, 3);
    assert_int_equal(on_all, 1);
    assert_int_equal(cpu_adapt_threads(&a), 1);
}

static void noise_within_margin_keeps_all(void **state)
{
    (void)state;
    cpu_adapt a;
    cpu_adapt_init(&a, 2);
    run(&a, (machine){1.0, 0.95, 0.5}, 300);
    assert_int_equal(cpu_adapt_threads(&a), 2);
    assert_int_equal(a.switches, 0);
}

static void one_thread_is_off(void **state)
{
    (void)state;
    cpu_adapt a;
    cpu_adapt_init(&a, 1);
    run(&a, (machine){5.0, 1.0, 0.1}, 50);
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

/* The mirror case, with the short spin the training commands use: two threads
 * win under load, but a probe of one thread lands in a lull and picks it. As
 * soon as one thread's own steps show it no faster than two threads were, two
 * threads are probed again (it used to wait CPU_ADAPT_MAX_INTERVAL forwards
 * while the one thread was contended). */
static void wrong_switch_to_one_is_undone_at_once(void **state)
{
    (void)state;
    cpu_adapt a;
    cpu_adapt_init(&a, 2);
    machine load = {1.0, 1.7, 0.5};
    while (!a.probing)
        run(&a, load, 1);
    assert_int_equal(cpu_adapt_threads(&a), 1);
    run(&a, (machine){1.0, 0.5, 0.5}, 1); /* the lucky probe */
    assert_int_equal(cpu_adapt_threads(&a), 1);
    int n = 0;
    while (cpu_adapt_threads(&a) == 1 && n < CPU_ADAPT_MAX_INTERVAL)
        n += 1, run(&a, load, 1);
    assert_true(n <= 2);
    run(&a, load, 1); /* the probe of two threads */
    assert_int_equal(cpu_adapt_threads(&a), 2);
    assert_false(a.probing);
    assert_int_equal(a.switches, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(quiet_is_never_probed),         cmocka_unit_test(busy_and_one_faster_goes_to_one),
        cmocka_unit_test(busy_but_two_faster_stays),     cmocka_unit_test(contention_ends),
        cmocka_unit_test(noise_within_margin_keeps_all), cmocka_unit_test(one_thread_is_off),
        cmocka_unit_test(caller_threads_unchanged),      cmocka_unit_test(wrong_switch_is_undone_at_once),
        cmocka_unit_test(wrong_switch_to_one_is_undone_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
