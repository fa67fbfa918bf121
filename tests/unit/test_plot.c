/* tests/unit/test_plot.c — lineage → chart data: loss-log concatenation (later segments
 * win on overlap), EMA, fork/halt events, sibling runs from their branch step. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "manifests/canon.h"
#include "store/lineage.h"
#include "store/object.h"
#include "store/store.h"
#include "store/notes.h"
#include "tools/plot.h"
#include "tools/report.h"

static char root[64], dir[128];

/* A loss log for steps [from, to): loss = 10 - step/10 + run_offset. */
static void make_log(runs_store *s, char hex[65], long from, long to, double off)
{
    runs_buf b = {0};
    for (long t = from; t < to; t++)
        runs_buf_printf(&b, "{\"step\":%ld,\"loss\":%g,\"lr\":%g,\"grad_norm\":%g,\"source\":\"chat\"}\n", t,
                        10 - t / 10.0 + off, 1e-3 * (1 + off), 0.5 + t * 0.01);
    runs_oid oid;
    assert_int_equal(runs_object_put(&oid, s, b.s, b.len), 0);
    memcpy(hex, oid.hex, 65);
    runs_buf_free(&b);
}

static void node_x(runs_store *s, char id[41], const char *kind, const char *run, long step, const char *parent,
                   long log_from, double off, const char *extra)
{
    char log[65];
    make_log(s, log, log_from, step, off);
    char text[1024];
    snprintf(text, sizeof text,
             "{\"schema\":\"runs.manifest/1\",\"kind\":\"%s\",\"run\":\"%s\",\"step\":%ld,\"tokens\":0,"
             "\"parent\":%s%s%s,\"config\":{},\"tensors\":[],\"loss_log\":\"%s\"%s}",
             kind, run, step, parent ? "\"" : "", parent ? parent : "null", parent ? "\"" : "", log, extra);
    cJSON *m = NULL;
    assert_int_equal(runs_json_parse(&m, text, "test"), 0);
    int rc = runs_node_commit(id, s, m, NULL, 0);
    if (rc)
        fprintf(stderr, "%s\n", runs_error_message());
    assert_int_equal(rc, 0);
    cJSON_Delete(m);
}

static void node(runs_store *s, char id[41], const char *kind, const char *run, long step, const char *parent,
                 long log_from, double off)
{
    node_x(s, id, kind, run, step, parent, log_from, off, "");
}

static char a10_id[41];

static int setup(void **state)
{
    snprintf(root, sizeof root, "/tmp/runs-plot-XXXXXX");
    assert_non_null(mkdtemp(root));
    snprintf(dir, sizeof dir, "%s/.runs", root);
    assert_int_equal(runs_store_init(dir), 0);
    runs_store *s = NULL;
    assert_int_equal(runs_store_open(&s, dir), 0);
    char a0[41], a10[41], a20[41], b10[41], b25[41], c0[41], c5[41];
    node(s, a0, "start", "a", 0, NULL, 0, 0);
    node(s, a10, "checkpoint", "a", 10, a0, 0, 0);
    node(s, a20, "halt", "a", 20, a10, 10, 0);
    memcpy(a10_id, a10, 41);
    node_x(s, b10, "fork", "b", 10, a10, 10, 0,
           ",\"changes\":{\"config\":[{\"path\":\"optimizer.lr\",\"a\":0.001,\"b\":0.0005},"
           "{\"path\":\"data.sources.chat.cap\",\"a\":null,\"b\":0.4}]},"
           "\"metrics\":{\"loss\":9.1,\"coherence\":71.5}");
    cJSON *note = NULL;
    assert_int_equal(runs_json_parse(&note, "{\"sharpness\":{\"trace\":123.25,\"stderr\":4.5,\"samples\":50}}", "t"),
                     0);
    assert_int_equal(runs_note_merge(s, a10, note), 0);
    cJSON_Delete(note); /* empty segment: a fork records no steps */
    node(s, b25, "checkpoint", "b", 25, b10, 10, 1);
    node(s, c0, "start", "c", 0, NULL, 0, 5);
    node(s, c5, "checkpoint", "c", 5, c0, 0, 5);
    runs_store_free(s);
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd)) {
    }
    return 0;
}

