/* runner/cmd_gate.c — `runs gate --backtest LOG.json`: replay a runs_gate_sample audit log
 * through the coherence gate, or a loss log through the divergence gate.
 *
 * The kind of log is told by content: records with "text" are samples, records
 * with "loss" are a .loss.json ({"step", "loss", "lr", "grad_norm", "source"});
 * a loss record's "loss" or "grad_norm" may be null (how a non-finite value is
 * written in JSON) and then counts as non-finite. Loss logs are replayed through
 * runner/gate.h's rules with the options' factor, steps and grace.
 *
 * Each line of the log ({"step", "prompt", "text", "score"}, JSON Lines) is
 * scored again with today's runs_coherence_score (the recorded score may come
 * from an older scorer, or be missing), fed to a gate in file order, and the
 * step at which the gate would have fired is reported. Seed 002's back-test:
 * "would have triggered at step 132K, saving 3.8 days of compute".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "common/error.h"
#include "store/jsonl.h"
#include "runner/cli.h"
#include "runner/coherence.h"
#include "runner/gate.h"
#include "runner/gatelog.h"

#define USAGE                                                                                                          \
    "runs gate --backtest LOG.json [--threshold X] [--patience N] [--loss-spike-factor X] "                            \
    "[--loss-spike-steps N] [--grace N] [--json]"
#define PREVIEW 48

static void help(const runs_opt *opts)
{
    printf("usage: " USAGE "\n\n"
           "Replay a run's runs_gate_sample audit log (.samples.json, JSON Lines of\n"
           "{\"step\", \"prompt\", \"text\", \"score\"}) through the coherence gate: every\n"
           "text is scored again (0-100: bigram/trigram/word/character diversity and\n"
           "top-word dominance), and the gate fires after PATIENCE consecutive samples\n"
           "score below THRESHOLD. Prints each runs_gate_sample's score and the step at which\n"
           "the gate would have halted the run, or that it would not have. Exits 0\n"
           "either way.\n\n"
           "A loss log (.loss.json, records with \"loss\") is replayed through the\n"
           "divergence gate instead: a non-finite loss or gradient norm fires at once;\n"
           "the loss EMA (0.98) above FACTOR x its best for STEPS consecutive steps\n"
           "fires too, judged from step GRACE on (the run's schedule.warmup_steps).\n"
           "Prints the rule that would have fired, with its numbers, or the highest\n"
           "EMA/best ratio seen.\n\n");
    runs_cli_opts_help(opts, 0);
}

/* The loss log's verdict: text or JSON (the samples fields, samples empty, plus
 * the loss rule's). */
static int report_loss(const runs_gate_log *r, const runs_loss_gate *g, double threshold, int patience, int json)
{
    char why[200];
    runs_loss_gate_describe(why, sizeof why, g);
    long run_start = g->fired == RUNS_LOSS_RULE_SPIKE ? g->above_start : g->fired_step;
    if (!json) {
        if (r->n)
            printf("loss log: steps %ld..%ld (%zu records); loss EMA %.4g%s, best %.4g, highest EMA/best %.3g\n",
                   r->first_step, r->last_step, r->n, g->ema, g->fired ? " when the gate fired" : " at the end",
                   g->best, g->worst_ratio);
        if (g->fired)
            printf("divergence gate (loss_spike_factor %g, loss_spike_steps %ld, grace %ld): would have fired at "
                   "step %ld (%s): %s\n",
                   g->factor, g->steps, g->grace, g->fired_step, runs_loss_rule_name(g->fired), why);
        else
            printf("divergence gate (loss_spike_factor %g, loss_spike_steps %ld, grace %ld): would not have fired "
                   "over %zu steps%s\n",
                   g->factor, g->steps, g->grace, r->n, g->steps > 0 ? "" : " (spike rule off: steps 0)");
        return 0;
    }
    cJSON *out = cJSON_CreateObject();
    char *text = NULL;
    int ok =
        out && cJSON_AddNumberToObject(out, "threshold", threshold) &&
        cJSON_AddNumberToObject(out, "patience", patience) && cJSON_AddArrayToObject(out, "samples") &&
        cJSON_AddBoolToObject(out, "fired", g->fired != RUNS_LOSS_RULE_NONE) &&
        (g->fired ? cJSON_AddNumberToObject(out, "fired_step", (double)g->fired_step) != NULL
                  : cJSON_AddNullToObject(out, "fired_step") != NULL) &&
        (g->fired ? cJSON_AddNumberToObject(out, "run_start", (double)run_start) != NULL
                  : cJSON_AddNullToObject(out, "run_start") != NULL) &&
        cJSON_AddStringToObject(out, "log", "loss") && cJSON_AddNumberToObject(out, "loss_spike_factor", g->factor) &&
        cJSON_AddNumberToObject(out, "loss_spike_steps", (double)g->steps) &&
        cJSON_AddNumberToObject(out, "grace", (double)g->grace) &&
        cJSON_AddNumberToObject(out, "records", (double)r->n) &&
        (g->fired ? cJSON_AddStringToObject(out, "rule", runs_loss_rule_name(g->fired)) != NULL &&
                        cJSON_AddStringToObject(out, "message", why) != NULL
                  : cJSON_AddNullToObject(out, "rule") != NULL && cJSON_AddNullToObject(out, "message") != NULL) &&
        (g->have_ema ? cJSON_AddNumberToObject(out, "ema", g->ema) != NULL &&
                           cJSON_AddNumberToObject(out, "best_ema", g->best) != NULL
                     : cJSON_AddNullToObject(out, "ema") != NULL && cJSON_AddNullToObject(out, "best_ema") != NULL) &&
        cJSON_AddNumberToObject(out, "worst_ratio", g->worst_ratio);
    if (ok && (text = cJSON_PrintUnformatted(out)))
        printf("%s\n", text);
    free(text);
    cJSON_Delete(out);
    return ok && text ? 0 : runs_error_set(RUNS_ENOMEM, "out of memory writing JSON");
}

