/* runner/runlog.c — the run directory's files (see runlog.h): the JSON Lines
 * logs, the bandit state file and the advisory status file; and the lineage's
 * loss history that the logs are rebuilt from. */
#include "runner/runlog.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "runner/dp.h"
#include "runner/eval.h"
#include "runner/linewalk.h"
#include "runner/session_int.h"
#include "store/jsonl.h"
#include "store/lineage.h"
#include "store/object.h"
#include "store/publish.h"

/* The logs are appended through store/jsonl.h: a torn last line a crash left is
 * cut off first, so the next record starts on a line of its own. */
int runs__runlog_open(session *sess)
{
    char p[PATH_MAX];
    int rc;
    runs__session_path(p, sizeof p, sess, ".loss.json");
    if ((rc = runs_jsonl_open_append(&sess->loss_f, NULL, p)))
        return rc;
    runs__session_path(p, sizeof p, sess, ".samples.json");
    if ((rc = runs_jsonl_open_append(&sess->samples_f, NULL, p)))
        return rc;
    runs__session_path(p, sizeof p, sess, ".eval.json");
    return runs_jsonl_open_append(&sess->eval_f, NULL, p);
}

int runs__runlog_eval_append(session *sess, long step, const char *line, size_t len)
{
    char p[PATH_MAX];
    runs__session_path(p, sizeof p, sess, ".eval.json");
    int rc = sess->eval_f ? runs_jsonl_append(sess->eval_f, p, line, len) : RUNS_OK;
    if (!rc)
        sess->eval_logged_step = step;
    return rc;
}

/* The step of the last line of .eval.json text (-1 when there is none). */
static long last_eval_step(const char *text, size_t len)
{
    long step = -1;
    size_t i = len;
    while (i > 0 && text[i - 1] == '\n')
        i--;
    while (i > 0 && text[i - 1] != '\n')
        i--;
    if (i < len && sscanf(text + i, "{\"step\":%ld", &step) != 1)
        step = -1;
    return step;
}

int runs__runlog_write_state(session *sess)
{
    char p[PATH_MAX];
    runs__session_path(p, sizeof p, sess, ".state.json");
    cJSON *st = runs_bandit_to_json(sess->bandit);
    char *text = st ? cJSON_Print(st) : NULL;
    cJSON_Delete(st);
    if (!text)
        return runs_error_set(RUNS_ENOMEM, "out of memory writing %s", p);
    size_t n = strlen(text);
    text[n] = '\n'; /* cJSON_Print leaves room for the NUL we overwrite and restore */
    int rc = runs_file_write_atomic(p, text, n + 1);
    text[n] = '\0';
    free(text);
    return rc;
}

/* The walk's step for .loss.json: the node's loss_log segment, when it has one. */
static int loss_node_segment(runs_seg *b, runs_store *s, const cJSON *m, const char *id, void *ctx)
{
    const cJSON *seg = cJSON_GetObjectItemCaseSensitive(m, "loss_log");
    if (!cJSON_IsString(seg))
        return 0;
    void *data = NULL;
    size_t dl = 0;
    int rc = runs_object_get(&data, &dl, s, seg->valuestring);
    if (!rc)
        rc = runs_seg_append(b, data, dl);
    free(data);
    return rc;
}

int runs_runlog_loss_history(char **out, size_t *len, runs_store *s, const char *node_id)
{
    return runs_linewalk_concat(out, len, s, node_id, loss_node_segment, NULL);
}

/* Rewrites .loss.json as the lineage's history up to node_id, so the log continues
 * without a gap or a repeated step whatever the file held before (a crash, a fork
 * into a fresh directory); .eval.json likewise. Drops .samples.json lines past
 * the node's step. */
int runs__runlog_rebuild(session *sess, const char *node_id, int fresh_samples)
{
    char p[PATH_MAX];
    char *hist = NULL;
    size_t hl = 0;
    int rc = runs_runlog_loss_history(&hist, &hl, sess->store, node_id);
    if (rc)
        return rc;
    runs__session_path(p, sizeof p, sess, ".loss.json");
    rc = runs_file_write_atomic(p, hist, hl);
    free(hist);
    if (rc)
        return rc;
    /* .eval.json the same way, from the nodes' eval_log rows (runner/eval.h) */
    if ((rc = runs_eval_lineage_log(&hist, &hl, sess->store, node_id)))
        return rc;
    sess->eval_logged_step = last_eval_step(hist, hl);
    runs__session_path(p, sizeof p, sess, ".eval.json");
    rc = runs_file_write_atomic(p, hist, hl);
    free(hist);
    if (rc)
        return rc;
    runs__session_path(p, sizeof p, sess, ".samples.json");
    if (fresh_samples)
        return runs_file_write_atomic(p, "", 0);
    return runs_jsonl_truncate_steps(p, sess->step, 1);
}

