/* runner/cmd_resume.c — runs resume [NODE] [--name RUN] ... */
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "runner/cli_store.h"
#include "runner/cli_train.h"
#include "store/lineage.h"

static const char usage[] = "runs resume [NODE] [--name RUN] [--dir D] [--backend B] [--steps N] [--quiet]";

int cmd_resume(runs_cli *cli, int argc, char **argv)
{
    if (runs_cli_wants_help(argc, argv)) {
        printf("usage: %s\n\n"
               "Continues a run from its last node, or from NODE (step_N, RUN@step_N, a tag or\n"
               "an id prefix). On the CPU backend the continuation is bit-exact: the same\n"
               "losses as a run that never stopped. Lines of .loss.json and .samples.json past\n"
               "the node (written before a crash) are dropped, so no step appears twice.\n\n"
               "  --name RUN   the run to continue (default: NODE's run, else the current run)\n"
               "  --dir D      run directory (default: the one recorded for the run)\n"
               "  --backend B  cpu, cuda or auto;  --steps N  stop after step N;  --quiet\n",
               usage);
        return 0;
    }
    runs_session_opts o = {0};
    const char *pos[1];
    int npos, st = runs_cli_train_opts(&o, NULL, NULL, pos, &npos, 1, "resume", usage, argc, argv);
    if (st)
        return st;
    runs_store *s = NULL;
    char id[41], run[64];
    cJSON *m = NULL;
    int rc = runs_cli_open_store(cli, &s);
    if (rc)
        goto done;
    if (npos) {
        if ((rc = runs_node_resolve(id, s, pos[0])) || (rc = runs_node_manifest(&m, s, id)))
            goto done;
        if (!o.run) {
            snprintf(run, sizeof run, "%s", cJSON_GetObjectItemCaseSensitive(m, "run")->valuestring);
            o.run = run;
        }
    } else if (!o.run) {
        if ((rc = runs_head_get(run, sizeof run, s)))
            goto done;
        o.run = run;
    }
    rc = runs_session_resume(s, npos ? id : NULL, &o);
done:
    cJSON_Delete(m);
    {
        int ex = runs_cli_train_exit("resume", rc);
        runs_store_free(s);
        return ex;
    }
}
