/* runner/cmd_fork.c — runs fork NODE --config PATCH.json [--name RUN] ... (the polish pivot) */
#include <libgen.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "manifests/canon.h"
#include "manifests/merge_patch.h"
#include "runner/cli_store.h"
#include "runner/cli_events.h"
#include "runner/cli_train.h"
#include "runner/provenance.h"
#include "store/lineage.h"

static const char usage[] =
    "runs fork NODE [--config PATCH.json] [-S PATH=VALUE]... [--name RUN] [--dir D] [--keep-bandit] "
    "[--no-train] [--backend B] [--steps N] [--quiet] [--data-root DIR] [--allow-data-change]";

/* Which bandit state the new run took, said right after the branch line (issue
 * 12: a user must not have to guess): "bandit: kept (from NODE)" or "bandit: fresh". */
static const char *bandit_from; /* NODE as given when --keep-bandit, else NULL */

static void print_event(void *ctx, const runs_session_event *ev)
{
    runs_cli_print_event(ctx, ev);
    if (ev->kind != RUNS_EV_BRANCH)
        return;
    if (bandit_from)
        printf("bandit: kept (from %s)\n", bandit_from);
    else
        printf("bandit: fresh\n");
}

int cmd_fork(runs_cli *cli, int argc, char **argv)
{
    runs_session_opts o = {.on_event = print_event};
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
               "recorded.\n\n",
               usage);
        runs_cli_train_help(own, 1);
        return 0;
    }
    int npos, st = runs_cli_train_opts(&o, own, pos, &npos, 1, "fork", usage, argc, argv);
    if (st)
        return st;
    if (npos != 1)
        return runs_cli_usage("fork", usage, "which node? give NODE (e.g. step_1000)");
    runs_store *s = NULL;
    cJSON *patch = NULL, *m = NULL, *over = cJSON_CreateObject();
    char id[41], name[64];
    if (!over) {
        runs_error_set(RUNS_ENOMEM, "out of memory reading -S");
        return runs_cli_fail("fork");
    }
    if ((st = runs_cli_train_sets(over, &sets, "fork", usage))) {
        cJSON_Delete(over);
        return st;
    }
    /* neither --config nor -S: an empty patch, the same config on a new run */
    int rc = config ? runs_json_parse_file(&patch, config) : 0;
    if (!config && !(patch = cJSON_CreateObject()))
        rc = runs_error_set(RUNS_ENOMEM, "out of memory creating the fork's patch");
    if (!rc && !cJSON_IsObject(patch))
        rc = runs_error_set(RUNS_EINVALID, "%s: a config patch must be a JSON object", config);
    if (!rc && config) {
        /* data paths the patch sets are relative to the patch file */
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s", config);
        rc = runs_provenance_absolute_paths(patch, dirname(tmp));
    }
    if (!rc && sets.n) {
        /* -S after --config; paths it sets are relative to where runs was run */
        cJSON *merged = NULL;
        if (!(rc = runs_provenance_absolute_paths(over, NULL)) && !(merged = runs_merge_patch(patch, over)))
            rc = RUNS_ENOMEM; /* error set by runs_merge_patch */
        if (merged) {
            cJSON_Delete(patch);
            patch = merged;
        }
    }
    if (rc || (rc = runs_cli_open_store(cli, &s)) || (rc = runs_node_resolve(id, s, pos[0])))
        goto done;
    if (!o.run) {
        if ((rc = runs_node_manifest(&m, s, id)))
            goto done;
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s", config ? config : "fork");
        char *stem = basename(tmp), *dot = strrchr(stem, '.');
        if (dot && dot != stem)
            *dot = '\0';
        snprintf(name, sizeof name, "%.30s-%.30s", cJSON_GetObjectItemCaseSensitive(m, "run")->valuestring, stem);
        o.run = name;
    }
    runs_cli_events cur; /* says when the session moves the current run */
    runs_cli_events_init(&cur, s, o.quiet);
    o.event_ctx = &cur;
    bandit_from = o.keep_bandit ? pos[0] : NULL;
    rc = runs_session_branch(s, id, patch, 0, &o);
    runs_cli_events_end(&cur, rc);
done:
    cJSON_Delete(over);
    cJSON_Delete(patch);
    cJSON_Delete(m);
    {
        int ex = runs_cli_train_exit("fork", rc);
        runs_store_free(s);
        return ex;
    }
}
