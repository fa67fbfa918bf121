/* tests/unit/test_gate_loss.c — the divergence gate (runner/gate.h): non-finite
 * loss and gradient norm fire at once; the loss-spike rule fires after exactly
 * `steps` consecutive steps of EMA above factor × best, not before, not during
 * the grace, not on a healthy curve with source swings; the config's defaults. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "manifests/config.h"
#include "runner/gate.h"

static void nonfinite_loss_fires_at_once(void **state)
{
    (void)state;
    runs_loss_gate g;
    runs_loss_gate_init(&g, 3, 50, 0);
    for (long t = 0; t < 10; t++)
        assert_int_equal(runs_loss_gate_feed(&g, t, 4.0, 1.0), 0);
    assert_int_equal(runs_loss_gate_feed(&g, 10, NAN, 1.0), 1);
    assert_int_equal(g.fired, RUNS_LOSS_RULE_NONFINITE_LOSS);
    assert_int_equal(g.fired_step, 10);
    assert_string_equal(runs_loss_rule_name(g.fired), "nonfinite_loss");
    char buf[160];
    runs_loss_gate_describe(buf, sizeof buf, &g);
    assert_string_equal(buf, "non-finite loss (nan) at step 10");
    /* stays fired; a later healthy record changes nothing */
    assert_int_equal(runs_loss_gate_feed(&g, 11, 4.0, 1.0), 1);
    assert_int_equal(g.fired_step, 10);
    /* inf too, even inside the grace and with the spike rule off */
    runs_loss_gate_init(&g, 3, 0, 1000);
    assert_int_equal(runs_loss_gate_feed(&g, 0, -INFINITY, 1.0), 1);
    assert_int_equal(g.fired, RUNS_LOSS_RULE_NONFINITE_LOSS);
    runs_loss_gate_describe(buf, sizeof buf, &g);
    assert_string_equal(buf, "non-finite loss (-inf) at step 0");
    /* a NaN with its sign bit set is still "nan" (printf would say "-nan") */
    runs_loss_gate_init(&g, 3, 50, 0);
    assert_int_equal(runs_loss_gate_feed(&g, 4, -NAN, 1.0), 1);
    runs_loss_gate_describe(buf, sizeof buf, &g);
    assert_string_equal(buf, "non-finite loss (nan) at step 4");
}

static void nonfinite_grad_norm_fires_at_once(void **state)
{
    (void)state;
    runs_loss_gate g;
    runs_loss_gate_init(&g, 3, 50, 100);
    assert_int_equal(runs_loss_gate_feed(&g, 0, 5.0, 2.0), 0);
    assert_int_equal(runs_loss_gate_feed(&g, 1, 5.0, INFINITY), 1);
    assert_int_equal(g.fired, RUNS_LOSS_RULE_NONFINITE_GRAD);
    assert_string_equal(runs_loss_rule_name(g.fired), "nonfinite_grad_norm");
    char buf[160];
    runs_loss_gate_describe(buf, sizeof buf, &g);
    assert_string_equal(buf, "non-finite gradient norm (inf) at step 1");
    /* a non-finite record did not enter the EMA */
    assert_true(g.ema == 5.0);
}

/* loss 4 for 100 steps, then a jump to 400: the EMA crosses 3 × best after a few
 * steps and the rule fires exactly `steps` steps after the first step above */
static void spike_fires_after_exactly_n_steps(void **state)
{
    (void)state;
    runs_loss_gate g;
    runs_loss_gate_init(&g, 3, 50, 0);
    long t = 0, first_above = -1;
    for (; t < 100; t++)
        assert_int_equal(runs_loss_gate_feed(&g, t, 4.0, 1.0), 0);
    int fired = 0;
    for (; t < 1000 && !fired; t++) {
        fired = runs_loss_gate_feed(&g, t, 400.0, 1.0);
        if (first_above < 0 && g.above > 0)
            first_above = t;
        if (!fired && first_above >= 0)
            assert_int_equal(g.above, t - first_above + 1);
    }
    assert_true(fired);
    assert_int_equal(g.fired, RUNS_LOSS_RULE_SPIKE);
    assert_int_equal(g.fired_step, first_above + 49);
    assert_int_equal(g.above_start, first_above);
    assert_true(fabs(g.fired_best - 4.0) < 1e-12);
    assert_true(g.fired_value > 12.0);
    char buf[160], want[160];
    runs_loss_gate_describe(buf, sizeof buf, &g);
    snprintf(want, sizeof want, "loss EMA %.4g > 3 × best 4 for 50 steps at step %ld", g.fired_value, first_above + 49);
    assert_string_equal(buf, want);
    assert_string_equal(runs_loss_rule_name(g.fired), "loss_spike");
}

/* 49 steps above, one step back below, 49 above again: the count restarts and
 * the rule never fires */
