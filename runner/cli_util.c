/* runner/cli_util.c — error and usage printing shared by the commands, and the
 * printing side of the option parser (runner/optparse.h). */
#include "runner/cli.h"

#include <stdarg.h>
#include <stdlib.h>
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
    char msg[1024], safe[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "runs %s: %s (usage: %s; see runs %s --help)\n", cmd, runs_error_escape(safe, sizeof safe, msg),
            usage, cmd);
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

int runs_cli_opts(int *npos, const char **pos, int max_pos, const char *cmd, const char *usage, const runs_opt *opts,
                  int argc, char **argv)
{
    int rc = runs_opts_parse(npos, pos, max_pos, opts, argc, argv);
    if (rc == 0)
        return RUNS_EXIT_OK;
    if (rc != RUNS_EUSAGE)
        return runs_cli_fail(cmd);
    /* the message is escaped already (runs_error_set), so it is printed as is */
    fprintf(stderr, "runs %s: %s (usage: %s; see runs %s --help)\n", cmd, runs_error_message(), usage, cmd);
    return RUNS_EXIT_USAGE;
}

void runs_cli_opts_help(const runs_opt *opts, int min_col)
{
    char *s = runs_opts_help(opts, min_col);
    if (s)
        fputs(s, stdout);
    free(s);
}
