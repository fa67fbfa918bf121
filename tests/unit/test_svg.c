/* tests/unit/test_svg.c — the SVG chart writer: ticks, escaping, series, markers, log axis,
 * and a layout where no text leaves the chart, covers the data or overlaps other text
 * (by the writer's own width estimates; t7006 checks the same in Chromium). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/svg.h"

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void test_nice_ticks(void **state)
{
    double t[32];
    int n = runs_svg_nice_ticks(0, 1000, 5, t, 32);
    assert_int_equal(n, 6);
    assert_true(t[0] == 0 && t[1] == 200 && t[5] == 1000);
    n = runs_svg_nice_ticks(0.13, 0.87, 6, t, 32);
    assert_true(n >= 4 && n <= 9);
    for (int i = 0; i < n; i++) {
        assert_true(t[i] >= 0.13 - 1e-12 && t[i] <= 0.87 + 1e-12);
        if (i)
            assert_true(fabs((t[i] - t[i - 1]) - 0.1) < 1e-12);
    }
    n = runs_svg_nice_ticks(5, 5, 5, t, 32);
    assert_int_equal(n, 1);
    n = runs_svg_nice_ticks(-3, 3, 6, t, 32);
    int zero = 0;
    for (int i = 0; i < n; i++)
        zero |= t[i] == 0.0;
    assert_true(zero);
    assert_int_equal(runs_svg_nice_ticks(NAN, 1, 5, t, 32), 0);
}

static void test_escape(void **state)
{
    runs_buf b = {0};
    assert_int_equal(runs_buf_put_escaped(&b, "a<b>&\"c'\x01"), 0);
    assert_string_equal(b.s, "a&lt;b&gt;&amp;&quot;c&#39;\xef\xbf\xbd");
    runs_buf_free(&b);
    assert_int_equal(runs_buf_printf(&b, "%d-%s", 42, "x"), 0);
    assert_string_equal(b.s, "42-x");
    runs_buf_free(&b);
}

static void test_chart(void **state)
{
    runs_svg_chart *c = runs_svg_new("loss <raw>", "step", "loss", 600, 250);
    assert_non_null(c);
    double x[5] = {0, 1, 2, 3, 4}, y[5] = {5, 4, NAN, 2, 1}, y2[5] = {4, 3, 2, 1.5, 1};
    assert_int_equal(runs_svg_add_series(c, "raw", NULL, x, y, 5, 0, 0), 0);
    assert_int_equal(runs_svg_add_series(c, "ema", "#000", x, y2, 5, 1, 2), 0);
    assert_int_equal(runs_svg_add_marker(c, 2, "fork polish", "red\"/><script>"), 0);
    runs_buf b = {0};
    assert_int_equal(runs_svg_render(&b, c, 0, 0, 1), 0);
    assert_non_null(strstr(b.s, "xmlns=\"http://www.w3.org/2000/svg\""));
    assert_non_null(strstr(b.s, "loss &lt;raw&gt;"));
    assert_non_null(strstr(b.s, "fork polish"));
    assert_null(strstr(b.s, "<script>"));
    assert_int_equal(count(b.s, "class=\"series\""), 2);
    assert_int_equal(count(b.s, "class=\"marker\""), 1);
    /* the NaN breaks the raw line: two "M" moves in its path */
    const char *p = strstr(b.s, "class=\"series\"");
    const char *d = strstr(p, " d=\"");
    const char *end = strchr(d + 4, '"');
    int moves = 0;
    for (const char *q = d + 4; q < end; q++)
        moves += *q == 'M';
    assert_int_equal(moves, 2);
    assert_non_null(strstr(b.s, "stroke-dasharray=\"6 4\""));
    assert_int_equal(count(b.s, "<svg"), count(b.s, "</svg>"));
    runs_buf_free(&b);
    /* nested (not standalone) has no xmlns, keeps the offset */
    assert_int_equal(runs_svg_render(&b, c, 0, 300, 0), 0);
    assert_null(strstr(b.s, "xmlns"));
    assert_non_null(strstr(b.s, "y=\"300\""));
    runs_buf_free(&b);
    runs_svg_free(c);
}

