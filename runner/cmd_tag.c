/* runner/cmd_tag.c — `runs tag [-f] NODE NAME`: name a node (refs/tags/NAME). */
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "runner/cli.h"
#include "runner/cli_store.h"
#include "store/lineage.h"

#define USAGE "runs tag [-f] NODE NAME"

int cmd_tag(runs_cli *cli, int argc, char **argv)
{
    int force = 0, npos;
    const char *pos[2];
    const runs_opt opts[] = {RUNS_FLAG("force", 'f', &force, "move NAME to NODE if it names another node (journalled)"),
                             RUNS_OPT_END};
    if (runs_cli_wants_help(argc, argv)) {
        printf("usage: " USAGE "\n\n"
               "Name a node. NODE is step_N (current run), RUN@step_N, a tag, a run (its tip)\n"
               "or a node-id prefix; NAME uses letters, digits, '.', '_', '-' (at most 63, not\n"
               "starting with '.'). An existing tag is refused unless -f, which moves it and\n"
               "says from where; the move is journalled like every ref move, so `runs verify\n"
               "--repair` knows it. Tags are never removed, and `runs gc` keeps the\n"
               "checkpoints they name (a moved tag no longer pins its old node).\n\n");
        runs_cli_opts_help(opts, 0);
        return RUNS_EXIT_OK;
    }
    int st = runs_cli_opts(&npos, pos, 2, "tag", USAGE, opts, argc, argv);
    if (st)
        return st;
    if (npos != 2)
        return runs_cli_usage("tag", USAGE, "expected NODE and NAME");
    runs_store *s = NULL;
    char id[41], old[41] = "";
    int rc = runs_cli_open_store(cli, &s);
    if (rc == 0)
        rc = runs_node_resolve(id, s, pos[0]);
    if (rc == 0)
        rc = force ? runs_tag_move(old, s, pos[1], id) : runs_tag_create(s, pos[1], id);
    if (rc == 0 && old[0] && strcmp(old, id))
        printf("%s -> %.12s (moved from %.12s)\n", pos[1], id, old);
    else if (rc == 0)
        printf("%s -> %.12s\n", pos[1], id);
    runs_store_free(s);
    return rc ? runs_cli_fail("tag") : RUNS_EXIT_OK;
}
