/* runner/loop.c — the training loop: steps, sample audits, the gate, when to
 * checkpoint, signals. See session.h for the lifecycle diagram.
 *
 * Step numbering: `step` counts completed optimizer steps. Executing step t
 * (0-based) appends {"step": t, ...} to the loss log; afterwards step = t + 1, and
 * a sample audit or checkpoint "at step N" happens when step == N. A node at step N
 * whose parent is at step M carries the loss lines M..N-1 (its loss_log segment)
 * and the sample lines with M < step <= N (its samples_log segment).
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "cuda/gpt.h"
#include "manifests/canon.h"
#include "manifests/config.h"
#include "manifests/diff.h"
#include "manifests/manifest.h"
#include "manifests/merge_patch.h"
#include "runner/bandit.h"
#include "runner/coherence.h"
#include "runner/data.h"
#include "runner/dp.h"
#include "runner/dp_loop.h"
#include "runner/dp_nccl.h"
#include "runner/eval.h"
#include "runner/gate.h"
#include "runner/provenance.h"
#include "runner/rundir.h"
#include "runner/schedule.h"
#include "runner/session_int.h"
#include "store/jsonl.h"
#include "store/lineage.h"
#include "store/object.h"
#include "store/publish.h"
#include "store/gc.h"
#include "tools/bpe.h"
#include "runner/signals.h"

static int sample_audit(session *sess)
{
    const runs_sampling_config *sc = &sess->cfg.sampling;
    double sum = 0;
    int rc = RUNS_OK;
    int32_t *gen = malloc(sizeof(int32_t) * (size_t)(sc->tokens > 0 ? sc->tokens : 1));
    if (!gen)
        return runs_error_set(RUNS_ENOMEM, "out of memory in the sample audit");
    for (int p = 0; p < sc->n_prompts && !rc; p++) {
        runs_tokens prompt = {0};
        char *text = NULL;
        size_t tl = 0;
        if ((rc = runs_bpe_encode(sess->bpe, sc->prompts[p], strlen(sc->prompts[p]), RUNS_BPE_SPECIALS, &prompt)))
            goto next;
        if (prompt.n == 0 && (rc = runs_tokens_push(&prompt, RUNS_BPE_EOT)))
            goto next;
        /* a long prompt keeps its end: the model sees at most block_size tokens */
        int keep = (int)prompt.n;
        if (keep > sess->cfg.model.block_size - 1)
            keep = sess->cfg.model.block_size - 1;
        uint64_t rng = sc->seed;
        if (gpt_generate(sess->model, prompt.ids + (prompt.n - (size_t)keep), keep, sc->tokens, (float)sc->temperature,
                         sc->top_k, &rng, gen)) {
            rc = runs__gpt_fail("sample");
            goto next;
        }
        if ((rc = runs_bpe_decode(sess->bpe, gen, (size_t)sc->tokens, &text, &tl)))
            goto next;
        double score = runs_coherence_score(text, NULL);
        sum += score;
        runs_gate_feed(&sess->gate, sess->step, score);
        cJSON *line = cJSON_CreateObject();
        cJSON_AddNumberToObject(line, "step", (double)sess->step);
        cJSON_AddStringToObject(line, "prompt", sc->prompts[p]);
        cJSON_AddStringToObject(line, "text", text);
        cJSON_AddNumberToObject(line, "score", round(score * 10) / 10);
        char *s = cJSON_PrintUnformatted(line);
        cJSON_Delete(line);
        if (!s) {
            rc = runs_error_set(RUNS_ENOMEM, "out of memory in the sample audit");
            goto next;
        }
        char lp[PATH_MAX];
        runs__session_path(lp, sizeof lp, sess, ".samples.json");
        size_t sl = strlen(s);
        if (!(rc = runs_jsonl_append(sess->samples_f, lp, s, sl))) {
            s[sl] = '\n';
            rc = runs_seg_append(&sess->samples_seg, s, sl + 1);
        }
        free(s);
        if (!sess->opts.quiet && p == 0) {
            runs_session_event ev = {
                .kind = RUNS_EV_SAMPLE, .step = sess->step, .score = score, .prompt = sc->prompts[p], .text = text};
            runs__session_emit(sess, &ev);
        }
    next:
        free(prompt.ids);
        free(text);
    }
    free(gen);
    if (rc)
        return rc;
    sess->last_coherence = sc->n_prompts ? sum / sc->n_prompts : 100;
    return RUNS_OK;
}

