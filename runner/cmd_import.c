/* runner/cmd_import.c — `runs import FILE --name NAME`: an llm.c fp32 model file as the
 * root node (kind "import") of a new run; the work is runs_import_node (tools/export.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "runner/cli.h"
#include "runner/cli_events.h"
#include "runner/cli_store.h"
#include "store/lineage.h"
#include "store/store.h"
#include "tools/export.h"

#define USAGE "runs import FILE --name NAME [--config F]"

static void help(const runs_opt *opts)
{
    printf("usage: " USAGE "\n\n"
           "Record an llm.c GPT-2 fp32 model file (train_gpt2.c's format, version 3) as the\n"
           "root node (kind import, step 0) of a new run. The model section of the config\n"
           "comes from the file's header (block_size = maxT; padded vocabulary rows are\n"
           "dropped); the other sections from --config F or the defaults. AdamW m and v\n"
           "start at zero.\n"
           "Train on with `runs resume NAME` or branch with `runs fork`.\n\n"
           "  FILE              the llm.c model file\n");
    runs_cli_opts_help(opts, 20);
}

int cmd_import(runs_cli *cli, int argc, char **argv)
{
    const char *run = NULL, *run_alias = NULL, *config_path = NULL, *pos[8];
    int npos, rc;
    /* --name as every other command spells it; --run, its first spelling, stays */
    const runs_opt opts[] = {RUNS_STR("name", 'n', &run, "NAME", "the new run's name (must not exist)"),
                             RUNS_STR("run", 'r', &run_alias, "NAME", "the same as --name (its older spelling)"),
                             RUNS_STR("config", 'c', &config_path, "F",
                                      "the rest of the config (its model section must agree or be absent)"),
                             RUNS_OPT_END};
    if (runs_cli_wants_help(argc, argv)) {
        help(opts);
        return RUNS_EXIT_OK;
    }
    if ((rc = runs_cli_opts(&npos, pos, 8, "import", USAGE, opts, argc, argv)))
        return rc;
    if (npos != 1)
        return runs_cli_usage("import", USAGE, "expected one FILE, got %d arguments", npos);
    if (run && run_alias && strcmp(run, run_alias))
        return runs_cli_usage("import", USAGE, "--name %s and --run %s disagree; give one", run, run_alias);
    if (!run)
        run = run_alias;
    if (!run)
        return runs_cli_usage("import", USAGE, "--name NAME is required");

    runs_store *s = NULL;
    gpt_config gc;
    size_t n = 0;
    char id[41], was[64];
    const char *file = pos[0];
    rc = runs_cli_open_store(cli, &s);
    if (rc)
        goto done;
    if (runs_head_get(was, sizeof was, s) != RUNS_OK) /* a store without runs: none was current */
        was[0] = '\0';
    if ((rc = runs_import_node(id, &gc, &n, s, run, file, config_path)))
        goto done;
    printf("imported %s as %s@step_0 (%.12s): %d layers, %d heads, n_embd %d, vocab %d, block %d, %zu weights\n", file,
           run, id, gc.n_layer, gc.n_head, gc.n_embd, gc.vocab_size, gc.block_size, n);
    if (strcmp(was, run))
        runs_cli_say_current(run, was);
done:
    runs_store_free(s);
    return rc ? runs_cli_fail("import") : RUNS_EXIT_OK;
}
