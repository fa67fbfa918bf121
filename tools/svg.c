/* tools/svg.c — the SVG line-chart writer of tools/svg.h. */
#include "tools/svg.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

/* ---- chart ---- */

typedef struct {
    char *name;
    char color[32];
    double *x, *y;
    size_t n;
    int dashed;
    double width;
} series;

typedef struct {
    double x;
    char *label;
    char color[32];
} marker;

struct runs_svg_chart {
    char *title, *xlabel, *ylabel;
    int width, height, log_y;
    series *s;
    int ns;
    marker *m;
    int nm;
};

static const char *palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"};

const char *runs_svg_palette(int i)
{
    int n = (int)(sizeof palette / sizeof *palette);
    return palette[((i % n) + n) % n];
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

runs_svg_chart *runs_svg_new(const char *title, const char *xlabel, const char *ylabel, int width, int height)
{
    runs_svg_chart *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->width = width > 0 ? width : 720;
    c->height = height > 0 ? height : 300;
    c->title = dup_or_null(title);
    c->xlabel = dup_or_null(xlabel);
    c->ylabel = dup_or_null(ylabel);
    if ((title && !c->title) || (xlabel && !c->xlabel) || (ylabel && !c->ylabel)) {
        runs_svg_free(c);
        return NULL;
    }
    return c;
}

void runs_svg_free(runs_svg_chart *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->ns; i++) {
        free(c->s[i].name);
        free(c->s[i].x);
        free(c->s[i].y);
    }
    for (int i = 0; i < c->nm; i++)
        free(c->m[i].label);
    free(c->s);
    free(c->m);
    free(c->title);
    free(c->xlabel);
    free(c->ylabel);
    free(c);
}

void runs_svg_set_log_y(runs_svg_chart *c, int on)
{
    c->log_y = on != 0;
}

static void set_color(char dst[32], const char *color, const char *fallback)
{
    snprintf(dst, 32, "%s", color && *color ? color : fallback);
    /* A colour goes into an attribute: keep only characters a CSS colour uses. */
    for (char *p = dst; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '#' || *p == '(' || *p == ')' || *p == ',' || *p == '.' ||
              *p == ' ' || *p == '%'))
            *p = '_';
}

int runs_svg_add_series(runs_svg_chart *c, const char *name, const char *color, const double *x, const double *y,
                        size_t n, int dashed, double width)
{
    if (n && (!x || !y))
        return runs_error_set(RUNS_EINVALID, "svg series \"%s\": %zu points but no data", name ? name : "", n);
    series *grown = realloc(c->s, (size_t)(c->ns + 1) * sizeof *c->s);
    if (!grown)
        return runs_error_set(RUNS_ENOMEM, "out of memory adding a chart series");
    c->s = grown;
    series *s = &c->s[c->ns];
    memset(s, 0, sizeof *s);
    s->name = dup_or_null(name);
    s->x = malloc((n ? n : 1) * sizeof(double));
    s->y = malloc((n ? n : 1) * sizeof(double));
    if ((name && !s->name) || !s->x || !s->y) {
        free(s->name);
        free(s->x);
        free(s->y);
        return runs_error_set(RUNS_ENOMEM, "out of memory copying %zu chart points", n);
    }
    if (n) {
        memcpy(s->x, x, n * sizeof(double));
        memcpy(s->y, y, n * sizeof(double));
    }
    s->n = n;
    s->dashed = dashed;
    s->width = width > 0 ? width : 1.5;
    set_color(s->color, color, runs_svg_palette(c->ns));
    c->ns++;
    return 0;
}

int runs_svg_add_marker(runs_svg_chart *c, double x, const char *label, const char *color)
{
    marker *grown = realloc(c->m, (size_t)(c->nm + 1) * sizeof *c->m);
    if (!grown)
        return runs_error_set(RUNS_ENOMEM, "out of memory adding a chart marker");
    c->m = grown;
    marker *m = &c->m[c->nm];
    m->x = x;
    m->label = dup_or_null(label);
    if (label && !m->label)
        return runs_error_set(RUNS_ENOMEM, "out of memory adding a chart marker");
    set_color(m->color, color, "#888888");
    c->nm++;
    return 0;
}

int runs_svg_nice_ticks(double lo, double hi, int target, double *ticks, int max)
{
    if (!isfinite(lo) || !isfinite(hi) || max <= 0)
        return 0;
    if (hi < lo) {
        double t = lo;
        lo = hi;
        hi = t;
    }
    if (target < 2)
        target = 2;
    double span = hi - lo;
    if (span <= 0) {
        ticks[0] = lo;
        return 1;
    }
    double raw = span / target;
    double mag = pow(10, floor(log10(raw)));
    double f = raw / mag, step;
    if (f < 1.5)
        step = 1 * mag;
    else if (f < 3.5)
        step = 2 * mag;
    else if (f < 7.5)
        step = 5 * mag;
    else
        step = 10 * mag;
    int n = 0;
    for (double k = ceil(lo / step - 1e-9); n < max; k++) {
        double v = k * step;
        if (v > hi + step * 1e-9)
            break;
        ticks[n++] = fabs(v) < step * 1e-9 ? 0.0 : v;
    }
    return n;
}

