/* runner/cli_events.c — see cli_events.h. The text is what `runs start`,
 * `resume`, `fork` and `restart` have always printed; tests match it. */
#include "runner/cli_events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "manifests/canon.h"
#include "store/lineage.h"

void runs_cli_say_current(const char *run, const char *was)
{
    if (was && *was)
        printf("current run: %s (was %s)\n", run, was);
    else
        printf("current run: %s\n", run);
}

void runs_cli_events_init(runs_cli_events *ev, runs_store *s, int quiet)
{
    ev->store = s;
    ev->said = 0;
    ev->quiet = quiet;
    ev->end = 0;
    ev->batch = ev->seq_len = 0;
    /* a fresh store's HEAD names a run without nodes: there was no current run */
    if (runs_head_get(ev->was, sizeof ev->was, s) != RUNS_OK)
        ev->was[0] = '\0';
    runs_error_clear();
}

void runs_cli_events_end(runs_cli_events *ev, int rc)
{
    char now[64];
    /* after a failure the error message is the caller's to print: keep it intact */
    if (rc || ev->said || ev->quiet)
        return;
    /* the session is over, so reading HEAD races with no committer */
    if (runs_head_get(now, sizeof now, ev->store) == RUNS_OK && strcmp(now, ev->was)) {
        runs_cli_say_current(now, ev->was);
        ev->said = 1;
    }
    runs_error_clear();
}

/* "  eta 1m23s": the steps left to the training line's end at the session's tokens/s
 * so far (which already counts checkpoints, samples and evals). Nothing on the last
 * step, before the first measurement, without the training line's numbers, or while a
 * stop is pending (the line names the stop's step then). */
static void print_eta(void *ctx, const runs_session_event *ev)
{
    const runs_cli_events *c = ctx;
    if (!c || c->end <= ev->step || c->batch <= 0 || c->seq_len <= 0 || !(ev->tokens_per_s > 0))
        return;
    double s = (double)(c->end - ev->step) * c->batch * c->seq_len / ev->tokens_per_s;
    if (s > 359999)
        s = 359999;
    long t = (long)(s + 0.5);
    if (t >= 3600)
        printf("  eta %ldh%02ldm", t / 3600, t / 60 % 60);
    else
        printf("  eta %ldm%02lds", t / 60, t % 60);
}

/* The session moved HEAD to ev->run before the events that call this (the resuming,
 * branch and training lines), so the line can follow them without reading HEAD
 * while the committer thread may be using the store. */
static void say_if_moved(void *ctx, const runs_session_event *ev)
{
    runs_cli_events *c = ctx;
    if (!c || c->said || c->quiet || !ev->run)
        return;
    c->said = 1;
    if (strcmp(ev->run, c->was))
        runs_cli_say_current(ev->run, c->was);
}

/* The branch line: "fork RUN from NODE at step N; a.b: 1 -> 2, ..." (8 changes at most). */
static void print_branch(const runs_session_event *ev)
{
    printf("%s %s from %.12s at step %ld", ev->node_kind, ev->run, ev->node, ev->step);
    const runs_diff_entry *d = ev->changes;
    for (size_t i = 0; i < ev->n_changes && i < 8; i++) {
        char *av = d[i].a ? runs_json_canonical(d[i].a) : NULL;
        char *bv = d[i].b ? runs_json_canonical(d[i].b) : NULL;
        printf("%s %s: %.40s -> %.40s", i ? "," : ";", d[i].path, av ? av : "(none)", bv ? bv : "(none)");
        free(av);
        free(bv);
    }
    printf("%s\n", ev->n_changes > 8 ? ", ..." : "");
}

void runs_cli_print_event(void *ctx, const runs_session_event *ev)
{
    switch (ev->kind) {
    case RUNS_EV_WARNING: fprintf(stderr, "runs: warning: %s\n", ev->message); return;
    case RUNS_EV_RESUMING:
        printf("resuming %s from %.12s (step %ld)\n", ev->run, ev->node, ev->step);
        say_if_moved(ctx, ev);
        return;
    case RUNS_EV_BRANCH:
        print_branch(ev);
        say_if_moved(ctx, ev);
        return;
    case RUNS_EV_TRAINING:
        /* without accumulation or ranks, batch x seq_len is the whole step */
        if (ev->grad_accum > 1 || ev->ranks > 1)
            printf("training %s from step %ld to %ld (%s, %zu params, batch %d x %d x %d micro-steps x %d "
                   "ranks = %ld tokens a step)\n",
                   ev->run, ev->step, ev->end, ev->backend, ev->n_params, ev->batch, ev->seq_len,
                   ev->grad_accum > 1 ? ev->grad_accum : 1, ev->ranks > 1 ? ev->ranks : 1, ev->batch_tokens);
        else
            printf("training %s from step %ld to %ld (%s, %zu params, batch %d x %d)\n", ev->run, ev->step, ev->end,
                   ev->backend, ev->n_params, ev->batch, ev->seq_len);
        if (ctx) {
            runs_cli_events *c = ctx;
            c->end = ev->end;
            /* rows a step: the eta counts every micro-batch of every rank */
            c->batch = ev->batch * (ev->grad_accum > 1 ? ev->grad_accum : 1) * (ev->ranks > 1 ? ev->ranks : 1);
            c->seq_len = ev->seq_len;
        }
        say_if_moved(ctx, ev);
        break;
    case RUNS_EV_STEP:
        printf("step %6ld/%ld  loss %.4f (ema %.4f)  lr %.3e  |g| %.3f  %-10s %6.0f tok/s", ev->step, ev->total_steps,
               ev->loss, ev->loss_ema, ev->lr, ev->grad_norm, ev->source, ev->tokens_per_s);
        /* a pending stop ends the session early: it says where instead of an ETA */
        if (ev->stop_at > 0)
            printf("  (stop pending at step %ld)", ev->stop_at);
        else
            print_eta(ctx, ev);
        printf("\n");
        break;
    case RUNS_EV_SAMPLE: {
        /* one line: the first 70 characters, newlines and tabs as spaces */
        char shown[81];
        size_t k = 0;
        for (const char *c = ev->text; *c && k < 70; c++)
            shown[k++] = (*c == '\n' || *c == '\t') ? ' ' : *c;
        shown[k] = '\0';
        printf("  sample @%ld (score %.0f): %s%s\n", ev->step, ev->score, ev->prompt, shown);
        return;
    }
    case RUNS_EV_NODE: printf("  node %.12s  %s %s@step_%ld\n", ev->node, ev->node_kind, ev->run, ev->step); break;
    case RUNS_EV_STOPPED:
        printf("stopped by signal at step %ld; continue with: runs resume %s\n", ev->step, ev->run);
        return;
    case RUNS_EV_DONE: printf("done: %s at step %ld, loss ema %.4f\n", ev->run, ev->step, ev->loss_ema); return;
    }
    /* the lines a watcher waits on (training, steps, nodes) are flushed at once;
     * the others go out with stdout's buffer, as they always did */
    fflush(stdout);
}
