/* runner/gatelog.h — reading a log for `runs gate --backtest`: a sample audit log
 * (.samples.json) or a loss log (.loss.json), told apart by content, each record
 * checked field by field with file:line in the message. A loss log's records go to
 * a divergence gate (runner/gate.h) as they are read; samples are kept. */
#ifndef RUNS_RUNNER_GATELOG_H
#define RUNS_RUNNER_GATELOG_H

#include <stddef.h>

#include "runner/gate.h"

typedef struct {
    long step;
    char *prompt, *text;
    double score, recorded;
    int has_recorded;
} runs_gate_sample;

enum { RUNS_GATE_LOG_UNKNOWN, RUNS_GATE_LOG_SAMPLES, RUNS_GATE_LOG_LOSS };

typedef struct {
    const char *path;
    runs_gate_sample *v;
    size_t n, alloc;
    long last_step;
    int kind;             /* LOG_*: set by the first record */
    runs_loss_gate *loss; /* a loss log's records are fed here as they are read */
    long first_step;
} runs_gate_log;

/* Frees n samples and the array. */
void runs_gate_samples_free(runs_gate_sample *s, size_t n);

/* Reads the whole log at path ("-" = stdin) into r, whose path is path, kind
 * RUNS_GATE_LOG_UNKNOWN, last_step -1 and loss the gate to feed (for a loss log).
 * store/jsonl.h's policy: a torn last line is skipped and *torn says so; a line
 * that is not a JSON object is RUNS_ECORRUPT naming file:line. On error r holds no
 * samples; on success the caller frees r->v with runs_gate_samples_free. */
int runs_gate_log_read(runs_gate_log *r, const char *path, size_t *torn);

#endif
