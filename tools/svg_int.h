/* tools/svg_int.h — what tools/svg.c and tools/svg_layout.c share: the chart's fields
 * and the layout (where each piece of text goes, so none covers another or the data). */
#ifndef RUNS_TOOLS_SVG_INT_H
#define RUNS_TOOLS_SVG_INT_H

#include <math.h>

#include "tools/svg.h"

typedef struct {
    char *name;
    char color[32];
    double *x, *y;
    size_t n;
    int dashed;
    double width, opacity;
} svg_series;

typedef struct {
    double x;
    char *label;
    char color[32];
} svg_marker;

struct runs_svg_chart {
    char *title, *xlabel, *ylabel;
    int width, height, log_y;
    svg_series *s;
    int ns;
    svg_marker *m;
    int nm;
};

/* font sizes and the left/right margins of the frame */
#define SVG_FONT 11.0
#define SVG_FONT_TITLE 14.0
#define SVG_FONT_LABEL 10.0
#define SVG_LEFT 72.0
#define SVG_RIGHT 16.0

/* A piece of text as placed: start x (text-anchor start), baseline y, width w; text
 * is what is written (cut with "…" when the whole did not fit); shown 0: no room. */
typedef struct {
    int shown;
    double x, y, w;
    char *text;
} svg_placed;

typedef struct {
    double px, py, pw, ph;            /* the plot frame */
    int height;                       /* of the whole chart */
    svg_placed title, xlabel, ylabel; /* ylabel: x, y is its centre (drawn rotated) */
    svg_placed *labels;               /* [nm], index-matched to the markers */
    int *label_row;                   /* [nm]: 0 is the row next to the frame */
    svg_placed *legend;               /* [ns], index-matched to the series */
    double legend_y, legend_h;        /* its background; legend_h 0: no legend */
} svg_layout;

/* the data's range and the plot frame in pixels, and the mappings into it */
typedef struct {
    double x0, x1, y0, y1; /* data range (y in log10 when log_y) */
    double px, py, pw, ph; /* plot frame in pixels */
    int log_y;
} frame;

static inline double fx(const frame *f, double x)
{
    return f->px + (x - f->x0) / (f->x1 - f->x0) * f->pw;
}

static inline double fy(const frame *f, double y)
{
    if (f->log_y)
        y = log10(y);
    return f->py + f->ph - (y - f->y0) / (f->y1 - f->y0) * f->ph;
}

static inline int y_ok(const frame *f, double y)
{
    return isfinite(y) && (!f->log_y || y > 0);
}

/* Lays c out: f gets the data range and the frame, L the text (free L with
 * svg_layout_free, also after a failure); *empty when no y value is drawable. */
int svg_lay_out(frame *f, svg_layout *L, int *empty, const runs_svg_chart *c);

/* The frame's left edge and width for a chart width (markers need it before layout). */
void svg_frame_x(const runs_svg_chart *c, double *px, double *pw);
/* Places the text of c; marker_px[i]: marker i's x in pixels (NaN: not drawn). 0 or
 * RUNS_ENOMEM. Free with svg_layout_free (also after a failure). */
int svg_layout_make(svg_layout *L, const runs_svg_chart *c, const double *marker_px);
void svg_layout_free(svg_layout *L, const runs_svg_chart *c);
/* The text box of a placed piece at font size px: ascent and descent of DejaVu Sans. */
void svg_text_box(const svg_placed *p, double px, double *x, double *y, double *w, double *h);

#endif
