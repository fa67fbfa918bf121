/* runner/branch.c — `runs fork` and `runs restart`: a new run from a node, with a
 * patched config (fork) or an LR spike (restart); the node reuses the parent's
 * tensor objects. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/file.h"
#include "cuda/gpt.h"
#include "manifests/canon.h"
#include "manifests/config.h"
#include "manifests/diff.h"
#include "manifests/manifest.h"
#include "manifests/merge_patch.h"
#include "runner/bandit.h"
#include "runner/coherence.h"
#include "runner/data.h"
#include "runner/dp.h"
#include "runner/provenance.h"
#include "runner/rundir.h"
#include "runner/schedule.h"
#include "runner/session_int.h"
#include "store/jsonl.h"
#include "store/lineage.h"
#include "store/object.h"
#include "store/publish.h"
#include "store/gc.h"
#include "tools/bpe.h"

/* Refuses a config change that alters the model's shape: the weights could not follow. */
static int check_same_shape(const cJSON *a, const cJSON *b)
{
    runs_diff_entry *d = NULL;
    size_t n = 0;
    int rc = runs_json_diff(&d, &n, cJSON_GetObjectItemCaseSensitive(a, "model"),
                            cJSON_GetObjectItemCaseSensitive(b, "model"));
    if (rc)
        return rc;
    if (n > 0) {
        char av[64], bv[64];
        rc = runs_error_set(RUNS_EINVALID,
                            "the patch changes model.%s (%s -> %s); a fork keeps the model's shape "
                            "(weights carry over); start a new run for a new shape",
                            d[0].path, runs_json_describe(av, sizeof av, d[0].a),
                            runs_json_describe(bv, sizeof bv, d[0].b));
    }
    runs_diff_free(d, n);
    return rc;
}

/* Reads file dir/name into the store; sets *oid_out ("" when the file is absent). */
static int archive_file(runs_oid *oid_out, runs_store *s, const char *dir, const char *name)
{
    char p[PATH_MAX];
    char *data = NULL;
    size_t len = 0;
    oid_out->hex[0] = '\0';
    snprintf(p, sizeof p, "%s/%s", dir, name);
    int rc = runs_file_read(&data, &len, p);
    if (rc == RUNS_ENOTFOUND) {
        runs_error_clear();
        return RUNS_OK;
    }
    if (!rc)
        rc = runs_object_put(oid_out, s, data, len);
    free(data);
    return rc;
}

/* "RUN@step_N (ID12)" of node id into buf, or "" when its manifest does not read. */
static const char *node_name(char *buf, size_t n, runs_store *s, const char *id)
{
    cJSON *m = NULL;
    buf[0] = '\0';
    if (runs_node_manifest(&m, s, id) == RUNS_OK) {
        const cJSON *run = cJSON_GetObjectItemCaseSensitive(m, "run");
        const cJSON *step = cJSON_GetObjectItemCaseSensitive(m, "step");
        if (cJSON_IsString(run) && cJSON_IsNumber(step))
            snprintf(buf, n, "%s@step_%.0f (%.12s)", run->valuestring, step->valuedouble, id);
    }
    cJSON_Delete(m);
    runs_error_clear();
    return buf;
}

/* A thinned node has no tensors to branch from: the error names the nearest kept
 * node before it (its closest unthinned ancestor) and after it (the closest
 * unthinned descendant on its run's line), so the user knows what to fork instead. */
