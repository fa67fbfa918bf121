/* runner/main.c — the `runs` command table and global options.
 *
 * usage: runs [--store DIR] COMMAND [ARGS...]   (--store DIR may also follow COMMAND)
 * Each command lives in runner/cmd_NAME.c; this file only finds the store and
 * dispatches. "needs" says what must exist before the command runs, so each
 * command does not repeat the check.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "manifests/suggest.h"
#include "runner/cli.h"
#include "runner/omp_env.h"
#include "store/lineage.h"

enum needs { NEEDS_NOTHING, NEEDS_STORE };

#define COMMANDS(X)                                                                                                    \
    X(init, NEEDS_NOTHING, "create an empty store (.runs/)")                                                           \
    X(start, NEEDS_STORE, "start a run from a config and train")                                                       \
    X(resume, NEEDS_STORE, "continue a run from its last node (or a given one)")                                       \
    X(fork, NEEDS_STORE, "branch a new run from a node with a config patch (polish pivot)")                            \
    X(restart, NEEDS_STORE, "warm restart from a node: LR spiked to a new peak, cosine after")                         \
    X(checkpoint, NEEDS_STORE, "ask a running trainer to checkpoint at the next boundary")                             \
    X(stop, NEEDS_STORE, "ask a running trainer to checkpoint at the next boundary, then stop")                        \
    X(switch, NEEDS_STORE, "make a run the current one (what step_N and the defaults name)")                           \
    X(status, NEEDS_STORE, "show a running trainer's step, loss, LR, tokens/s and ETA")                                \
    X(ls, NEEDS_STORE, "list the runs: step, state, parent, differing config, loss, tokens")                           \
    X(log, NEEDS_STORE, "show the lineage of a run")                                                                   \
    X(show, NEEDS_STORE, "show one node's manifest")                                                                   \
    X(diff, NEEDS_STORE, "compare two nodes: config, step, tensors, bandit state")                                     \
    X(tag, NEEDS_STORE, "name a node")                                                                                 \
    X(restore, NEEDS_STORE, "materialise a checkpoint into a directory, verified")                                     \
    X(verify, NEEDS_STORE, "re-hash stored objects and check the lineage")                                             \
    X(gc, NEEDS_STORE, "remove unreachable objects and thin old checkpoints")                                          \
    X(lr, NEEDS_NOTHING, "print the learning-rate schedule of a config")                                               \
    X(gate, NEEDS_NOTHING, "replay a samples log through the coherence gate")                                          \
    X(tokenizer, NEEDS_NOTHING, "train a BPE tokenizer or encode text into token shards")                              \
    X(filter, NEEDS_NOTHING, "drop leaked prompts, oversize and foreign-script lines")                                 \
    X(plot, NEEDS_STORE, "draw loss, LR and grad-norm charts of a lineage (SVG)")                                      \
    X(report, NEEDS_STORE, "write a self-contained HTML report of a lineage")                                          \
    X(sharpness, NEEDS_STORE, "estimate the Hessian trace at a node (Hutchinson)")                                     \
    X(eval, NEEDS_STORE, "the held-out loss of a node (as its metrics.val_loss)")                                      \
    X(export, NEEDS_STORE, "write a node's weights as safetensors or an llm.c model file")                             \
    X(import, NEEDS_STORE, "record an llm.c model file as a start node")

#define DECLARE(name, needs, summary) int cmd_##name(runs_cli *cli, int argc, char **argv);
COMMANDS(DECLARE)

static const struct command {
    const char *name;
    runs_cmd_fn fn;
    enum needs needs;
    const char *summary;
} commands[] = {
#define ENTRY(name, needs, summary) {#name, cmd_##name, needs, summary},
    COMMANDS(ENTRY)};

static void print_help(FILE *f)
{
    fprintf(f, "usage: runs [--store DIR] COMMAND [ARGS...]\n\n"
               "A checkpoint-centric run manager for small GPT training runs.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-11s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nThe store is --store DIR (before or after COMMAND), else $RUNS_STORE, else the\n"
               "nearest .runs/ above the working directory. `runs COMMAND --help` describes each\n"
               "command.\n\n"
               "exit status: 0 ok, 1 error, 2 the coherence gate halted the run, 129 usage.\n"
               "A training run stopped by `runs stop`, SIGINT or SIGTERM exits 0 too: it\n"
               "stopped as asked, with a checkpoint to resume from, and mpirun or srun would\n"
               "take any other status for a failed job. To tell it from a finished run, read\n"
               "its last line (\"stopped by signal at step N\" or \"done: ...\") or `runs ls`'s\n"
               "state (stopped or finished).\n");
}

static int is_store(const char *dir)
{
    char p[PATH_MAX];
    struct stat st;
    if ((size_t)snprintf(p, sizeof p, "%s/lineage.git", dir) >= sizeof p)
        return 0; /* a path too long to open is no store, rather than a truncated one */
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Fills cli->store_path from --store, $RUNS_STORE or the nearest .runs upward. */
static void find_store(runs_cli *cli, const char *opt)
{
    const char *env = getenv("RUNS_STORE");
    if (opt || (env && *env)) {
        const char *want = opt ? opt : env;
        size_t n = strlen(want);
        if (n >= sizeof cli->store_path) /* never a truncated path: "no store" names it */
            n = sizeof cli->store_path - 1;
        memcpy(cli->store_path, want, n);
        cli->store_path[n] = '\0';
        cli->store_found = n == strlen(want) && is_store(cli->store_path);
        return;
    }
    char dir[PATH_MAX];
    if (!getcwd(dir, sizeof dir)) {
        snprintf(cli->store_path, sizeof cli->store_path, ".runs");
        return;
    }
    for (;;) {
        char cand[PATH_MAX + 8];
        size_t n = (size_t)snprintf(cand, sizeof cand, "%s/.runs", dir);
        if (n < sizeof cli->store_path && is_store(cand)) {
            memcpy(cli->store_path, cand, n + 1);
            cli->store_found = 1;
            return;
        }
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir)
            break;
        *slash = '\0';
    }
    snprintf(cli->store_path, sizeof cli->store_path, ".runs");
}

