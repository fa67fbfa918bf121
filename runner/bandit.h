/* runner/bandit.h — the curriculum bandit: which data source feeds each step.
 *
 * UCB1 over the config's data sources ("arms"). A pull picks a source and holds
 * it for a random pull_min..pull_max steps; when the pull ends its reward is
 * scored and the next pull is chosen.
 *
 * Reward (why: seed 002, failure 5). The v1 bandit's reward was loss-based, so
 * list-structured, repetitive sources (repo-docs, repo-docstrings) that cut the
 * cross-entropy trivially scored highest and the bandit fed the model the
 * repetition it then collapsed into. Here a source is paid for what the model
 * *learns* from it, discounted by how repetitive its batches are:
 *
 *   Lbar      = mean loss over the pull's observed steps
 *   progress  = baseline − Lbar          (nats; baseline = this source's Lbar on
 *                                          its previous pull; on its first pull,
 *                                          mean(first half) − mean(second half))
 *   diversity = mean distinct-bigram ratio of the pull's batches (0..1),
 *               runs_batch_diversity()
 *   raw       = max(0, progress) · diversity
 *   reward    = raw / (raw + scale)       in [0, 1); scale = running mean of raw
 *               over all pulls (weight 0.05 on the newest), so an average pull
 *               earns ½ whatever the loss scale of the model
 *
 * - A source whose loss is low but no longer falling earns nothing: absolute
 *   loss never enters the reward, only its change.
 * - Progress is in nats, not relative to the loss: a relative drop would pay a
 *   memorised source going 0.13 → 0.10 (23%) far more than prose going 3.0 → 2.9
 *   (3%), which is the seed's failure again.
 * - Repetitive batches (distinct-bigram ratio near 0) earn near 0 even while
 *   their loss is still falling fast.
 * - Arm value = mean reward for the first 10 pulls, then an exponential moving
 *   average (weight 0.1), because learning progress is not stationary.
 *   UCB1 index = value + c·sqrt(ln N / n_i), c = bandit.exploration, N pulls in
 *   all, n_i pulls of arm i; unpulled arms first; ties to the lower index.
 *
 * Eligibility (checked at every pull, and on state load):
 * - an arm is active when it is in the config, not in data.exclude, has cap > 0
 *   and its shard has tokens; nothing else is ever pulled (the zombie arm);
 * - curriculum warmup: while step < data.curriculum_warmup_steps and
 *   data.curriculum_warmup_sources is non-empty, only those sources are pulled.
 *
 * Caps and floors are shares of the steps of the current phase (the curriculum
 * warmup, then the rest): a phase starts at 0 steps, and the bandit's life starts
 * at its creation (a fork's fresh bandit counts from the fork). With n steps in
 * the phase and s_i of them from source i, pull_max = bandit.pull_max:
 * - cap:   a pull of L steps is allowed only if s_i + L <= cap_i·(n + L) + pull_max,
 *          so at every step s_i <= cap_i·n + pull_max: share_i <= cap_i + pull_max/n
 *          (tolerance one pull's worth of steps, vanishing as 1/n; cap 0.0 = never).
 * - floor: before UCB, if some active arm would end the next pull below its floor
 *          (s_i < floor_i·(n + L)), the one furthest below (in floor-relative terms)
 *          is pulled. Tested: share_i >= floor_i − k·pull_max/n with k the number
 *          of floored arms (one pull of each of them late).
 * - infeasible caps (the active caps sum below 1, e.g. the only warmup source has
 *   cap 0.4): when no arm may be pulled under its cap, the arm with the lowest
 *   share/cap is pulled, spreading the excess in proportion to the caps.
 *   Infeasible floors (sum above 1) are served lowest-share/floor first.
 *
 * Determinism: the only randomness is the pull length, drawn from a splitmix64
 * stream whose state is seed + draws·γ (mod 2^64). The JSON stores seed (< 2^53,
 * derived from train.seed) and draws as plain numbers, so the state round-trips
 * exactly through any JSON parser; every other number is a double that cJSON
 * prints round-trip exactly.
 *
 * Usage per training step t (in order):
 *   src = runs_bandit_source_for_step(b, t);   draw the batch from source src
 *   ... train ...
 *   runs_bandit_observe(b, src, t, loss, runs_batch_diversity(tokens, n));
 */
#ifndef RUNS_RUNNER_BANDIT_H
#define RUNS_RUNNER_BANDIT_H

#include <stddef.h>
#include <stdint.h>
#include <cJSON.h>

#include "manifests/config.h"

typedef struct runs_bandit runs_bandit;

/* A fresh bandit over cfg->data.sources. has_data[i] is 1 when source i's shard
 * has tokens (NULL: all have). Copies what it needs from cfg. Fails with
 * RUNS_EINVALID when no source is active, or when a curriculum warmup is set and
 * none of its sources is active. Free *out with runs_bandit_free. */
int runs_bandit_create(runs_bandit **out, const runs_config *cfg, const int *has_data);
void runs_bandit_free(runs_bandit *b);

/* Restores a state written by runs_bandit_to_json onto b (created from the
 * current config). Arms in the state that are not in the config, are excluded,
 * have cap 0 or have no data are dropped, one warning each ("bandit state: arm
 * 'repo-docstrings' (value 1.546) is excluded by data.exclude; dropped"), and
 * leave no residue: their pulls leave total_pulls and their phase steps leave the
 * phase's step count; an unfinished pull of a dropped or ineligible arm is abandoned. Sources in the
 * config but not in the state start fresh. *warnings and *n_warnings (may be NULL)
 * receive a malloc'd array of malloc'd strings; caller frees each and the array.
 * A malformed state returns RUNS_ECORRUPT and leaves b unchanged. */
int runs_bandit_load_json(runs_bandit *b, const cJSON *state, char ***warnings, size_t *n_warnings);

/* The whole state as a new JSON object (caller cJSON_Deletes it); NULL on
 * out-of-memory. load_json(to_json(b)) reproduces b exactly. */
cJSON *runs_bandit_to_json(const runs_bandit *b);

/* The config source index to draw step `step`'s batch from. The first call for a
 * step counts the step; calling again for the same step returns the same source
 * and counts nothing. Starts a new pull when the current one has ended (or the
 * curriculum warmup did). Returns -1 (message set) only if no arm is active. */
int runs_bandit_source_for_step(runs_bandit *b, long step);

/* Reports the loss of step `step` on `source` and its batch's diversity (0..1).
 * Observations of another source or outside the current pull are ignored, and
 * so are non-finite losses. The pull's reward is scored when its last step is
 * observed (or when the next pull starts). */
void runs_bandit_observe(runs_bandit *b, int source, long step, float loss, double diversity);

/* Distinct-bigram ratio of a token batch: distinct (a, b) pairs / (n − 1), in
 * [0, 1]; 0 when n < 2. "region region region" → ~0; ordinary text → high. */
double runs_batch_diversity(const int32_t *tokens, size_t n);

/* Introspection for the run loop, `runs status` and tests. */
typedef struct {
    const char *name;
    int active;       /* may ever be pulled under the config */
    long steps;       /* steps drawn from it in the current phase */
    long total_steps; /* steps drawn from it since the bandit was created */
    long pulls;
    double value; /* the arm's reward estimate */
} runs_bandit_arm_info;

int runs_bandit_n_arms(const runs_bandit *b);
/* Fills *info for config source i (0 <= i < n_arms); name points into b. */
void runs_bandit_arm(const runs_bandit *b, int i, runs_bandit_arm_info *info);
/* Steps counted in the current phase (the denominator of the shares). */
long runs_bandit_phase_steps(const runs_bandit *b);

#endif
