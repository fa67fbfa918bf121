/* runner/cmd_eval.c — `runs eval NODE [--batches N] [--json]`: the held-out loss of
 * any node, computed as training records it (runner/eval.h), so old nodes can be
 * compared with new ones and a node's recorded metrics.val_loss can be checked. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "manifests/canon.h"
#include "runner/backend.h"
#include "runner/cli.h"
#include "runner/cli_store.h"
#include "runner/optparse.h"
#include "runner/eval.h"
#include "store/lineage.h"

#define USAGE "runs eval NODE [--batches N] [--backend B] [--data-root DIR] [--json]"

static void help(const runs_opt *opts)
{
    printf("usage: " USAGE "\n\n"
           "The held-out loss of NODE: the mean cross-entropy of its weights over N fixed\n"
           "batches from the held-out range of its config's data.heldout source (tokens\n"
           "training never reads; runner/data.h says which). Nothing is written.\n"
           "With the node's own eval.batches (the default) it equals the val_loss the run\n"
           "recorded in the node's metrics, bit for bit on the CPU.\n\n"
           "  NODE            a node name (step_N, RUN@step_N, tag, run, id prefix)\n");
    runs_cli_opts_help(opts, 0);
}

int cmd_eval(runs_cli *cli, int argc, char **argv)
{
    long batches = 0;
    const char *backend_s = NULL, *data_root = NULL, *pos[2];
    int json = 0, allow_change = 0, npos, st;
    const runs_opt opts[] = {
        RUNS_INT("batches", 'n', &batches, "N", "[1, 100000]", "held-out batches (default: the node's eval.batches)"),
        RUNS_STR("backend", 0, &backend_s, "B", "cpu, cuda or auto (default: the config's train.backend)"),
        RUNS_STR("data-root", 0, &data_root, "DIR", "the node's data files moved under DIR"),
        RUNS_FLAG("allow-data-change", 0, &allow_change, "evaluate on data that changed since the node"),
        RUNS_FLAG("json", 0, &json,
                  "print {\"batches\", \"node\", \"step\", \"tokens\", \"val_loss\"} (canonical JSON: "
                  "val_loss reads back to the exact double)"),
        RUNS_OPT_END};
    if (runs_cli_wants_help(argc, argv)) {
        help(opts);
        return RUNS_EXIT_OK;
    }
    if ((st = runs_cli_opts(&npos, pos, 2, "eval", USAGE, opts, argc, argv)))
        return st;
    if (backend_s && strcmp(backend_s, "cpu") && strcmp(backend_s, "cuda") && strcmp(backend_s, "auto"))
        return runs_cli_usage("eval", USAGE, "--backend: expected cpu, cuda or auto, got \"%s\"", backend_s);
    if (npos != 1)
        return runs_cli_usage("eval", USAGE, "expected one NODE, got %d arguments", npos);

    runs_store *s = NULL;
    cJSON *m = NULL, *out = NULL;
    char *note = NULL;
    char id[41];
    long step = 0;
    runs_eval_result r;
    int rc = runs_cli_open_store(cli, &s);
    if (rc || (rc = runs_node_resolve(id, s, pos[0])) || (rc = runs_node_manifest(&m, s, id)))
        goto done;
    /* the backend: as asked, else the node's train.backend */
    const char *bs = backend_s;
    if (!bs) {
        const cJSON *tr = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(m, "config"), "train");
        const cJSON *be = cJSON_GetObjectItemCaseSensitive(tr, "backend");
        bs = cJSON_IsString(be) ? be->valuestring : "cpu";
    }
    gpt_backend backend;
    if ((rc = runs_backend_pick(&backend, bs)))
        goto done;
    if ((rc = runs_eval_node(&r, &step, &note, s, id, (int)batches, backend, data_root, allow_change)))
        goto done;
    if (note)
        fprintf(stderr, "runs: warning: %s\n", note);
    if (json) {
        if (!(out = cJSON_CreateObject())) {
            rc = runs_error_set(RUNS_ENOMEM, "out of memory");
            goto done;
        }
        cJSON_AddStringToObject(out, "node", id);
        cJSON_AddNumberToObject(out, "step", (double)step);
        if (isfinite(r.val_loss))
            cJSON_AddNumberToObject(out, "val_loss", r.val_loss);
        else
            cJSON_AddNullToObject(out, "val_loss");
        cJSON_AddNumberToObject(out, "batches", r.batches);
        cJSON_AddNumberToObject(out, "tokens", (double)r.tokens);
        /* canonical JSON prints the shortest form that reads back to the same double
         * (cJSON's printer may round the last bit), so scripts can compare exactly */
        char *text = runs_json_canonical(out);
        if (!text) {
            rc = runs_error_set(RUNS_ENOMEM, "out of memory");
            goto done;
        }
        printf("%s\n", text);
        free(text);
    } else {
        char label[160];
        printf("%s (%.12s): val_loss %.6f on %d held-out batches (%ld tokens, %s)\n",
               runs_cli_node_label(label, sizeof label, m), id, r.val_loss, r.batches, r.tokens,
               gpt_backend_name(backend));
    }
done:
    cJSON_Delete(out);
    cJSON_Delete(m);
    free(note);
    runs_store_free(s);
    return rc ? runs_cli_fail("eval") : RUNS_EXIT_OK;
}
