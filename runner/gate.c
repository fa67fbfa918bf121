/* runner/gate.c — see gate.h. */
#include "runner/gate.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void runs_loss_gate_init(runs_loss_gate *g, double factor, long steps, long grace)
{
    *g = (runs_loss_gate){.factor = factor, .steps = steps, .grace = grace, .above_start = -1, .fired_step = -1};
}

static int fire(runs_loss_gate *g, runs_loss_rule rule, long step, double value)
{
    g->fired = rule;
    g->fired_step = step;
    g->fired_value = value;
    g->fired_best = g->best;
    return 1;
}

int runs_loss_gate_feed(runs_loss_gate *g, long step, double loss, double grad_norm)
{
    if (g->fired)
        return 1;
    g->n_seen++;
    if (!isfinite(loss))
        return fire(g, RUNS_LOSS_RULE_NONFINITE_LOSS, step, loss);
    if (!isfinite(grad_norm))
        return fire(g, RUNS_LOSS_RULE_NONFINITE_GRAD, step, grad_norm);
    g->ema = g->have_ema ? RUNS_LOSS_GATE_BETA * g->ema + (1 - RUNS_LOSS_GATE_BETA) * loss : loss;
    if (!g->have_ema || g->ema < g->best)
        g->best = g->ema;
    g->have_ema = 1;
    if (g->steps <= 0 || step < g->grace)
        return 0;
    /* best > 0 always for a cross-entropy; a zero best (a log of made-up losses)
     * must not make every later step "above" */
    double ratio = g->best > 0 ? g->ema / g->best : 1.0;
    if (ratio > g->worst_ratio)
        g->worst_ratio = ratio;
    if (g->best > 0 && g->ema > g->factor * g->best) {
        if (g->above++ == 0)
            g->above_start = step;
        if (g->above >= g->steps)
            return fire(g, RUNS_LOSS_RULE_SPIKE, step, g->ema);
    } else {
        g->above = 0;
        g->above_start = -1;
    }
    return 0;
}

const char *runs_loss_rule_name(runs_loss_rule r)
{
    switch (r) {
    case RUNS_LOSS_RULE_NONFINITE_LOSS: return "nonfinite_loss";
    case RUNS_LOSS_RULE_NONFINITE_GRAD: return "nonfinite_grad_norm";
    case RUNS_LOSS_RULE_SPIKE: return "loss_spike";
    default: return NULL;
    }
}

/* "nan", "inf" or "-inf": printf's "%g" may say "-nan", which reads like a number */
static const char *nonfinite_name(double x)
{
    return isnan(x) ? "nan" : x > 0 ? "inf" : "-inf";
}

void runs_loss_gate_describe(char *buf, size_t len, const runs_loss_gate *g)
{
    switch (g->fired) {
    case RUNS_LOSS_RULE_NONFINITE_LOSS:
        snprintf(buf, len, "non-finite loss (%s) at step %ld", nonfinite_name(g->fired_value), g->fired_step);
        break;
    case RUNS_LOSS_RULE_NONFINITE_GRAD:
        snprintf(buf, len, "non-finite gradient norm (%s) at step %ld", nonfinite_name(g->fired_value), g->fired_step);
        break;
    case RUNS_LOSS_RULE_SPIKE:
        snprintf(buf, len, "loss EMA %.4g > %g × best %.4g for %ld steps at step %ld", g->fired_value, g->factor,
                 g->fired_best, g->steps, g->fired_step);
        break;
    default:
        if (len)
            buf[0] = '\0';
    }
}

/* ---- the sample gate ---- */

void runs_gate_init(runs_gate *g, double threshold, int patience)
{
    memset(g, 0, sizeof *g);
    g->threshold = threshold;
    g->patience = patience;
    g->run_start = -1;
    g->fired_step = -1;
}

int runs_gate_feed(runs_gate *g, long step, double score)
{
    g->n_seen++;
    if (g->fired)
        return 1;
    if (g->patience <= 0)
        return 0;
    if (!(score >= g->threshold)) { /* NaN is low */
        if (g->run++ == 0)
            g->run_start = step;
        if (g->run >= g->patience) {
            g->fired = 1;
            g->fired_step = step;
        }
    } else {
        g->run = 0;
        g->run_start = -1;
    }
    return g->fired;
}