static void test_log_and_empty(void **state)
{
    runs_svg_chart *c = runs_svg_new("lr", "step", "lr", 0, 0);
    double x[4] = {0, 1, 2, 3}, y[4] = {1e-4, 0, 1e-2, 3e-3};
    runs_svg_set_log_y(c, 1);
    assert_int_equal(runs_svg_add_series(c, "lr", NULL, x, y, 4, 0, 0), 0);
    runs_buf b = {0};
    assert_int_equal(runs_svg_render(&b, c, 0, 0, 1), 0);
    assert_non_null(strstr(b.s, "log scale"));
    assert_non_null(strstr(b.s, ">0.0001<"));
    assert_non_null(strstr(b.s, ">0.01<"));
    assert_null(strstr(b.s, "nan"));
    assert_null(strstr(b.s, "inf"));
    runs_buf_free(&b);
    runs_svg_free(c);

    c = runs_svg_new(NULL, NULL, NULL, 0, 0);
    assert_int_equal(runs_svg_render(&b, c, 0, 0, 1), 0);
    assert_non_null(strstr(b.s, "no data"));
    runs_buf_free(&b);
    runs_svg_free(c);
}

static void test_decimation(void **state)
{
    size_t n = 200000;
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++) {
        x[i] = (double)i;
        y[i] = sin(i * 0.001) + (i % 7) * 0.01;
    }
    runs_svg_chart *c = runs_svg_new("big", NULL, NULL, 700, 300);
    assert_int_equal(runs_svg_add_series(c, NULL, NULL, x, y, n, 0, 0), 0);
    runs_buf b = {0};
    assert_int_equal(runs_svg_render(&b, c, 0, 0, 1), 0);
    assert_true(b.len < 200000); /* ~4 points per pixel column, not 200k */
    runs_buf_free(&b);
    runs_svg_free(c);
    free(x);
    free(y);
}

static int overlap(const runs_svg_box *a, const runs_svg_box *b)
{
    return fmin(a->x + a->w, b->x + b->w) > fmax(a->x, b->x) && fmin(a->y + a->h, b->y + b->h) > fmax(a->y, b->y);
}

/* Checks c's boxes: inside width × height, text off the frame and off each other;
 * returns how many boxes of class cls there are. */
static int check_boxes(const runs_svg_chart *c, int width, const char *cls)
{
    runs_svg_box *v = NULL;
    size_t n = 0;
    int h = runs_svg_height(c), count = 0;
    assert_int_equal(runs_svg_boxes(&v, &n, c), 0);
    const runs_svg_box *frame = NULL;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i].cls, "frame"))
            frame = &v[i];
    assert_non_null(frame);
    for (size_t i = 0; i < n; i++) {
        count += !strcmp(v[i].cls, cls);
        if (v[i].x < 0 || v[i].y < 0 || v[i].x + v[i].w > width || v[i].y + v[i].h > h)
            fail_msg("%s box at %.1f,%.1f %.1fx%.1f leaves the %dx%d chart", v[i].cls, v[i].x, v[i].y, v[i].w, v[i].h,
                     width, h);
        if (&v[i] == frame)
            continue;
        if (overlap(&v[i], frame))
            fail_msg("%s box at %.1f,%.1f covers the plot area", v[i].cls, v[i].x, v[i].y);
        for (size_t j = 0; j < i; j++) {
            int bg = !strcmp(v[i].cls, "legend") || !strcmp(v[j].cls, "legend");
            int item = !strcmp(v[i].cls, "legend-item") || !strcmp(v[j].cls, "legend-item");
            if (&v[j] != frame && !(bg && item) && overlap(&v[i], &v[j]))
                fail_msg("%s box at %.1f,%.1f overlaps %s at %.1f,%.1f", v[i].cls, v[i].x, v[i].y, v[j].cls, v[j].x,
                         v[j].y);
        }
    }
    free(v);
    return count;
}

