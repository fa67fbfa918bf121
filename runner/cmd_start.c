/* runner/cmd_start.c — runs start --config F [--name RUN] [--dir D] ... */
#include <libgen.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "manifests/config.h"
#include "manifests/merge_patch.h"
#include "runner/cli_store.h"
#include "runner/cli_events.h"
#include "runner/cli_train.h"
#include "runner/provenance.h"

static const char usage[] = "runs start --config F [--name RUN] [--dir D] [--backend cpu|cuda|auto] "
                            "[--steps N] [--no-train] [--quiet] [-S PATH=VALUE]...";

int cmd_start(runs_cli *cli, int argc, char **argv)
{
    runs_session_opts o = {.on_event = runs_cli_print_event};
    const char *config = NULL, *pos[1];
    int keep_bandit_unused = 0;
    const char *set_items[RUNS_CLI_MAX_SETS];
    runs_opt_list sets = {set_items, RUNS_CLI_MAX_SETS, 0};
    const runs_opt own[] = {
        RUNS_STR("config", 'c', &config, "F", "the run config (JSON)"),
        RUNS_STR("name", 'n', &o.run, "RUN", "run name (default: the config file's name without .json)"),
        RUNS_FLAG("keep-bandit", 'K', &keep_bandit_unused, NULL), /* accepted as before; fork's option */
        RUNS_CLI_SET_OPT(&sets), RUNS_OPT_END};
    if (runs_cli_wants_help(argc, argv)) {
        printf("usage: %s\n\n"
               "Records a start node (step 0, the initial weights) for the config, then trains:\n"
               "one line per step in DIR/.loss.json, a sample audit every sampling.every steps\n"
               "in DIR/.samples.json (the coherence gate halts the run with exit 2), and a\n"
               "checkpoint node every checkpoint.every steps. SIGUSR1 (or `runs checkpoint`)\n"
               "checkpoints at the next checkpoint.boundary; SIGINT/SIGTERM checkpoint and stop.\n"
               "Relative data paths in F are relative to F's directory; nodes record them as\n"
               "absolute paths with each file's size and SHA-256 (see `runs show NODE`).\n\n",
               usage);
        runs_cli_train_help(own, 0);
        return 0;
    }
    int npos, st = runs_cli_train_opts(&o, own, pos, &npos, 0, "start", usage, argc, argv);
    if (st)
        return st;
    if (!config)
        return runs_cli_usage("start", usage, "--config is required");
    if (o.data_root || o.allow_data_change)
        return runs_cli_usage("start", usage,
                              "--data-root and --allow-data-change are for resume, fork and "
                              "restart (a new run fingerprints the data it starts on)");
    char name[64];
    if (!o.run) {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s", config);
        snprintf(name, sizeof name, "%s", basename(tmp));
        char *dot = strrchr(name, '.');
        if (dot && dot != name)
            *dot = '\0';
        o.run = name;
    }
    runs_config cfg;
    cJSON *json = NULL, *over = cJSON_CreateObject();
    runs_store *s = NULL;
    if (!over) {
        runs_error_set(RUNS_ENOMEM, "out of memory reading -S");
        return runs_cli_fail("start");
    }
    if ((st = runs_cli_train_sets(over, &sets, "start", usage))) {
        cJSON_Delete(over);
        return st;
    }
    int rc = runs_config_load(&cfg, &json, config);
    if (!rc) {
        /* data paths in the file are relative to the file, so the run reads the same
         * data whatever directory later commands run from */
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s", config);
        rc = runs_provenance_absolute_paths(json, dirname(tmp));
    }
    if (!rc && sets.n) {
        /* -S comes after --config; paths it sets are relative to where runs was run */
        cJSON *merged = NULL;
        if (!(rc = runs_provenance_absolute_paths(over, NULL)) && !(merged = runs_merge_patch(json, over)))
            rc = RUNS_ENOMEM; /* error set by runs_merge_patch */
        if (merged) {
            cJSON_Delete(json);
            json = merged;
            rc = runs_config_from_json(&cfg, json, "the config with -S");
        }
    }
    cJSON_Delete(over);
    if (!rc)
        rc = runs_cli_open_store(cli, &s);
    if (!rc) {
        runs_cli_events cur; /* says when the session moves the current run */
        runs_cli_events_init(&cur, s, o.quiet);
        o.event_ctx = &cur;
        rc = runs_session_start(s, json, &o);
        runs_cli_events_end(&cur, rc);
    }
    cJSON_Delete(json);
    int ex = runs_cli_train_exit("start", rc);
    runs_store_free(s);
    return ex;
}
