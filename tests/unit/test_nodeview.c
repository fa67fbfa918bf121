/* tests/unit/test_nodeview.c — runner/nodeview.h: what a fork or restart changed,
 * for the node itself (recorded list, or computed against its parent's config when
 * not recorded), for a checkpoint up its run ("at"), none for a run started from
 * scratch, an unreadable parent; and runs_nodeview_open. Also runner/linewalk.h
 * through the two histories built on it (.eval.json rows, .loss.json segments); the
 * bandit arm states and the per-group tensor summary `runs show` prints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "runner/eval.h"
#include "runner/nodeview.h"
#include "runner/runlog.h"
#include "store_test_util.h"

static const cJSON *get(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

static cJSON *mget(cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

/* Commits manifest m (consumed) with the synthetic tensors; returns its id in id. */
static void commit(char id[41], runs_store *s, cJSON *m, uint32_t seed)
{
    runs_tensor t[6];
    float buf[3 * 96];
    make_tensors(t, buf, seed);
    int rc = runs_node_commit(id, s, m, t, 6);
    if (rc)
        fprintf(stderr, "commit: %s\n", runs_error_message());
    assert_int_equal(rc, 0);
    cJSON_Delete(m);
}

static cJSON *node(runs_store *s, const char *id)
{
    cJSON *m = NULL;
    assert_int_equal(runs_node_manifest(&m, s, id), 0);
    return m;
}

/* one config change as the list holds it: path, and the numbers on each side */
static void assert_change(const cJSON *e, const char *path, double a, double b)
{
    assert_string_equal(cJSON_GetStringValue(get(e, "path")), path);
    assert_true(cJSON_IsNumber(get(e, "a")) && cJSON_IsNumber(get(e, "b")));
    assert_true(get(e, "a")->valuedouble == a);
    assert_true(get(e, "b")->valuedouble == b);
}

