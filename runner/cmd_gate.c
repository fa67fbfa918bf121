/* runner/cmd_gate.c — `runs gate --backtest LOG.json`: replay a sample audit log
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

#define USAGE                                                                                                          \
    "runs gate --backtest LOG.json [--threshold X] [--patience N] [--loss-spike-factor X] "                            \
    "[--loss-spike-steps N] [--grace N] [--json]"
#define PREVIEW 48

static void help(const runs_opt *opts)
{
    printf("usage: " USAGE "\n\n"
           "Replay a run's sample audit log (.samples.json, JSON Lines of\n"
           "{\"step\", \"prompt\", \"text\", \"score\"}) through the coherence gate: every\n"
           "text is scored again (0-100: bigram/trigram/word/character diversity and\n"
           "top-word dominance), and the gate fires after PATIENCE consecutive samples\n"
           "score below THRESHOLD. Prints each sample's score and the step at which\n"
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

typedef struct {
    long step;
    char *prompt, *text;
    double score, recorded;
    int has_recorded;
} sample;

static void free_samples(sample *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(s[i].prompt);
        free(s[i].text);
    }
    free(s);
}

enum { LOG_UNKNOWN, LOG_SAMPLES, LOG_LOSS };

typedef struct {
    const char *path;
    sample *v;
    size_t n, alloc;
    long last_step;
    int kind;             /* LOG_*: set by the first record */
    runs_loss_gate *loss; /* a loss log's records are fed here as they are read */
    long first_step;
} reading;

/* A loss value: a number, or null (JSON's only way to write NaN/inf) = NaN. */
static int loss_value(const cJSON *v, double *out)
{
    if (cJSON_IsNumber(v))
        *out = v->valuedouble;
    else if (cJSON_IsNull(v))
        *out = NAN;
    else
        return -1;
    return 0;
}

/* One record of a loss log, fed to the divergence gate at once. */
static int take_loss(reading *r, const cJSON *j, long lineno)
{
    const char *path = r->path;
    const cJSON *step = cJSON_GetObjectItemCaseSensitive(j, "step");
    const cJSON *gn = cJSON_GetObjectItemCaseSensitive(j, "grad_norm");
    double loss, gnorm = 0;
    if (!cJSON_IsNumber(step) || step->valuedouble < 0 || step->valuedouble != floor(step->valuedouble) ||
        step->valuedouble > 9e15)
        return runs_error_set(RUNS_EINVALID, "%s:%ld: \"step\" must be a non-negative integer", path, lineno);
    if (loss_value(cJSON_GetObjectItemCaseSensitive(j, "loss"), &loss))
        return runs_error_set(RUNS_EINVALID, "%s:%ld: \"loss\" must be a number or null (a loss log's record)", path,
                              lineno);
    if (gn && loss_value(gn, &gnorm))
        return runs_error_set(RUNS_EINVALID, "%s:%ld: \"grad_norm\" must be a number or null", path, lineno);
    long s = (long)step->valuedouble;
    if (s <= r->last_step)
        return runs_error_set(RUNS_EINVALID,
                              "%s:%ld: step %ld comes after step %ld (a loss log's steps "
                              "increase)",
                              path, lineno, s, r->last_step);
    if (r->n == 0)
        r->first_step = s;
    r->last_step = s;
    r->n++;
    runs_loss_gate_feed(r->loss, s, loss, gnorm);
    return 0;
}

