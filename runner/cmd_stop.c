/* runner/cmd_stop.c — runs stop [RUN]: SIGUSR2 to the run's trainer, which
 * checkpoints at its next checkpoint.boundary step and exits 0 there (the
 * seed's pivot: "checkpoint at the next 100-step boundary, then stop"). */
#include <signal.h>
#include <stdio.h>

#include "runner/cli_signal.h"

int cmd_stop(runs_cli *cli, int argc, char **argv)
{
    static const char usage[] = "runs stop [RUN]";
    if (runs_cli_wants_help(argc, argv)) {
        printf("usage: %s\n\nAsks the trainer of RUN (default: the current run) to checkpoint at its\n"
               "next checkpoint.boundary step and then exit 0, so that node is the run's tip\n"
               "(SIGUSR2). Returns at once; `runs status` says a stop is pending and at which\n"
               "step. `runs checkpoint` checkpoints at the boundary and goes on; SIGTERM\n"
               "checkpoints at once, off the boundary, and stops (exit 0 as well: see\n"
               "`runs --help` on the exit status).\n",
               usage);
        return 0;
    }
    return runs_cli_signal_run(cli, argc, argv, "stop", usage, SIGUSR2, "checkpoint at its next boundary and stop");
}
