/* tests/unit/test_schedule.c — the LR schedule family against the seeds' values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "runner/schedule.h"

static void _fail_msg(const char *file, int line, const char *fmt, ...);

/* Relative tolerance 1e-12: the formulas are a handful of double operations. */
#define near(got, want) near_(got, want, __FILE__, __LINE__)
static void near_(double got, double want, const char *file, int line)
{
    double tol = 1e-12 * (fabs(want) > 1e-300 ? fabs(want) : 1.0);
    if (!(fabs(got - want) <= tol))
        _fail_msg(file, line, "got %.17g, want %.17g", got, want);
}
static void _fail_msg(const char *file, int line, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    print_error("%s\n", msg);
    _fail(file, line);
}

/* ANDREA-120M v2 (seeds 000/002): peak 3e-4, 2000 warmup, 200K steps. */
static runs_config andrea(const char *type, double alpha)
{
    runs_config c;
    memset(&c, 0, sizeof c);
    c.optimizer.lr = 3e-4;
    c.train.total_steps = 200000;
    snprintf(c.schedule.type, sizeof c.schedule.type, "%s", type);
    c.schedule.warmup_steps = 2000;
    c.schedule.min_lr_factor = alpha;
    c.schedule.stable_ratio = 0.75;
    return c;
}

static void warmup_multiplier(void **state)
{
    near(runs_schedule_warmup(2000, 0), 1.0 / 2000);
    near(runs_schedule_warmup(2000, 1000), 1001.0 / 2000);
    near(runs_schedule_warmup(2000, 1998), 1999.0 / 2000);
    assert_true(runs_schedule_warmup(2000, 1999) == 1.0);
    assert_true(runs_schedule_warmup(2000, 2000) == 1.0);
    assert_true(runs_schedule_warmup(2000, 150000) == 1.0);
    assert_true(runs_schedule_warmup(0, 0) == 1.0);
    /* applied to the scheduled value (constant: exactly P·m) */
    runs_config c = andrea("constant", 0.0);
    near(runs_schedule_lr(&c, 0), 3e-4 / 2000);
    near(runs_schedule_lr(&c, 1000), 3e-4 * 1001 / 2000);
    near(runs_schedule_lr(&c, 1999), 3e-4);
    /* cosine inside warmup: p = 0, so base = P */
    c = andrea("cosine", 0.0);
    near(runs_schedule_lr(&c, 1000), 3e-4 * 0.5005);
    /* negative steps are step 0 */
    near(runs_schedule_lr(&c, -5), 3e-4 / 2000);
}

static void cosine_end_points(void **state)
{
    runs_config c = andrea("cosine", 0.0);
    near(runs_schedule_lr(&c, 2000), 3e-4);                  /* p = 0 */
    near(runs_schedule_lr(&c, 101000), 1.5e-4);              /* p = ½ */
    assert_true(fabs(runs_schedule_lr(&c, 200000)) < 1e-20); /* p = 1, α = 0 */
    assert_true(runs_schedule_lr(&c, 250000) == runs_schedule_lr(&c, 200000));
    /* monotone non-increasing after warmup */
    double prev = runs_schedule_lr(&c, 1999);
    for (long t = 2000; t <= 200000; t += 997) {
        double v = runs_schedule_lr(&c, t);
        assert_true(v <= prev);
        prev = v;
    }
    c = andrea("cosine", 0.1);
    near(runs_schedule_lr(&c, 2000), 3e-4);
    near(runs_schedule_lr(&c, 200000), 3e-5);
    near(runs_schedule_lr(&c, 101000), 3e-5 + (3e-4 - 3e-5) * 0.5);
    /* exact formula at an arbitrary step */
    double p = (123456.0 - 2000) / (200000 - 2000);
    near(runs_schedule_lr(&c, 123456), 3e-5 + (3e-4 - 3e-5) * 0.5 * (1 + cos(M_PI * p)));
}

static void linear_schedule(void **state)
{
    runs_config c = andrea("linear", 0.0);
    near(runs_schedule_lr(&c, 2000), 3e-4);
    near(runs_schedule_lr(&c, 101000), 1.5e-4);
    near(runs_schedule_lr(&c, 150500), 3e-4 * 0.25);
    assert_true(fabs(runs_schedule_lr(&c, 200000)) < 1e-20);
    c = andrea("linear", 0.1);
    near(runs_schedule_lr(&c, 200000), 3e-5);
    near(runs_schedule_lr(&c, 101000), 3e-5 + 2.7e-4 * 0.5);
}