/* One record of the log: checked field by field, the message naming file:line. */
static int take_sample(void *ctx, const cJSON *j, const char *line, size_t len, long lineno)
{
    reading *r = ctx;
    const char *path = r->path;
    int kind = cJSON_GetObjectItemCaseSensitive(j, "text")   ? LOG_SAMPLES
               : cJSON_GetObjectItemCaseSensitive(j, "loss") ? LOG_LOSS
                                                             : LOG_UNKNOWN;
    if (kind == LOG_UNKNOWN)
        return runs_error_set(RUNS_EINVALID,
                              "%s:%ld: neither \"text\" (a samples log) nor \"loss\" (a loss "
                              "log) in this record",
                              path, lineno);
    if (r->kind == LOG_UNKNOWN)
        r->kind = kind;
    if (kind != r->kind)
        return runs_error_set(RUNS_EINVALID, "%s:%ld: a %s record in a %s log; give one log at a time", path, lineno,
                              kind == LOG_LOSS ? "loss" : "samples", r->kind == LOG_LOSS ? "loss" : "samples");
    if (kind == LOG_LOSS)
        return take_loss(r, j, lineno);
    const cJSON *step = cJSON_GetObjectItemCaseSensitive(j, "step");
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(j, "text");
    const cJSON *prompt = cJSON_GetObjectItemCaseSensitive(j, "prompt");
    const cJSON *score = cJSON_GetObjectItemCaseSensitive(j, "score");
    if (!cJSON_IsNumber(step) || step->valuedouble < 0 || step->valuedouble != floor(step->valuedouble) ||
        step->valuedouble > 9e15)
        return runs_error_set(RUNS_EINVALID, "%s:%ld: \"step\" must be a non-negative integer", path, lineno);
    if (!cJSON_IsString(text))
        return runs_error_set(RUNS_EINVALID, "%s:%ld: \"text\" must be a string", path, lineno);
    if (prompt && !cJSON_IsString(prompt) && !cJSON_IsNull(prompt))
        return runs_error_set(RUNS_EINVALID, "%s:%ld: \"prompt\" must be a string", path, lineno);
    if (score && !cJSON_IsNumber(score) && !cJSON_IsNull(score))
        return runs_error_set(RUNS_EINVALID, "%s:%ld: \"score\" must be a number or null", path, lineno);
    long s = (long)step->valuedouble;
    if (s < r->last_step)
        return runs_error_set(RUNS_EINVALID,
                              "%s:%ld: step %ld comes after step %ld (a samples log is in "
                              "step order)",
                              path, lineno, s, r->last_step);
    r->last_step = s;
    if (r->n == r->alloc) {
        size_t na = r->alloc ? r->alloc * 2 : 64;
        sample *nv = realloc(r->v, na * sizeof *nv);
        if (!nv)
            return runs_error_set(RUNS_ENOMEM, "out of memory reading %s", path);
        r->v = nv;
        r->alloc = na;
    }
    sample *x = &r->v[r->n];
    memset(x, 0, sizeof *x);
    x->step = s;
    x->text = strdup(text->valuestring);
    x->prompt = strdup(cJSON_IsString(prompt) ? prompt->valuestring : "");
    if (!x->text || !x->prompt) {
        free(x->text);
        free(x->prompt);
        return runs_error_set(RUNS_ENOMEM, "out of memory reading %s", path);
    }
    x->has_recorded = cJSON_IsNumber(score);
    x->recorded = x->has_recorded ? score->valuedouble : 0;
    r->n++;
    return 0;
}

/* Reads the whole log (store/jsonl.h's policy: a torn last line is skipped and
 * *torn says so; a line that is not a JSON object is RUNS_ECORRUPT naming file:line). */
static int read_log(reading *r, const char *path, size_t *torn)
{
    int rc = strcmp(path, "-") ? runs_jsonl_read_file(path, take_sample, r, torn)
                               : runs_jsonl_read_stream(stdin, path, take_sample, r, torn);
    if (rc) {
        free_samples(r->v, r->kind == LOG_SAMPLES ? r->n : 0);
        r->v = NULL;
        r->n = 0;
    }
    return rc;
}

/* The loss log's verdict: text or JSON (the samples fields, samples empty, plus
 * the loss rule's). */
static int report_loss(const reading *r, const runs_loss_gate *g, double threshold, int patience, int json)
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
        RUNS_NUM("threshold", 't', &threshold, "X", "[0, 100]", "score below which a sample is low (default 30)"),
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
    sample *v = NULL;
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
    reading r = {.path = file, .last_step = -1, .loss = &lg};
    if (read_log(&r, file, &torn)) {
        status = runs_cli_fail("gate");
        goto done;
    }
    if (torn)
        fprintf(stderr, "runs gate: warning: %s: the last line is torn (a crash mid-write); it was skipped\n", file);
    if (r.kind == LOG_LOSS) {
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
    free_samples(v, n);
    return status;
}
