/* tools/svg.c — the SVG line-chart writer of tools/svg.h. */
#include "tools/svg.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "tools/svg_int.h"

/* ---- chart ---- */

/* Sixteen colours that read on white: Tableau's ten, then six that keep apart from them
 * (black, navy, burgundy, dark green, gold, teal). More colours would bring pairs a reader
 * confuses (two purples, two oranges); a store with more runs reuses them. */
static const char *palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
                                "#bcbd22", "#7f7f7f", "#000000", "#0b1f7a", "#8b0045", "#005c31", "#e6ab02", "#35978f"};

int runs_svg_palette_size(void)
{
    return (int)(sizeof palette / sizeof *palette);
}

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

int runs_svg_add_series_styled(runs_svg_chart *c, const runs_svg_style *st, const double *x, const double *y, size_t n)
{
    const char *name = st->name;
    if (n && (!x || !y))
        return runs_error_set(RUNS_EINVALID, "svg series \"%s\": %zu points but no data", name ? name : "", n);
    svg_series *grown = realloc(c->s, (size_t)(c->ns + 1) * sizeof *c->s);
    if (!grown)
        return runs_error_set(RUNS_ENOMEM, "out of memory adding a chart series");
    c->s = grown;
    svg_series *s = &c->s[c->ns];
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
    s->dashed = st->dashed;
    s->width = st->width > 0 ? st->width : 1.5;
    s->opacity = st->opacity > 0 && st->opacity <= 1 ? st->opacity : 1;
    set_color(s->color, st->color, runs_svg_palette(c->ns));
    c->ns++;
    return 0;
}

int runs_svg_add_series(runs_svg_chart *c, const char *name, const char *color, const double *x, const double *y,
                        size_t n, int dashed, double width)
{
    runs_svg_style st = {name, color, dashed, width, 1};
    return runs_svg_add_series_styled(c, &st, x, y, n);
}

