/* tools/plot.h — a run's lineage as charts: loss (raw + EMA), LR, grad norm.
 *
 * The series of a run is its lineage walked root → tip, each node's loss_log segment
 * (JSON Lines {"step","loss","lr","grad_norm","source"}) appended in turn; should a
 * segment start at a step already seen (a resume past an older checkpoint), the later
 * segment wins from that step on, so steps stay strictly increasing.
 * Events: fork, restart, stage and halt nodes along the lineage (labelled vertical
 * lines). Siblings: every other run whose lineage meets this one. Each run is drawn once
 * where its data is its own: a sibling from the point where it leaves what the others
 * draw (the main lineage, or another sibling's nodes of another run), so a descendant
 * never redraws and hides its parent's segment; the main run's part before its own
 * first node (its ancestors' history) is drawn faded.
 * Colours belong to runs: every run of the store gets a palette slot from a hash of its
 * name (runs_plot_color_slots), so a run has the same colour in every chart of the
 * store, and different runs differ while the store has no more runs than colours.
 * Held-out loss: the nodes' eval_log rows (`.eval.json`), drawn on the loss chart as its
 * own series (main and each sibling), so a fork's effect on unseen data shows.
 * EMA: bias-corrected exponential moving average, ema_t = β·ema_{t−1} + (1−β)·loss_t
 * with β = RUNS_PLOT_EMA_BETA, over the concatenated history.
 */
#ifndef RUNS_TOOLS_PLOT_H
#define RUNS_TOOLS_PLOT_H

#include <stddef.h>

#include <cJSON.h>

#include "store/store.h"
#include "tools/svg.h"

#define RUNS_PLOT_EMA_BETA 0.95
/* a chart's size before its label band and legend (tools/svg.h) */
#define RUNS_PLOT_WIDTH 760
#define RUNS_PLOT_HEIGHT 300

/* A stretch of a lineage drawn by one run's nodes: steps up to `to` since the previous
 * stretch's `to` (a node's loss-log segment runs from its parent's step to its own). */
typedef struct {
    char run[64];
    char color[16];
    long to;
} runs_plot_stretch;

typedef struct {
    char run[64];
    char tip[41];
    char color[16];             /* the run's colour (runs_plot_color_slots) */
    long branch_step;           /* siblings: the step they are drawn from; main: 0 */
    long own_step;              /* the step of its first own node (before it: ancestors, faded) */
    runs_plot_stretch *stretch; /* the lineage's runs, root first (main: ancestors faded) */
    size_t n_stretch;
    size_t n, cap;
    long *step;
    double *loss, *ema, *lr, *grad_norm;
    /* the held-out loss: each node's eval_log rows (runner/eval.h), root first; a
     * row not past the previous one is skipped, as in .eval.json */
    size_t n_val, cap_val;
    long *val_step;
    double *val_loss; /* NaN where the loss was not finite */
} runs_plot_series;

typedef struct {
    char id[41];
    char kind[16];
    char run[64];
    long step;
    int sibling;    /* -1: on the main lineage, else index into siblings */
    char color[16]; /* its run's colour; a halt is red */
} runs_plot_event;

typedef struct {
    runs_plot_series main;
    runs_plot_series *siblings;
    size_t n_siblings;
    runs_plot_event *events;
    size_t n_events;
} runs_plot_data;

enum { RUNS_PLOT_LOSS = 1, RUNS_PLOT_LR = 2, RUNS_PLOT_GRAD_NORM = 4, RUNS_PLOT_ALL = 7 };

/* Gives each of n run names a palette slot (tools/svg.h's runs_svg_palette): a hash of
 * the name picks the slot; names that meet a taken slot take the next free one, in name
 * order, so the slots depend on the set of names only, not on their order in names.
 * Distinct while n <= runs_svg_palette_size() (16); beyond, a second round reuses them.
 * slot[i] is names[i]'s. 0 or RUNS_ENOMEM. */
int runs_plot_color_slots(int *slot, const char *const *names, size_t n);

/* Collects the series of run (its tip's lineage), its events and its siblings.
 * *out is freed with runs_plot_data_free. RUNS_ENOTFOUND for an unknown run. */
int runs_plot_collect(runs_plot_data **out, runs_store *s, const char *run);
void runs_plot_data_free(runs_plot_data *d);

/* Appends a loss_log segment (JSON Lines text of len bytes) to a series; origin names
 * it in errors. Lines without a numeric "step" are refused (RUNS_ECORRUPT); missing
 * loss/lr/grad_norm become NaN (a gap in the line). Recomputes nothing: call
 * runs_plot_series_finish when all segments are in. */
int runs_plot_series_append(runs_plot_series *sr, const char *text, size_t len, const char *origin);
/* Appends node manifest m's eval_log rows ({"step","val_loss","tokens"}) to the
 * held-out series, skipping rows not past the last one. 0 or RUNS_ENOMEM. */
int runs_plot_series_append_eval(runs_plot_series *sr, const cJSON *m);
/* Fills the EMA column. */
void runs_plot_series_finish(runs_plot_series *sr);
void runs_plot_series_free(runs_plot_series *sr);

/* Appends the charts named by what (RUNS_PLOT_* bits) to b: standalone != 0 gives
 * one complete SVG document with the charts stacked; 0 gives one fluid <svg> element
 * per chart (for inlining in HTML: the page's width). 0 or RUNS_ENOMEM. */
int runs_plot_render(runs_buf *b, const runs_plot_data *d, unsigned what, int standalone);

#endif
