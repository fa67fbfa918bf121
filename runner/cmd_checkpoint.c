/* runner/cmd_checkpoint.c — runs checkpoint [RUN]: SIGUSR1 to the run's trainer. */
#include <signal.h>
#include <stdio.h>

#include "runner/cli_signal.h"

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
    return runs_cli_signal_run(cli, argc, argv, "checkpoint", usage, SIGUSR1, "checkpoint at its next boundary");
}