static void test_changes(void **state)
{
    (void)state;
    scratch x;
    char root[41], ck[41], fk[41], fk2[41], tip[41], id[41];
    scratch_open(&x);
    commit(root, x.s, make_manifest("start", "main", 0, NULL), 1);
    commit(ck, x.s, make_manifest("checkpoint", "main", 100, root), 2);
    /* a fork that recorded its changes */
    cJSON *m = make_manifest("fork", "polish", 100, ck);
    cJSON_SetNumberValue(mget(mget(mget(m, "config"), "optimizer"), "lr"), 1e-4);
    cJSON *ch = cJSON_AddObjectToObject(m, "changes");
    cJSON_AddStringToObject(ch, "from_run", "main");
    cJSON_AddFalseToObject(ch, "bandit_kept");
    cJSON_AddNumberToObject(ch, "peak_lr", 1e-4);
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "path", "optimizer.lr");
    cJSON_AddNumberToObject(e, "a", 4e-4);
    cJSON_AddNumberToObject(e, "b", 1e-4);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(ch, "config"), e);
    commit(fk, x.s, m, 3);
    commit(tip, x.s, make_manifest("checkpoint", "polish", 200, fk), 4);
    /* a restart written before changes were recorded: computed against its parent */
    m = make_manifest("restart", "again", 100, ck);
    cJSON_SetNumberValue(mget(mget(mget(m, "config"), "optimizer"), "lr"), 2e-4);
    cJSON_AddNumberToObject(mget(m, "config"), "seed", 7);
    commit(fk2, x.s, m, 5);

    cJSON *out = (cJSON *)1, *n;
    /* a run started from scratch: nothing, at its root and at a checkpoint */
    n = node(x.s, root);
    assert_int_equal(runs_nodeview_changes(&out, x.s, n), 0);
    assert_null(out);
    cJSON_Delete(n);
    n = node(x.s, ck);
    assert_int_equal(runs_nodeview_changes(&out, x.s, n), 0);
    assert_null(out);
    cJSON_Delete(n);

    /* the fork node itself: its recorded list, no "at" */
    n = node(x.s, fk);
    assert_int_equal(runs_nodeview_changes(&out, x.s, n), 0);
    assert_non_null(out);
    assert_string_equal(cJSON_GetStringValue(get(out, "kind")), "fork");
    assert_string_equal(cJSON_GetStringValue(get(out, "from_run")), "main");
    assert_null(get(out, "at"));
    assert_true(cJSON_IsFalse(get(out, "bandit_kept")));
    assert_true(get(out, "peak_lr")->valuedouble == 1e-4);
    assert_null(get(out, "config_unreadable"));
    assert_int_equal(cJSON_GetArraySize(get(out, "config")), 1);
    assert_change(cJSON_GetArrayItem(get(out, "config"), 0), "optimizer.lr", 4e-4, 1e-4);
    cJSON_Delete(out);
    cJSON_Delete(n);

    /* a checkpoint of the forked run: the same changes, and where the fork was */
    n = node(x.s, tip);
    assert_int_equal(runs_nodeview_changes(&out, x.s, n), 0);
    assert_non_null(out);
    assert_string_equal(cJSON_GetStringValue(get(out, "at")), "polish@step_100");
    assert_int_equal(cJSON_GetArraySize(get(out, "config")), 1);
    cJSON_Delete(out);
    cJSON_Delete(n);

    /* unrecorded: the diff against the parent's config, sorted by path; the side
     * that lacks a path has no "a"/"b" */
    n = node(x.s, fk2);
    assert_int_equal(runs_nodeview_changes(&out, x.s, n), 0);
    assert_non_null(out);
    assert_string_equal(cJSON_GetStringValue(get(out, "kind")), "restart");
    assert_null(get(out, "from_run"));
    assert_null(get(out, "bandit_kept"));
    assert_int_equal(cJSON_GetArraySize(get(out, "config")), 2);
    assert_change(cJSON_GetArrayItem(get(out, "config"), 0), "optimizer.lr", 4e-4, 2e-4);
    const cJSON *seed = cJSON_GetArrayItem(get(out, "config"), 1);
    assert_string_equal(cJSON_GetStringValue(get(seed, "path")), "seed");
    assert_null(get(seed, "a"));
    assert_true(get(seed, "b")->valuedouble == 7);
    cJSON_Delete(out);

    /* ... and when the parent cannot be read: marked, an empty list, no error */
    cJSON_ReplaceItemInObject(n, "parent", cJSON_CreateString("0123456789012345678901234567890123456789"));
    assert_int_equal(runs_nodeview_changes(&out, x.s, n), 0);
    assert_non_null(out);
    assert_true(cJSON_IsTrue(get(out, "config_unreadable")));
    assert_int_equal(cJSON_GetArraySize(get(out, "config")), 0);
    cJSON_Delete(out);
    cJSON_Delete(n);

    /* open: a spec to its id and manifest; a bad spec leaves *m NULL */
    assert_int_equal(runs_nodeview_open(id, &n, x.s, "polish@step_200"), 0);
    assert_string_equal(id, tip);
    assert_true(get(n, "step")->valuedouble == 200);
    cJSON_Delete(n);
    n = (cJSON *)1;
    assert_int_equal(runs_nodeview_open(id, &n, x.s, "nosuch@step_3"), RUNS_ENOTFOUND);
    assert_null(n);
    scratch_close(&x);
}

/* eval_log rows [{step, val_loss, tokens}] for m */
static void add_eval(cJSON *m, long step, double v)
{
    cJSON *a = mget(m, "eval_log");
    if (!a)
        a = cJSON_AddArrayToObject(m, "eval_log");
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "step", (double)step);
    cJSON_AddNumberToObject(r, "val_loss", v);
    cJSON_AddNumberToObject(r, "tokens", 64);
    cJSON_AddItemToArray(a, r);
}

static void test_histories(void **state)
{
    (void)state;
    scratch x;
    char a[41], b[41], c[41], hex[2][65];
    scratch_open(&x);
    const char *seg[2] = {"{\"step\":0,\"loss\":5}\n", "{\"step\":1,\"loss\":4}\n"};
    for (int i = 0; i < 2; i++) {
        runs_oid oid;
        assert_int_equal(runs_object_put(&oid, x.s, seg[i], strlen(seg[i])), 0);
        memcpy(hex[i], oid.hex, 65);
    }
    cJSON *m = make_manifest("start", "main", 0, NULL);
    commit(a, x.s, m, 1);
    m = make_manifest("checkpoint", "main", 1, a);
    cJSON_ReplaceItemInObject(m, "loss_log", cJSON_CreateString(hex[0]));
    add_eval(m, 1, 3.5);
    commit(b, x.s, m, 2);
    m = make_manifest("checkpoint", "main", 2, b);
    cJSON_ReplaceItemInObject(m, "loss_log", cJSON_CreateString(hex[1]));
    add_eval(m, 1, 9.0); /* not past the last row: skipped */
    add_eval(m, 2, 3.25);
    commit(c, x.s, m, 3);

    char *out = NULL;
    size_t len = 0;
    assert_int_equal(runs_runlog_loss_history(&out, &len, x.s, c), 0);
    assert_string_equal(out, "{\"step\":0,\"loss\":5}\n{\"step\":1,\"loss\":4}\n");
    assert_int_equal(len, strlen(out));
    free(out);
    assert_int_equal(runs_eval_lineage_log(&out, &len, x.s, c), 0);
    assert_string_equal(out, "{\"step\":1,\"val_loss\":3.5,\"tokens\":64}\n"
                             "{\"step\":2,\"val_loss\":3.25,\"tokens\":64}\n");
    free(out);
    /* a root with nothing logged: "" (never NULL) */
    out = NULL;
    assert_int_equal(runs_eval_lineage_log(&out, &len, x.s, a), 0);
    assert_non_null(out);
    assert_int_equal(len, 0);
    free(out);
    /* a node that is not there: the walk's error, nothing handed out */
    out = NULL;
    assert_true(runs_runlog_loss_history(&out, &len, x.s, "0123456789012345678901234567890123456789") != 0);
    assert_null(out);
    scratch_close(&x);
}