static void spike_needs_consecutive_steps(void **state)
{
    (void)state;
    runs_loss_gate g;
    runs_loss_gate_init(&g, 2, 5, 0);
    long t = 0;
    runs_loss_gate_feed(&g, t++, 1.0, 1.0);
    /* drive the EMA straight to known values: ema_new = 0.98 ema + 0.02 x */
    for (int round = 0; round < 3; round++) {
        /* climb above 2 × best (best = 1) */
        while (!(g.ema > 2.0))
            assert_int_equal(runs_loss_gate_feed(&g, t++, 100.0, 1.0), 0);
        assert_int_equal(g.above, 1);
        for (int k = 0; k < 3; k++)
            assert_int_equal(runs_loss_gate_feed(&g, t++, 2.1, 1.0), 0);
        assert_int_equal(g.above, 4);
        /* one record that pulls the EMA back to 2 × best or below resets the count */
        double x = (1.9 - 0.98 * g.ema) / 0.02;
        assert_int_equal(runs_loss_gate_feed(&g, t++, x, 1.0), 0);
        assert_int_equal(g.above, 0);
        assert_int_equal(g.above_start, -1);
    }
    assert_int_equal(g.fired, RUNS_LOSS_RULE_NONE);
}

static void spike_waits_for_grace_and_can_be_off(void **state)
{
    (void)state;
    runs_loss_gate g;
    runs_loss_gate_init(&g, 3, 10, 200);
    runs_loss_gate_feed(&g, 0, 2.0, 1.0);
    long t = 1;
    for (; t < 200; t++)
        assert_int_equal(runs_loss_gate_feed(&g, t, 1000.0, 1.0), 0);
    assert_int_equal(g.above, 0);
    /* best was tracked through the grace: it is still the first EMA (2.0) */
    assert_true(g.best == 2.0);
    for (; t < 209; t++)
        assert_int_equal(runs_loss_gate_feed(&g, t, 1000.0, 1.0), 0);
    assert_int_equal(runs_loss_gate_feed(&g, t, 1000.0, 1.0), 1);
    assert_int_equal(g.fired_step, 209);

    runs_loss_gate_init(&g, 3, 0, 0);
    runs_loss_gate_feed(&g, 0, 2.0, 1.0);
    for (t = 1; t < 1000; t++)
        assert_int_equal(runs_loss_gate_feed(&g, t, 1e6, 1e6), 0);
}

/* A healthy run whose logged loss swings with the bandit's source (chat ≈ 3.5,
 * jargon ≈ 7, pulls of 7-42 steps: issue 12) while it slowly falls: the EMA moves
 * by about 2× at worst, under the default factor 3 */
static void healthy_source_swings_never_fire(void **state)
{
    (void)state;
    runs_config c;
    runs_config_default(&c);
    runs_loss_gate g;
    runs_loss_gate_init(&g, c.gate.loss_spike_factor, c.gate.loss_spike_steps, 0);
    uint64_t x = 12345;
    long t = 0;
    int src = 0;
    while (t < 20000) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        long len = 7 + (long)((x >> 33) % 36);
        double base = src ? 7.0 : 3.5;
        for (long k = 0; k < len; k++, t++) {
            double drift = 1.0 - 0.3 * (double)t / 20000.0;
            double noise = 0.2 * (double)((x >> (k % 32)) & 7) / 7.0;
            assert_int_equal(runs_loss_gate_feed(&g, t, base * drift + noise, 1.0), 0);
        }
        src = !src;
    }
    assert_true(g.worst_ratio > 1.2); /* the swings did reach the gate */
    assert_true(g.worst_ratio < c.gate.loss_spike_factor);
}

static void config_defaults_and_limits(void **state)
{
    (void)state;
    runs_config c;
    runs_config_default(&c);
    assert_true(c.gate.loss_spike_factor == 3.0);
    assert_int_equal(c.gate.loss_spike_steps, 50);
    cJSON *j = cJSON_Parse("{\"gate\": {\"loss_spike_factor\": 4.5, \"loss_spike_steps\": 0}}");
    assert_int_equal(runs_config_from_json(&c, j, "t.json"), 0);
    assert_true(c.gate.loss_spike_factor == 4.5);
    assert_int_equal(c.gate.loss_spike_steps, 0);
    cJSON_Delete(j);
    const char *bad[] = {"{\"gate\": {\"loss_spike_factor\": 1}}", "{\"gate\": {\"loss_spike_factor\": 0.5}}",
                         "{\"gate\": {\"loss_spike_steps\": -1}}", "{\"gate\": {\"loss_spike_steps\": 2.5}}",
                         "{\"gate\": {\"loss_spike_factor\": \"3\"}}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        j = cJSON_Parse(bad[i]);
        assert_non_null(j);
        assert_int_not_equal(runs_config_from_json(&c, j, "t.json"), 0);
        cJSON_Delete(j);
    }
    /* the effective config records both keys */
    runs_config_default(&c);
    cJSON *eff = runs_config_to_json(&c);
    const cJSON *gate = cJSON_GetObjectItemCaseSensitive(eff, "gate");
    assert_true(cJSON_GetObjectItemCaseSensitive(gate, "loss_spike_factor")->valuedouble == 3.0);
    assert_true(cJSON_GetObjectItemCaseSensitive(gate, "loss_spike_steps")->valuedouble == 50);
    cJSON_Delete(eff);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nonfinite_loss_fires_at_once),         cmocka_unit_test(nonfinite_grad_norm_fires_at_once),
        cmocka_unit_test(spike_fires_after_exactly_n_steps),    cmocka_unit_test(spike_needs_consecutive_steps),
        cmocka_unit_test(spike_waits_for_grace_and_can_be_off), cmocka_unit_test(healthy_source_swings_never_fire),
        cmocka_unit_test(config_defaults_and_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
