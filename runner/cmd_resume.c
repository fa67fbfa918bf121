/* runner/cmd_resume.c — runs resume [NODE] [--name RUN] [--rewind] ... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "runner/cli_store.h"
#include "runner/cli_events.h"
#include "runner/cli_train.h"
#include "store/lineage.h"

static const char usage[] = "runs resume [NODE] [--name RUN] [--rewind] [--dir D] [--backend B] [--steps N] [--quiet]";

static void print_warning(void *ctx, const char *msg)
{
    fprintf(stderr, "runs: warning: %s\n", msg);
}

static long node_step(const cJSON *m)
{
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(m, "step");
    return cJSON_IsNumber(st) ? (long)st->valuedouble : 0;
}

/* 1 when anc is id or one of its ancestors, 0 when not, or an error code. */
static int is_ancestor(runs_store *s, const char *anc, const char *id)
{
    char(*ids)[41] = NULL;
    size_t n = 0;
    int rc = runs_lineage(&ids, &n, s, id);
    if (rc)
        return rc;
    int found = 0;
    for (size_t i = 0; i < n && !found; i++)
        found = !strcmp(ids[i], anc);
    free(ids);
    return found;
}

/* Resuming a node that is not the run's tip would move the tip back and leave the
 * nodes past it unreachable: refuse, or with rewind keep the old tip under
 * refs/rewound/ first (so every committed node stays findable). */
static int check_tip(runs_store *s, const char *run, const char *id, const cJSON *m, int rewind, int quiet)
{
    char tip[41], kept[128];
    cJSON *tm = NULL;
    int rc = runs_run_tip(tip, s, run);
    if (rc == RUNS_ENOTFOUND) { /* a new run continuing another run's node: nothing is abandoned */
        runs_error_clear();
        return 0;
    }
    if (rc || !strcmp(tip, id))
        return rc;
    if ((rc = runs_node_manifest(&tm, s, tip)) != 0)
        goto done;
    long m_step = node_step(tm), n_step = node_step(m);
    if (!rewind) {
        int anc = is_ancestor(s, id, tip);
        if (anc < 0) {
            rc = anc;
            goto done;
        }
        if (anc)
            rc = runs_error_set(RUNS_EINVALID,
                                "%s's tip is step_%ld; resuming step_%ld would abandon %ld steps: `runs fork %.12s "
                                "--config PATCH.json --name NEW` makes a branch, `--rewind` moves the tip and keeps "
                                "the abandoned nodes under refs/rewound/",
                                run, m_step, n_step, m_step - n_step, id);
        else
            rc = runs_error_set(RUNS_EINVALID,
                                "%s's tip is step_%ld (%.12s), which does not descend from %.12s; resuming it would "
                                "abandon the tip: `runs fork %.12s --config PATCH.json --name NEW` makes a branch, "
                                "`--rewind` moves the tip and keeps the abandoned nodes under refs/rewound/",
                                run, m_step, tip, id, id);
        goto done;
    }
    if ((rc = runs_run_rewind(kept, s, run, tip, id)) != 0)
        goto done;
    if (!quiet)
        printf("rewound %s from step_%ld (%.12s, kept as %s) to step_%ld\n", run, m_step, tip, kept, n_step);
done:
    cJSON_Delete(tm);
    return rc;
}

int cmd_resume(runs_cli *cli, int argc, char **argv)
{
    runs_session_opts o = {.on_event = runs_cli_print_event};
    const char *pos[1];
    int rewind = 0, keep_bandit_unused = 0;
    const runs_opt own[] = {
        RUNS_STR("name", 'n', &o.run, "RUN", "the run to continue (default: NODE's run, else the current run)"),
        RUNS_FLAG("rewind", 0, &rewind,
                  "NODE is behind RUN's tip: move the tip back to NODE, keeping the\n"
                  "old tip as refs/rewound/RUN/<n> (`runs log --all` marks its nodes)"),
        RUNS_FLAG("keep-bandit", 'K', &keep_bandit_unused, NULL), /* accepted as before; fork's option */
        RUNS_OPT_END};
    if (runs_cli_wants_help(argc, argv)) {
        printf("usage: %s\n\n"
               "Continues a run from its last node, or from NODE (step_N, RUN@step_N, a tag or\n"
               "an id prefix). On the CPU backend the continuation is bit-exact: the same\n"
               "losses as a run that never stopped. Lines of .loss.json and .samples.json past\n"
               "the node (written before a crash) are dropped, so no step appears twice.\n"
               "Committed nodes are never abandoned: a NODE behind the run's tip is refused\n"
               "unless --rewind is given (or use `runs fork` to branch instead).\n"
               "Under mpirun/srun on another rank count than the node's, train.grad_accum is\n"
               "scaled to keep the node's global batch (refused where the ranks cannot share it).\n\n",
               usage);
        runs_cli_train_help(own, 1);
        return 0;
    }
    int npos, st = runs_cli_train_opts(&o, own, pos, &npos, 1, "resume", usage, argc, argv);
    if (!st && rewind && !npos)
        st = runs_cli_usage("resume", usage, "--rewind needs NODE, the node to move the tip back to");
    if (st)
        return st;
    runs_store_set_warning(print_warning, NULL);
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
    } else {
        if (!o.run) {
            if ((rc = runs_head_get(run, sizeof run, s)))
                goto done;
            o.run = run;
        }
        if ((rc = runs_run_tip(id, s, o.run)) || (rc = runs_node_manifest(&m, s, id)))
            goto done;
    }
    /* --steps is the step to stop at; at or below the node's step nothing would run */
    if (o.stop_after > 0 && o.stop_after <= node_step(m)) {
        rc = runs_error_set(RUNS_EINVALID,
                            "--steps %ld: %s resumes at step %ld and --steps is the step to stop at, not a count; "
                            "give a step past %ld (e.g. --steps %ld for %ld more)",
                            o.stop_after, o.run, node_step(m), node_step(m), node_step(m) + o.stop_after, o.stop_after);
        goto done;
    }
    if (npos && (rc = check_tip(s, o.run, id, m, rewind, o.quiet)) != 0)
        goto done;
    runs_cli_events cur; /* says when the session moves the current run */
    runs_cli_events_init(&cur, s, o.quiet);
    o.event_ctx = &cur;
    rc = runs_session_resume(s, npos ? id : NULL, &o);
    runs_cli_events_end(&cur, rc);
done:
    cJSON_Delete(m);
    {
        int ex = runs_cli_train_exit("resume", rc);
        runs_store_free(s);
        return ex;
    }
}
