/* runner/cmd_restart.c — runs restart NODE --peak-lr X [--name RUN] ... (warm restart) */
#include <stdio.h>

#include "runner/cli_branch.h"
#include "runner/cli_train.h"

static const char usage[] = "runs restart NODE --peak-lr X " RUNS_CLI_BRANCH_USAGE;

int cmd_restart(runs_cli *cli, int argc, char **argv)
{
    runs_session_opts o = {0};
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
               "The data bandit starts fresh unless --keep-bandit (NODE's state carries on).\n"
               "With --quiet the only output is the new run's name (for scripts).\n"
               "Under mpirun/srun on another rank count than NODE's, train.grad_accum is scaled\n"
               "to keep NODE's global batch (refused where the ranks cannot share it), unless\n"
               "-S sets train.grad_accum, batch_size or seq_len: then that batch (x the rank\n"
               "count) is the new run's global batch, its contract from here.\n\n",
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
    if ((st = runs_cli_branch_sets(&patch, &sets, "restart", usage)))
        return st;
    st = runs_cli_branch(cli, "restart", pos[0], patch, peak, &o, NULL);
    cJSON_Delete(patch);
    return st;
}