static int thinned_error(runs_store *s, const char *id, const cJSON *m)
{
    char(*up)[41] = NULL, (*down)[41] = NULL;
    size_t nup = 0, ndown = 0;
    char tip[41], self[128], before[128] = "", after[128] = "";
    const cJSON *run = cJSON_GetObjectItemCaseSensitive(m, "run");
    node_name(self, sizeof self, s, id);
    if (runs_lineage(&up, &nup, s, id) == RUNS_OK)
        for (size_t i = 1; i < nup && !before[0]; i++)
            if (!runs_node_thinned(s, up[i]))
                node_name(before, sizeof before, s, up[i]);
    /* the run's line runs tip first: the last kept node met before id is the nearest */
    if (cJSON_IsString(run) && runs_run_tip(tip, s, run->valuestring) == RUNS_OK &&
        runs_lineage(&down, &ndown, s, tip) == RUNS_OK)
        for (size_t i = 0; i < ndown && strcmp(down[i], id); i++)
            if (!runs_node_thinned(s, down[i]))
                node_name(after, sizeof after, s, down[i]);
    free(up);
    free(down);
    runs_error_clear();
    if (!before[0] && !after[0])
        return runs_error_set(RUNS_ENOTFOUND,
                              "the tensors of %s were thinned by `runs gc` and no kept node is near it; "
                              "`runs log --all` lists the nodes",
                              self);
    return runs_error_set(RUNS_ENOTFOUND,
                          "the tensors of %s were thinned by `runs gc`; the nearest kept nodes are %s%s%s%s%s: "
                          "branch from one of them",
                          self, before[0] ? before : "", before[0] ? " before it" : "",
                          before[0] && after[0] ? " and " : "", after, after[0] ? " after it" : "");
}

/* 1 when the patch sets (or deletes) train.grad_accum, batch_size or seq_len: then the
 * patch chose the new run's batch, and it is the fork's contract, not the node's. */
static int patch_sets_batch(const cJSON *patch)
{
    static const char *keys[] = {"grad_accum", "batch_size", "seq_len"};
    const cJSON *train = cJSON_GetObjectItemCaseSensitive(patch, "train");
    if (!cJSON_IsObject(train))
        return cJSON_IsNull(train); /* deleting train deletes the batch too */
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        if (cJSON_GetObjectItemCaseSensitive(train, keys[i]))
            return 1;
    return 0;
}

/* A branch on a rank count other than the one that wrote node m keeps the node's
 * global batch, as a resume does (runs__session_fit_ranks), unless the patch set
 * the batch itself: then the patched batch is the new run's contract. */
static int fit_branch_ranks(session *sess, const cJSON *m, const cJSON *patch, const char *kind)
{
    if (patch_sets_batch(patch))
        return RUNS_OK;
    return runs__session_fit_ranks(sess, m, strcmp(kind, "fork") ? "restarting" : "forking");
}

