/* runner/cmd_switch.c — runs switch RUN: make RUN the current run (HEAD). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "manifests/suggest.h"
#include "runner/cli.h"
#include "runner/cli_events.h"
#include "runner/cli_store.h"
#include "store/lineage.h"

#define USAGE "runs switch RUN"

int cmd_switch(runs_cli *cli, int argc, char **argv)
{
    const runs_opt opts[] = {RUNS_OPT_END};
    if (runs_cli_wants_help(argc, argv)) {
        printf("usage: " USAGE "\n\n"
               "Makes RUN the current run: the run that step_N names, and the default of\n"
               "`runs status`, `runs log`, `runs resume`, `runs checkpoint`, `runs stop`,\n"
               "`runs plot` and `runs report`. Only this command and the commands that make or\n"
               "continue a run move it: start, fork, restart and import make their new run\n"
               "current, resume makes the resumed run current; each says so (\"current run:\n"
               "RUN (was OLD)\"; not with --quiet). `runs status` names it first, `runs ls`\n"
               "marks it '*'.\n");
        return RUNS_EXIT_OK;
    }
    const char *pos[1];
    int npos, rc;
    if ((rc = runs_cli_opts(&npos, pos, 1, "switch", USAGE, opts, argc, argv)))
        return rc;
    if (npos != 1)
        return runs_cli_usage("switch", USAGE, "which run? (`runs ls` lists them)");
    runs_store *s = NULL;
    char **names = NULL;
    size_t nn = 0;
    char tip[41], was[64];
    if ((rc = runs_cli_open_store(cli, &s)))
        goto done;
    if ((rc = runs_run_tip(tip, s, pos[0]))) {
        if (rc != RUNS_ENOTFOUND)
            goto done;
        char hint[512];
        runs_error_clear();
        if ((rc = runs_run_list(&names, &nn, s)))
            goto done;
        if (nn == 0)
            snprintf(hint, sizeof hint, "; the store has no runs yet (runs start --config FILE)");
        else
            runs_suggest_hint(hint, sizeof hint, pos[0], (const char *const *)names, nn);
        rc = runs_error_set(RUNS_ENOTFOUND, "no run '%s'%s; `runs ls` lists the runs", pos[0], hint);
        goto done;
    }
    if (runs_head_get(was, sizeof was, s) != RUNS_OK)
        was[0] = '\0';
    runs_error_clear();
    if ((rc = runs_head_set(s, pos[0])))
        goto done;
    if (!strcmp(was, pos[0]))
        printf("current run: %s (unchanged)\n", pos[0]);
    else
        runs_cli_say_current(pos[0], was);
done:
    runs_strings_free(names, nn);
    runs_store_free(s);
    return rc ? runs_cli_fail("switch") : RUNS_EXIT_OK;
}
