/* runner/cmd_export.c — `runs export NODE --format safetensors|llmc --out FILE`:
 * a node's weights for other tools (formats in tools/export.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner/cli.h"
#include "runner/cli_store.h"
#include "runner/nodeview.h"
#include "tools/export_node.h"

#define USAGE "runs export NODE --format safetensors|llmc --out FILE"

static void help(const runs_opt *opts)
{
    printf("usage: " USAGE "\n\n"
           "Write a node's weights (not the optimizer state) in another tool's format.\n"
           "  safetensors  F32 tensors under our names (wte, wpe, h.N.attn.c_attn.w, ...;\n"
           "               linear weights [out, in]); __metadata__ holds the node id, run,\n"
           "               step and the full config as JSON text\n"
           "  llmc         llm.c's GPT-2 fp32 model file (train_gpt2.c: header version 3,\n"
           "               vocabulary padded to a multiple of 128 with zero rows)\n\n"
           "  NODE              a node name (step_N, RUN@step_N, tag, run, id prefix)\n");
    runs_cli_opts_help(opts, 20);
}

int cmd_export(runs_cli *cli, int argc, char **argv)
{
    const char *out = NULL, *format = NULL, *pos[8];
    int npos, rc;
    const runs_opt opts[] = {RUNS_STR("format", 'f', &format, "F", "safetensors or llmc"),
                             RUNS_STR("out", 'o', &out, "FILE", "the file to write (replaced atomically)"),
                             RUNS_OPT_END};
    if (runs_cli_wants_help(argc, argv)) {
        help(opts);
        return RUNS_EXIT_OK;
    }
    if ((rc = runs_cli_opts(&npos, pos, 8, "export", USAGE, opts, argc, argv)))
        return rc;
    if (npos != 1)
        return runs_cli_usage("export", USAGE, "expected one NODE, got %d arguments", npos);
    if (!out)
        return runs_cli_usage("export", USAGE, "--out is required");
    if (!format || (strcmp(format, "safetensors") && strcmp(format, "llmc")))
        return runs_cli_usage("export", USAGE, "--format: expected safetensors or llmc, got \"%s\"",
                              format ? format : "(none)");

    runs_store *s = NULL;
    cJSON *m = NULL;
    char id[41];
    size_t n = 0;
    if ((rc = runs_cli_open_store(cli, &s)) || (rc = runs_nodeview_open(id, &m, s, pos[0])) ||
        (rc = runs_export_node(&n, s, id, m, format, out)))
        goto done;
    printf("wrote %s (%s, %zu weights of node %.12s)\n", out, format, n, id);
done:
    cJSON_Delete(m);
    runs_store_free(s);
    return rc ? runs_cli_fail("export") : RUNS_EXIT_OK;
}