static void test_arm_state(void **state)
{
    (void)state;
    cJSON *cfg =
        cJSON_Parse("{\"data\": {\"sources\": {\"prose\": {}, \"chat\": {\"cap\": 0}, \"code\": {\"cap\": 0.5},"
                    " \"lists\": {}}, \"exclude\": [\"lists\"]}}");
    assert_non_null(cfg);
    assert_string_equal(runs_nodeview_arm_state(cfg, "prose"), "active");
    assert_string_equal(runs_nodeview_arm_state(cfg, "code"), "active");
    assert_string_equal(runs_nodeview_arm_state(cfg, "chat"), "off (cap 0)");
    assert_string_equal(runs_nodeview_arm_state(cfg, "lists"), "excluded");
    assert_string_equal(runs_nodeview_arm_state(cfg, "gone"), "dropped (not in config)");
    assert_string_equal(runs_nodeview_arm_state(NULL, "prose"), "dropped (not in config)");
    cJSON_Delete(cfg);
}

static void test_tensor_groups(void **state)
{
    (void)state;
    cJSON *m = cJSON_Parse("{\"tensors\": ["
                           "{\"group\": \"weights\", \"dtype\": \"f32\", \"bytes\": 100},"
                           "{\"group\": \"adam_m\", \"dtype\": \"f32\", \"bytes\": 10},"
                           "{\"group\": \"weights\", \"dtype\": \"bf16\", \"bytes\": 50},"
                           "{\"group\": \"weights\", \"dtype\": \"f32\"},"
                           "{\"dtype\": \"f32\", \"bytes\": 7}]}");
    cJSON *g = NULL;
    int count = 0;
    double bytes = 0;
    assert_int_equal(runs_nodeview_tensor_groups(&g, &count, &bytes, m), 0);
    assert_int_equal(count, 5);
    assert_true(bytes == 167);
    /* groups in order of first appearance; the groupless tensor is in the totals only */
    assert_int_equal(cJSON_GetArraySize(g), 2);
    const cJSON *w = cJSON_GetArrayItem(g, 0), *a = cJSON_GetArrayItem(g, 1);
    assert_string_equal(w->string, "weights");
    assert_string_equal(a->string, "adam_m");
    assert_true(get(w, "n")->valuedouble == 3 && get(w, "bytes")->valuedouble == 150);
    assert_true(get(a, "n")->valuedouble == 1 && get(a, "bytes")->valuedouble == 10);
    assert_int_equal(cJSON_GetArraySize(get(w, "dtypes")), 2);
    assert_string_equal(cJSON_GetArrayItem(get(w, "dtypes"), 0)->valuestring, "f32");
    assert_string_equal(cJSON_GetArrayItem(get(w, "dtypes"), 1)->valuestring, "bf16");
    cJSON_Delete(g);
    cJSON_Delete(m);
    /* no tensors: an empty object, zero totals */
    m = cJSON_CreateObject();
    assert_int_equal(runs_nodeview_tensor_groups(&g, &count, &bytes, m), 0);
    assert_int_equal(count, 0);
    assert_int_equal(cJSON_GetArraySize(g), 0);
    cJSON_Delete(g);
    cJSON_Delete(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_changes),
        cmocka_unit_test(test_histories),
        cmocka_unit_test(test_arm_state),
        cmocka_unit_test(test_tensor_groups),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
