/* runner/cmd_tag.c — `runs tag NODE NAME`: name a node (refs/tags/NAME). */
#include <stdio.h>

#include "common/error.h"
#include "runner/cli.h"
#include "runner/cli_store.h"
#include "store/lineage.h"

#define USAGE "runs tag NODE NAME"

int cmd_tag(runs_cli *cli, int argc, char **argv)
{
    if (runs_cli_wants_help(argc, argv)) {
        printf("usage: " USAGE "\n\n"
               "Name a node. NODE is step_N (current run), RUN@step_N, a tag, a run (its tip)\n"
               "or a node-id prefix; NAME uses letters, digits, '.', '_', '-' (at most 63, not\n"
               "starting with '.'). Tags are never moved or removed, and `runs gc` keeps the\n"
               "checkpoints they name.\n");
        return RUNS_EXIT_OK;
    }
    if (argc != 3)
        return runs_cli_usage("tag", USAGE, "expected NODE and NAME");
    if (argv[1][0] == '-' || argv[2][0] == '-')
        return runs_cli_usage("tag", USAGE, "unknown option '%s'", argv[1][0] == '-' ? argv[1] : argv[2]);
    runs_store *s = NULL;
    char id[41];
    int rc = runs_cli_open_store(cli, &s);
    if (rc == 0)
        rc = runs_node_resolve(id, s, argv[1]);
    if (rc == 0)
        rc = runs_tag_create(s, argv[2], id);
    if (rc == 0)
        printf("%s -> %.12s\n", argv[2], id);
    runs_store_free(s);
    return rc ? runs_cli_fail("tag") : RUNS_EXIT_OK;
}
