/* runner/cmd_restart.c — runs restart NODE --peak-lr X [--name RUN] ... (warm restart) */
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "runner/cli_store.h"
#include "runner/cli_events.h"
#include "runner/cli_train.h"
#include "runner/provenance.h"
#include "store/lineage.h"

static const char usage[] =
    "runs restart NODE --peak-lr X [-S PATH=VALUE]... [--name RUN] [--dir D] [--keep-bandit] [--no-train] "
    "[--backend B] [--steps N] [--quiet] [--data-root DIR] [--allow-data-change]";

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

int cmd_restart(runs_cli *cli, int argc, char **argv)
{
    runs_session_opts o = {.on_event = print_event};
    double peak = 0;
    const char *pos[1];
    const char *set_items[RUNS_CLI_MAX_SETS];
    runs_opt_list sets = {set_items, RUNS_CLI_MAX_SETS, 0};
    /* the bound matches optimizer.lr and schedule.restart_lr in a config (inf used
     * to pass `> 0` and fail only at commit, after the model was loaded) */
    const runs_opt own[] = {RUNS_NUM("peak-lr", 'p', &peak, "X", "(0, 10]", "the learning rate to jump to"),
                            RUNS_STR("name", 'n', &o.run, "RUN", "new run name (default: RUN-restartSTEP)"),
                            RUNS_FLAG("keep-bandit", 'K', &o.keep_bandit, "keep NODE's bandit state (default: fresh)"),
                            RUNS_CLI_SET_OPT(&sets), RUNS_OPT_END};
    if (runs_cli_wants_help(argc, argv)) {
        printf("usage: %s\n\n"
               "Warm restart (SGDR) from NODE as a new run: weights and the optimizer state\n"
               "(m, v, step) are loaded, the learning rate jumps to X and follows a cosine from\n"
               "X down to min_lr_factor*X over the remaining steps (schedule.restart_step and\n"
               "restart_lr in the new run's config). Recorded as a `restart` node.\n"
               "The data bandit starts fresh unless --keep-bandit (NODE's state carries on).\n\n",
               usage);
        runs_cli_train_help(own, 1);
        return 0;
    }
    int npos, st = runs_cli_train_opts(&o, own, pos, &npos, 1, "restart", usage, argc, argv);
    if (st)
        return st;
    if (npos != 1)
        return runs_cli_usage("restart", usage, "which node? give NODE (e.g. step_1000)");
    if (!(peak > 0))
        return runs_cli_usage("restart", usage, "--peak-lr X is required");
    cJSON *patch = NULL; /* -S, paths relative to where runs was run */
    if (sets.n) {
        if (!(patch = cJSON_CreateObject())) {
            runs_error_set(RUNS_ENOMEM, "out of memory reading -S");
            return runs_cli_fail("restart");
        }
        if ((st = runs_cli_train_sets(patch, &sets, "restart", usage))) {
            cJSON_Delete(patch);
            return st;
        }
    }
    runs_store *s = NULL;
    cJSON *m = NULL;
    char id[41], name[64];
    int rc = patch ? runs_provenance_absolute_paths(patch, NULL) : 0;
    if (rc || (rc = runs_cli_open_store(cli, &s)) || (rc = runs_node_resolve(id, s, pos[0])))
        goto done;
    if (!o.run) {
        if ((rc = runs_node_manifest(&m, s, id)))
            goto done;
        snprintf(name, sizeof name, "%.40s-restart%ld", cJSON_GetObjectItemCaseSensitive(m, "run")->valuestring,
                 (long)cJSON_GetObjectItemCaseSensitive(m, "step")->valuedouble);
        o.run = name;
    }
    runs_cli_events cur; /* says when the session moves the current run */
    runs_cli_events_init(&cur, s, o.quiet);
    o.event_ctx = &cur;
    bandit_from = o.keep_bandit ? pos[0] : NULL;
    rc = runs_session_branch(s, id, patch, peak, &o);
    runs_cli_events_end(&cur, rc);
done:
    cJSON_Delete(patch);
    cJSON_Delete(m);
    {
        int ex = runs_cli_train_exit("restart", rc);
        runs_store_free(s);
        return ex;
    }
}
