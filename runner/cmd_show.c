/* runner/cmd_show.c — `runs show NODE [--json]`: one node's manifest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "manifests/canon.h"
#include "runner/cli.h"
#include "runner/cli_store.h"
#include "store/gc.h"
#include "store/lineage.h"

#define USAGE "runs show NODE [--json]"

static void print_field(const char *label, const cJSON *v)
{
    if (!v)
        return;
    if (cJSON_IsString(v)) {
        printf("%-12s %s\n", label, v->valuestring);
    } else {
        char *t = runs_json_canonical(v);
        printf("%-12s %s\n", label, t ? t : "?");
        free(t);
    }
}

int cmd_show(runs_cli *cli, int argc, char **argv)
{
    int json = 0, npos, rc;
    const char *pos[8];
    const runs_opt opts[] = {RUNS_FLAG("json", 0, &json, "print the manifest exactly as stored (canonical JSON)"),
                             RUNS_OPT_END};
    if (runs_cli_wants_help(argc, argv)) {
        printf("usage: " USAGE "\n\n"
               "Show one node: run, kind, step, parent, metrics, the data files it was trained\n"
               "on (path, bytes, SHA-256 prefix), config and its tensors.\n"
               "NODE is step_N (current run), RUN@step_N, a tag, a run (its tip) or a node-id\n"
               "prefix.\n\n");
        runs_cli_opts_help(opts, 0);
        return RUNS_EXIT_OK;
    }
    if ((rc = runs_cli_opts(&npos, pos, 8, "show", USAGE, opts, argc, argv)))
        return rc;
    if (npos != 1)
        return runs_cli_usage("show", USAGE, "expected one NODE");
    runs_store *s = NULL;
    cJSON *m = NULL;
    char *text = NULL, id[41];
    char **tags = NULL;
    size_t ntags = 0;
    rc = runs_cli_open_store(cli, &s);
    if (rc || (rc = runs_node_resolve(id, s, pos[0])) != 0)
        goto done;
    if ((rc = runs_node_manifest_text(&text, NULL, s, id)) != 0)
        goto done;
    if ((rc = runs_node_manifest(&m, s, id)) != 0)
        goto done;
    if (json) {
        fputs(text, stdout);
        goto done;
    }
    runs_tag_list(&tags, &ntags, s, id);
    printf("node         %s\n", id);
    print_field("run", cJSON_GetObjectItemCaseSensitive(m, "run"));
    print_field("kind", cJSON_GetObjectItemCaseSensitive(m, "kind"));
    print_field("step", cJSON_GetObjectItemCaseSensitive(m, "step"));
    print_field("tokens", cJSON_GetObjectItemCaseSensitive(m, "tokens"));
    print_field("parent", cJSON_GetObjectItemCaseSensitive(m, "parent"));
    print_field("created", cJSON_GetObjectItemCaseSensitive(m, "created"));
    print_field("backend", cJSON_GetObjectItemCaseSensitive(m, "backend"));
    print_field("code", cJSON_GetObjectItemCaseSensitive(m, "code_version"));
    for (size_t i = 0; i < ntags; i++)
        printf("tag          %s\n", tags[i]);
    if (runs_node_thinned(s, id))
        printf("thinned      yes (tensors removed by `runs gc`; manifest and logs kept)\n");
    print_field("metrics", cJSON_GetObjectItemCaseSensitive(m, "metrics"));
    print_field("optimizer", cJSON_GetObjectItemCaseSensitive(m, "optimizer"));
    print_field("loss_log", cJSON_GetObjectItemCaseSensitive(m, "loss_log"));
    /* held-out evals since the parent (runner/eval.h); metrics.val_loss is the node's */
    print_field("eval_log", cJSON_GetObjectItemCaseSensitive(m, "eval_log"));
    print_field("archived", cJSON_GetObjectItemCaseSensitive(m, "archived"));
    print_field("bandit", cJSON_GetObjectItemCaseSensitive(m, "bandit"));
    /* the data the node was trained on: enough to tell a changed shard at a glance */
    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(m, "data_files"))
    {
        printf("data         %s  %.0f bytes  sha256 %.16s\n",
               cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "path")),
               cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(f, "bytes")),
               cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "sha256")));
    }
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(m, "config");
    if (cfg) {
        char *t = cJSON_Print(cfg);
        printf("config       %s\n", t ? t : "?");
        free(t);
    }
    const cJSON *t;
    int count = 0;
    double total = 0;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(m, "tensors"))
    {
        count++;
        total += cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t, "bytes"));
    }
    printf("tensors      %d (%.1f MB)\n", count, total / 1e6);
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(m, "tensors"))
    {
        const cJSON *sh = cJSON_GetObjectItemCaseSensitive(t, "shape");
        char shape[64] = "";
        const cJSON *d;
        cJSON_ArrayForEach(d, sh)
        {
            size_t l = strlen(shape);
            snprintf(shape + l, sizeof shape - l, "%s%.0f", l ? "x" : "", d->valuedouble);
        }
        printf("  %-8s %-32s %-12s %.12s\n", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "group")),
               cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "name")), shape,
               cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "sha256")));
    }
done:
    runs_strings_free(tags, ntags);
    cJSON_Delete(m);
    free(text);
    runs_store_free(s);
    return rc ? runs_cli_fail("show") : RUNS_EXIT_OK;
}
