/* runner/cli_train.h — option handling shared by start, resume, fork and restart. */
#ifndef RUNS_RUNNER_CLI_TRAIN_H
#define RUNS_RUNNER_CLI_TRAIN_H

#include "runner/cli.h"
#include "runner/session.h"

/* Parses a training command's options: its own (own, a table ended by
 * RUNS_OPT_END: --name with its per-command default, --config, --peak-lr,
 * --rewind, --keep-bandit), then those every training command has, into o:
 * --dir, --backend (checked: cpu, cuda or auto), --steps (>= 1), --no-train,
 * --quiet, --data-root, --allow-data-change. Positional arguments go to
 * pos[0..*npos) (at most max_pos). Returns 0 or the exit status of a refusal
 * (already printed). */
int runs_cli_train_opts(runs_session_opts *o, const runs_opt *own, const char **pos, int *npos, int max_pos,
                        const char *cmd, const char *usage, int argc, char **argv);

/* Prints the option list of --help: own's options, then the shared ones
 * (--data-root and --allow-data-change only when data_opts: start refuses them). */
void runs_cli_train_help(const runs_opt *own, int data_opts);

/* The most -S PATH=VALUE overrides one command takes. */
#define RUNS_CLI_MAX_SETS 32

/* The -S/--set option for a command's own table (start, fork, restart; resume
 * takes none: it changes no config). list's items must hold RUNS_CLI_MAX_SETS. */
#define RUNS_CLI_SET_OPT(list)                                                                                         \
    RUNS_LIST("set", 'S', (list), "PATH=VALUE",                                                                        \
              "set a config key after --config (repeatable; VALUE is JSON, else a\n"                                   \
              "string: -S optimizer.lr=1e-3 -S 'data.exclude=[\"x\"]')")

/* Applies the -S assignments in order onto patch (a JSON object: the merge
 * patch or the config being built), through runs_config_set_path. Returns 0,
 * or the exit status after printing one line (129 for a malformed assignment,
 * 1 for an unknown key, with its "did you mean"). patch stays the caller's. */
int runs_cli_train_sets(cJSON *patch, const runs_opt_list *sets, const char *cmd, const char *usage);

/* Maps a session's return code to the exit status (printing the error). */
int runs_cli_train_exit(const char *cmd, int rc);

#endif
