/* runner/cli_train.c — see cli_train.h. */
#include "runner/cli_train.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

int runs_cli_train_opts(runs_session_opts *o, const char **config, double *peak_lr,
                        const char **pos, int *npos, int max_pos, const char *cmd,
                        const char *usage, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"name", required_argument, 0, 'n'},  {"dir", required_argument, 0, 'd'},
        {"backend", required_argument, 0, 'b'}, {"steps", required_argument, 0, 's'},
        {"no-train", no_argument, 0, 'N'},    {"keep-bandit", no_argument, 0, 'K'},
        {"quiet", no_argument, 0, 'q'},       {"config", required_argument, 0, 'c'},
        {"peak-lr", required_argument, 0, 'p'}, {"data-root", required_argument, 0, 'D'},
        {"allow-data-change", no_argument, 0, 'A'}, {0, 0, 0, 0}};
    int ch;
    *npos = 0;
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "n:d:b:s:NKqc:p:", longopts, NULL)) != -1) {
        char *end;
        switch (ch) {
        case 'n': o->run = optarg; break;
        case 'd': o->dir = optarg; break;
        case 'b': o->backend = optarg; break;
        case 'N': o->no_train = 1; break;
        case 'K': o->keep_bandit = 1; break;
        case 'q': o->quiet = 1; break;
        case 'D': o->data_root = optarg; break;
        case 'A': o->allow_data_change = 1; break;
        case 's':
            o->stop_after = strtol(optarg, &end, 10);
            if (*end || o->stop_after <= 0)
                return runs_cli_usage(cmd, usage, "--steps %s: expected a positive step number", optarg);
            break;
        case 'c':
            if (!config)
                return runs_cli_usage(cmd, usage, "--config is not an option of this command");
            *config = optarg;
            break;
        case 'p':
            if (!peak_lr)
                return runs_cli_usage(cmd, usage, "--peak-lr is not an option of this command");
            *peak_lr = strtod(optarg, &end);
            if (*end || !(*peak_lr > 0))
                return runs_cli_usage(cmd, usage, "--peak-lr %s: expected a number > 0", optarg);
            break;
        default:
            return runs_cli_usage(cmd, usage, "unknown option '%s'", argv[optind - 1]);
        }
    }
    for (; optind < argc; optind++) {
        if (*npos >= max_pos)
            return runs_cli_usage(cmd, usage, "unexpected argument '%s'", argv[optind]);
        pos[(*npos)++] = argv[optind];
    }
    if (o->backend && strcmp(o->backend, "cpu") && strcmp(o->backend, "cuda") && strcmp(o->backend, "auto"))
        return runs_cli_usage(cmd, usage, "--backend %s: expected cpu, cuda or auto", o->backend);
    return 0;
}

int runs_cli_train_exit(const char *cmd, int rc)
{
    if (rc == RUNS_OK)
        return RUNS_EXIT_OK;
    return runs_cli_fail(cmd); /* RUNS_EHALT maps to exit 2 there */
}
