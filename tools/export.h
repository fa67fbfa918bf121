/* tools/export.h — weights out of (and into) the store in other tools' formats.
 *
 * safetensors (https://github.com/huggingface/safetensors): u64 little-endian header
 * length N, N bytes of JSON (padded with spaces to a multiple of 8), then the raw
 * tensor bytes. Each tensor: {"dtype":"F32","shape":[...],"data_offsets":[begin,end]}
 * relative to the byte after the header; tensors are contiguous in the order given.
 * "__metadata__" holds string values only (the format's rule), so the config is
 * stored as its canonical JSON text. Tensor names are ours (cuda/gpt.h: "wte",
 * "h.0.attn.c_attn.w", ... with linear weights [out, in]); weights only.
 *
 * llm.c's GPT-2 fp32 model file (train_gpt2.c, gpt2_build_from_checkpoint): int32
 * header[256] = {20240326, 3, maxT, V, L, NH, C, Vp, 0...}, then float32 params,
 * each kind for all layers before the next kind:
 *   wte [Vp,C] (rows V..Vp-1 zero), wpe [maxT,C], ln1w [L,C], ln1b [L,C],
 *   qkvw [L,3C,C], qkvb [L,3C], attprojw [L,C,C], attprojb [L,C], ln2w [L,C], ln2b [L,C],
 *   fcw [L,4C,C], fcb [L,4C], fcprojw [L,C,4C], fcprojb [L,C], lnfw [C], lnfb [C].
 * llm.c's matrices are [out, in] like ours, so conversion only regroups tensors.
 * maxT = model.block_size; Vp = V rounded up to a multiple of 128 (llm.c's padding).
 */
#ifndef RUNS_TOOLS_EXPORT_H
#define RUNS_TOOLS_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "cuda/gpt.h"
#include "store/lineage.h"

#define RUNS_LLMC_MAGIC 20240326
#define RUNS_LLMC_VERSION_FP32 3

/* Number of weights (floats) of a model with cfg, in our layout (cuda/gpt.h). */
size_t runs_export_num_params(const gpt_config *cfg);

/* Writes a safetensors file at path (atomically: temp file + rename) holding the n
 * tensors (dtype f32, in the given order). metadata: an object whose values are
 * strings (others are serialised to JSON text), or NULL. 0 or a negative RUNS_E*. */
int runs_export_safetensors(const char *path, const runs_tensor *t, size_t n, const cJSON *metadata);

/* Writes llm.c's fp32 model file at path from weights in our layout
 * (runs_export_num_params(cfg) floats). */
int runs_export_llmc(const char *path, const gpt_config *cfg, const float *weights);

/* Reads an llm.c fp32 model file: *cfg from the header, *weights (malloc'd, our layout,
 * *n floats; the caller free()s) with the padded vocabulary rows dropped. Refuses a
 * wrong magic, other versions (bf16 files are version 5), a size that does not match
 * the header, and headers our trainer cannot build. */
int runs_import_llmc(gpt_config *cfg, float **weights, size_t *n, const char *path);

/* Our tensor table for cfg, in cuda/gpt.h's order: names, shapes and offsets (floats),
 * without creating a model. *out (malloc'd, *count entries) is free()d by the caller. */
int runs_export_tensor_table(gpt_tensor_info **out, int *count, const gpt_config *cfg);

/* Records the llm.c fp32 model file at path as the root node (kind "import", step 0) of
 * the new run `run` and makes it the current run. The config is config_path's (or the
 * defaults when NULL) with the model section from the file's header; a model key the
 * config gives that disagrees with the header is refused; train.seq_len and
 * sampling.top_k are lowered to fit a small model. AdamW m and v are zero. out_id gets
 * the node id and *cfg the header's model (caller-owned, nothing to free); *n_weights
 * the number of weights. Refuses an existing run. 0 or a negative RUNS_E*. */
int runs_import_node(char out_id[41], gpt_config *cfg, size_t *n_weights, runs_store *s, const char *run,
                     const char *path, const char *config_path);

#endif
