/* runner/gate.h — the divergence gate: rules over the training loss.
 *
 * Issue 12: a run at lr 1.0 without warmup, clipping or weight decay diverged to
 * a loss EMA of 308 while the sample gate never saw five low scores in a row, so
 * it ended "successfully". Nothing watched the loss. These rules do; the loop
 * halts the run (a `halt` node, exit 2) the moment one fires, exactly as the
 * coherence gate does, and `runs gate --backtest LOSS.json` replays them.
 *
 * Rules, checked in this order on each step's record (step t, loss, grad_norm):
 *   nonfinite_loss       loss is NaN or ±inf: fires at once.
 *   nonfinite_grad_norm  the gradient norm is NaN or ±inf: fires at once.
 *   loss_spike           ema > factor · best for `steps` consecutive steps, where
 *                        ema is the loss EMA (ema = 0.98·ema + 0.02·loss, started
 *                        at the first loss; the status line's EMA recurrence)
 *                        and best is the lowest ema seen so far. Only steps
 *                        t >= grace are judged (grace = schedule.warmup_steps: a
 *                        warmup may wobble), though ema and best are tracked from
 *                        the first record. steps 0 turns the rule off.
 * A non-finite record does not enter the EMA. Once fired the gate stays fired.
 *
 * Why EMA against its best and not against the first loss: a diverging run can
 * sit below its step-0 loss for a while (ln V for a uniform model) and still be
 * far above where it had got to; the best EMA is where it had got to.
 *
 * The gate's state lives in one session: a resumed run starts a fresh EMA and
 * best (its history is in .loss.json, which the backtest replays whole).
 */
#ifndef RUNS_RUNNER_GATE_H
#define RUNS_RUNNER_GATE_H

#include <stddef.h>

#define RUNS_LOSS_GATE_BETA 0.98

typedef enum {
    RUNS_LOSS_RULE_NONE = 0,
    RUNS_LOSS_RULE_NONFINITE_LOSS,
    RUNS_LOSS_RULE_NONFINITE_GRAD,
    RUNS_LOSS_RULE_SPIKE,
} runs_loss_rule;

typedef struct {
    double factor;    /* loss_spike_factor (> 1) */
    long steps;       /* loss_spike_steps (0 = spike rule off) */
    long grace;       /* steps below this are not judged by the spike rule */
    double ema, best; /* current loss EMA and its lowest value */
    int have_ema;
    long above;           /* consecutive judged steps with ema > factor·best */
    long above_start;     /* step of the first of them (-1: none) */
    double worst_ratio;   /* highest ema/best over judged steps (for "would not fire") */
    runs_loss_rule fired; /* the rule that fired (NONE: not fired) */
    long fired_step;      /* the record's step (-1: not fired) */
    double fired_value;   /* the loss or grad norm that fired, or the ema */
    double fired_best;    /* best ema when the spike rule fired */
    long n_seen;
} runs_loss_gate;

/* A loss gate with the given spike factor, spike steps (0 = spike rule off) and
 * grace (steps t < grace are not judged by the spike rule). */
void runs_loss_gate_init(runs_loss_gate *g, double factor, long steps, long grace);

/* Feeds step t's record. Returns 1 if the gate has fired (now or before), else 0. */
int runs_loss_gate_feed(runs_loss_gate *g, long step, double loss, double grad_norm);

/* The rule's name for JSON ("nonfinite_loss", "nonfinite_grad_norm", "loss_spike")
 * or NULL for RUNS_LOSS_RULE_NONE. Static string. */
const char *runs_loss_rule_name(runs_loss_rule r);

/* One line into buf saying which rule fired with its numbers, e.g.
 * "loss EMA 308.1 > 3 × best 4.02 for 50 steps at step 412" or
 * "non-finite loss (nan) at step 12"; "" when the gate has not fired. */
void runs_loss_gate_describe(char *buf, size_t len, const runs_loss_gate *g);

/* ---- the sample gate ---------------------------------------------------------
 * Over the coherence scores of the periodic samples (runner/coherence.h): it fires
 * after `patience` consecutive scores below `threshold` (a NaN score is low). */
typedef struct {
    double threshold;
    int patience;
    int run;        /* consecutive low scores so far */
    long run_start; /* step of the first of them (-1: none) */
    int fired;
    long fired_step; /* step of the score that fired it (-1: not fired) */
    long n_seen;
} runs_gate;

/* A gate with the given threshold and patience (0 = off). */
void runs_gate_init(runs_gate *g, double threshold, int patience);

/* Feeds one sample's score. Returns 1 if the gate has fired (now or before), else 0. */
int runs_gate_feed(runs_gate *g, long step, double score);

#endif
