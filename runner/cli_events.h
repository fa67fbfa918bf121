/* runner/cli_events.h — how the training commands print a session's events. */
#ifndef RUNS_RUNNER_CLI_EVENTS_H
#define RUNS_RUNNER_CLI_EVENTS_H

#include "runner/session.h"

/* A runs_session_event_fn: progress lines on stdout (training, step and node lines
 * flushed, so a pipe sees them as they happen), warnings as "runs: warning: ..."
 * on stderr. ctx unused. */
void runs_cli_print_event(void *ctx, const runs_session_event *ev);

#endif
