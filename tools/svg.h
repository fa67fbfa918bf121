/* tools/svg.h — a tiny SVG line-chart writer, built on common/buf.h's string buffer.
 *
 * One chart = a plot frame with axes, "nice" ticks (1-2-5 steps, or decades on a
 * log axis), a title and axis labels, any number of line series (own colour,
 * optional dash and opacity, legend entry) and labelled vertical markers. Charts render
 * standalone (`<svg xmlns=...>`), nested at an offset inside a bigger SVG (several
 * charts stacked into one file), or fluid (width 100% of an HTML page, height from
 * the viewBox).
 * Nothing written covers the data or another piece of text: marker labels sit in a band
 * above the frame, each placed greedily in the first row where its box (estimated
 * from DejaVu Sans metrics, the widest common sans) overlaps no other; the legend
 * sits below the x axis on a background, wrapping into rows. Both grow the chart's
 * height (runs_svg_height), never its width; text too long for the width is cut
 * with "…". Classes for checking the layout in a browser: title, axis-label, frame,
 * marker-label, legend, legend-item.
 * Non-finite y values (and y <= 0 on a log axis) break a line instead of being drawn.
 * Everything is drawn by this file; the output references nothing external.
 */
#ifndef RUNS_TOOLS_SVG_H
#define RUNS_TOOLS_SVG_H

#include <stddef.h>

#include "common/buf.h"

typedef struct runs_svg_chart runs_svg_chart;

/* A new chart width×height pixels (<= 0: 720×300); the height is the chart without
 * its marker-label band and legend, which add to it. title/xlabel/ylabel may be
 * NULL; they are copied. Returns NULL on out-of-memory. Free with runs_svg_free. */
runs_svg_chart *runs_svg_new(const char *title, const char *xlabel, const char *ylabel, int width, int height);
void runs_svg_free(runs_svg_chart *c);

/* Log scale (base 10) on the y axis; values <= 0 are skipped. */
void runs_svg_set_log_y(runs_svg_chart *c, int on);

/* How a series is drawn. name NULL: no legend entry; color NULL: the next palette
 * colour; width <= 0: 1.5; opacity outside (0, 1]: 1. */
typedef struct {
    const char *name;
    const char *color;
    int dashed;
    double width;
    double opacity;
} runs_svg_style;

/* Adds a series of n points (x, y and the style's strings are copied). Returns 0 or
 * RUNS_ENOMEM/RUNS_EINVALID. */
int runs_svg_add_series_styled(runs_svg_chart *c, const runs_svg_style *st, const double *x, const double *y, size_t n);
/* The same, opaque: runs_svg_add_series_styled with {name, color, dashed, width, 1}. */
int runs_svg_add_series(runs_svg_chart *c, const char *name, const char *color, const double *x, const double *y,
                        size_t n, int dashed, double width);

/* A vertical line at x with a label above the frame (color NULL: grey). */
int runs_svg_add_marker(runs_svg_chart *c, double x, const char *label, const char *color);

/* The i-th palette colour (cycles through runs_svg_palette_size() distinct colours). */
const char *runs_svg_palette(int i);
int runs_svg_palette_size(void);

enum { RUNS_SVG_NESTED = 0, RUNS_SVG_STANDALONE = 1, RUNS_SVG_FLUID = 2 };

/* Appends the chart to b as an <svg> element. mode RUNS_SVG_NESTED: placed at (x, y)
 * inside an enclosing <svg>; RUNS_SVG_STANDALONE: a document element with the xmlns
 * attribute; RUNS_SVG_FLUID: for inlining in HTML, 100% of the container's width, the
 * height following from the viewBox (x, y unused). Returns 0 or RUNS_ENOMEM. */
int runs_svg_render(runs_buf *b, const runs_svg_chart *c, int x, int y, int mode);

/* The height in pixels the chart renders at: its height plus the label band and the
 * legend. 0 when out of memory. */
int runs_svg_height(const runs_svg_chart *c);

/* Chooses about `target` nice tick values covering [lo, hi] (1, 2, 5 × 10^k).
 * Writes up to max values into ticks; returns how many. Exposed for tests. */
int runs_svg_nice_ticks(double lo, double hi, int target, double *ticks, int max);

/* The width in pixels of text s (UTF-8) at font size px, estimated from DejaVu Sans
 * metrics (bold != 0: its bold face) and rounded up: what the layout reserves. */
double runs_svg_text_width(const char *s, double px, int bold);

/* The boxes of the chart's text and frame, in chart pixels, as the layout placed them
 * (text boxes span the font's ascent and descent): for tests that check nothing
 * overlaps without a browser. *out (malloc'd, caller frees) gets *n boxes. */
typedef struct {
    double x, y, w, h;
    const char *cls; /* one of the classes above */
} runs_svg_box;
int runs_svg_boxes(runs_svg_box **out, size_t *n, const runs_svg_chart *c);

#endif
