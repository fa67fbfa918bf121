/* runner/cmd_report.c — not built yet: replaced by the work that owns this command. */
#include "common/error.h"
#include "runner/cli.h"

int cmd_report(runs_cli *cli, int argc, char **argv)
{
    runs_error_set(RUNS_ERROR, "this command is not built yet");
    return runs_cli_fail("report");
}