int runs_svg_add_marker(runs_svg_chart *c, double x, const char *label, const char *color)
{
    svg_marker *grown = realloc(c->m, (size_t)(c->nm + 1) * sizeof *c->m);
    if (!grown)
        return runs_error_set(RUNS_ENOMEM, "out of memory adding a chart marker");
    c->m = grown;
    svg_marker *m = &c->m[c->nm];
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

/* One path per series; consecutive points that land in the same pixel column are
 * reduced to their first, min, max and last, so 100k-step logs stay small. */
static int render_series(runs_buf *b, const frame *f, const svg_series *s)
{
    int rc = runs_buf_printf(b, "<path class=\"series\" fill=\"none\" stroke=\"%s\" stroke-width=\"%.2f\"%s", s->color,
                             s->width, s->dashed ? " stroke-dasharray=\"6 4\"" : "");
    if (!rc && s->opacity < 1)
        rc = runs_buf_printf(b, " stroke-opacity=\"%.2f\"", s->opacity);
    if (!rc)
        rc = runs_buf_puts(b, " d=\"");
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

/* <text ATTRS>escaped text</text> for a placed piece (nothing when not shown). */
static int put_text(runs_buf *b, const svg_placed *p, const char *attrs)
{
    if (!p->shown || !p->text)
        return 0;
    int rc = runs_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" %s>", p->x, p->y, attrs);
    if (!rc)
        rc = runs_buf_put_escaped(b, p->text);
    if (!rc)
        rc = runs_buf_puts(b, "</text>\n");
    return rc;
}

static int render_grid(runs_buf *b, const frame *f)
{
    double ticks[64];
    int rc = 0, nt = runs_svg_nice_ticks(f->x0, f->x1, 8, ticks, 64);
    for (int i = 0; i < nt && !rc; i++) {
        char lab[32];
        fmt_num(lab, sizeof lab, ticks[i]);
        double px = fx(f, ticks[i]);
        rc = runs_buf_printf(b,
                             "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eeeeee\"/>"
                             "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
                             px, f->py, px, f->py + f->ph, px, f->py + f->ph + 14, lab);
    }
    if (f->log_y) {
        nt = 0;
        int decades = (int)(f->y1 - f->y0);
        for (int k = (int)f->y0; k <= (int)f->y1 && nt < 64; k++) {
            ticks[nt++] = k;
            /* With few decades, 2× and 5× ticks help reading values. */
            if (decades <= 2 && k < (int)f->y1 && nt + 2 <= 64) {
                ticks[nt++] = k + log10(2);
                ticks[nt++] = k + log10(5);
            }
        }
    } else {
        nt = runs_svg_nice_ticks(f->y0, f->y1, 6, ticks, 64);
    }
    for (int i = 0; i < nt && !rc; i++) {
        double v = f->log_y ? pow(10, ticks[i]) : ticks[i];
        char lab[32];
        fmt_num(lab, sizeof lab, v);
        double py = fy(f, v);
        rc = runs_buf_printf(b,
                             "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eeeeee\"/>"
                             "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                             f->px, py, f->px + f->pw, py, f->px - 5, py + 4, lab);
    }
    if (!rc)
        rc = runs_buf_printf(b,
                             "<rect class=\"frame\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
                             "stroke=\"#333333\"/>\n",
                             f->px, f->py, f->pw, f->ph);
    return rc;
}

/* Marker lines (under the data) reach up to their label; a label with no room in the
 * band leaves its line with the label as a tooltip. */
static int render_markers(runs_buf *b, const frame *f, const svg_layout *L, const runs_svg_chart *c)
{
    int rc = 0;
    for (int i = 0; i < c->nm && !rc; i++) {
        if (!isfinite(c->m[i].x))
            continue;
        const svg_placed *p = &L->labels[i];
        double px = fx(f, c->m[i].x), top = p->shown ? p->y - 0.93 * SVG_FONT_LABEL : f->py;
        rc = runs_buf_printf(b,
                             "<line class=\"marker\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                             "stroke-dasharray=\"3 3\">",
                             px, top, px, f->py + f->ph, c->m[i].color);
        if (!rc && c->m[i].label && !p->shown) {
            rc = runs_buf_puts(b, "<title>");
            if (!rc)
                rc = runs_buf_put_escaped(b, c->m[i].label);
            if (!rc)
                rc = runs_buf_puts(b, "</title>");
        }
        if (!rc)
            rc = runs_buf_puts(b, "</line>\n");
        char attrs[96];
        snprintf(attrs, sizeof attrs, "class=\"marker-label\" fill=\"%s\" font-size=\"%.0f\"", c->m[i].color,
                 SVG_FONT_LABEL);
        if (!rc)
            rc = put_text(b, p, attrs);
    }
    return rc;
}

static int render_legend(runs_buf *b, const svg_layout *L, const runs_svg_chart *c)
{
    if (L->legend_h <= 0)
        return 0;
    int rc = runs_buf_printf(b,
                             "<rect class=\"legend\" x=\"8\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" rx=\"3\" "
                             "fill=\"#f7f7f7\" stroke=\"#cccccc\"/>\n",
                             L->legend_y, c->width - 16, L->legend_h);
    for (int i = 0; i < c->ns && !rc; i++) {
        const svg_placed *p = &L->legend[i];
        const svg_series *s = &c->s[i];
        if (!p->shown)
            continue;
        rc = runs_buf_printf(b,
                             "<g class=\"legend-item\"><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                             "stroke=\"%s\" stroke-width=\"2\"%s stroke-opacity=\"%.2f\"/><text x=\"%.1f\" y=\"%.1f\">",
                             p->x, p->y - 4, p->x + 18, p->y - 4, s->color,
                             s->dashed ? " stroke-dasharray=\"6 4\"" : "", s->opacity, p->x + 22, p->y);
        if (!rc)
            rc = runs_buf_put_escaped(b, p->text);
        if (!rc)
            rc = runs_buf_puts(b, "</text></g>\n");
    }
    return rc;
}

int runs_svg_render(runs_buf *b, const runs_svg_chart *c, int x, int y, int mode)
{
    frame f;
    svg_layout L;
    int empty, rc = svg_lay_out(&f, &L, &empty, c), H = L.height;
    if (rc)
        goto done;
    if (mode == RUNS_SVG_FLUID)
        rc = runs_buf_printf(b, "<svg class=\"chart\" width=\"100%%\" viewBox=\"0 0 %d %d\" style=\"height:auto\" ",
                             c->width, H);
    else
        rc = runs_buf_printf(b, "<svg %sx=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" ",
                             mode == RUNS_SVG_STANDALONE ? "xmlns=\"http://www.w3.org/2000/svg\" " : "", x, y, c->width,
                             H, c->width, H);
    if (!rc)
        rc = runs_buf_printf(b,
                             "font-family=\"DejaVu Sans, Verdana, sans-serif\" font-size=\"%.0f\">\n"
                             "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"white\"/>\n",
                             SVG_FONT, c->width, H);
    if (!rc)
        rc = put_text(b, &L.title, "class=\"title\" font-size=\"14\" font-weight=\"bold\"");
    if (!rc)
        rc = render_grid(b, &f);
    if (!rc)
        rc = put_text(b, &L.xlabel, "class=\"axis-label\"");
    if (!rc && L.ylabel.shown) {
        char attrs[128];
        snprintf(attrs, sizeof attrs, "class=\"axis-label\" text-anchor=\"middle\" transform=\"rotate(-90 %.1f %.1f)\"",
                 L.ylabel.x, L.ylabel.y);
        rc = put_text(b, &L.ylabel, attrs);
    }
    if (!rc)
        rc = render_markers(b, &f, &L, c);
    for (int i = 0; i < c->ns && !rc; i++)
        rc = render_series(b, &f, &c->s[i]);
    if (!rc && empty)
        rc = runs_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#666666\">no data</text>\n",
                             f.px + f.pw / 2, f.py + f.ph / 2);
    if (!rc)
        rc = render_legend(b, &L, c);
    if (!rc)
        rc = runs_buf_puts(b, "</svg>\n");
done:
    svg_layout_free(&L, c);
    return rc;
}