static void wsd_decay(void **state)
{
    runs_config c = andrea("wsd", 0.1); /* D = floor(0.75·200000) = 150000 */
    near(runs_schedule_lr(&c, 2000), 3e-4);
    near(runs_schedule_lr(&c, 149999), 3e-4); /* stable to the last step before D */
    near(runs_schedule_lr(&c, 150000), 3e-4); /* decay starts at D from P */
    near(runs_schedule_lr(&c, 150001), 3e-4 - 2.7e-4 / 50000);
    near(runs_schedule_lr(&c, 175000), 3e-4 - 2.7e-4 * 0.5);
    near(runs_schedule_lr(&c, 200000), 3e-5); /* ends at αP */
    c = andrea("wsd", 0.0);
    assert_true(fabs(runs_schedule_lr(&c, 200000)) < 1e-20);
    c.schedule.stable_ratio = 0.5; /* D = 100000 */
    near(runs_schedule_lr(&c, 99999), 3e-4);
    near(runs_schedule_lr(&c, 150000), 1.5e-4);
}

static void wso_constant(void **state)
{
    /* WSO: warmup, then P to the end, whatever α says (seed 003: WSD with α = 1) */
    runs_config c = andrea("wso", 0.0);
    near(runs_schedule_lr(&c, 0), 3e-4 / 2000);
    for (long t = 1999; t <= 200000; t += 1999)
        near(runs_schedule_lr(&c, t), 3e-4);
    near(runs_schedule_lr(&c, 200000), 3e-4);
    /* WSD with α = 1 is the same curve */
    runs_config d = andrea("wsd", 1.0);
    for (long t = 0; t <= 200000; t += 777)
        near(runs_schedule_lr(&d, t), runs_schedule_lr(&c, t));
}

static void exp_schedule(void **state)
{
    runs_config c = andrea("exp", 0.0);
    c.schedule.exp_decay = 1e-4;
    near(runs_schedule_lr(&c, 999), 3e-4 * 0.5); /* warmup, no decay yet */
    near(runs_schedule_lr(&c, 2000), 3e-4);
    near(runs_schedule_lr(&c, 12000), 3e-4 * exp(-1.0));
    near(runs_schedule_lr(&c, 2000 + 6931), 3e-4 * exp(-0.6931));
    c.schedule.min_lr_factor = 0.1; /* floored at αP */
    near(runs_schedule_lr(&c, 200000), 3e-5);
    near(runs_schedule_lr(&c, 12000), 3e-4 * exp(-1.0));
}

/* Seed 000: ANDREA-12M, 60K steps, peak 4e-4, warm restart at 25K back to 4e-4. */
static void warm_restart(void **state)
{
    runs_config c;
    memset(&c, 0, sizeof c);
    c.optimizer.lr = 4e-4;
    c.train.total_steps = 60000;
    strcpy(c.schedule.type, "cosine");
    c.schedule.warmup_steps = 2000;
    double before = runs_schedule_lr(&c, 24999);
    c.schedule.restart_step = 25000;
    c.schedule.restart_lr = 4e-4;
    near(runs_schedule_lr(&c, 24999), before); /* unchanged before R */
    assert_true(before < 4e-4 * 0.8);
    near(runs_schedule_lr(&c, 25000), 4e-4); /* the spike */
    near(runs_schedule_lr(&c, 42500), 2e-4); /* half way through [R, T] */
    assert_true(fabs(runs_schedule_lr(&c, 60000)) < 1e-20);
    c.schedule.min_lr_factor = 0.1; /* to αP′ */
    c.schedule.restart_lr = 6e-4;
    near(runs_schedule_lr(&c, 25000), 6e-4);
    near(runs_schedule_lr(&c, 60000), 6e-5);
    double q = (30000.0 - 25000) / 35000;
    near(runs_schedule_lr(&c, 30000), 6e-5 + 5.4e-4 * 0.5 * (1 + cos(M_PI * q)));
    c.schedule.restart_lr = 0; /* P′ defaults to P */
    near(runs_schedule_lr(&c, 25000), 4e-4);
    /* restarting a WSO run: cosine after R too */
    strcpy(c.schedule.type, "wso");
    c.schedule.min_lr_factor = 0.0;
    near(runs_schedule_lr(&c, 24999), 4e-4);
    near(runs_schedule_lr(&c, 42500), 2e-4);
}

