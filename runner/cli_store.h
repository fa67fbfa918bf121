/* runner/cli_store.h — store access shared by the `runs` commands. */
#ifndef RUNS_RUNNER_CLI_STORE_H
#define RUNS_RUNNER_CLI_STORE_H

#include <cJSON.h>

#include "runner/cli.h"
#include "store/store.h"

/* Opens the store the CLI found (cli->store_path). Prints nothing; on failure the
 * error is set (RUNS_ENOTFOUND when there is no store) and *out is NULL. The caller
 * frees *out with runs_store_free. */
int runs_cli_open_store(runs_cli *cli, runs_store **out);

/* Prints v to stdout: an array as one canonical element per line, anything else
 * indented; 0 or RUNS_ENOMEM. */
int runs_cli_print_json(const cJSON *v);

/* A short node label "RUN@step_N" into buf (from the manifest; "?" parts if absent). */
const char *runs_cli_node_label(char *buf, size_t n, const cJSON *manifest);

#endif
