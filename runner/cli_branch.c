/* runner/cli_branch.c — see cli_branch.h. */
#include "runner/cli_branch.h"

#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "runner/cli_events.h"
#include "runner/cli_store.h"
#include "runner/cli_train.h"
#include "runner/dp.h"
#include "runner/provenance.h"
#include "store/lineage.h"

/* Which bandit state the new run took, said right after the branch line (issue
 * 12: a user must not have to guess). One branch per process: a static will do. */
static const char *bandit_from; /* NODE as given when --keep-bandit, else NULL */

static void print_event(void *ctx, const runs_session_event *ev)
{
    runs_cli_print_event(ctx, ev);
    if (ev->kind != RUNS_EV_BRANCH)
        return;
    if (bandit_from)
        printf("bandit: kept (from %s)\n", bandit_from);
    else
        printf("bandit: fresh\n");
}

int runs_cli_branch_sets(cJSON **out, const runs_opt_list *sets, const char *cmd, const char *usage)
{
    int st;
    *out = NULL;
    if (!sets->n)
        return 0;
    if (!(*out = cJSON_CreateObject())) {
        runs_error_set(RUNS_ENOMEM, "out of memory reading -S");
        return runs_cli_fail(cmd);
    }
    if (!(st = runs_cli_train_sets(*out, sets, cmd, usage)) && runs_provenance_absolute_paths(*out, NULL))
        st = runs_cli_fail(cmd);
    if (st) {
        cJSON_Delete(*out);
        *out = NULL;
    }
    return st;
}

int runs_cli_branch(runs_cli *cli, const char *cmd, const char *node, const cJSON *patch, double peak_lr,
                    runs_session_opts *o, const char *stem)
{
    runs_store *s = NULL;
    cJSON *m = NULL;
    char id[41], name[64];
    int rc;
    o->on_event = print_event;
    if ((rc = runs_cli_open_store(cli, &s)) || (rc = runs_node_resolve(id, s, node)))
        goto done;
    if (!o->run) {
        if ((rc = runs_node_manifest(&m, s, id)))
            goto done;
        const char *run = cJSON_GetObjectItemCaseSensitive(m, "run")->valuestring;
        if (stem)
            snprintf(name, sizeof name, "%.30s-%.30s", run, stem);
        else
            snprintf(name, sizeof name, "%.40s-restart%ld", run,
                     (long)cJSON_GetObjectItemCaseSensitive(m, "step")->valuedouble);
        o->run = name;
    }
    runs_cli_events cur; /* says when the session moves the current run */
    runs_cli_events_init(&cur, s, o->quiet);
    o->event_ctx = &cur;
    bandit_from = o->keep_bandit ? node : NULL;
    rc = runs_session_branch(s, id, patch, peak_lr, o);
    /* under mpirun every rank gets here; rank 0 speaks for the job (the other
     * ranks would say the new current run and the --quiet name once more each) */
    if (runs_dp_rank() == 0) {
        runs_cli_events_end(&cur, rc);
        if (!rc && o->quiet)
            printf("%s\n", o->run);
    }
done:
    cJSON_Delete(m);
    {
        int ex = runs_cli_train_exit(cmd, rc);
        runs_store_free(s);
        return ex;
    }
}
