/* runner/cmd_checkpoint.c — runs checkpoint [RUN]: SIGUSR1 to the run's trainer. */
#include <signal.h>
#include <stdio.h>

#include "common/error.h"
#include "runner/cli_store.h"
#include "runner/rundir.h"
#include "store/lineage.h"

int cmd_checkpoint(runs_cli *cli, int argc, char **argv)
{
    static const char usage[] = "runs checkpoint [RUN]";
    if (runs_cli_wants_help(argc, argv)) {
        printf("usage: %s\n\nAsks the trainer of RUN (default: the current run) to checkpoint at its\n"
               "next checkpoint.boundary step (SIGUSR1), as the seed's polish protocol does\n"
               "before a pivot. Returns at once; `runs log` shows the node when it lands.\n",
               usage);
        return 0;
    }
    if (argc > 2)
        return runs_cli_usage("checkpoint", usage, "unexpected argument '%s'", argv[2]);
    runs_store *s = NULL;
    char run[64];
    int rc = runs_cli_open_store(cli, &s);
    if (!rc && argc == 2)
        snprintf(run, sizeof run, "%s", argv[1]);
    else if (!rc)
        rc = runs_head_get(run, sizeof run, s);
    int pid = 0;
    if (!rc && !(rc = runs_trainer_signal(&pid, s, run, SIGUSR1)))
        printf("asked trainer %d of %s to checkpoint at its next boundary\n", pid, run);
    runs_store_free(s);
    return rc ? runs_cli_fail("checkpoint") : 0;
}
