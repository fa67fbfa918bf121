/* runner/cli_signal.c — see cli_signal.h. */
#include "runner/cli_signal.h"

#include <stdio.h>

#include "common/error.h"
#include "runner/cli_store.h"
#include "runner/rundir.h"
#include "store/lineage.h"

int runs_cli_signal_run(runs_cli *cli, int argc, char **argv, const char *cmd, const char *usage, int sig,
                        const char *what)
{
    if (argc > 2)
        return runs_cli_usage(cmd, usage, "unexpected argument '%s'", argv[2]);
    if (argc == 2 && argv[1][0] == '-')
        return runs_cli_usage(cmd, usage, "unknown option '%s'", argv[1]);
    runs_store *s = NULL;
    char run[64];
    int pid = 0, rc = runs_cli_open_store(cli, &s);
    if (!rc && argc == 2)
        snprintf(run, sizeof run, "%s", argv[1]);
    else if (!rc)
        rc = runs_head_get(run, sizeof run, s);
    if (!rc && !(rc = runs_trainer_signal(&pid, s, run, sig)))
        printf("asked trainer %d of %s to %s\n", pid, run, what);
    runs_store_free(s);
    return rc ? runs_cli_fail(cmd) : 0;
}
