/* runner/eval.h — held-out evaluation: the loss of a model on data.heldout's held-out
 * token range (runner/data.h), which training never reads.
 *
 * What is measured: the mean over batches k = 0 .. N-1 of the mean cross-entropy of
 * held-out batch k (B = train.batch_size rows of T = train.seq_len tokens, at the fixed
 * offsets runner/data.h gives). The per-batch losses are the trainer's floats, summed
 * in double in batch order and divided by N, so the value is a function of the
 * weights, the config and the shard alone: no RNG is drawn, no cursor moves, no
 * gradient is written (forward only). That is what makes a node's recorded val_loss
 * equal `runs eval NODE` bit for bit on the CPU, and training with eval on give the
 * same bits as with eval off.
 *
 * When: eval.every > 0 and data.heldout naming a source turn it on (runs_eval_enabled).
 * Without data.heldout there is no held-out range and eval stays off: holding a slice
 * of a training source out by default would change what existing configs train on.
 */
#ifndef RUNS_RUNNER_EVAL_H
#define RUNS_RUNNER_EVAL_H

#include <stddef.h>

#include <cJSON.h>

#include "cuda/gpt.h"
#include "manifests/config.h"
#include "runner/data.h"
#include "store/store.h"

typedef struct {
    double val_loss; /* NaN when a batch's loss was not finite */
    int batches;
    long tokens; /* held-out tokens scored: batches × B × T */
} runs_eval_result;

/* 1 when cfg asks for evaluations during training (eval.every > 0 and data.heldout set). */
int runs_eval_enabled(const runs_config *cfg);

/* The held-out loss of model on batches 0 .. n_batches-1 of data's held-out source,
 * B × T each (model must take B × T; data opened with the same B and T as its
 * held-out region's size depends on them). Leaves weights, optimizer state and
 * gradients as they were. Errors: RUNS_EINVALID (no held-out source, n_batches < 1),
 * RUNS_ENOMEM, RUNS_ERROR (the trainer's message). Nothing to free. */
int runs_eval_loss(runs_eval_result *out, gpt_model *model, runs_data *data, int n_batches, int B, int T);

/* Evaluates node id of store s under its own config: n_batches (0 = the config's
 * eval.batches) held-out batches of data.heldout, on backend. Opens only the held-out
 * source; its shard must still hash as the node recorded (runner/provenance.h),
 * unless allow_data_change (then *note, when not NULL, gets a malloc'd warning the
 * caller prints and frees; NULL when there is none). data_root: the node's data
 * files moved under DIR (may be NULL). *step_out (may be NULL) gets the node's step.
 * RUNS_EINVALID when the node's config has no data.heldout. */
int runs_eval_node(runs_eval_result *out, long *step_out, char **note, runs_store *s, const char *id, int n_batches,
                   gpt_backend backend, const char *data_root, int allow_data_change);

/* One .eval.json line, without the '\n': {"step":S,"val_loss":V,"tokens":N} with V in
 * %.17g (so it reads back to the same double) or null when not finite. Returns the
 * length, or -1 when buf (n bytes) is too small. */
int runs_eval_format_line(char *buf, size_t n, long step, const runs_eval_result *r);

/* The lineage's eval history up to node_id: the rows of every node's "eval_log"
 * array, root first, as .eval.json text (one line each, runs_eval_format_line).
 * A row at a step not past the previous row's is skipped, so steps strictly increase
 * (a fork node at its parent's step evaluates under its own config but its parent's
 * row stays in the history). *out is malloc'd (never NULL on success); caller frees. */
int runs_eval_lineage_log(char **out, size_t *len, runs_store *s, const char *node_id);

#endif