long runs__session_stop_at(const session *sess)
{
    if (!runs_signals_boundary_stop_wanted())
        return 0;
    long b = sess->cfg.checkpoint.boundary, at = sess->step;
    if (b > 0 && at % b)
        at += b - at % b;
    long end = sess->opts.stop_after > 0 && sess->opts.stop_after < sess->cfg.train.total_steps
                   ? sess->opts.stop_after
                   : sess->cfg.train.total_steps;
    return at < end ? at : end;
}

/* The divergence gate fired: a halt node (after the running commit), then
 * RUNS_EHALT with the rule and its numbers. */
static int loss_gate_halt(session *sess)
{
    char why[160];
    runs_loss_gate_describe(why, sizeof why, &sess->loss_gate);
    cJSON *extra = cJSON_CreateObject();
    char note[200];
    snprintf(note, sizeof note, "divergence gate: %s", why);
    cJSON_AddStringToObject(extra, "note", note);
    int rc = runs__session_commit_node(sess, "halt", extra, 1);
    if (rc)
        return rc;
    return runs_error_set(RUNS_EHALT,
                          "divergence gate (%s) halted %s at step %ld: %s; read .loss.json, then fork "
                          "a fix from an earlier node (lower optimizer.lr, schedule.warmup_steps, "
                          "optimizer.grad_clip)",
                          runs_loss_rule_name(sess->loss_gate.fired), sess->run, sess->step, why);
}

/* Held-out eval at the current step (runner/eval.h): forward passes only, on fixed
 * batches from the held-out range, so training's bits are the same with eval on or
 * off. The training buffers are not touched (eval has its own). A node evaluates at
 * its own step when the loop did not just do so (runs__session_commit_node), which
 * gives every node a val_loss that `runs eval NODE` reproduces. */
int runs__session_eval(session *sess)
{
    const runs_config *c = &sess->cfg;
    if (!runs_eval_enabled(c) || sess->eval_step == sess->step)
        return RUNS_OK;
    runs_eval_result r;
    int rc = runs_eval_loss(&r, sess->model, sess->data, c->eval.batches, c->train.batch_size, c->train.seq_len);
    if (rc)
        return rc;
    sess->eval_step = sess->step;
    sess->val_loss = r.val_loss;
    sess->val_tokens = r.tokens;
    /* a fork at its parent's step: the parent's row stays the history's */
    if (sess->step <= sess->eval_logged_step)
        return RUNS_OK;
    char line[128];
    int n = runs_eval_format_line(line, sizeof line, sess->step, &r);
    if (n < 0)
        return runs_error_set(RUNS_EINVALID, "eval: a .eval.json line does not fit (internal)");
    cJSON *row = cJSON_CreateObject();
    if (!row || (!sess->eval_rows && !(sess->eval_rows = cJSON_CreateArray()))) {
        cJSON_Delete(row);
        return runs_error_set(RUNS_ENOMEM, "out of memory recording an eval");
    }
    cJSON_AddNumberToObject(row, "step", (double)sess->step);
    if (isfinite(r.val_loss))
        cJSON_AddNumberToObject(row, "val_loss", r.val_loss);
    else
        cJSON_AddNullToObject(row, "val_loss");
    cJSON_AddNumberToObject(row, "tokens", (double)r.tokens);
    cJSON_AddItemToArray(sess->eval_rows, row);
    return runs__runlog_eval_append(sess, sess->step, line, (size_t)n);
}