double runs_runlog_tokens_per_s(long steps, int batch, int seq_len, int grad_accum, int ranks, double elapsed_s)
{
    if (!(elapsed_s > 0) || steps <= 0)
        return 0;
    /* in double from the first factor on: batch x seq_len x grad_accum x ranks of a
     * large job passes INT_MAX */
    return (double)steps * batch * seq_len * grad_accum * ranks / elapsed_s;
}

/* The advisory status file: at most once a second (and once at the end). */
void runs__runlog_status(session *sess, int final)
{
    double now = runs__now_s();
    if (!final && now - sess->t_last_status < 1.0)
        return;
    sess->t_last_status = now;
    double el = now - sess->t_start;
    const runs_train_config *t = &sess->cfg.train;
    double tps = runs_runlog_tokens_per_s(sess->steps_this_session, t->batch_size, t->seq_len, t->grad_accum,
                                          runs_dp_size(), el);
    long total = sess->opts.stop_after > 0 ? sess->opts.stop_after : sess->cfg.train.total_steps;
    double sps = el > 0 ? sess->steps_this_session / el : 0;
    runs_run_status st = {sess->run,
                          (long)getpid(),
                          !final,
                          sess->step,
                          sess->cfg.train.total_steps,
                          sess->last_loss,
                          sess->loss_ema,
                          sess->last_lr,
                          sess->last_gnorm,
                          tps,
                          sps > 0 ? round((total - sess->step) / sps) : -1,
                          (long)time(NULL),
                          final ? 0 : runs__session_stop_at(sess)};
    /* best effort: status is advisory and must never stop training. Nor may it
     * replace the error that is ending the session: the final write on the way
     * out (a run directory that could not be made, say) fails too, and clearing
     * its error used to leave the user "failed (no message)". */
    int pending = runs_error_code();
    char cause[1024];
    snprintf(cause, sizeof cause, "%s", runs_error_message());
    if (runs_runlog_write_status(sess->dir, &st)) {
        if (pending)
            runs_error_set(pending, "%s", cause);
        else
            runs_error_clear();
    }
}

int runs_runlog_write_status(const char *dir, const runs_run_status *st)
{
    char p[PATH_MAX];
    char *s = NULL;
    int rc;
    cJSON *j = cJSON_CreateObject();
    snprintf(p, sizeof p, "%s/.status.json", dir);
    if (j) {
        cJSON_AddStringToObject(j, "run", st->run);
        cJSON_AddNumberToObject(j, "pid", (double)st->pid);
        cJSON_AddBoolToObject(j, "running", st->running);
        cJSON_AddNumberToObject(j, "step", (double)st->step);
        cJSON_AddNumberToObject(j, "total_steps", (double)st->total_steps);
        cJSON_AddNumberToObject(j, "loss", st->loss);
        cJSON_AddNumberToObject(j, "loss_ema", st->loss_ema);
        cJSON_AddNumberToObject(j, "lr", st->lr);
        cJSON_AddNumberToObject(j, "grad_norm", st->grad_norm);
        cJSON_AddNumberToObject(j, "tokens_per_s", round(st->tokens_per_s));
        cJSON_AddNumberToObject(j, "eta_s", st->eta_s);
        cJSON_AddNumberToObject(j, "updated", (double)st->updated);
        if (st->stop_at > 0)
            cJSON_AddNumberToObject(j, "stop_at", (double)st->stop_at);
        s = cJSON_PrintUnformatted(j);
    }
    if (!s) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory writing %s", p);
        goto done;
    }
    /* no fsync: the file is rewritten every second on the training thread and
     * only advisory (runs status reads it; nothing is decided from it), so a
     * power loss leaving it old or empty costs nothing, while two fsyncs a second
     * stall the loop on a busy disk. The rename still keeps readers from ever
     * seeing half a file. */
    rc = runs_file_write_advisory(p, s, strlen(s));
done:
    cJSON_Delete(j);
    free(s);
    return rc;
}
