/* tests/unit/test_plot.c — lineage → chart data: loss-log concatenation (later segments
 * win on overlap), EMA, fork/halt events, sibling runs from the step where their data
 * is their own (a descendant of a sibling from its own fork), ancestors faded, held-out
 * loss as its own series, one colour per run in every chart. */
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
    char a0[41], a10[41], a20[41], b10[41], b25[41], c0[41], c5[41], d25[41], d40[41];
    node(s, a0, "start", "a", 0, NULL, 0, 0);
    node_x(s, a10, "checkpoint", "a", 10, a0, 0, 0, ",\"eval_log\":[{\"step\":10,\"val_loss\":9.5,\"tokens\":0}]");
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
    /* d forks b at 25: drawn from 25 on, never over b's 10..25 */
    node(s, d25, "fork", "d", 25, b25, 25, 2);
    node(s, d40, "checkpoint", "d", 40, d25, 25, 2);
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
    assert_int_equal(d->n_siblings, 2); /* c is unrelated */
    assert_string_equal(d->siblings[0].run, "b");
    assert_int_equal(d->siblings[0].branch_step, 10);
    assert_int_equal(d->siblings[0].n, 25);
    assert_true(fabs(d->siblings[0].loss[24] - (10 - 2.4 + 1)) < 1e-12);
    /* d descends from b: drawn from its own fork at 25, not from where it leaves a
     * (10), which would redraw b's 10..25 over b */
    assert_string_equal(d->siblings[1].run, "d");
    assert_int_equal(d->siblings[1].branch_step, 25);
    /* events: a's halt (main), b's fork and d's fork, each once (b's fork node is on
     * d's lineage too) */
    int halt = 0, fork = 0;
    for (size_t i = 0; i < d->n_events; i++) {
        if (!strcmp(d->events[i].kind, "halt")) {
            halt++;
            assert_int_equal(d->events[i].sibling, -1);
            assert_int_equal(d->events[i].step, 20);
        }
        if (!strcmp(d->events[i].kind, "fork")) {
            fork++;
            assert_int_equal(d->events[i].sibling, d->events[i].run[0] == 'b' ? 0 : 1);
            assert_string_equal(d->events[i].run, d->events[i].sibling ? "d" : "b");
        }
    }
    assert_int_equal(halt, 1);
    assert_int_equal(fork, 2);
    assert_int_equal(d->n_events, 3);

    runs_buf b = {0};
    assert_int_equal(runs_plot_render(&b, d, RUNS_PLOT_ALL, 1), 0);
    assert_non_null(strstr(b.s, "fork b@step_10"));
    assert_non_null(strstr(b.s, "halt a@step_20"));
    assert_non_null(strstr(b.s, "b (EMA, from step 10)"));
    assert_non_null(strstr(b.s, "d (EMA, from step 25)"));
    assert_non_null(strstr(b.s, "a (held-out)")); /* its own series, from eval_log */
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

    /* from b's side: its own fork is an event on the main lineage, a and d are siblings */
    assert_int_equal(runs_plot_collect(&d, s, "b"), 0);
    assert_int_equal(d->main.n, 25);
    assert_int_equal(d->n_siblings, 2);
    assert_string_equal(d->siblings[0].run, "a");
    assert_int_equal(d->siblings[0].branch_step, 10);
    assert_int_equal(d->siblings[1].branch_step, 25);
    runs_plot_data_free(d);

    /* from d's side: its lineage passes a (to 10) and b (to 25), drawn faded in their
     * colours as ancestors; its own part from its fork on */
    assert_int_equal(runs_plot_collect(&d, s, "d"), 0);
    assert_int_equal(d->main.own_step, 25);
    assert_int_equal(d->main.n_stretch, 3);
    assert_string_equal(d->main.stretch[0].run, "a");
    assert_int_equal(d->main.stretch[0].to, 10);
    assert_string_equal(d->main.stretch[1].run, "b");
    assert_int_equal(d->main.stretch[1].to, 25);
    assert_int_equal(runs_plot_render(&b, d, RUNS_PLOT_LOSS, 1), 0);
    assert_non_null(strstr(b.s, "a (ancestor)"));
    assert_non_null(strstr(b.s, "b (ancestor)"));
    assert_non_null(strstr(b.s, "stroke-opacity=\"0.40\""));
    runs_buf_free(&b);
    runs_plot_data_free(d);

    assert_int_equal(runs_plot_collect(&d, s, "nope"), RUNS_ENOTFOUND);
    assert_null(d);
    runs_store_free(s);
}

