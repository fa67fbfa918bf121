/* runner/cmd_stop.c — runs stop [RUN]: SIGUSR2 to the run's trainer, which
 * checkpoints at its next checkpoint.boundary step and exits 0 there (the
 * seed's pivot: "checkpoint at the next 100-step boundary, then stop"). */
#include <signal.h>
#include <stdio.h>

#include "common/error.h"
#include "runner/cli_store.h"
#include "runner/rundir.h"
#include "store/lineage.h"

int cmd_stop(runs_cli *cli, int argc, char **argv)
{
    static const char usage[] = "runs stop [RUN]";
    if (runs_cli_wants_help(argc, argv)) {
        printf("usage: %s\n\nAsks the trainer of RUN (default: the current run) to checkpoint at its\n"
               "next checkpoint.boundary step and then exit 0, so that node is the run's tip\n"
               "(SIGUSR2). Returns at once; `runs status` says a stop is pending and at which\n"
               "step. `runs checkpoint` checkpoints at the boundary and goes on; SIGTERM\n"
               "checkpoints at once, off the boundary, and stops.\n",
               usage);
        return 0;
    }
    if (argc > 2)
        return runs_cli_usage("stop", usage, "unexpected argument '%s'", argv[2]);
    if (argc == 2 && argv[1][0] == '-')
        return runs_cli_usage("stop", usage, "unknown option '%s'", argv[1]);
    runs_store *s = NULL;
    char run[64];
    int rc = runs_cli_open_store(cli, &s);
    if (!rc && argc == 2)
        snprintf(run, sizeof run, "%s", argv[1]);
    else if (!rc)
        rc = runs_head_get(run, sizeof run, s);
    int pid = 0;
    if (!rc && !(rc = runs_trainer_signal(&pid, s, run, SIGUSR2)))
        printf("asked trainer %d of %s to checkpoint at its next boundary and stop\n", pid, run);
    runs_store_free(s);
    return rc ? runs_cli_fail("stop") : 0;
}
