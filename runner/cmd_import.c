/* runner/cmd_import.c — `runs import FILE --run NAME`: an llm.c fp32 model file as the
 * start node of a new run (config from the header and the defaults; AdamW m, v zero). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "manifests/config.h"
#include "runner/cli.h"
#include "runner/cli_events.h"
#include "runner/cli_store.h"
#include "store/lineage.h"
#include "store/store.h"
#include "tools/export.h"

#define USAGE "runs import FILE --run NAME [--config F]"

static void help(const runs_opt *opts)
{
    printf("usage: " USAGE "\n\n"
           "Record an llm.c GPT-2 fp32 model file (train_gpt2.c's format, version 3) as the\n"
           "start node (step 0) of a new run. The model section of the config comes from\n"
           "the file's header (block_size = maxT; padded vocabulary rows are dropped); the\n"
           "other sections from --config F or the defaults. AdamW m and v start at zero.\n"
           "Train on with `runs resume NAME` or branch with `runs fork`.\n\n"
           "  FILE              the llm.c model file\n");
    runs_cli_opts_help(opts, 20);
}

int cmd_import(runs_cli *cli, int argc, char **argv)
{
    const char *run = NULL, *config_path = NULL, *pos[8];
    int npos, rc;
    const runs_opt opts[] = {
        RUNS_STR("run", 'r', &run, "NAME", "the new run's name (must not exist)"),
        RUNS_STR("config", 'c', &config_path, "F", "the rest of the config (its model section must agree or be absent)"),
        RUNS_OPT_END};
    if (runs_cli_wants_help(argc, argv)) {
        help(opts);
        return RUNS_EXIT_OK;
    }
    if ((rc = runs_cli_opts(&npos, pos, 8, "import", USAGE, opts, argc, argv)))
        return rc;
    if (npos != 1)
        return runs_cli_usage("import", USAGE, "expected one FILE, got %d arguments", npos);
    if (!run)
        return runs_cli_usage("import", USAGE, "--run NAME is required");
    if (runs_name_check(run, "run"))
        return runs_cli_fail("import");

    runs_store *s = NULL;
    float *w = NULL, *zeros = NULL;
    size_t n = 0;
    gpt_config gc;
    gpt_tensor_info *table = NULL;
    runs_tensor *ts = NULL;
    int nt = 0;
    cJSON *config = NULL, *man = NULL;
    char id[41], tip[41], was[64];
    const char *file = pos[0];
    rc = runs_cli_open_store(cli, &s);
    if (rc) goto done;
    if (runs_head_get(was, sizeof was, s) != RUNS_OK) /* a store without runs: none was current */
        was[0] = '\0';
    if (runs_run_tip(tip, s, run) == 0) {
        rc = runs_error_set(RUNS_EEXISTS, "run %s already exists; pick another --run name", run);
        goto done;
    }
    runs_error_clear();
    if ((rc = runs_import_llmc(&gc, &w, &n, file))) goto done;

    /* Config: the given file (or defaults) with the model section from the header. */
    runs_config cfg;
    if (config_path) {
        if ((rc = runs_config_load(&cfg, &config, config_path))) goto done;
    } else if (!(config = runs_config_default_json())) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory");
        goto done;
    }
    cJSON *model = cJSON_GetObjectItemCaseSensitive(config, "model");
    if (!model) model = cJSON_AddObjectToObject(config, "model");
    const char *keys[5] = {"n_layer", "n_head", "n_embd", "vocab_size", "block_size"};
    int vals[5] = {gc.n_layer, gc.n_head, gc.n_embd, gc.vocab_size, gc.block_size};
    for (int i = 0; i < 5; i++) {
        const cJSON *cur = cJSON_GetObjectItemCaseSensitive(model, keys[i]);
        if (config_path && cJSON_IsNumber(cur) && (int)cur->valuedouble != vals[i]) {
            rc = runs_error_set(RUNS_EINVALID, "%s: model.%s is %d but %s says %d", config_path, keys[i],
                                (int)cur->valuedouble, file, vals[i]);
            goto done;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(model, keys[i]);
        cJSON_AddNumberToObject(model, keys[i], vals[i]);
    }
    /* The default sequence length may not fit a small imported model. */
    cJSON *train = cJSON_GetObjectItemCaseSensitive(config, "train");
    const cJSON *sl = cJSON_GetObjectItemCaseSensitive(train, "seq_len");
    if (train && cJSON_IsNumber(sl) && sl->valuedouble > gc.block_size) {
        cJSON_DeleteItemFromObjectCaseSensitive(train, "seq_len");
        cJSON_AddNumberToObject(train, "seq_len", gc.block_size);
    }
    /* Likewise sampling.top_k for a vocabulary smaller than the default k. */
    cJSON *samp = cJSON_GetObjectItemCaseSensitive(config, "sampling");
    const cJSON *tk = cJSON_GetObjectItemCaseSensitive(samp, "top_k");
    if (samp && cJSON_IsNumber(tk) && tk->valuedouble > gc.vocab_size) {
        cJSON_DeleteItemFromObjectCaseSensitive(samp, "top_k");
        cJSON_AddNumberToObject(samp, "top_k", gc.vocab_size);
    }
    if ((rc = runs_config_from_json(&cfg, config, file))) goto done;

    if ((rc = runs_export_tensor_table(&table, &nt, &gc))) goto done;
    zeros = calloc(n, sizeof *zeros);
    ts = calloc((size_t)nt * 3, sizeof *ts);
    man = cJSON_CreateObject();
    if (!zeros || !ts || !man) { rc = runs_error_set(RUNS_ENOMEM, "out of memory"); goto done; }
    const char *groups[3] = {"weights", "adam_m", "adam_v"};
    for (int g = 0; g < 3; g++)
        for (int i = 0; i < nt; i++) {
            runs_tensor *t = &ts[g * nt + i];
            t->name = table[i].name;
            t->group = groups[g];
            t->ndim = table[i].ndim;
            t->shape[0] = table[i].shape[0];
            t->shape[1] = table[i].shape[1];
            t->data = (g == 0 ? w : zeros) + table[i].offset;
            t->bytes = table[i].numel * sizeof(float);
        }
    char note[600];
    snprintf(note, sizeof note, "imported from llm.c model file %s", file);
    cJSON_AddStringToObject(man, "schema", "runs.manifest/1");
    cJSON_AddStringToObject(man, "kind", "start");
    cJSON_AddStringToObject(man, "run", run);
    cJSON_AddNumberToObject(man, "step", 0);
    cJSON_AddNumberToObject(man, "tokens", 0);
    cJSON_AddNullToObject(man, "parent");
    cJSON_AddItemToObject(man, "config", config);
    config = NULL;
    cJSON_AddStringToObject(man, "note", note);
    if ((rc = runs_node_commit(id, s, man, ts, (size_t)nt * 3))) goto done;
    /* a new run becomes the current one, as with start (`runs switch` goes back) */
    if ((rc = runs_head_set(s, run))) goto done;
    printf("imported %s as %s@step_0 (%.12s): %d layers, %d heads, n_embd %d, vocab %d, block %d, %zu weights\n",
           file, run, id, gc.n_layer, gc.n_head, gc.n_embd, gc.vocab_size, gc.block_size, n);
    if (strcmp(was, run))
        runs_cli_say_current(run, was);
done:
    free(w);
    free(zeros);
    free(ts);
    free(table);
    cJSON_Delete(config);
    cJSON_Delete(man);
    runs_store_free(s);
    return rc ? runs_cli_fail("import") : RUNS_EXIT_OK;
}