static void test_layout(void **state)
{
    /* eight long-named series, six markers at one x, one at the right edge */
    runs_svg_chart *c = runs_svg_new("a title long enough to need cutting when the chart is narrow, "
                                     "which it is not here",
                                     "step", "loss", 760, 300);
    double x[3] = {0, 50, 100}, y[3] = {3, 2, 1};
    int plain = runs_svg_height(c);
    assert_int_equal(plain, 300);
    for (int i = 0; i < 8; i++) {
        char name[64];
        snprintf(name, sizeof name, "fork-experiment-%d (EMA, WWW)", i);
        runs_svg_style st = {name, runs_svg_palette(i), i % 2, 2, i ? 1 : 0.4};
        assert_int_equal(runs_svg_add_series_styled(c, &st, x, y, 3), 0);
    }
    for (int i = 0; i < 6; i++) {
        char label[64];
        snprintf(label, sizeof label, "fork fork-experiment-%d@step_30", i);
        assert_int_equal(runs_svg_add_marker(c, 30, label, runs_svg_palette(i)), 0);
    }
    assert_int_equal(runs_svg_add_marker(c, 100, "halt fork-experiment-7@step_100", "#b00000"), 0);
    assert_int_equal(check_boxes(c, 760, "marker-label"), 7); /* every label placed */
    assert_int_equal(check_boxes(c, 760, "legend-item"), 8);
    assert_true(runs_svg_height(c) > plain); /* the band and the legend grow the chart */
    runs_buf b = {0};
    assert_int_equal(runs_svg_render(&b, c, 0, 0, RUNS_SVG_STANDALONE), 0);
    char want[64];
    snprintf(want, sizeof want, "height=\"%d\" viewBox=\"0 0 760 %d\"", runs_svg_height(c), runs_svg_height(c));
    assert_non_null(strstr(b.s, want));
    assert_non_null(strstr(b.s, "stroke-opacity=\"0.40\""));
    assert_int_equal(count(b.s, "class=\"marker-label\""), 7);
    assert_int_equal(count(b.s, "class=\"legend-item\""), 8);
    runs_buf_free(&b);
    /* fluid: the container's width, the height from the viewBox */
    assert_int_equal(runs_svg_render(&b, c, 0, 0, RUNS_SVG_FLUID), 0);
    assert_non_null(strstr(b.s, "width=\"100%\""));
    assert_null(strstr(b.s, "xmlns"));
    runs_buf_free(&b);
    runs_svg_free(c);

    /* a narrow chart: text is cut with "…" to stay inside, a label too wide is dropped
     * to a tooltip rather than drawn outside */
    c = runs_svg_new("a title long enough to need cutting when the chart is narrow", "step", "a long y axis label", 200,
                     200);
    assert_int_equal(runs_svg_add_series(c, "a legend entry far wider than two hundred pixels", NULL, x, y, 3, 0, 0),
                     0);
    assert_int_equal(runs_svg_add_marker(c, 50, "a marker label far wider than two hundred pixels", NULL), 0);
    check_boxes(c, 200, "title");
    assert_int_equal(runs_svg_render(&b, c, 0, 0, RUNS_SVG_STANDALONE), 0);
    assert_non_null(strstr(b.s, "\xe2\x80\xa6</text>"));
    runs_buf_free(&b);
    runs_svg_free(c);
}

static void test_label_overflow(void **state)
{
    /* 20 labels at one x: 8 rows, each with a label right and left of the line, hold 16;
     * the other 4 keep their line, with the label as a tooltip, and nothing overlaps */
    runs_svg_chart *c = runs_svg_new("crowded", "step", "loss", 760, 300);
    double x[2] = {0, 100}, y[2] = {2, 1};
    assert_int_equal(runs_svg_add_series(c, "a", NULL, x, y, 2, 0, 0), 0);
    for (int i = 0; i < 20; i++) {
        char label[32];
        snprintf(label, sizeof label, "fork run-%02d@step_50", i);
        assert_int_equal(runs_svg_add_marker(c, 50, label, NULL), 0);
    }
    assert_int_equal(check_boxes(c, 760, "marker-label"), 16);
    runs_buf b = {0};
    assert_int_equal(runs_svg_render(&b, c, 0, 0, RUNS_SVG_STANDALONE), 0);
    assert_int_equal(count(b.s, "class=\"marker\""), 20);
    assert_int_equal(count(b.s, "<title>fork run-"), 4);
    runs_buf_free(&b);
    runs_svg_free(c);
}

static void test_text_width(void **state)
{
    double w = runs_svg_text_width("fork run@step_30", 10, 0);
    assert_true(w > 60 && w < 140);
    assert_true(runs_svg_text_width("fork run@step_30", 10, 1) > w);
    assert_true(runs_svg_text_width("fork run@step_30", 20, 0) > 1.9 * w);
    assert_true(runs_svg_text_width("WWW", 10, 0) > runs_svg_text_width("iii", 10, 0));
    /* one wide character per UTF-8 sequence, not one per byte */
    assert_true(runs_svg_text_width("\xe2\x80\x94", 10, 0) < runs_svg_text_width("WWW", 10, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nice_ticks),     cmocka_unit_test(test_escape),     cmocka_unit_test(test_chart),
        cmocka_unit_test(test_log_and_empty),  cmocka_unit_test(test_decimation), cmocka_unit_test(test_layout),
        cmocka_unit_test(test_label_overflow), cmocka_unit_test(test_text_width),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
