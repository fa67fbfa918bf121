/* tools/export_node.c — a node's weights in another tool's format; see
 * tools/export_node.h. */
#include "tools/export_node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "manifests/config.h"
#include "manifests/manifest.h"
#include "store/lineage.h"
#include "tools/export.h"

/* The manifest's weights must be exactly the trainer's table for this config: the
 * same names in the same order, each of the size its shape says. */
static int check_weights(const cJSON *m, const char *id, const gpt_tensor_info *table, int nt)
{
    const cJSON *t;
    int k = 0;
    cJSON_ArrayForEach (t, cJSON_GetObjectItemCaseSensitive(m, "tensors")) {
        const cJSON *g = cJSON_GetObjectItemCaseSensitive(t, "group");
        if (!cJSON_IsString(g) || strcmp(g->valuestring, RUNS_GROUP_WEIGHTS))
            continue;
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(t, "name"),
                    *by = cJSON_GetObjectItemCaseSensitive(t, "bytes");
        if (k >= nt || !cJSON_IsString(nm) || strcmp(nm->valuestring, table[k].name) || !cJSON_IsNumber(by) ||
            (size_t)by->valuedouble != table[k].numel * sizeof(float))
            return runs_error_set(RUNS_ECORRUPT,
                                  "node %.12s: weight tensor %d (%s) does not match the model its config describes", id,
                                  k, cJSON_IsString(nm) ? nm->valuestring : "?");
        k++;
    }
    if (k != nt)
        return runs_error_set(RUNS_ECORRUPT, "node %.12s has %d weight tensors, its config describes %d", id, k, nt);
    return 0;
}

/* safetensors: our names and shapes over w, the node named in __metadata__ */
static int write_safetensors(const char *path, const char *id, const cJSON *m, const gpt_tensor_info *table, int nt,
                             float *w)
{
    runs_tensor *ts = calloc((size_t)nt, sizeof *ts);
    cJSON *md = cJSON_CreateObject();
    int rc = 0;
    if (!ts || !md) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < nt; i++) {
        ts[i].name = table[i].name;
        ts[i].group = RUNS_GROUP_WEIGHTS;
        ts[i].ndim = table[i].ndim;
        ts[i].shape[0] = table[i].shape[0];
        ts[i].shape[1] = table[i].shape[1];
        ts[i].data = w + table[i].offset;
        ts[i].bytes = table[i].numel * sizeof(float);
    }
    char step[32];
    snprintf(step, sizeof step, "%.0f", cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(m, "step")));
    const cJSON *run = cJSON_GetObjectItemCaseSensitive(m, "run");
    cJSON_AddStringToObject(md, "format", "runs");
    cJSON_AddStringToObject(md, "runs.node", id);
    cJSON_AddStringToObject(md, "runs.run", cJSON_IsString(run) ? run->valuestring : "");
    cJSON_AddStringToObject(md, "runs.step", step);
    cJSON_AddItemToObject(md, "runs.config", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(m, "config"), 1));
    rc = runs_export_safetensors(path, ts, (size_t)nt, md);
done:
    free(ts);
    cJSON_Delete(md);
    return rc;
}

int runs_export_node(size_t *n_weights, runs_store *s, const char *id, const cJSON *m, const char *format,
                     const char *path)
{
    gpt_tensor_info *table = NULL;
    float *w = NULL;
    int nt = 0, rc;
    runs_config cfg;
    *n_weights = 0;
    if (!format || (strcmp(format, "safetensors") && strcmp(format, "llmc")))
        return runs_error_set(RUNS_EINVALID, "export format: expected safetensors or llmc, got \"%s\"",
                              format ? format : "(none)");
    if ((rc = runs_config_from_json(&cfg, cJSON_GetObjectItemCaseSensitive(m, "config"), "node config")))
        goto done;
    gpt_config gc = {cfg.model.n_layer, cfg.model.n_head, cfg.model.n_embd, cfg.model.vocab_size, cfg.model.block_size};
    if ((rc = runs_export_tensor_table(&table, &nt, &gc)) || (rc = check_weights(m, id, table, nt)))
        goto done;
    size_t n = runs_export_num_params(&gc);
    if (!(w = malloc(n * sizeof *w))) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory for %zu weights", n);
        goto done;
    }
    if ((rc = runs_node_load_group(s, m, RUNS_GROUP_WEIGHTS, w, n * sizeof *w)))
        goto done;
    if (!strcmp(format, "llmc"))
        rc = runs_export_llmc(path, &gc, w);
    else
        rc = write_safetensors(path, id, m, table, nt, w);
    if (!rc)
        *n_weights = n;
done:
    free(table);
    free(w);
    return rc;
}