/* Short tick label: integers plainly, else %g with 3 significant digits. */
static void fmt_num(char *dst, size_t n, double v)
{
    if (v == floor(v) && fabs(v) < 1e7)
        snprintf(dst, n, "%.0f", v);
    else
        snprintf(dst, n, "%.3g", v);
}

typedef struct {
    double x0, x1, y0, y1; /* data range (y in log10 when log_y) */
    double px, py, pw, ph; /* plot frame in pixels */
    int log_y;
} frame;

static double fx(const frame *f, double x)
{
    return f->px + (x - f->x0) / (f->x1 - f->x0) * f->pw;
}

static double fy(const frame *f, double y)
{
    if (f->log_y)
        y = log10(y);
    return f->py + f->ph - (y - f->y0) / (f->y1 - f->y0) * f->ph;
}

static int y_ok(const frame *f, double y)
{
    return isfinite(y) && (!f->log_y || y > 0);
}

/* One path per series; consecutive points that land in the same pixel column are
 * reduced to their first, min, max and last, so 100k-step logs stay small. */
static int render_series(runs_buf *b, const frame *f, const series *s)
{
    int rc = runs_buf_printf(b, "<path class=\"series\" fill=\"none\" stroke=\"%s\" stroke-width=\"%.2f\"%s d=\"",
                             s->color, s->width, s->dashed ? " stroke-dasharray=\"6 4\"" : "");
    int pen_down = 0;
    size_t i = 0;
    while (!rc && i < s->n) {
        if (!isfinite(s->x[i]) || !y_ok(f, s->y[i])) {
            pen_down = 0;
            i++;
            continue;
        }
        double col = floor(fx(f, s->x[i]));
        size_t j = i, imin = i, imax = i;
        while (j + 1 < s->n && isfinite(s->x[j + 1]) && y_ok(f, s->y[j + 1]) && floor(fx(f, s->x[j + 1])) == col) {
            j++;
            if (s->y[j] < s->y[imin])
                imin = j;
            if (s->y[j] > s->y[imax])
                imax = j;
        }
        size_t pick[4] = {i, imin < imax ? imin : imax, imin < imax ? imax : imin, j};
        size_t last = (size_t)-1;
        for (int k = 0; k < 4 && !rc; k++) {
            if (pick[k] == last)
                continue;
            last = pick[k];
            rc = runs_buf_printf(b, "%s%.1f %.1f ", pen_down ? "L" : "M", fx(f, s->x[last]), fy(f, s->y[last]));
            pen_down = 1;
        }
        i = j + 1;
    }
    if (!rc)
        rc = runs_buf_puts(b, "\"/>\n");
    return rc;
}

