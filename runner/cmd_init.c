/* runner/cmd_init.c — `runs init [DIR]`: create an empty store. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "runner/cli.h"
#include "store/store.h"

#define USAGE "runs [--store DIR] init [DIR]"

int cmd_init(runs_cli *cli, int argc, char **argv)
{
    if (runs_cli_wants_help(argc, argv)) {
        printf("usage: " USAGE "\n\n"
               "Create an empty store: DIR, else --store DIR / $RUNS_STORE, else ./.runs.\n"
               "It holds objects/ (tensors and logs named by SHA-256), lineage.git/ (a bare\n"
               "git repository, one commit per checkpoint node), tmp/ and locks/.\n"
               "Fails when a store is already there.\n");
        return RUNS_EXIT_OK;
    }
    if (argc > 2)
        return runs_cli_usage("init", USAGE, "expected at most one directory, got %d arguments", argc - 1);
    if (argc == 2 && argv[1][0] == '-')
        return runs_cli_usage("init", USAGE, "unknown option '%s'", argv[1]);
    const char *dir = argc == 2 ? argv[1] : cli->store_path;
    if (argc < 2 && cli->store_found) {
        runs_error_set(RUNS_EEXISTS, "a store already exists at %s", dir);
        return runs_cli_fail("init");
    }
    if (runs_store_init(dir) != 0)
        return runs_cli_fail("init");
    char abs[PATH_MAX];
    printf("Initialized empty runs store in %s\n", realpath(dir, abs) ? abs : dir);
    return RUNS_EXIT_OK;
}
