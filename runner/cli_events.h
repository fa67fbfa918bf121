/* runner/cli_events.h — how the training commands print a session's events. */
#ifndef RUNS_RUNNER_CLI_EVENTS_H
#define RUNS_RUNNER_CLI_EVENTS_H

#include "runner/session.h"
#include "store/store.h"

/* A runs_session_event_fn: progress lines on stdout (training, step and node lines
 * flushed, so a pipe sees them as they happen), warnings as "runs: warning: ..."
 * on stderr. ctx: NULL, or a runs_cli_events (below). */
void runs_cli_print_event(void *ctx, const runs_session_event *ev);

/* What the printer needs to say when a command moves the current run (HEAD): start,
 * fork and restart make their new run current, resume makes the resumed run current.
 * A command fills it with runs_cli_events_init before the session and passes it as
 * the session's event_ctx (runs_cli_print_event then prints "current run: RUN (was
 * OLD)" right after the first line that names the run), and calls
 * runs_cli_events_end with the session's code after it, which says it when no event
 * did (--no-train) and the session succeeded (a failure leaves the error untouched). Nothing is printed when the run was current already, or with quiet. */
typedef struct {
    runs_store *store;
    char was[64]; /* the current run before the command; "" when there was none */
    int said;
    int quiet;
    long end; /* the training line's last step: the step lines' ETA counts to it */
    int batch, seq_len;
} runs_cli_events;

void runs_cli_events_init(runs_cli_events *ev, runs_store *s, int quiet);
void runs_cli_events_end(runs_cli_events *ev, int rc);

/* Prints "current run: RUN (was WAS)" ("current run: RUN" when was is NULL or ""). */
void runs_cli_say_current(const char *run, const char *was);

#endif
