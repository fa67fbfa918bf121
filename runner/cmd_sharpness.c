/* runner/cmd_sharpness.c — `runs sharpness NODE --samples K`: Hutchinson's estimate of
 * tr(H) of the loss at a node, on held-out batches, stored in the node's git note.
 *
 * Data: the config's data.heldout source (the last tokens of its shard, which the run
 * never trained on; see runner/data.h). When the config names none, the first source
 * (sorted by name) is used the same way; the run did train on those tokens, so the
 * output says "not held out" and the record carries "heldout": false. --source NAME
 * picks another source. Only that one source is opened.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/progress.h"
#include "manifests/config.h"
#include "runner/backend.h"
#include "runner/cli.h"
#include "runner/cli_store.h"
#include "runner/data.h"
#include "runner/nodeview.h"
#include "runner/provenance.h"
#include "store/lineage.h"
#include "store/notes.h"
#include "tools/sharpness.h"

#define USAGE "runs sharpness NODE [--samples K] [--eps E] [--batches N] [--data-root DIR] [--json]"

static void help(const runs_opt *opts)
{
    printf("usage: " USAGE "\n\n"
           "Estimate the sharpness of the loss at NODE: the trace of its Hessian, by\n"
           "Hutchinson's estimator, tr(H) = mean over K Rademacher vectors v of vᵀHv, each\n"
           "Hessian-vector product a central difference of gradients,\n"
           "Hv = (∇L(θ+εv) − ∇L(θ−εv)) / 2ε. The loss is the mean over N fixed held-out\n"
           "batches of the config's data.heldout source (else the first source, flagged as\n"
           "not held out). Prints the mean and its standard error and records them in the\n"
           "node's note (git notes --ref runs), shown by `runs report`.\n"
           "Cost: 2·K·N forward+backward passes.\n\n"
           "  NODE                   a node name (step_N, RUN@step_N, tag, run, id prefix)\n");
    runs_cli_opts_help(opts, 0);
}

#define STR_(x) #x
#define STR(x) STR_(x)

typedef struct {
    runs_progress p;
} prog;

static void on_sample(void *arg, int done, int total)
{
    runs_progress_add(&((prog *)arg)->p, 1);
}

int cmd_sharpness(runs_cli *cli, int argc, char **argv)
{
    long samples = RUNS_SHARPNESS_DEFAULT_SAMPLES, batches = 4, B = 0, T = 0, seed = 1;
    double eps = RUNS_SHARPNESS_DEFAULT_EPS;
    const char *source = NULL, *backend_s = NULL, *data_root = NULL;
    int json = 0, record = 1, allow_change = 0;
    const char *pos[8];
    int npos, rc;
    const runs_opt opts[] = {
        RUNS_INT("samples", 'k', &samples, "K", "[1, 1000000]",
                 "Rademacher vectors (default " STR(RUNS_SHARPNESS_DEFAULT_SAMPLES) ", as in the WSO paper)"),
        RUNS_NUM("eps", 'e', &eps, "E", "(0,)", "finite-difference step (default " STR(RUNS_SHARPNESS_DEFAULT_EPS) ")"),
        RUNS_INT("batches", 'n', &batches, "N", "[1, 100000]", "held-out batches (default 4)"),
        RUNS_INT("batch-size", 0, &B, "B", "[1, 1048576]", "rows per batch (default: the config's train.batch_size)"),
        RUNS_INT("seq-len", 0, &T, "T", "[1, 1048576]", "tokens per row (default: the config's train.seq_len)"),
        RUNS_STR("source", 0, &source, "NAME", "measure on this source's held-out tail instead"),
        RUNS_INT("seed", 0, &seed, "S", "[0, 9007199254740992]", "Rademacher seed (default 1)"),
        RUNS_STR("backend", 0, &backend_s, "B", "cpu, cuda or auto (default: the config's train.backend)"),
        RUNS_SET("no-record", 0, &record, 0, "do not write the result into the node's note"),
        RUNS_STR("data-root", 0, &data_root, "DIR", "the node's data files moved under DIR"),
        RUNS_FLAG("allow-data-change", 0, &allow_change, "measure on data that changed since the node"),
        RUNS_FLAG("json", 0, &json, "print the result as JSON"),
        RUNS_OPT_END};
    if (runs_cli_wants_help(argc, argv)) {
        help(opts);
        return RUNS_EXIT_OK;
    }
    if ((rc = runs_cli_opts(&npos, pos, 8, "sharpness", USAGE, opts, argc, argv)))
        return rc;
    if (backend_s && strcmp(backend_s, "cpu") && strcmp(backend_s, "cuda") && strcmp(backend_s, "auto"))
        return runs_cli_usage("sharpness", USAGE, "--backend: expected cpu, cuda or auto, got \"%s\"", backend_s);
    if (npos != 1)
        return runs_cli_usage("sharpness", USAGE, "expected one NODE, got %d arguments", npos);

    runs_store *s = NULL;
    cJSON *m = NULL, *out = NULL, *ncfg = NULL;
    char *note = NULL;
    int32_t *in = NULL, *tg = NULL;
    char id[41];
    runs_config cfg;
    if ((rc = runs_cli_open_store(cli, &s)) || (rc = runs_nodeview_open(id, &m, s, pos[0])))
        goto done;
    /* the node's data paths are absolute, so this works from any directory; the
     * files must still be what the node was trained on */
    if (!(ncfg = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(m, "config"), 1))) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = runs_provenance_check(NULL, &note, s, cJSON_GetObjectItemCaseSensitive(m, "data_files"), ncfg, data_root,
                                    allow_change)))
        goto done;
    if (note)
        fprintf(stderr, "runs: warning: %s\n", note);
    if ((rc = runs_config_from_json(&cfg, ncfg, "node config")))
        goto done;
    if (!B)
        B = cfg.train.batch_size;
    if (!T)
        T = cfg.train.seq_len;
    if (T > cfg.model.block_size) { /* a usage error: the flag asked for more than the model takes */
        rc = runs_error_set(RUNS_EUSAGE, "--seq-len %ld exceeds the model's block_size %d", T, cfg.model.block_size);
        goto done;
    }
    int heldout;
    if ((rc = runs_data_measure_batches(&in, &tg, &source, &heldout, &cfg, source, (int)batches, (int)B, (int)T)))
        goto done;

    const char *bs = backend_s ? backend_s : cfg.train.backend;
    gpt_backend backend;
    if ((rc = runs_backend_pick(&backend, bs)))
        goto done;
    prog pr;
    runs_progress_start(&pr.p, "sharpness", (uint64_t)samples, 0);
    runs_sharpness_opts o = {
        .samples = (int)samples, .eps = eps, .seed = (uint64_t)seed, .progress = on_sample, .progress_arg = &pr};
    runs_sharpness_result r;
    rc = runs_sharpness_node(&r, s, id, backend, in, tg, (int)batches, (int)B, (int)T, &o);
    runs_progress_end(&pr.p);
    if (rc)
        goto done;
    if (record && (rc = runs_sharpness_record(s, id, &r, source, heldout, (int)batches, (int)B, (int)T, backend)))
        goto done;
    if (json) {
        out = runs_sharpness_to_json(&r);
        if (!out) {
            rc = runs_error_set(RUNS_ENOMEM, "out of memory");
            goto done;
        }
        cJSON_AddStringToObject(out, "id", id);
        cJSON_AddNumberToObject(out, "step", cJSON_GetObjectItemCaseSensitive(m, "step")->valuedouble);
        cJSON_AddStringToObject(out, "source", source);
        cJSON_AddBoolToObject(out, "heldout", heldout);
        cJSON_AddNumberToObject(out, "batches", (double)batches);
        cJSON_AddNumberToObject(out, "batch_size", (double)B);
        cJSON_AddNumberToObject(out, "seq_len", (double)T);
        cJSON_AddStringToObject(out, "backend", gpt_backend_name(backend));
        cJSON_AddBoolToObject(out, "recorded", record);
        rc = runs_cli_print_json(out);
    } else {
        char label[160];
        printf("%s (%.12s): tr(H) = %.6g ± %.2g (standard error; K=%d, eps=%g)\n",
               runs_cli_node_label(label, sizeof label, m), id, r.trace, isfinite(r.stderr_) ? r.stderr_ : 0.0,
               r.samples, r.eps);
        printf("loss %.6f on %ld batches of %ld×%ld from %s%s (%s)\n", r.loss, batches, B, T, source,
               heldout ? " (held out)" : " (NOT held out: the run trained on these tokens; set data.heldout)",
               gpt_backend_name(backend));
        if (record)
            printf("recorded in the node's note (git notes --ref runs show %s)\n", id);
    }
done:
    cJSON_Delete(out);
    cJSON_Delete(ncfg);
    free(note);
    cJSON_Delete(m);
    free(in);
    free(tg);
    runs_store_free(s);
    return rc ? runs_cli_fail("sharpness") : RUNS_EXIT_OK;
}
