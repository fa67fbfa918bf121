/* tools/svg.h — a tiny SVG line-chart writer, built on common/buf.h's string buffer.
 *
 * One chart = a plot frame with axes, "nice" ticks (1-2-5 steps, or decades on a
 * log axis), a title and axis labels, any number of line series (own colour,
 * optional dash, legend entry) and labelled vertical markers. Charts render
 * standalone (`<svg xmlns=...>`) or nested at an offset inside a bigger SVG, so
 * several charts can be stacked into one file or inlined into HTML.
 * Non-finite y values (and y <= 0 on a log axis) break a line instead of being drawn.
 * Everything is drawn by this file; the output references nothing external.
 */
#ifndef RUNS_TOOLS_SVG_H
#define RUNS_TOOLS_SVG_H

#include <stddef.h>

#include "common/buf.h"

typedef struct runs_svg_chart runs_svg_chart;

/* A new chart width×height pixels (<= 0: 720×300). title/xlabel/ylabel may be
 * NULL; they are copied. Returns NULL on out-of-memory. Free with runs_svg_free. */
runs_svg_chart *runs_svg_new(const char *title, const char *xlabel, const char *ylabel, int width, int height);
void runs_svg_free(runs_svg_chart *c);

/* Log scale (base 10) on the y axis; values <= 0 are skipped. */
void runs_svg_set_log_y(runs_svg_chart *c, int on);

/* Adds a series of n points (x, y are copied). color: a CSS colour or NULL for the
 * next palette colour; dashed: draw dashed; width: stroke width (<= 0: 1.5).
 * name (may be NULL: no legend entry) is copied. Returns 0 or RUNS_ENOMEM/RUNS_EINVALID. */
int runs_svg_add_series(runs_svg_chart *c, const char *name, const char *color, const double *x, const double *y,
                        size_t n, int dashed, double width);

/* A vertical line at x with a label written along it (color NULL: grey). */
int runs_svg_add_marker(runs_svg_chart *c, double x, const char *label, const char *color);

/* The i-th palette colour (cycles), for callers that want to match colours. */
const char *runs_svg_palette(int i);

/* Appends the chart to b as an <svg> element placed at (x, y); standalone != 0 adds
 * the xmlns attribute and an XML-safe header-free document element. Returns 0 or
 * RUNS_ENOMEM. */
int runs_svg_render(runs_buf *b, const runs_svg_chart *c, int x, int y, int standalone);

/* Chooses about `target` nice tick values covering [lo, hi] (1, 2, 5 × 10^k).
 * Writes up to max values into ticks; returns how many. Exposed for tests. */
int runs_svg_nice_ticks(double lo, double hi, int target, double *ticks, int max);

#endif
