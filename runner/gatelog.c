/* runner/gatelog.c — the logs `runs gate --backtest` replays (runner/gatelog.h). */
#include "runner/gatelog.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "common/error.h"
#include "store/jsonl.h"

void runs_gate_samples_free(runs_gate_sample *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(s[i].prompt);
        free(s[i].text);
    }
    free(s);
}

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
static int take_loss(runs_gate_log *r, const cJSON *j, long lineno)
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
    runs_gate_log *r = ctx;
    const char *path = r->path;
    int kind = cJSON_GetObjectItemCaseSensitive(j, "text")   ? RUNS_GATE_LOG_SAMPLES
               : cJSON_GetObjectItemCaseSensitive(j, "loss") ? RUNS_GATE_LOG_LOSS
                                                             : RUNS_GATE_LOG_UNKNOWN;
    if (kind == RUNS_GATE_LOG_UNKNOWN)
        return runs_error_set(RUNS_EINVALID,
                              "%s:%ld: neither \"text\" (a samples log) nor \"loss\" (a loss "
                              "log) in this record",
                              path, lineno);
    if (r->kind == RUNS_GATE_LOG_UNKNOWN)
        r->kind = kind;
    if (kind != r->kind)
        return runs_error_set(RUNS_EINVALID, "%s:%ld: a %s record in a %s log; give one log at a time", path, lineno,
                              kind == RUNS_GATE_LOG_LOSS ? "loss" : "samples",
                              r->kind == RUNS_GATE_LOG_LOSS ? "loss" : "samples");
    if (kind == RUNS_GATE_LOG_LOSS)
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
        runs_gate_sample *nv = realloc(r->v, na * sizeof *nv);
        if (!nv)
            return runs_error_set(RUNS_ENOMEM, "out of memory runs_gate_log %s", path);
        r->v = nv;
        r->alloc = na;
    }
    runs_gate_sample *x = &r->v[r->n];
    memset(x, 0, sizeof *x);
    x->step = s;
    x->text = strdup(text->valuestring);
    x->prompt = strdup(cJSON_IsString(prompt) ? prompt->valuestring : "");
    if (!x->text || !x->prompt) {
        free(x->text);
        free(x->prompt);
        return runs_error_set(RUNS_ENOMEM, "out of memory runs_gate_log %s", path);
    }
    x->has_recorded = cJSON_IsNumber(score);
    x->recorded = x->has_recorded ? score->valuedouble : 0;
    r->n++;
    return 0;
}

/* Reads the whole log (store/jsonl.h's policy: a torn last line is skipped and
 * *torn says so; a line that is not a JSON object is RUNS_ECORRUPT naming file:line). */
int runs_gate_log_read(runs_gate_log *r, const char *path, size_t *torn)
{
    int rc = strcmp(path, "-") ? runs_jsonl_read_file(path, take_sample, r, torn)
                               : runs_jsonl_read_stream(stdin, path, take_sample, r, torn);
    if (rc) {
        runs_gate_samples_free(r->v, r->kind == RUNS_GATE_LOG_SAMPLES ? r->n : 0);
        r->v = NULL;
        r->n = 0;
    }
    return rc;
}
