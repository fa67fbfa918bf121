/* runner/optparse.h — one table-driven command-line option parser.
 *
 * Each command declares its options once, as a table of runs_opt ending in an
 * all-zero entry; the parser, the generated option list of `--help`, and every
 * message about a refused option come from that table, so all commands accept
 * options the same way and say the same thing when one is wrong.
 *
 * Accepted forms (those of getopt_long, which the commands used before):
 *   --name VALUE, --name=VALUE, a unique prefix of a long name (--keep-l 3),
 *   -x VALUE, -xVALUE, clustered flags (-ab), options and positional arguments in
 *   any order, "--" ends the options, a lone "-" is a positional argument.
 * Library side: it parses and reports through common/error.h (RUNS_EUSAGE) and
 * never prints; runner/cli_opts.h prints the message as a usage line.
 */
#ifndef RUNS_RUNNER_OPTPARSE_H
#define RUNS_RUNNER_OPTPARSE_H

typedef enum {
    RUNS_OPT_FLAG,   /* no value; int *dest = 1 */
    RUNS_OPT_SET,    /* no value; int *dest = val (several options may share one dest:
                      * the last one given wins, as with --lines / --chat) */
    RUNS_OPT_STRING, /* const char **dest = the argument (points into argv) */
    RUNS_OPT_INT,    /* long *dest: a base-10 integer within range */
    RUNS_OPT_DOUBLE, /* double *dest: a finite number within range */
    RUNS_OPT_LIST    /* runs_opt_list *dest: each use appends its argument */
} runs_opt_kind;

/* The values of a repeatable option. The caller owns items (capacity max); the
 * strings point into argv. More than max uses is a usage error. */
typedef struct {
    const char **items;
    int max;
    int n;
} runs_opt_list;

typedef struct {
    const char *lng; /* long name without "--", or NULL */
    char shrt;       /* short letter, or 0 */
    runs_opt_kind kind;
    void *dest;           /* see runs_opt_kind */
    const char *arg_name; /* the value's name in help ("N", "FILE"); "VALUE" when NULL */
    const char *help;     /* one line of help; may hold '\n' for more; NULL = not listed */
    const char *range;    /* INT/DOUBLE bounds, inclusive '[' ']' or exclusive '(' ')':
                           * "[1, 1000000]", "(0, 10]", "[0,)" (no upper bound); NULL = any */
    int val;              /* RUNS_OPT_SET: the value stored */
} runs_opt;

/* Table entries. Each macro checks dest's type at compile time (_Generic), so a
 * long flag or an int count cannot be written through the wrong pointer. */
#define RUNS_OPT_DEST_(dest, T) _Generic((dest), T : (dest))
#define RUNS_FLAG(lng, shrt, dest, help)                                                                               \
    {                                                                                                                  \
        (lng), (shrt), RUNS_OPT_FLAG, RUNS_OPT_DEST_(dest, int *), NULL, (help), NULL, 0                               \
    }
#define RUNS_SET(lng, shrt, dest, value, help)                                                                         \
    {                                                                                                                  \
        (lng), (shrt), RUNS_OPT_SET, RUNS_OPT_DEST_(dest, int *), NULL, (help), NULL, (value)                          \
    }
#define RUNS_STR(lng, shrt, dest, arg, help)                                                                           \
    {                                                                                                                  \
        (lng), (shrt), RUNS_OPT_STRING, RUNS_OPT_DEST_(dest, const char **), (arg), (help), NULL, 0                    \
    }
#define RUNS_INT(lng, shrt, dest, arg, range, help)                                                                    \
    {                                                                                                                  \
        (lng), (shrt), RUNS_OPT_INT, RUNS_OPT_DEST_(dest, long *), (arg), (help), (range), 0                           \
    }
#define RUNS_NUM(lng, shrt, dest, arg, range, help)                                                                    \
    {                                                                                                                  \
        (lng), (shrt), RUNS_OPT_DOUBLE, RUNS_OPT_DEST_(dest, double *), (arg), (help), (range), 0                      \
    }
#define RUNS_LIST(lng, shrt, dest, arg, help)                                                                          \
    {                                                                                                                  \
        (lng), (shrt), RUNS_OPT_LIST, RUNS_OPT_DEST_(dest, runs_opt_list *), (arg), (help), NULL, 0                    \
    }
#define RUNS_OPT_END                                                                                                   \
    {                                                                                                                  \
        NULL, 0, RUNS_OPT_FLAG, NULL, NULL, NULL, NULL, 0                                                              \
    }

/* Parses argv[1..argc-1] (argv[0] is the command name) against opts (ended by an
 * entry with neither lng nor shrt), storing each option's value in its dest and
 * each positional argument, in order, in pos[0..max_pos-1] (pointers into argv;
 * pos is owned by the caller). *npos is the count. Options not given leave their
 * dest as the caller initialised it (that is the default).
 * Returns 0, or RUNS_EUSAGE with one message naming the option as typed:
 *   "unknown option '-z'", "unknown option '--bogus'", "ambiguous option '--k'",
 *   "'--out' needs a value", "'--json' takes no value",
 *   "--samples: expected an integer in [1, 1000000], got 'x'",
 *   "--eps: expected a finite number > 0, got 'inf'",
 *   "--source: given more than 8 times", "unexpected argument 'x'" (more than
 *   max_pos positional arguments);
 * or RUNS_EINVALID when the table itself is wrong (a range it cannot read).
 * Dests may have been written before an error. */
int runs_opts_parse(int *npos, const char **pos, int max_pos, const runs_opt *opts, int argc, char **argv);

/* The option list for `--help`: one entry per option with help text,
 *   "  -o, --out FILE    help" (the help column aligned, at least min_col wide,
 *   continuation lines of a multi-line help indented to it), each ending in '\n'.
 * Returns a malloc'ed string the caller frees, or NULL (RUNS_ENOMEM set). */
char *runs_opts_help(const runs_opt *opts, int min_col);

#endif
