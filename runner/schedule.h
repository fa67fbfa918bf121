/* runner/schedule.h — the learning-rate schedule family, one pure function.
 *
 * Notation: t = 0-based step, P = optimizer.lr, T = train.total_steps,
 * W = schedule.warmup_steps, α = schedule.min_lr_factor,
 * R = schedule.restart_step, P′ = schedule.restart_lr,
 * S = schedule.stage_start.
 *
 *   lr(t) = m(t) · base(t)
 *
 * Warmup multiplier (seeds 000/002):
 *   m(t) = min(1, (t+1)/W)            (W = 0 → 1)
 *   so with W = 2000: 1/2000 at t = 0, 1001/2000 at t = 1000, 1 from t = 1999.
 *   It multiplies every phase below (after t = W−1 it is exactly 1).
 *
 * Main schedule, over the horizon H = T, or H = S when a mid-training stage is set:
 *   p = clamp((t − W)/(H − W), 0, 1)   (H ≤ W → p = 0 before W, 1 from W)
 *   constant  base = P
 *   cosine    base = αP + (P − αP)·½(1 + cos πp)
 *   linear    base = αP + (P − αP)(1 − p)
 *   wsd       D = floor(stable_ratio·H); base = P for t < D, then
 *             base = P − (P − αP)·min(1, (t − D)/(H − D)) (H ≤ D → αP from D)
 *   wso       base = P (WSD with α = 1: warmup, then constant to the end)
 *   exp       base = max(αP, P·exp(−k·max(0, t − W))), k = exp_decay
 *             (min_lr_factor is the floor of every decaying schedule; α = 0 gives
 *             the plain P·exp(−k(t−W)) of DESIGN.md)
 *
 * Warm restart (SGDR, seed 000), when R > 0 and R < H: for R ≤ t the main schedule
 * is replaced by a cosine from P′ to αP′ over [R, H]:
 *   q = clamp((t − R)/(H − R), 0, 1);  base = αP′ + (P′ − αP′)·½(1 + cos πq)
 *   P′ = restart_lr, or P when restart_lr ≤ 0. The LR jumps to P′ at t = R (no
 *   second warmup: the optimizer state is loaded, that is the point of a restart).
 *   A restart at R ≥ H is ignored (a restart inside a mid-training stage makes
 *   no sense; the config loader is the place to refuse it).
 *
 * Mid-training stage (seed 003, Appendix B), when 0 < S: the main schedule above
 * runs as if T = S. From t ≥ S:
 *   E = the main schedule's value at p = 1 (its end: αP for cosine/linear/wsd,
 *       P for constant/wso, max(αP, P·exp(−k(S−W))) for exp, αP′ after a restart),
 *   stage_type "constant": base = E
 *   stage_type "linear":   base = E·clamp((T − t)/(T − S), 0, 1)  (0 at t = T)
 *   (S ≥ T: there is no stage; the main schedule runs over T.)
 *
 * Steps past T keep the end value (p is clamped). Unknown type names give the
 * constant schedule: the config loader refuses them before this is ever called.
 */
#ifndef RUNS_RUNNER_SCHEDULE_H
#define RUNS_RUNNER_SCHEDULE_H

#include "manifests/config.h"

/* The learning rate at 0-based step t (t < 0 is treated as 0). Pure: reads only
 * cfg->optimizer.lr, cfg->train.total_steps and cfg->schedule. */
double runs_schedule_lr(const runs_config *cfg, long t);

/* The warmup multiplier min(1, (t+1)/W) alone (1 when W = 0). */
double runs_schedule_warmup(long warmup_steps, long t);

#endif
