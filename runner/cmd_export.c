/* runner/cmd_export.c — not built yet: replaced by the work that owns this command. */
#include "common/error.h"
#include "runner/cli.h"

int cmd_export(runs_cli *cli, int argc, char **argv)
{
    runs_error_set(RUNS_ERROR, "this command is not built yet");
    return runs_cli_fail("export");
}
