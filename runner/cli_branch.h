/* runner/cli_branch.h — what `runs fork` and `runs restart` share: the options
 * after NODE, the -S overrides as a patch, and the branch itself (node, default
 * name, the bandit line, the current-run line, the exit status). */
#ifndef RUNS_RUNNER_CLI_BRANCH_H
#define RUNS_RUNNER_CLI_BRANCH_H

#include <cjson/cJSON.h>

#include "runner/cli.h"
#include "runner/session.h"

/* The usage text both commands end with. */
#define RUNS_CLI_BRANCH_USAGE                                                                                          \
    "[-S PATH=VALUE]... [--name RUN] [--dir D] [--keep-bandit] [--no-train] [--backend B] [--steps N] [--quiet] "      \
    "[--data-root DIR] [--allow-data-change]"

/* The -S assignments of sets as a merge patch in *out (NULL when there are none),
 * paths they set made absolute against the working directory. Returns 0, or the
 * exit status after printing one line. The caller cJSON_Deletes *out. */
int runs_cli_branch_sets(cJSON **out, const runs_opt_list *sets, const char *cmd, const char *usage);

/* Branches a new run from node (as the user gave it) through runs_session_branch
 * (patch and peak_lr as there; patch stays the caller's), printing what the
 * session says, then "bandit: kept (from NODE)" or "bandit: fresh" after the branch
 * line. o->run NULL names the run PARENTRUN-STEM, or PARENTRUN-restartSTEP when stem
 * is NULL. With o->quiet the one line printed is the new run's name, so a script
 * can take it (`name=$(runs restart NODE --peak-lr X --quiet)`). Returns the exit
 * status (the error printed as "runs CMD: ..."). */
int runs_cli_branch(runs_cli *cli, const char *cmd, const char *node, const cJSON *patch, double peak_lr,
                    runs_session_opts *o, const char *stem);

#endif