int runs_svg_render(runs_buf *b, const runs_svg_chart *c, int x, int y, int standalone)
{
    frame f = {0};
    f.log_y = c->log_y;
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (int i = 0; i < c->ns; i++)
        for (size_t k = 0; k < c->s[i].n; k++) {
            double xv = c->s[i].x[k], yv = c->s[i].y[k];
            if (!isfinite(xv) || !y_ok(&f, yv))
                continue;
            if (f.log_y)
                yv = log10(yv);
            xlo = fmin(xlo, xv);
            xhi = fmax(xhi, xv);
            ylo = fmin(ylo, yv);
            yhi = fmax(yhi, yv);
        }
    for (int i = 0; i < c->nm; i++)
        if (isfinite(c->m[i].x)) {
            xlo = fmin(xlo, c->m[i].x);
            xhi = fmax(xhi, c->m[i].x);
        }
    int empty = !(ylo <= yhi);
    if (!(xlo <= xhi)) {
        xlo = 0;
        xhi = 1;
    }
    if (empty) {
        ylo = 0;
        yhi = 1;
    }
    if (xhi == xlo) {
        xlo -= 0.5;
        xhi += 0.5;
    }
    if (yhi == ylo) {
        double d = f.log_y ? 0.5 : (fabs(ylo) > 0 ? fabs(ylo) * 0.1 : 1);
        ylo -= d;
        yhi += d;
    }
    if (f.log_y) {
        ylo = floor(ylo);
        yhi = ceil(yhi);
    } else {
        double pad = (yhi - ylo) * 0.05;
        ylo -= pad;
        yhi += pad;
    }
    f.x0 = xlo;
    f.x1 = xhi;
    f.y0 = ylo;
    f.y1 = yhi;
    f.px = 72;
    f.py = 34;
    f.pw = c->width - 72 - 16;
    f.ph = c->height - 34 - 48;
    if (f.pw < 10)
        f.pw = 10;
    if (f.ph < 10)
        f.ph = 10;

    int rc = runs_buf_printf(b,
                             "<svg %sx=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                             "font-family=\"sans-serif\" font-size=\"11\">\n",
                             standalone ? "xmlns=\"http://www.w3.org/2000/svg\" " : "", x, y, c->width, c->height,
                             c->width, c->height);
    if (!rc)
        rc = runs_buf_printf(b, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"white\"/>\n", c->width,
                             c->height);
    if (!rc && c->title) {
        rc = runs_buf_printf(b, "<text class=\"title\" x=\"%.1f\" y=\"18\" font-size=\"14\" font-weight=\"bold\">",
                             f.px);
        if (!rc)
            rc = runs_buf_put_escaped(b, c->title);
        if (!rc)
            rc = runs_buf_puts(b, "</text>\n");
    }
    /* grid + ticks */
    double ticks[64];
    int nt = runs_svg_nice_ticks(xlo, xhi, 8, ticks, 64);
    for (int i = 0; i < nt && !rc; i++) {
        char lab[32];
        fmt_num(lab, sizeof lab, ticks[i]);
        double px = fx(&f, ticks[i]);
        rc = runs_buf_printf(b,
                             "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eeeeee\"/>"
                             "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
                             px, f.py, px, f.py + f.ph, px, f.py + f.ph + 14, lab);
    }
    if (f.log_y) {
        nt = 0;
        int decades = (int)(yhi - ylo);
        for (int k = (int)ylo; k <= (int)yhi && nt < 64; k++) {
            ticks[nt++] = k;
            /* With few decades, 2× and 5× ticks help reading values. */
            if (decades <= 2 && k < (int)yhi && nt + 2 <= 64) {
                ticks[nt++] = k + log10(2);
                ticks[nt++] = k + log10(5);
            }
        }
    } else {
        nt = runs_svg_nice_ticks(ylo, yhi, 6, ticks, 64);
    }
    for (int i = 0; i < nt && !rc; i++) {
        double v = f.log_y ? pow(10, ticks[i]) : ticks[i];
        char lab[32];
        fmt_num(lab, sizeof lab, v);
        double py = fy(&f, v);
        rc = runs_buf_printf(b,
                             "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eeeeee\"/>"
                             "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                             f.px, py, f.px + f.pw, py, f.px - 5, py + 4, lab);
    }
    if (!rc)
        rc = runs_buf_printf(
            b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#333333\"/>\n", f.px,
            f.py, f.pw, f.ph);
    if (!rc && c->xlabel) {
        rc = runs_buf_printf(b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", f.px + f.pw / 2, c->height - 8);
        if (!rc)
            rc = runs_buf_put_escaped(b, c->xlabel);
        if (!rc)
            rc = runs_buf_puts(b, "</text>\n");
    }
    if (!rc && c->ylabel) {
        double cy = f.py + f.ph / 2;
        rc = runs_buf_printf(b, "<text x=\"14\" y=\"%.1f\" text-anchor=\"middle\" transform=\"rotate(-90 14 %.1f)\">",
                             cy, cy);
        if (!rc)
            rc = runs_buf_put_escaped(b, c->ylabel);
        if (!rc)
            rc = runs_buf_puts(b, "</text>\n");
    }
    if (!rc && f.log_y)
        rc = runs_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#666666\">log scale</text>\n",
                             f.px + f.pw, f.py - 4);
    /* markers under the lines */
    for (int i = 0; i < c->nm && !rc; i++) {
        if (!isfinite(c->m[i].x))
            continue;
        double px = fx(&f, c->m[i].x);
        rc = runs_buf_printf(b,
                             "<line class=\"marker\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                             "stroke-dasharray=\"3 3\"/>\n",
                             px, f.py, px, f.py + f.ph, c->m[i].color);
        if (!rc && c->m[i].label) {
            rc = runs_buf_printf(b,
                                 "<text class=\"marker-label\" x=\"%.1f\" y=\"%.1f\" fill=\"%s\" font-size=\"10\" "
                                 "transform=\"rotate(-90 %.1f %.1f)\" text-anchor=\"end\">",
                                 px - 3, f.py + 4, c->m[i].color, px - 3, f.py + 4);
            if (!rc)
                rc = runs_buf_put_escaped(b, c->m[i].label);
            if (!rc)
                rc = runs_buf_puts(b, "</text>\n");
        }
    }
    for (int i = 0; i < c->ns && !rc; i++)
        rc = render_series(b, &f, &c->s[i]);
    if (!rc && empty)
        rc = runs_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#666666\">no data</text>\n",
                             f.px + f.pw / 2, f.py + f.ph / 2);
    /* legend, top right inside the frame */
    int row = 0;
    for (int i = 0; i < c->ns && !rc; i++) {
        if (!c->s[i].name)
            continue;
        double ly = f.py + 12 + 14 * row++;
        double lx = f.px + f.pw - 170;
        rc = runs_buf_printf(
            b,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"%s/>"
            "<text x=\"%.1f\" y=\"%.1f\">",
            lx, ly - 4, lx + 18, ly - 4, c->s[i].color, c->s[i].dashed ? " stroke-dasharray=\"6 4\"" : "", lx + 22, ly);
        if (!rc)
            rc = runs_buf_put_escaped(b, c->s[i].name);
        if (!rc)
            rc = runs_buf_puts(b, "</text>\n");
    }
    if (!rc)
        rc = runs_buf_puts(b, "</svg>\n");
    return rc;
}
