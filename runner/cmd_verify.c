/* runner/cmd_verify.c — `runs verify [--all]`. */
#include <getopt.h>
#include <stdio.h>

#include "common/error.h"
#include "runner/cli.h"
#include "common/progress.h"
#include "runner/cli_store.h"
#include "store/gc.h"

#define USAGE "runs verify [--all]"

static void report(void *ctx, const char *subject, const char *message)
{
    fprintf(stderr, "runs verify: %s\n", message);
}

int cmd_verify(runs_cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"all", no_argument, NULL, 'a'}, {0, 0, 0, 0}};
    int all = 0, c;
    if (runs_cli_wants_help(argc, argv)) {
        printf("usage: " USAGE "\n\n"
               "Re-hash every object the lineage references (tensors, loss logs, archived\n"
               "files) and check every node's manifest (parses, validates, parent matches the\n"
               "commit's). Tensors of nodes thinned by `runs gc` are not expected. --all also\n"
               "re-hashes objects no node references. Prints counts; exits 1 when anything is\n"
               "corrupt or missing, naming each object and the nodes that use it.\n");
        return RUNS_EXIT_OK;
    }
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'a')
            all = 1;
        else
            return runs_cli_bad_option("verify", USAGE, argv, "", opts);
    }
    if (optind < argc)
        return runs_cli_usage("verify", USAGE, "unexpected argument '%s'", argv[optind]);
    runs_store *s = NULL;
    runs_verify_report r;
    runs_progress prog; /* drawn only on a TTY */
    int rc = runs_cli_open_store(cli, &s);
    if (rc == 0)
        rc = runs_store_verify(&r, s, all, cli->progress ? &prog : NULL, report, NULL);
    runs_store_free(s);
    if (rc)
        return runs_cli_fail("verify");
    printf("%llu nodes (%llu thinned), %llu objects, %.1f MB re-hashed", (unsigned long long)r.nodes,
           (unsigned long long)r.nodes_thinned, (unsigned long long)r.objects, r.bytes / 1e6);
    if (all)
        printf(" (%llu unreferenced)", (unsigned long long)r.unreferenced);
    printf("; %llu problem%s\n", (unsigned long long)r.problems, r.problems == 1 ? "" : "s");
    return r.problems ? RUNS_EXIT_ERROR : RUNS_EXIT_OK;
}