/* One optimizer step's forward+backward passes: A = train.grad_accum micro-batches,
 * each the data loader's next batch from source src. With A = 1 this is exactly
 * one gpt_forward (bit-identical to a run without accumulation). With A > 1 the
 * micro-batches' gradients are summed in micro-batch order in a host buffer (a
 * fixed order, so the bits do not depend on anything but the inputs), divided by
 * A and written back: the mean gradient, as if one batch of A·B rows had been seen
 * (the loss of each micro-batch is already a mean over its own B·T tokens).
 * *loss is the mean of the micro-batches' losses; *diversity the mean of their
 * distinct-bigram ratios (the bandit's input). A non-finite micro-batch loss stops
 * the passes at once: *loss is that loss and no gradient is written back. */
static int accumulate_step(session *sess, runs_accum_bufs *ab, int src, float *loss, double *diversity)
{
    const runs_config *c = &sess->cfg;
    int B = c->train.batch_size, T = c->train.seq_len, A = c->train.grad_accum;
    size_t n = gpt_num_params(sess->model);
    double lsum = 0, dsum = 0;
    int rc;
    for (int k = 0; k < A; k++) {
        float l;
        if ((rc = runs_data_next_batch(sess->data, src, B, T, sess->inputs, sess->targets)))
            return rc;
        if (gpt_forward(sess->model, sess->inputs, sess->targets, B, T, 1, &l))
            return runs__gpt_fail("forward");
        dsum += runs_batch_diversity(sess->inputs, (size_t)B * T);
        if (A == 1) {
            *loss = l;
            *diversity = dsum;
            return RUNS_OK;
        }
        if (!isfinite(l)) {
            *loss = l;
            *diversity = dsum / (k + 1);
            return RUNS_OK;
        }
        lsum += l;
        if (gpt_read(sess->model, GPT_GRAD, k == 0 ? ab->sum : ab->grad))
            return runs__gpt_fail("reading gradients");
        if (k > 0)
            runs_dp_grad_add(ab->sum, ab->grad, n);
    }
    runs_dp_grad_mean(ab->sum, n, A);
    if (gpt_write(sess->model, GPT_GRAD, ab->sum))
        return runs__gpt_fail("writing gradients");
    *loss = (float)(lsum / A);
    *diversity = dsum / A;
    return RUNS_OK;
}

static int train_steps(session *sess, runs_accum_bufs *ab);

/* Runs the training loop (train_steps) with the accumulation buffers it needs,
 * which live only as long as the loop. */
int runs__session_train(session *sess)
{
    runs_accum_bufs ab = {0};
    int rc = RUNS_OK;
    int N = runs_dp_size();
    /* CUDA ranks all-reduce on the devices with NCCL (runner/dp_nccl.h) */
    int nccl = N > 1 && gpt_get_backend(sess->model) == GPT_BACKEND_CUDA;
    if (sess->cfg.train.grad_accum > 1 || N > 1) {
        size_t bytes = sizeof(float) * gpt_num_params(sess->model);
        ab.sum = gpt_host_alloc(sess->model, bytes);
        ab.grad = gpt_host_alloc(sess->model, bytes + RUNS_DP_TAIL * sizeof(float)); /* + a rank's tail */
        if (!ab.sum || !ab.grad) {
            rc = runs_error_set(RUNS_ENOMEM,
                                "out of memory for gradient accumulation (2 x %zu bytes); "
                                "use a smaller model",
                                bytes);
            goto done;
        }
    }
    runs__dp_write_ranks(sess, -1);
    if (N > 1 && (rc = nccl ? runs__dp_nccl_start(sess, &ab) : runs__dp_start(sess, &ab)))
        goto done;
    rc = train_steps(sess, &ab);
    int rc2 = nccl ? runs__dp_nccl_stop() : runs__dp_stop();
    if (!rc)
        rc = rc2;
    runs__dp_write_ranks(sess, 1);
done:
    if (ab.sum)
        gpt_host_free(sess->model, ab.sum);
    if (ab.grad)
        gpt_host_free(sess->model, ab.grad);
    return rc;
}

