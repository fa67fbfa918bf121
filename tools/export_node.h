/* tools/export_node.h — one node's weights out to another tool's format: the
 * manifest's weight tensors checked against the table its config describes, loaded
 * from the store and written by tools/export.h (safetensors or llm.c). */
#ifndef RUNS_TOOLS_EXPORT_NODE_H
#define RUNS_TOOLS_EXPORT_NODE_H

#include <stddef.h>

#include <cJSON.h>

#include "store/store.h"

/* Writes node id's weights (manifest m, as runs_node_manifest reads it) to path in
 * format "safetensors" (our tensor names; __metadata__ holds format "runs", the node
 * id, run, step and the config as JSON text) or "llmc" (llm.c's fp32 model file);
 * *n_weights gets the number of weights written. RUNS_EINVALID for another format
 * or a config that is not a model's, RUNS_ECORRUPT when the manifest's weight
 * tensors are not exactly the table its config describes; the store's and the
 * writer's errors otherwise. Allocates nothing the caller frees. */
int runs_export_node(size_t *n_weights, runs_store *s, const char *id, const cJSON *m, const char *format,
                     const char *path);

#endif
