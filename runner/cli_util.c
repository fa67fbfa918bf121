/* runner/cli_util.c — error and usage printing shared by the commands, and the
 * printing side of the option parser (runner/optparse.h). */
#include "runner/cli.h"

#include <getopt.h>
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

/* The long option that "--NAME[=...]" names: exact match, else the only one NAME
 * abbreviates (as getopt_long accepts); NULL when none; *ambiguous when several. */
static const struct option *find_long(const struct option *lo, const char *arg, int *ambiguous)
{
    size_t len = strcspn(arg, "=");
    const struct option *hit = NULL;
    int hits = 0;
    *ambiguous = 0;
    for (; lo && lo->name; lo++) {
        if (strncmp(lo->name, arg, len))
            continue;
        if (strlen(lo->name) == len)
            return lo;
        hit = lo;
        hits++;
    }
    *ambiguous = hits > 1;
    return hits == 1 ? hit : NULL;
}

int runs_cli_bad_option(const char *cmd, const char *usage, char **argv, const char *shortopts,
                        const struct option *longopts)
{
    /* glibc steps optind past a refused long option; a refused short option leaves
     * optind on its cluster unless it was the cluster's last letter. */
    const char *prev = optind > 1 ? argv[optind - 1] : NULL;
    const struct option *lo = NULL;
    int ambiguous = 0, is_long = 0;
    if (prev && !strncmp(prev, "--", 2) && prev[2]) {
        lo = find_long(longopts, prev + 2, &ambiguous);
        /* optopt is 0 for an unknown or ambiguous long option (and one with a flag),
         * the option's val for a known one; a short letter never matches both */
        is_long = optopt == 0 || (lo && !lo->flag && lo->val == optopt);
    }
    if (is_long) {
        int len = (int)strcspn(prev, "=");
        if (lo && lo->has_arg == no_argument && prev[len] == '=')
            return runs_cli_usage(cmd, usage, "'%.*s' takes no value", len, prev);
        if (lo && lo->has_arg == required_argument)
            return runs_cli_usage(cmd, usage, "'%.*s' needs a value", len, prev);
        return runs_cli_usage(cmd, usage, "%s option '%.*s'", ambiguous ? "ambiguous" : "unknown", len, prev);
    }
    int ch = optopt;
    if (shortopts && (*shortopts == ':' || *shortopts == '+' || *shortopts == '-'))
        shortopts++;
    if (ch > 0 && ch < 256 && ch != ':' && shortopts && strchr(shortopts, ch))
        return runs_cli_usage(cmd, usage, "'-%c' needs a value", ch);
    if (ch > 0 && ch < 256)
        return runs_cli_usage(cmd, usage, "unknown option '-%c'", ch);
    return runs_cli_usage(cmd, usage, "unknown option '%s'", prev ? prev : "?");
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

int runs_cli_opts(int *npos, const char **pos, int max_pos, const char *cmd, const char *usage,
                  const runs_opt *opts, int argc, char **argv)
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