static void test_collect_main_and_sibling(void **state)
{
    runs_store *s = NULL;
    assert_int_equal(runs_store_open(&s, dir), 0);
    runs_plot_data *d = NULL;
    assert_int_equal(runs_plot_collect(&d, s, "a"), 0);
    assert_int_equal(d->main.n, 20);
    for (size_t i = 0; i < 20; i++) {
        assert_int_equal(d->main.step[i], (long)i);
        assert_true(fabs(d->main.loss[i] - (10 - i / 10.0)) < 1e-12);
    }
    /* EMA: bias-corrected, so the first value is the first loss, and it lags a falling loss */
    assert_true(fabs(d->main.ema[0] - d->main.loss[0]) < 1e-12);
    assert_true(d->main.ema[19] > d->main.loss[19]);
    assert_int_equal(d->n_siblings, 1); /* c is unrelated */
    assert_string_equal(d->siblings[0].run, "b");
    assert_int_equal(d->siblings[0].branch_step, 10);
    assert_int_equal(d->siblings[0].n, 25);
    assert_true(fabs(d->siblings[0].loss[24] - (10 - 2.4 + 1)) < 1e-12);
    /* events: a's halt (main) and b's fork (sibling 0) */
    int halt = 0, fork = 0;
    for (size_t i = 0; i < d->n_events; i++) {
        if (!strcmp(d->events[i].kind, "halt")) {
            halt++;
            assert_int_equal(d->events[i].sibling, -1);
            assert_int_equal(d->events[i].step, 20);
        }
        if (!strcmp(d->events[i].kind, "fork")) {
            fork++;
            assert_int_equal(d->events[i].sibling, 0);
            assert_string_equal(d->events[i].run, "b");
        }
    }
    assert_int_equal(halt, 1);
    assert_int_equal(fork, 1);
    assert_int_equal(d->n_events, 2);

    runs_buf b = {0};
    assert_int_equal(runs_plot_render(&b, d, RUNS_PLOT_ALL, 1), 0);
    assert_non_null(strstr(b.s, "fork b@step_10"));
    assert_non_null(strstr(b.s, "halt a@step_20"));
    assert_non_null(strstr(b.s, "b (EMA, from step 10)"));
    int charts = 0;
    for (const char *p = b.s; (p = strstr(p, "<svg")); p++)
        charts++;
    assert_int_equal(charts, 4); /* the document + three charts */
    runs_buf_free(&b);
    assert_int_equal(runs_plot_render(&b, d, RUNS_PLOT_LR, 0), 0);
    assert_null(strstr(b.s, "xmlns"));
    assert_non_null(strstr(b.s, "learning rate"));
    assert_null(strstr(b.s, "gradient norm"));
    runs_buf_free(&b);
    runs_plot_data_free(d);

    /* from b's side: its own fork is an event on the main lineage, a is the sibling */
    assert_int_equal(runs_plot_collect(&d, s, "b"), 0);
    assert_int_equal(d->main.n, 25);
    assert_int_equal(d->n_siblings, 1);
    assert_string_equal(d->siblings[0].run, "a");
    assert_int_equal(d->siblings[0].branch_step, 10);
    runs_plot_data_free(d);

    assert_int_equal(runs_plot_collect(&d, s, "nope"), RUNS_ENOTFOUND);
    assert_null(d);
    runs_store_free(s);
}