/* The first PREVIEW bytes of text on one line, cut on a UTF-8 boundary. */
static void preview(const char *text, char *out, size_t outlen)
{
    size_t k = 0, lim = outlen - 4;
    while (text[k] && k < lim)
        k++;
    int cut = text[k] != '\0';
    while (cut && k > 0 && ((unsigned char)text[k] & 0xc0) == 0x80)
        k--; /* do not split a UTF-8 character */
    for (size_t i = 0; i < k; i++)
        out[i] = (unsigned char)text[i] < ' ' ? ' ' : text[i];
    if (cut)
        memcpy(out + k, "...", 3), k += 3;
    out[k] = '\0';
}

int cmd_gate(runs_cli *cli, int argc, char **argv)
{
    const char *file = NULL;
    double threshold = 30;
    long patience_l = 5, spike_steps = 50, grace = 0;
    double spike_factor = 3;
    int patience, json = 0, npos, status = RUNS_EXIT_OK;
    const runs_opt opts[] = {
        RUNS_STR("backtest", 'b', &file, "F", "the samples or loss log (- for stdin)"),
        RUNS_NUM("threshold", 't', &threshold, "X", "[0, 100]",
                 "score below which a runs_gate_sample is low (default 30)"),
        RUNS_INT("patience", 'p', &patience_l, "N", "[0, 1000000]",
                 "consecutive low samples that fire the gate (default 5;\n0 = gate off)"),
        RUNS_NUM("loss-spike-factor", 0, &spike_factor, "X", "(1, 1000000]",
                 "loss log: EMA above X times its best is a spike\n(default 3)"),
        RUNS_INT("loss-spike-steps", 0, &spike_steps, "N", "[0, 1000000000000000]",
                 "loss log: consecutive spike steps that fire the gate\n(default 50; 0 = spike rule off)"),
        RUNS_INT("grace", 0, &grace, "N", "[0, 1000000000000000]",
                 "loss log: steps before N are not judged by the spike\nrule (the run's warmup; default 0)"),
        RUNS_FLAG("json", 'j', &json,
                  "one JSON object: threshold, patience, samples [{step,\n"
                  "prompt, score, recorded}], fired, fired_step, run_start;\n"
                  "a loss log adds log, loss_spike_factor, loss_spike_steps,\n"
                  "grace, records, rule, message, ema, best_ema, worst_ratio"),
        RUNS_OPT_END};
    runs_gate_sample *v = NULL;
    size_t n = 0;
    cJSON *out = NULL;
    char *text = NULL;

    if (runs_cli_wants_help(argc, argv)) {
        help(opts);
        return RUNS_EXIT_OK;
    }
    if ((status = runs_cli_opts(&npos, NULL, 0, "gate", USAGE, opts, argc, argv)))
        return status;
    patience = (int)patience_l;
    if (!file)
        return runs_cli_usage("gate", USAGE, "--backtest LOG.json is required");

    size_t torn = 0;
    runs_loss_gate lg;
    runs_loss_gate_init(&lg, spike_factor, spike_steps, grace);
    runs_gate_log r = {.path = file, .last_step = -1, .loss = &lg};
    if (runs_gate_log_read(&r, file, &torn)) {
        status = runs_cli_fail("gate");
        goto done;
    }
    if (torn)
        fprintf(stderr, "runs gate: warning: %s: the last line is torn (a crash mid-write); it was skipped\n", file);
    if (r.kind == RUNS_GATE_LOG_LOSS) {
        if (report_loss(&r, &lg, threshold, patience, json))
            status = runs_cli_fail("gate");
        goto flush;
    }
    v = r.v;
    n = r.n;
    runs_gate g;
    runs_gate_init(&g, threshold, patience);
    long fired_at = -1, run_start = -1;
    size_t fired_i = 0;
    int longest = 0;
    for (size_t i = 0; i < n; i++) {
        v[i].score = runs_coherence_score(v[i].text, NULL);
        int was = g.fired;
        runs_gate_feed(&g, v[i].step, v[i].score);
        if (!was && g.fired) {
            fired_at = g.fired_step;
            run_start = g.run_start;
            fired_i = i;
        }
        if (g.run > longest)
            longest = g.run;
    }

    if (json) {
        out = cJSON_CreateObject();
        cJSON *arr = NULL;
        int ok = out && cJSON_AddNumberToObject(out, "threshold", threshold) &&
                 cJSON_AddNumberToObject(out, "patience", patience) && (arr = cJSON_AddArrayToObject(out, "samples"));
        for (size_t i = 0; ok && i < n; i++) {
            cJSON *s = cJSON_CreateObject();
            ok = s && cJSON_AddItemToArray(arr, s) && cJSON_AddNumberToObject(s, "step", (double)v[i].step) &&
                 cJSON_AddStringToObject(s, "prompt", v[i].prompt) &&
                 cJSON_AddNumberToObject(s, "score", round(v[i].score * 100) / 100) &&
                 (v[i].has_recorded ? cJSON_AddNumberToObject(s, "recorded", v[i].recorded) != NULL
                                    : cJSON_AddNullToObject(s, "recorded") != NULL);
        }
        ok = ok && cJSON_AddBoolToObject(out, "fired", fired_at >= 0) &&
             (fired_at >= 0 ? cJSON_AddNumberToObject(out, "fired_step", (double)fired_at) != NULL
                            : cJSON_AddNullToObject(out, "fired_step") != NULL) &&
             (fired_at >= 0 ? cJSON_AddNumberToObject(out, "run_start", (double)run_start) != NULL
                            : cJSON_AddNullToObject(out, "run_start") != NULL);
        if (!ok || !(text = cJSON_PrintUnformatted(out))) {
            runs_error_set(RUNS_ENOMEM, "out of memory writing JSON");
            status = runs_cli_fail("gate");
            goto done;
        }
        printf("%s\n", text);
    } else {
        printf("%10s %7s %9s  %s\n", "step", "score", "recorded", "text");
        for (size_t i = 0; i < n; i++) {
            char pv[PREVIEW + 4], rec[32];
            preview(v[i].text, pv, sizeof pv);
            if (v[i].has_recorded)
                snprintf(rec, sizeof rec, "%.1f", v[i].recorded);
            else
                snprintf(rec, sizeof rec, "-");
            printf("%10ld %7.1f %9s  %s%s\n", v[i].step, v[i].score, rec, pv,
                   fired_at >= 0 && i == fired_i ? "   <- gate fires" : "");
        }
        if (patience <= 0)
            printf("gate is off (patience 0): it would never fire; %zu samples scored\n", n);
        else if (fired_at >= 0)
            printf("gate (threshold %g, patience %d): would have fired at step %ld "
                   "(%d consecutive samples below %g since step %ld)\n",
                   threshold, patience, fired_at, patience, threshold, run_start);
        else
            printf("gate (threshold %g, patience %d): would not have fired over %zu samples "
                   "(longest run of low scores: %d)\n",
                   threshold, patience, n, longest);
    }
flush:
    if (fflush(stdout)) {
        runs_error_sys(RUNS_EIO, "write", "stdout");
        status = runs_cli_fail("gate");
    }
done:
    free(text);
    cJSON_Delete(out);
    runs_gate_samples_free(v, n);
    return status;
}