/* Seed 003: pre-training to S, mid-training stage from S to T. */
static void mid_training_stage(void **state)
{
    runs_config c = andrea("cosine", 0.1);
    c.train.total_steps = 236000;
    c.schedule.stage_start = 200000;
    strcpy(c.schedule.stage_type, "constant");
    /* the main schedule runs as if T = S */
    runs_config plain = andrea("cosine", 0.1);
    for (long t = 0; t < 200000; t += 1234)
        near(runs_schedule_lr(&c, t), runs_schedule_lr(&plain, t));
    near(runs_schedule_lr(&c, 199999), runs_schedule_lr(&plain, 199999));
    /* the stage starts at the previous stage's final LR, constant to the end */
    near(runs_schedule_lr(&c, 200000), 3e-5);
    near(runs_schedule_lr(&c, 220000), 3e-5);
    near(runs_schedule_lr(&c, 236000), 3e-5);
    /* linear to 0 at total_steps */
    strcpy(c.schedule.stage_type, "linear");
    near(runs_schedule_lr(&c, 200000), 3e-5);
    near(runs_schedule_lr(&c, 218000), 1.5e-5);
    assert_true(runs_schedule_lr(&c, 236000) == 0.0);
    assert_true(runs_schedule_lr(&c, 240000) == 0.0);
    /* WSO before the stage: the stage continues from P (seed 003's WSO→WSO and WSO→linear) */
    strcpy(c.schedule.type, "wso");
    near(runs_schedule_lr(&c, 199999), 3e-4);
    near(runs_schedule_lr(&c, 200000), 3e-4);
    near(runs_schedule_lr(&c, 227000), 3e-4 * 0.25);
    /* WSD before the stage: decay over [floor(0.75 S), S] */
    strcpy(c.schedule.type, "wsd");
    near(runs_schedule_lr(&c, 149999), 3e-4);
    near(runs_schedule_lr(&c, 175000), 3e-4 - 2.7e-4 * 0.5);
    near(runs_schedule_lr(&c, 200000), 3e-5);
    /* exp: continues from its value at S */
    strcpy(c.schedule.type, "exp");
    c.schedule.min_lr_factor = 0.0;
    c.schedule.exp_decay = 1e-5;
    strcpy(c.schedule.stage_type, "constant");
    near(runs_schedule_lr(&c, 210000), 3e-4 * exp(-1e-5 * 198000));
    /* a stage at or past T does not exist */
    c.schedule.stage_start = 236000;
    strcpy(c.schedule.type, "cosine");
    c.schedule.min_lr_factor = 0.1;
    near(runs_schedule_lr(&c, 236000), 3e-5);
    near(runs_schedule_lr(&c, 119000), 3e-5 + 2.7e-4 * 0.5);
}

static void no_warmup_and_degenerate(void **state)
{
    runs_config c = andrea("cosine", 0.0);
    c.schedule.warmup_steps = 0;
    near(runs_schedule_lr(&c, 0), 3e-4); /* v1's mistake, on purpose */
    c.schedule.warmup_steps = 300000;    /* W > T: still finite */
    double v = runs_schedule_lr(&c, 250000);
    assert_true(isfinite(v) && v >= 0);
    c.train.total_steps = 0;
    c.schedule.warmup_steps = 0;
    assert_true(isfinite(runs_schedule_lr(&c, 5)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(warmup_multiplier),
        cmocka_unit_test(cosine_end_points),
        cmocka_unit_test(linear_schedule),
        cmocka_unit_test(wsd_decay),
        cmocka_unit_test(wso_constant),
        cmocka_unit_test(exp_schedule),
        cmocka_unit_test(warm_restart),
        cmocka_unit_test(mid_training_stage),
        cmocka_unit_test(no_warmup_and_degenerate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