static void test_append_overlap_and_errors(void **state)
{
    runs_plot_series sr = {0};
    const char *s1 = "{\"step\":0,\"loss\":3}\n{\"step\":1,\"loss\":2.5}\n{\"step\":2,\"loss\":2.4}\n";
    const char *s2 = "\n{\"step\":1,\"loss\":9,\"lr\":0.1}\n{\"step\":2,\"loss\":8}";
    assert_int_equal(runs_plot_series_append(&sr, s1, strlen(s1), "s1"), 0);
    assert_int_equal(runs_plot_series_append(&sr, s2, strlen(s2), "s2"), 0);
    assert_int_equal(sr.n, 3);
    assert_true(sr.loss[0] == 3 && sr.loss[1] == 9 && sr.loss[2] == 8);
    assert_true(isnan(sr.lr[0]) && sr.lr[1] == 0.1);
    runs_plot_series_finish(&sr);
    assert_true(sr.ema[0] == 3);
    const char *bad = "{\"loss\":1}\n";
    assert_int_equal(runs_plot_series_append(&sr, bad, strlen(bad), "bad.jsonl"), RUNS_ECORRUPT);
    assert_non_null(strstr(runs_error_message(), "bad.jsonl:1"));
    runs_plot_series_free(&sr);
}

static void test_report(void **state)
{
    runs_store *s = NULL;
    assert_int_equal(runs_store_open(&s, dir), 0);
    runs_buf b = {0};
    assert_int_equal(runs_report_html(&b, s, "a"), 0);
    assert_non_null(strstr(b.s, "<!DOCTYPE html>"));
    char pre[13];
    snprintf(pre, sizeof pre, "%.12s", a10_id);
    assert_non_null(strstr(b.s, pre));
    assert_non_null(strstr(b.s, "optimizer.lr"));
    assert_non_null(strstr(b.s, "data.sources.chat.cap"));
    assert_non_null(strstr(b.s, "123.2 ± 4.5"));
    assert_non_null(strstr(b.s, "71.5"));
    assert_non_null(strstr(b.s, "<svg"));
    assert_null(strstr(b.s, "<script"));
    assert_null(strstr(b.s, "http://")); /* nothing external (inline SVG needs no xmlns) */
    assert_null(strstr(b.s, "https://"));
    /* the halt of a is a gate event */
    assert_non_null(strstr(b.s, "<table class=\"gate\">"));

    /* Rendered by a real browser when one is installed (the CLI tests install it). */
    if (system("command -v chromium >/dev/null 2>&1") == 0) {
        char path[160], cmd[700];
        snprintf(path, sizeof path, "%s/r.html", root);
        FILE *f = fopen(path, "w");
        fwrite(b.s, 1, b.len, f);
        fclose(f);
        snprintf(cmd, sizeof cmd,
                 "chromium --headless --no-sandbox --disable-gpu --disable-background-networking "
                 "--disable-component-update --disable-sync --no-first-run --user-data-dir=%s/prof "
                 "--dump-dom file://%s 2>/dev/null > %s/dom.html",
                 root, path, root);
        if (system(cmd) == 0) {
            snprintf(path, sizeof path, "%s/dom.html", root);
            size_t len = 0;
            f = fopen(path, "r");
            char *dom = calloc(1, 1 << 22);
            len = fread(dom, 1, (1 << 22) - 1, f);
            fclose(f);
            printf("# chromium rendered %zu bytes of DOM\n", len);
            assert_non_null(strstr(dom, pre));
            assert_non_null(strstr(dom, "optimizer.lr"));
            assert_non_null(strstr(dom, "<svg"));
            free(dom);
        } else {
            printf("# SKIP chromium could not render the page\n");
        }
    } else {
        printf("# SKIP no chromium: browser rendering not checked\n");
    }
    runs_buf_free(&b);
    assert_int_equal(runs_report_html(&b, s, "nope"), RUNS_ENOTFOUND);
    runs_buf_free(&b);
    runs_store_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_collect_main_and_sibling),
        cmocka_unit_test(test_append_overlap_and_errors),
        cmocka_unit_test(test_report),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
