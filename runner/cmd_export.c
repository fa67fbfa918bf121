/* runner/cmd_export.c — `runs export NODE --format safetensors|llmc --out FILE`:
 * a node's weights for other tools (formats in tools/export.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "manifests/canon.h"
#include "manifests/config.h"
#include "manifests/manifest.h"
#include "runner/cli.h"
#include "runner/cli_store.h"
#include "store/lineage.h"
#include "tools/export.h"

#define USAGE "runs export NODE --format safetensors|llmc --out FILE"

static void help(const runs_opt *opts)
{
    printf("usage: " USAGE "\n\n"
           "Write a node's weights (not the optimizer state) in another tool's format.\n"
           "  safetensors  F32 tensors under our names (wte, wpe, h.N.attn.c_attn.w, ...;\n"
           "               linear weights [out, in]); __metadata__ holds the node id, run,\n"
           "               step and the full config as JSON text\n"
           "  llmc         llm.c's GPT-2 fp32 model file (train_gpt2.c: header version 3,\n"
           "               vocabulary padded to a multiple of 128 with zero rows)\n\n"
           "  NODE              a node name (step_N, RUN@step_N, tag, run, id prefix)\n");
    runs_cli_opts_help(opts, 20);
}

int cmd_export(runs_cli *cli, int argc, char **argv)
{
    const char *out = NULL, *format = NULL, *pos[8];
    int npos, rc;
    const runs_opt opts[] = {RUNS_STR("format", 'f', &format, "F", "safetensors or llmc"),
                             RUNS_STR("out", 'o', &out, "FILE", "the file to write (replaced atomically)"),
                             RUNS_OPT_END};
    if (runs_cli_wants_help(argc, argv)) {
        help(opts);
        return RUNS_EXIT_OK;
    }
    if ((rc = runs_cli_opts(&npos, pos, 8, "export", USAGE, opts, argc, argv)))
        return rc;
    if (npos != 1)
        return runs_cli_usage("export", USAGE, "expected one NODE, got %d arguments", npos);
    if (!out)
        return runs_cli_usage("export", USAGE, "--out is required");
    if (!format || (strcmp(format, "safetensors") && strcmp(format, "llmc")))
        return runs_cli_usage("export", USAGE, "--format: expected safetensors or llmc, got \"%s\"",
                              format ? format : "(none)");

    runs_store *s = NULL;
    cJSON *m = NULL, *md = NULL;
    float *w = NULL;
    runs_tensor *ts = NULL;
    gpt_tensor_info *table = NULL;
    int nt = 0;
    char id[41];
    runs_config cfg;
    rc = runs_cli_open_store(cli, &s);
    if (rc)
        goto done;
    if ((rc = runs_node_resolve(id, s, pos[0])))
        goto done;
    if ((rc = runs_node_manifest(&m, s, id)))
        goto done;
    const cJSON *config = cJSON_GetObjectItemCaseSensitive(m, "config");
    if ((rc = runs_config_from_json(&cfg, config, "node config")))
        goto done;
    gpt_config gc = {cfg.model.n_layer, cfg.model.n_head, cfg.model.n_embd, cfg.model.vocab_size, cfg.model.block_size};
    if ((rc = runs_export_tensor_table(&table, &nt, &gc)))
        goto done;
    /* The manifest's weights must be exactly the trainer's table for this config. */
    const cJSON *tensors = cJSON_GetObjectItemCaseSensitive(m, "tensors"), *t;
    int k = 0;
    cJSON_ArrayForEach (t, tensors) {
        const cJSON *g = cJSON_GetObjectItemCaseSensitive(t, "group");
        if (!cJSON_IsString(g) || strcmp(g->valuestring, RUNS_GROUP_WEIGHTS))
            continue;
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(t, "name"),
                    *by = cJSON_GetObjectItemCaseSensitive(t, "bytes");
        if (k >= nt || !cJSON_IsString(nm) || strcmp(nm->valuestring, table[k].name) || !cJSON_IsNumber(by) ||
            (size_t)by->valuedouble != table[k].numel * sizeof(float)) {
            rc = runs_error_set(RUNS_ECORRUPT,
                                "node %.12s: weight tensor %d (%s) does not match the model its config describes", id,
                                k, cJSON_IsString(nm) ? nm->valuestring : "?");
            goto done;
        }
        k++;
    }
    if (k != nt) {
        rc = runs_error_set(RUNS_ECORRUPT, "node %.12s has %d weight tensors, its config describes %d", id, k, nt);
        goto done;
    }
    size_t n = runs_export_num_params(&gc);
    w = malloc(n * sizeof *w);
    if (!w) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory for %zu weights", n);
        goto done;
    }
    if ((rc = runs_node_load_group(s, m, RUNS_GROUP_WEIGHTS, w, n * sizeof *w)))
        goto done;

    if (!strcmp(format, "llmc")) {
        rc = runs_export_llmc(out, &gc, w);
    } else {
        ts = calloc((size_t)nt, sizeof *ts);
        md = cJSON_CreateObject();
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
        snprintf(step, sizeof step, "%.0f", cJSON_GetObjectItemCaseSensitive(m, "step")->valuedouble);
        const cJSON *run = cJSON_GetObjectItemCaseSensitive(m, "run");
        cJSON_AddStringToObject(md, "format", "runs");
        cJSON_AddStringToObject(md, "runs.node", id);
        cJSON_AddStringToObject(md, "runs.run", cJSON_IsString(run) ? run->valuestring : "");
        cJSON_AddStringToObject(md, "runs.step", step);
        cJSON_AddItemToObject(md, "runs.config", cJSON_Duplicate(config, 1));
        rc = runs_export_safetensors(out, ts, (size_t)nt, md);
    }
    if (!rc)
        printf("wrote %s (%s, %zu weights of node %.12s)\n", out, format, n, id);
done:
    free(ts);
    free(table);
    free(w);
    cJSON_Delete(md);
    cJSON_Delete(m);
    runs_store_free(s);
    return rc ? runs_cli_fail("export") : RUNS_EXIT_OK;
}
