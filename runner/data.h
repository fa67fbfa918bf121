/* runner/data.h — the run loop's data loader: one token shard per configured source.
 *
 * Sources are those of cfg->data.sources, and source indices are their indices
 * there (sorted by name, manifests/config.h). A source is opened for training
 * unless it is in data.exclude or has cap 0.0 (belt and braces: such a source's
 * shard is never even read, so a missing file there is no error).
 *
 * Training batches: each open source has a cursor, a token position in its training
 * region [0, L). A batch of B rows of T reads the B*T+1 tokens starting at the
 * cursor, in order, wrapping around to position 0 of the region when it reaches L
 * (so a read can join the region's end to its start; every document ends with
 * <|endoftext|>, so the join is a document boundary like any other), gives
 * inputs = tokens[0 .. B*T) and targets = tokens[1 .. B*T], and advances the
 * cursor by B*T (mod L); each time it passes L the source's epoch count goes up.
 * Nothing is random, so cursors alone make resume bit-exact.
 *
 * Held-out batches (data.heldout = NAME): the last R tokens of NAME's shard are
 * held out and the training region is [0, n - R), so training never reads them.
 * R = clamp(n / 10, (B*T + 1), 8 * B*T + 1) with B, T = train.batch_size, seq_len.
 * The held-out source is opened even when excluded or capped at 0 (then for
 * held-out batches only). Held-out batch k, row b, starts at offset
 * ((k*B + b) * T) mod (R - T) into the held-out region, so batches are fixed by k.
 */
#ifndef RUNS_RUNNER_DATA_H
#define RUNS_RUNNER_DATA_H

#include <stdint.h>
#include <cJSON.h>

#include "manifests/config.h"

typedef struct runs_data runs_data;

/* Opens every source that is not excluded and not capped at 0, validating each
 * shard (header, size, tokens < model.vocab_size). Errors:
 *  RUNS_ENOTFOUND  a shard path does not exist (names the source and path and
 *                  says to run `make corpus` or fix data.sources.NAME.path);
 *  RUNS_EINVALID   an empty shard, a token >= model.vocab_size (file and position),
 *                  a source too small for one row of seq_len + 1 tokens, or an
 *                  unknown data.heldout source;
 *  RUNS_ECORRUPT   a shard whose header or size is wrong.
 * *out is freed with runs_data_free. */
int runs_data_open(runs_data **out, const runs_config *cfg);

/* 1 when source_index has a training region to read (open, not excluded, cap > 0). */
int runs_data_has_tokens(const runs_data *d, int source_index);

/* Number of tokens in source_index's training region (0 when not open). */
uint64_t runs_data_train_tokens(const runs_data *d, int source_index);

/* Fills inputs and targets (B*T each, caller-owned) from the source's cursor and
 * advances it (see above). RUNS_EINVALID for a source that is not open. */
int runs_data_next_batch(runs_data *d, int source_index, int B, int T, int32_t *inputs, int32_t *targets);

/* Held-out batch k (k >= 0) of data.heldout; RUNS_EINVALID when data.heldout is "". */
int runs_data_heldout_batch(runs_data *d, int k, int B, int T, int32_t *in, int32_t *tgt);

/* Per-source cursors as JSON, for checkpoints:
 *   {"NAME": {"position": P, "epoch": E, "tokens": L}, ...}  (open sources only;
 *   L is the training region's size, recorded to explain a changed shard).
 * Caller frees with cJSON_Delete; NULL only when out of memory. */
cJSON *runs_data_cursors_to_json(const runs_data *d);

/* Restores cursors written by runs_data_cursors_to_json. Sources in j that are not
 * open now are ignored (excluded since); open sources missing from j start at 0.
 * RUNS_EINVALID when j is not an object of that shape, or a position is outside
 * the source's current training region (the shard shrank: re-encode or reset). */
int runs_data_cursors_from_json(runs_data *d, const cJSON *j);

void runs_data_free(runs_data *d);

/* Opens source si of cfg alone, with its tail held out for batches of B rows of T
 * tokens: a source's held-out range depends only on its own size and B × T, so it is
 * the range training held out, whatever the other sources and the curriculum. *out is
 * freed with runs_data_free. */
int runs_data_open_one(runs_data **out, const runs_config *cfg, int si, int B, int T);

/* n_batches fixed held-out batches of B rows of T tokens from one source of cfg, for
 * measuring a node (sharpness): `source` (NULL: data.heldout, else the first source).
 * Only that source is opened, with its tail held out for B and T, so the batches do not
 * depend on the other sources or the curriculum. *inputs and *targets (n_batches*B*T
 * each) are malloc'd and free()d by the caller; *source_used points into cfg; *heldout
 * is 0 when the source is not cfg's data.heldout (the run trained on those tokens).
 * RUNS_EINVALID when T exceeds model.block_size, RUNS_ENOTFOUND for an unknown source,
 * RUNS_EINVALID for a config without sources. */
int runs_data_measure_batches(int32_t **inputs, int32_t **targets, const char **source_used, int *heldout,
                              const runs_config *cfg, const char *source, int n_batches, int B, int T);

#endif
