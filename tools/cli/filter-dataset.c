/* tools/cli/filter-dataset.c — standalone `filter-dataset`, the very same command as
 * `runs filter` (runner/cmd_filter.c, compiled in here because the CLI's objects are
 * not part of the library), for data pipelines that do not need the CLI.
 * usage: tools/filter-dataset --source NAME [--show-dropped N] IN OUT */
#include "runner/cli_util.c"
#include "runner/cmd_filter.c"

int main(int argc, char **argv)
{
    runs_cli cli;
    memset(&cli, 0, sizeof cli);
    argv[0] = "filter";
    return cmd_filter(&cli, argc, argv);
}