/* The colour of run in d (main or a sibling); NULL when not drawn. */
static const char *color_in(const runs_plot_data *d, const char *run)
{
    if (!strcmp(d->main.run, run))
        return d->main.color;
    for (size_t i = 0; i < d->n_siblings; i++)
        if (!strcmp(d->siblings[i].run, run))
            return d->siblings[i].color;
    for (size_t i = 0; i < d->main.n_stretch; i++) /* an ancestor, drawn faded */
        if (!strcmp(d->main.stretch[i].run, run))
            return d->main.stretch[i].color;
    return NULL;
}

static void test_colors(void **state)
{
    /* a run keeps its colour across charts with different run sets */
    runs_store *s = NULL;
    assert_int_equal(runs_store_open(&s, dir), 0);
    runs_plot_data *da = NULL, *db = NULL, *dc = NULL;
    assert_int_equal(runs_plot_collect(&da, s, "a"), 0); /* a, b, d */
    assert_int_equal(runs_plot_collect(&db, s, "d"), 0); /* d, a; b as an ancestor */
    assert_int_equal(runs_plot_collect(&dc, s, "c"), 0); /* c alone */
    assert_int_equal(dc->n_siblings, 0);
    const char *runs[] = {"a", "b", "d"};
    for (int i = 0; i < 3; i++) {
        assert_non_null(color_in(da, runs[i]));
        assert_non_null(color_in(db, runs[i]));
        assert_string_equal(color_in(da, runs[i]), color_in(db, runs[i]));
        for (int j = 0; j < i; j++) /* and differs from the others' */
            assert_string_not_equal(color_in(da, runs[i]), color_in(da, runs[j]));
        assert_string_not_equal(color_in(da, runs[i]), dc->main.color);
    }
    /* the chart draws a run's lines in its colour: b's legend swatch */
    runs_buf b = {0};
    char want[64];
    assert_int_equal(runs_plot_render(&b, db, RUNS_PLOT_LR, 0), 0);
    snprintf(want, sizeof want, "stroke=\"%s\"", color_in(da, "b"));
    assert_non_null(strstr(b.s, want));
    assert_non_null(strstr(b.s, "width=\"100%\"")); /* inline: fluid, the page's width */
    runs_buf_free(&b);
    runs_plot_data_free(da);
    runs_plot_data_free(db);
    runs_plot_data_free(dc);
    runs_store_free(s);

    /* slots: distinct while there are colours, whatever the order of the names */
    const char *names[16], *rev[16];
    char buf[16][16];
    int slot[16], slot_rev[16];
    assert_int_equal(runs_svg_palette_size(), 16);
    for (int i = 0; i < 16; i++) {
        snprintf(buf[i], sizeof buf[i], "run-%d", i * 7);
        names[i] = buf[i];
        rev[15 - i] = buf[i];
    }
    assert_int_equal(runs_plot_color_slots(slot, names, 16), 0);
    assert_int_equal(runs_plot_color_slots(slot_rev, rev, 16), 0);
    for (int i = 0; i < 16; i++) {
        assert_int_equal(slot[i], slot_rev[15 - i]);
        for (int j = 0; j < i; j++)
            assert_int_not_equal(slot[i], slot[j]);
    }
    /* a name alone gets the same slot as among others it does not collide with */
    int one;
    assert_int_equal(runs_plot_color_slots(&one, names, 1), 0);
    int two[2];
    const char *pair[2] = {names[0], names[1]};
    assert_int_equal(runs_plot_color_slots(two, pair, 2), 0);
    if (two[1] != one)
        assert_int_equal(two[0], one);
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
        cmocka_unit_test(test_colors),
        cmocka_unit_test(test_append_overlap_and_errors),
        cmocka_unit_test(test_report),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