/* Takes --store DIR / --store=DIR out of a command's arguments (up to a "--"),
 * so `runs log --store DIR` works as users expect; no command has an option of
 * that name. The later occurrence wins. Returns 0, or 129 after printing when
 * --store has no value. */
static int pull_store_opt(int *argc, char **argv, const char **store_opt)
{
    int o = 1;
    for (int i = 1; i < *argc; i++) {
        if (!strcmp(argv[i], "--")) {
            while (i < *argc)
                argv[o++] = argv[i++];
            break;
        }
        if (!strcmp(argv[i], "--store")) {
            if (i + 1 >= *argc || !*argv[i + 1]) {
                fprintf(stderr, "runs %s: --store needs a directory (usage: runs [--store DIR] COMMAND ...)\n",
                        argv[0]);
                return RUNS_EXIT_USAGE;
            }
            *store_opt = argv[++i];
        } else if (!strncmp(argv[i], "--store=", 8)) {
            *store_opt = argv[i] + 8;
        } else {
            argv[o++] = argv[i];
        }
    }
    *argc = o;
    argv[o] = NULL;
    return 0;
}

/* The store's warnings (a stale lock it removed) reach the user from every command. */
static void print_store_warning(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "runs: warning: %s\n", msg);
}

int main(int argc, char **argv)
{
    runs_cli cli = {0};
    const char *store_opt = NULL;
    char safe[512];
    int i = 1;
    runs_store_set_warning(print_store_warning, NULL);
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            print_help(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--store")) {
            if (i + 1 >= argc || !*argv[i + 1]) {
                fprintf(stderr, "runs: --store needs a directory (usage: runs [--store DIR] COMMAND ...)\n");
                return RUNS_EXIT_USAGE;
            }
            store_opt = argv[++i];
        } else if (!strncmp(argv[i], "--store=", 8)) {
            store_opt = argv[i] + 8;
        } else if (!strcmp(argv[i], "--version")) {
            printf("runs %s\n", RUNS_VERSION);
            return 0;
        } else {
            fprintf(stderr, "runs: unknown option '%s' (see runs --help)\n",
                    runs_error_escape(safe, sizeof safe, argv[i]));
            return RUNS_EXIT_USAGE;
        }
    }
    if (i >= argc) {
        print_help(stderr);
        return RUNS_EXIT_USAGE;
    }
    const struct command *cmd = NULL;
    for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++)
        if (!strcmp(commands[k].name, argv[i]))
            cmd = &commands[k];
    if (!cmd) {
        /* a typo names the command meant, the way unknown config keys do */
        const char *names[sizeof commands / sizeof commands[0]];
        for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++)
            names[k] = commands[k].name;
        const char *near = runs_nearest_name(argv[i], names, sizeof names / sizeof names[0]);
        if (near)
            fprintf(stderr, "runs: unknown command '%s' (did you mean \"%s\"?)\n",
                    runs_error_escape(safe, sizeof safe, argv[i]), near);
        else
            fprintf(stderr, "runs: '%s' is not a command (see runs --help)\n",
                    runs_error_escape(safe, sizeof safe, argv[i]));
        return RUNS_EXIT_USAGE;
    }
    int sub_argc = argc - i;
    char **sub_argv = argv + i;
    /* Before anything else runs, with argv untouched: the training commands
     * re-execute once with a short OpenMP spin (runner/omp_env.h); on failure
     * they train with libgomp's defaults, as before. */
    if (!runs_cli_wants_help(sub_argc, sub_argv))
        (void)runs_omp_env_reexec(argv, cmd->name);
    int st = pull_store_opt(&sub_argc, sub_argv, &store_opt);
    if (st)
        return st;
    find_store(&cli, store_opt);
    cli.progress = isatty(2) && !getenv("RUNS_NO_PROGRESS");
    if (cmd->needs == NEEDS_STORE && !cli.store_found && !runs_cli_wants_help(sub_argc, sub_argv)) {
        fprintf(stderr, "runs %s: no store at %s; run `runs init` there first or pass --store DIR\n", cmd->name,
                runs_error_escape(safe, sizeof safe, cli.store_path));
        return RUNS_EXIT_ERROR;
    }
    return cmd->fn(&cli, sub_argc, sub_argv);
}