int runs_session_branch(runs_store *s, const char *node_id, const cJSON *patch, double peak_lr,
                        const runs_session_opts *o)
{
    session sess;
    runs__session_init(&sess, s, o);
    cJSON *m = NULL, *extra = NULL, *restart_patch = NULL;
    runs_diff_entry *d = NULL;
    size_t nd = 0;
    int rc;
    /* a restart is the LR spike; its patch (from -S) may change the config as a fork's does */
    const char *kind = peak_lr > 0 ? "restart" : "fork";
    char tip[41];
    /* under mpirun every rank runs this: refuse before any of them touches the store */
    if ((rc = runs_dp_check_launch()))
        goto done;
    if (runs_dp_rank() > 0) { /* a follower: rank 0 owns the run */
        rc = runs__session_worker(&sess);
        goto done;
    }
    if (runs_run_tip(tip, s, o->run) == RUNS_OK) {
        rc = runs_error_set(RUNS_EEXISTS, "run '%s' already exists; pick another --name", o->run);
        goto done;
    }
    runs_error_clear();
    if ((rc = runs_node_manifest(&m, s, node_id)))
        goto done;
    if (runs_node_thinned(s, node_id)) {
        rc = thinned_error(s, node_id, m);
        goto done;
    }
    const cJSON *parent_cfg = cJSON_GetObjectItemCaseSensitive(m, "config");
    long node_step = (long)cJSON_GetObjectItemCaseSensitive(m, "step")->valuedouble;
    if (peak_lr > 0) { /* the spike goes on top of the user's patch */
        if (!(restart_patch = patch ? cJSON_Duplicate(patch, 1) : cJSON_CreateObject())) {
            rc = runs_error_set(RUNS_ENOMEM, "out of memory building the restart patch");
            goto done;
        }
        cJSON *sch = cJSON_GetObjectItemCaseSensitive(restart_patch, "schedule");
        if (!cJSON_IsObject(sch)) {
            cJSON_DeleteItemFromObjectCaseSensitive(restart_patch, "schedule");
            sch = cJSON_AddObjectToObject(restart_patch, "schedule");
        }
        cJSON_DeleteItemFromObjectCaseSensitive(sch, "restart_step");
        cJSON_DeleteItemFromObjectCaseSensitive(sch, "restart_lr");
        cJSON_AddNumberToObject(sch, "restart_step", (double)node_step);
        cJSON_AddNumberToObject(sch, "restart_lr", peak_lr);
        patch = restart_patch;
    } else if (!patch) {
        rc = runs_error_set(RUNS_EINVALID, "a branch needs a patch or a peak LR (a caller bug)");
        goto done;
    }
    if (!(sess.config = runs_merge_patch(parent_cfg, patch))) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory applying the patch");
        goto done;
    }
    if ((rc = check_same_shape(parent_cfg, sess.config)) || (rc = runs__session_check_data(&sess, m)) ||
        (rc = runs_config_from_json(&sess.cfg, sess.config, "the patched config")) ||
        (rc = fit_branch_ranks(&sess, m, patch, kind)))
        goto done;
    if (sess.cfg.train.total_steps <= node_step) {
        rc = runs_error_set(RUNS_EINVALID,
                            "train.total_steps (%ld) is not past the node's step %ld; raise it in "
                            "the patch to train further",
                            sess.cfg.train.total_steps, node_step);
        goto done;
    }
    if ((rc = runs__session_setup(&sess)) || (rc = runs__node_build_load(&sess, m, o->keep_bandit)) ||
        (rc = runs__session_open_run(&sess, o->run, o->dir, 0)))
        goto done;
    memcpy(sess.parent, node_id, 41);
    extra = cJSON_CreateObject();
    cJSON_AddItemToObject(extra, "tensors", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(m, "tensors"), 1));
    cJSON *changes = cJSON_AddObjectToObject(extra, "changes");
    if ((rc = runs_json_diff(&d, &nd, parent_cfg, sess.config)))
        goto done;
    cJSON_AddItemToObject(changes, "config", runs_diff_to_json(d, nd));
    cJSON_AddStringToObject(changes, "from_run", cJSON_GetObjectItemCaseSensitive(m, "run")->valuestring);
    if (peak_lr > 0)
        cJSON_AddNumberToObject(changes, "peak_lr", peak_lr);
    cJSON_AddBoolToObject(changes, "bandit_kept", o->keep_bandit != 0);
    /* the parent run's audit log and bandit state, as they stand now */
    char pdir[PATH_MAX];
    const char *prun = cJSON_GetObjectItemCaseSensitive(m, "run")->valuestring;
    if (!strcmp(kind, "fork") && runs_rundir_get(pdir, sizeof pdir, s, prun) == RUNS_OK) {
        runs_oid so, st;
        if ((rc = archive_file(&so, s, pdir, ".samples.json")) || (rc = archive_file(&st, s, pdir, ".state.json")))
            goto done;
        cJSON *arch = cJSON_AddObjectToObject(extra, "archived");
        if (so.hex[0])
            cJSON_AddStringToObject(arch, "samples", so.hex);
        if (st.hex[0])
            cJSON_AddStringToObject(arch, "state", st.hex);
    }
    runs_error_clear();
    if ((rc = runs__runlog_rebuild(&sess, node_id, 1)) || (rc = runs__runlog_open(&sess)))
        goto done;
    rc = runs__session_commit_node(&sess, kind, extra, 1);
    extra = NULL;
    if (rc || (rc = runs_head_set(s, o->run)))
        goto done;
    if (!o->quiet) {
        runs_session_event ev = {.kind = RUNS_EV_BRANCH,
                                 .node_kind = kind,
                                 .node = node_id,
                                 .step = sess.step,
                                 .changes = d,
                                 .n_changes = nd};
        runs__session_emit(&sess, &ev);
    }
    if (!o->no_train)
        rc = runs__session_train(&sess);
done:
    runs_diff_free(d, nd);
    cJSON_Delete(extra);
    cJSON_Delete(restart_patch);
    cJSON_Delete(m);
    return runs__session_finish(&sess, rc);
}