static int train_steps(session *sess, runs_accum_bufs *ab)
{
    const runs_config *c = &sess->cfg;
    int B = c->train.batch_size, T = c->train.seq_len, A = c->train.grad_accum, N = runs_dp_size();
    /* tokens per optimizer step: the effective batch, all ranks */
    long step_tokens = (long)B * T * A * N;
    long end = c->train.total_steps;
    if (sess->opts.stop_after > 0 && sess->opts.stop_after < end)
        end = sess->opts.stop_after;
    long print_every = c->train.total_steps / 40 > 0 ? c->train.total_steps / 40 : 1;
    gpt_adamw hp = runs__session_adamw(c);
    int rc = RUNS_OK;
    sess->t_start = runs__now_s();
    runs_signals_install();
    runs_loss_gate_init(&sess->loss_gate, c->gate.loss_spike_factor, c->gate.loss_spike_steps,
                        c->schedule.warmup_steps);
    int stop_seen = 0;
    if (!sess->opts.quiet && sess->step < end) {
        runs_session_event ev = {.kind = RUNS_EV_TRAINING,
                                 .step = sess->step,
                                 .end = end,
                                 .backend = gpt_backend_name(gpt_get_backend(sess->model)),
                                 .n_params = gpt_num_params(sess->model),
                                 .batch = B,
                                 .seq_len = T,
                                 .grad_accum = A,
                                 .ranks = N,
                                 .batch_tokens = step_tokens};
        runs__session_emit(sess, &ev);
    }
    while (sess->step < end) {
        long t = sess->step;
        int src = runs_bandit_source_for_step(sess->bandit, t);
        if (src < 0)
            return runs_error_set(RUNS_EINVALID,
                                  "no data source can be drawn at step %ld: every "
                                  "source is excluded, capped at 0 or empty",
                                  t);
        float loss = 0, gnorm;
        double diversity = 0;
        if ((rc = N <= 1                  ? accumulate_step(sess, ab, src, &loss, &diversity)
                  : runs__dp_nccl_active() ? runs__dp_nccl_accumulate(sess, ab, src, t, &loss, &diversity)
                                           : runs__dp_accumulate(sess, ab, src, t, &loss, &diversity)))
            return rc;
        /* a non-finite loss halts before the update, so the halt node's weights are
         * the ones that produced it (and no NaN reaches the logs or metrics) */
        if (!isfinite(loss) && runs_loss_gate_feed(&sess->loss_gate, t, loss, 0))
            return loss_gate_halt(sess);
        double lr = runs_schedule_lr(c, t);
        /* ZeRO-1 ranks each update their own tensors, then swap the weights */
        if (runs__dp_sharded())
            rc = runs__dp_update(sess, ab, &hp, (float)lr, &gnorm);
        else if (gpt_update(sess->model, &hp, (float)lr, &gnorm))
            rc = runs__gpt_fail("update");
        if (rc)
            return rc;
        /* the update has run with that norm: weights and m, v may hold NaN now; the
         * halt node records them as they are, at the step before (no log line) */
        if (runs_loss_gate_feed(&sess->loss_gate, t, loss, gnorm) && !isfinite(gnorm))
            return loss_gate_halt(sess);
        runs_bandit_observe(sess->bandit, src, t, loss, diversity);
        sess->last_loss = loss;
        sess->last_lr = (float)lr;
        sess->last_gnorm = gnorm;
        sess->loss_ema = sess->have_ema ? EMA_BETA * sess->loss_ema + (1 - EMA_BETA) * loss : loss;
        sess->have_ema = 1;
        char line[256];
        int n = snprintf(line, sizeof line,
                         "{\"step\":%ld,\"loss\":%.6g,\"lr\":%.9g,\"grad_norm\":%.6g,\"source\":\"%s\"}\n", t, loss, lr,
                         gnorm, c->data.sources[src].name);
        char lp[PATH_MAX];
        runs__session_path(lp, sizeof lp, sess, ".loss.json");
        if (n <= 0 || (size_t)n >= sizeof line)
            return runs_error_set(RUNS_EINVALID,
                                  "step %ld: loss-log line too long (source name '%s'); use a "
                                  "shorter source name",
                                  t, c->data.sources[src].name);
        if ((rc = runs_jsonl_append(sess->loss_f, lp, line, (size_t)n - 1)) ||
            (rc = runs_seg_append(&sess->loss_seg, line, (size_t)n)))
            return rc;
        sess->step = t + 1;
        sess->tokens += step_tokens;
        sess->steps_this_session++;
        if (!sess->opts.quiet && (sess->step % print_every == 0 || sess->step == end)) {
            double el = runs__now_s() - sess->t_start;
            runs_session_event ev = {.kind = RUNS_EV_STEP,
                                     .step = sess->step,
                                     .total_steps = c->train.total_steps,
                                     .loss = loss,
                                     .loss_ema = sess->loss_ema,
                                     .lr = lr,
                                     .grad_norm = gnorm,
                                     .source = c->data.sources[src].name,
                                     .tokens_per_s = el > 0 ? sess->steps_this_session * (double)step_tokens / el : 0,
                                     .stop_at = runs__session_stop_at(sess)};
            runs__session_emit(sess, &ev);
        }
        /* a stop request shows in .status.json at once, not up to a second late */
        if (!stop_seen && runs_signals_boundary_stop_wanted()) {
            stop_seen = 1;
            sess->t_last_status = 0;
        }
        runs__runlog_status(sess, 0);
        runs__dp_write_ranks(sess, 0);
        if (sess->loss_gate.fired)
            return loss_gate_halt(sess);
        /* announce a finished background commit as soon as it lands */
        runs_commit_state cs = runs_committer_state(&sess->committer);
        if ((cs == RUNS_COMMIT_COMMITTED || cs == RUNS_COMMIT_FAILED) && (rc = runs__session_wait_commit(sess, 1)))
            return rc;
        if (c->eval.every > 0 && sess->step % c->eval.every == 0 && (rc = runs__session_eval(sess)))
            return rc;
        if (c->sampling.every > 0 && sess->step % c->sampling.every == 0) {
            if ((rc = sample_audit(sess)))
                return rc;
            if (sess->gate.fired) {
                cJSON *extra = cJSON_CreateObject();
                cJSON_AddStringToObject(extra, "note", "coherence gate: sample scores stayed below the threshold");
                if ((rc = runs__session_commit_node(sess, "halt", extra, 1)))
                    return rc;
                return runs_error_set(RUNS_EHALT,
                                      "coherence gate halted %s at step %ld: %d consecutive samples "
                                      "scored below %g (mean of the last audit %.1f); read "
                                      ".samples.json, then fork a fix from an earlier node",
                                      sess->run, sess->step, sess->gate.run, c->gate.threshold, sess->last_coherence);
            }
        }
        /* read each flag once a step: a signal landing between the checkpoint and
         * the stop test must not stop the run without its checkpoint */
        int want_stop = runs_signals_stop_wanted(), want_checkpoint = runs_signals_checkpoint_wanted();
        int at_boundary = c->checkpoint.boundary > 0 ? sess->step % c->checkpoint.boundary == 0 : 1;
        /* runs stop (SIGUSR2): the checkpoint at the boundary, then as SIGTERM */
        if (runs_signals_boundary_stop_wanted() && at_boundary)
            want_stop = 1;
        int due = (c->checkpoint.every > 0 && sess->step % c->checkpoint.every == 0) || sess->step == end ||
                  want_stop || (want_checkpoint && at_boundary);
        if (due) {
            if (want_checkpoint && at_boundary)
                runs_signals_checkpoint_taken();
            if ((rc = runs__session_commit_node(sess, "checkpoint", NULL, sess->step == end || want_stop)))
                return rc;
        }
        if (want_stop) {
            if (!sess->opts.quiet) {
                runs_session_event ev = {.kind = RUNS_EV_STOPPED, .step = sess->step};
                runs__session_emit(sess, &ev);
            }
            break;
        }
    }
    return runs__session_wait_commit(sess, 1);
}
