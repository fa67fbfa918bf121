/* tests/unit/test_svg.c — the SVG chart writer: ticks, escaping, series, markers, log axis. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nice_ticks),    cmocka_unit_test(test_escape),     cmocka_unit_test(test_chart),
        cmocka_unit_test(test_log_and_empty), cmocka_unit_test(test_decimation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
