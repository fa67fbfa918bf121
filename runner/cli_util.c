/* runner/cli_util.c — error and usage printing shared by the commands. */
#include "runner/cli.h"

#include <stdarg.h>
#include <string.h>

#include "common/error.h"

int runs_cli_fail(const char *cmd)
{
    int code = runs_error_code();
    const char *msg = runs_error_message();
    fprintf(stderr, "runs %s: %s\n", cmd, *msg ? msg : "failed (no message; this is a bug)");
    if (code == RUNS_EUSAGE)
        return RUNS_EXIT_USAGE;
    if (code == RUNS_EHALT)
        return RUNS_EXIT_HALT;
    return RUNS_EXIT_ERROR;
}

int runs_cli_usage(const char *cmd, const char *usage, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "runs %s: %s (usage: %s; see runs %s --help)\n", cmd, msg, usage, cmd);
    return RUNS_EXIT_USAGE;
}

int runs_cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            break;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return 1;
    }
    return 0;
}
