/* runner/runtable.h — the run table behind `runs ls`: one row per run.
 *
 * Each row describes a run's tip: step, state, the node it branched from, its
 * effective config, loss EMA, held-out loss, tokens seen and when the tip was
 * written. Like `dvc exp show`, the table also knows which config values differ
 * between the rows it holds (the dotted paths worth a column), so a fork that only
 * changed optimizer.lr shows exactly that column.
 *
 * State of a run (first that applies):
 *   running   a trainer holds the run's lock (runs_trainer_pid > 0)
 *   halted    the tip is a "halt" node (the coherence gate stopped it)
 *   finished  the tip's step reached the config's train.total_steps
 *   stopped   anything else (--steps, a signal, `runs stop`, a crash)
 * With rewound tips included (refs/rewound/: what `runs resume NODE` moved a run's
 * tip away from), each rewound tip is a row of its own with state "rewound".
 */
#ifndef RUNS_RUNNER_RUNTABLE_H
#define RUNS_RUNNER_RUNTABLE_H

#include <stddef.h>
#include <cJSON.h>

#include "store/store.h"

typedef struct {
    char run[64];
    char tip[41];  /* node id of the tip */
    char kind[16]; /* the tip's kind (start, checkpoint, fork, halt, ...) */
    long step;
    const char *state; /* "running" | "stopped" | "halted" | "finished" | "rewound" */
    char parent[96];   /* "RUN@step_N" where the run branched off; "" for a root */
    cJSON *config;     /* the tip's effective config (owned by the table) */
    int has_loss, has_val;
    double loss_ema;  /* metrics.loss_ema of the tip (has_loss) */
    double val_loss;  /* metrics.val_loss of the tip (has_val) */
    double tokens;    /* tokens seen up to the tip */
    char updated[32]; /* the tip's "created" (ISO 8601, UTC); "" if absent */
    /* the config flattened: dotted path -> leaf value (objects recursed, arrays are
     * leaves); paths are owned, values point into config */
    char **paths;
    const cJSON **values;
    size_t n_paths;
} runs_runtable_row;

typedef struct {
    runs_runtable_row *rows;
    size_t n;
    /* dotted config paths whose values are not all equal across the rows (absent in
     * some row counts as different), sorted; none when there are fewer than 2 rows */
    char **keys;
    size_t n_keys;
} runs_runtable;

/* Fills *t with a row per run (sorted by name) and, when all, a row per rewound tip
 * (after the runs). Reads each tip's manifest and walks each lineage back to where
 * it leaves the run. The caller frees with runs_runtable_free (also after an error). */
int runs_runtable_load(runs_runtable *t, runs_store *s, int all);
void runs_runtable_free(runs_runtable *t);

/* The leaf at dotted path in row's config, or NULL. Points into the row. */
const cJSON *runs_runtable_config_get(const runs_runtable_row *r, const char *path);

/* Sorts the rows by key: a column (run, step, state, parent, loss, val_loss, tokens,
 * updated) or a dotted config path any row has; numbers compare as numbers, rows
 * without a value go last, ties keep the current order. A leading '-' sorts
 * descending. RUNS_EINVALID with a "did you mean" for an unknown key (the CLI
 * reports it as a usage error: the key came from the command line). */
int runs_runtable_sort(runs_runtable *t, const char *key);

/* The table as a JSON array, one object per row:
 *   {"run", "step", "state", "parent" (null for a root), "tip", "kind", "loss",
 *    "val_loss" (null when unknown), "tokens", "updated", "config": {PATH: value
 *    for each differing path, null where the row lacks it}}.
 * NULL when out of memory (error set); the caller cJSON_Delete()s it. */
cJSON *runs_runtable_json(const runs_runtable *t);

#endif
