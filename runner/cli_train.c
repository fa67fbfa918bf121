/* runner/cli_train.c — see cli_train.h. */
#include "runner/cli_train.h"

#include <string.h>

#include "common/error.h"
#include "manifests/setpath.h"

#define MAX_OPTS 24

/* own's entries, then the shared ones (writing into o), then the end mark.
 * data_opts 0 keeps --data-root/--allow-data-change parseable but unlisted, so
 * start can refuse them with its own reason. */
static void build(runs_opt *t, runs_session_opts *o, const runs_opt *own, int data_opts)
{
    int n = 0;
    for (; own && (own[n].lng || own[n].shrt) && n < MAX_OPTS - 9; n++)
        t[n] = own[n];
    const runs_opt shared[] = {
        RUNS_STR("dir", 'd', &o->dir, "D",
                 "run directory (default: runs/RUN beside the store, or the one\n"
                 "recorded for the run)"),
        RUNS_STR("backend", 'b', &o->backend, "B", "cpu, cuda or auto (default: the config's train.backend)"),
        RUNS_INT("steps", 's', &o->stop_after, "N", "[1,)",
                 "stop (with a checkpoint) after step N (the step to reach, not a count)"),
        RUNS_FLAG("no-train", 'N', &o->no_train, "record the node only"),
        RUNS_FLAG("quiet", 'q', &o->quiet, "no progress lines"),
        RUNS_STR("data-root", 0, &o->data_root, "DIR", data_opts ? "the node's data files moved under DIR" : NULL),
        RUNS_FLAG("allow-data-change", 0, &o->allow_data_change,
                  data_opts ? "train on data files that changed since the node" : NULL),
        RUNS_OPT_END};
    memcpy(t + n, shared, sizeof shared);
}

int runs_cli_train_opts(runs_session_opts *o, const runs_opt *own, const char **pos, int *npos, int max_pos,
                        const char *cmd, const char *usage, int argc, char **argv)
{
    runs_opt t[MAX_OPTS];
    build(t, o, own, 1);
    int st = runs_cli_opts(npos, pos, max_pos, cmd, usage, t, argc, argv);
    if (st)
        return st;
    if (o->backend && strcmp(o->backend, "cpu") && strcmp(o->backend, "cuda") && strcmp(o->backend, "auto"))
        return runs_cli_usage(cmd, usage, "--backend %s: expected cpu, cuda or auto", o->backend);
    return 0;
}

void runs_cli_train_help(const runs_opt *own, int data_opts)
{
    runs_session_opts o = {0}; /* the table needs destinations; help writes none */
    runs_opt t[MAX_OPTS];
    build(t, &o, own, data_opts);
    runs_cli_opts_help(t, 0);
}

int runs_cli_train_exit(const char *cmd, int rc)
{
    if (rc == RUNS_OK)
        return RUNS_EXIT_OK;
    return runs_cli_fail(cmd); /* RUNS_EHALT maps to exit 2 there */
}

int runs_cli_train_sets(cJSON *patch, const runs_opt_list *sets, const char *cmd, const char *usage)
{
    for (int i = 0; i < sets->n; i++) {
        if (runs_config_assignment_check(sets->items[i]))
            return runs_cli_usage(cmd, usage, "%s", runs_error_message());
        if (runs_config_set_path(patch, sets->items[i]))
            return runs_cli_fail(cmd);
    }
    return 0;
}
