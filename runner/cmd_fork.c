/* runner/cmd_fork.c — runs fork NODE --config PATCH.json [--name RUN] ... (the polish pivot) */
#include <libgen.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "manifests/canon.h"
#include "manifests/merge_patch.h"
#include "runner/cli_branch.h"
#include "runner/cli_train.h"
#include "runner/provenance.h"

static const char usage[] = "runs fork NODE [--config PATCH.json] " RUNS_CLI_BRANCH_USAGE;

int cmd_fork(runs_cli *cli, int argc, char **argv)
{
    runs_session_opts o = {0};
    const char *config = NULL, *pos[1];
    const char *set_items[RUNS_CLI_MAX_SETS];
    runs_opt_list sets = {set_items, RUNS_CLI_MAX_SETS, 0};
    const runs_opt own[] = {
        RUNS_STR("config", 'c', &config, "PATCH.json", "the JSON Merge Patch for the node's config"),
        RUNS_STR("name", 'n', &o.run, "RUN",
                 "new run name (default: PARENTRUN-PATCHNAME, or\nPARENTRUN-fork without --config)"),
        RUNS_FLAG("keep-bandit", 'K', &o.keep_bandit, "keep the parent's bandit state"), RUNS_CLI_SET_OPT(&sets),
        RUNS_OPT_END};
    if (runs_cli_wants_help(argc, argv)) {
        printf("usage: %s\n\n"
               "Branches a new run from NODE with PATCH.json applied to the node's config as a\n"
               "JSON Merge Patch (RFC 7396): the seed's polish pivot. A patch that changes the\n"
               "model's shape is refused. Weights, Adam m and v, step, data cursors and the\n"
               "schedule carry on; the parent run's .samples.json and .state.json are archived\n"
               "into the fork node; the new run's .loss.json is the lineage's history up to NODE\n"
               "and continues without a gap; the bandit starts fresh under the new caps and\n"
               "floors unless --keep-bandit (then arms now excluded or capped at 0 are dropped).\n"
               "Training goes on at once unless --no-train.\n\n"
               "-S PATH=VALUE overrides apply after PATCH.json; with neither, the new run keeps\n"
               "NODE's config. Data paths the patch sets are relative to PATCH.json's directory\n"
               "(-S: to the working directory). The node's data files must still hash as it\n"
               "recorded. With --quiet the only output is the new run's name (for scripts).\n"
               "Under mpirun/srun on another rank count than NODE's, train.grad_accum is scaled\n"
               "to keep NODE's global batch (refused where the ranks cannot share it), unless\n"
               "the patch or -S sets train.grad_accum, batch_size or seq_len: then the patched\n"
               "batch (x the rank count) is the new run's global batch, its contract from here.\n\n",
               usage);
        runs_cli_train_help(own, 1);
        return 0;
    }
    int npos, st = runs_cli_train_opts(&o, own, pos, &npos, 1, "fork", usage, argc, argv);
    if (st)
        return st;
    if (npos != 1)
        return runs_cli_usage("fork", usage, "which node? give NODE (e.g. step_1000)");
    cJSON *patch = NULL, *over = NULL;
    char stem[4096];
    if ((st = runs_cli_branch_sets(&over, &sets, "fork", usage)))
        return st;
    /* neither --config nor -S: an empty patch, the same config on a new run */
    int rc = config ? runs_json_parse_file(&patch, config) : 0;
    if (!config && !(patch = cJSON_CreateObject()))
        rc = runs_error_set(RUNS_ENOMEM, "out of memory creating the fork's patch");
    if (!rc && !cJSON_IsObject(patch))
        rc = runs_error_set(RUNS_EINVALID, "%s: a config patch must be a JSON object", config);
    if (!rc && config) {
        /* data paths the patch sets are relative to the patch file */
        snprintf(stem, sizeof stem, "%s", config);
        rc = runs_provenance_absolute_paths(patch, dirname(stem));
    }
    if (!rc && over) { /* -S after --config */
        cJSON *merged = runs_merge_patch(patch, over);
        if (!merged)
            rc = RUNS_ENOMEM; /* error set by runs_merge_patch */
        cJSON_Delete(patch);
        patch = merged;
    }
    if (rc) {
        st = runs_cli_fail("fork");
        goto done;
    }
    /* the default name: PARENTRUN-PATCHNAME (the patch file's name without extension) */
    snprintf(stem, sizeof stem, "%s", config ? config : "fork");
    char *base = basename(stem), *dot = strrchr(base, '.');
    if (dot && dot != base)
        *dot = '\0';
    st = runs_cli_branch(cli, "fork", pos[0], patch, 0, &o, base);
done:
    cJSON_Delete(over);
    cJSON_Delete(patch);
    return st;
}
