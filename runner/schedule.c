/* runner/schedule.c — the learning-rate schedule family (formulas in schedule.h). */
#include "runner/schedule.h"

#include <math.h>
#include <string.h>

static double clamp01(double x)
{
    return x < 0.0 ? 0.0 : x > 1.0 ? 1.0 : x;
}

double runs_schedule_warmup(long warmup_steps, long t)
{
    if (warmup_steps <= 0)
        return 1.0;
    if (t < 0)
        t = 0;
    double m = (double)(t + 1) / (double)warmup_steps;
    return m < 1.0 ? m : 1.0;
}

/* Progress through [from, to]: 0 before, 1 after; a degenerate span is a step. */
static double progress(long t, long from, long to)
{
    if (to <= from)
        return t >= from ? 1.0 : 0.0;
    return clamp01((double)(t - from) / (double)(to - from));
}

/* hi·w + lo·(1−w) rather than lo + (hi−lo)·w, so that both end points come out
 * exactly (the peak prints as the configured 0.0003, not 0.00029999999999999992). */
static double mix(double hi, double lo, double w)
{
    return hi * w + lo * (1.0 - w);
}

static double cosine(double hi, double lo, double p)
{
    return mix(hi, lo, 0.5 * (1.0 + cos(M_PI * p)));
}

/* The main schedule (no warmup multiplier) at t over horizon h. t may equal h
 * and beyond, which is how the stage reads the end value. */
static double main_base(const runs_config *cfg, long h, long t)
{
    const runs_schedule_config *s = &cfg->schedule;
    double P = cfg->optimizer.lr, a = s->min_lr_factor;
    long W = s->warmup_steps > 0 ? s->warmup_steps : 0;

    if (s->restart_step > 0 && s->restart_step < h && t >= s->restart_step) {
        double Pr = s->restart_lr > 0 ? s->restart_lr : P;
        return cosine(Pr, a * Pr, progress(t, s->restart_step, h));
    }
    const char *type = s->type;
    if (!strcmp(type, "cosine"))
        return cosine(P, a * P, progress(t, W, h));
    if (!strcmp(type, "linear"))
        return mix(P, a * P, 1.0 - progress(t, W, h));
    if (!strcmp(type, "wsd")) {
        long D = (long)floor(s->stable_ratio * (double)h);
        if (t < D)
            return P;
        return mix(P, a * P, 1.0 - progress(t, D, h));
    }
    if (!strcmp(type, "exp")) {
        double dt = t > W ? (double)(t - W) : 0.0;
        double v = P * exp(-s->exp_decay * dt);
        return v > a * P ? v : a * P;
    }
    return P; /* constant, wso */
}

double runs_schedule_lr(const runs_config *cfg, long t)
{
    const runs_schedule_config *s = &cfg->schedule;
    long T = cfg->train.total_steps, S = s->stage_start;
    if (t < 0)
        t = 0;
    int staged = S > 0 && S < T;
    long h = staged ? S : T;
    double base;
    if (staged && t >= S) {
        double end = main_base(cfg, h, h);
        base = !strcmp(s->stage_type, "linear") ? end * clamp01((double)(T - t) / (double)(T - S)) : end;
    } else {
        base = main_base(cfg, h, t);
    }
    return runs_schedule_warmup(s->warmup_steps, t) * base;
}
