/* common/progress.h — progress lines for long operations.
 *
 * Draws "label  37%  1.2/3.4 GB  0.9 GB/s" on stderr, redrawn in place, only
 * when stderr is a terminal; silent otherwise (scripts and tests see nothing).
 */
#ifndef RUNS_COMMON_PROGRESS_H
#define RUNS_COMMON_PROGRESS_H

#include <stdint.h>

typedef struct {
    const char *label;
    uint64_t total, done; /* units: bytes when bytes != 0, else items */
    int bytes;
    int enabled;
    double started, last_draw;
} runs_progress;

/* enabled is decided here: stderr is a TTY and RUNS_NO_PROGRESS is unset. */
void runs_progress_start(runs_progress *p, const char *label, uint64_t total, int bytes);
/* Adds n to done and redraws at most 10 times a second. Thread-safe enough for
 * counters updated under the caller's lock. */
void runs_progress_add(runs_progress *p, uint64_t n);
/* Draws the final state and ends the line. */
void runs_progress_end(runs_progress *p);

#endif
