/* tools/svg_layout.c — where a chart's pieces go (see tools/svg.h): the data's range
 * and the frame, estimated text widths, marker labels placed greedily in a band above
 * the frame, the legend wrapped into rows below the x axis; the boxes, for tests. The browser test (tests/cli/t7006-plot-boxes.sh) checks
 * the result with the fonts a browser really uses. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "tools/svg_int.h"

/* DejaVu Sans advance widths (em), grouped: the widest common sans face, so a browser
 * that falls back to Liberation Sans or Arial draws text narrower than reserved. */
static double glyph_em(unsigned char ch)
{
    if (strchr("ijl.,:;'|!`", ch))
        return 0.34;
    if (strchr("frtI()[]{} -/\\\"*", ch))
        return 0.46;
    if (ch == 'm' || ch == 'M' || ch == 'W' || ch == '@' || ch == '%')
        return 1.0;
    if (ch == 'w')
        return 0.84;
    if (ch >= 'A' && ch <= 'Z')
        return 0.80;
    if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '$' || ch == '?' || ch == '_')
        return 0.64;
    return 0.84; /* # & + < = > ^ ~ and control bytes (escaped to U+FFFD) */
}

double runs_svg_text_width(const char *s, double px, int bold)
{
    double em = 0;
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
        if (*p < 0x80)
            em += glyph_em(*p);
        else if ((*p & 0xC0) != 0x80) /* a lead byte: one character, punctuation or CJK wide */
            em += *p >= 0xE1 ? 1.0 : 0.8;
    }
    return ceil(em * px * (bold ? 1.12 : 1.0) * 1.04 + 1);
}

void svg_text_box(const svg_placed *p, double px, double *x, double *y, double *w, double *h)
{
    /* DejaVu Sans: ascent 0.928 em, descent 0.236 em */
    *x = p->x;
    *y = p->y - 0.93 * px;
    *w = p->w;
    *h = 1.17 * px;
}

/* Places s at (x, baseline y) cut to maxw: a copy of s, or its longest prefix (whole
 * UTF-8 characters) followed by "…" that fits. 0 or RUNS_ENOMEM. */
static int place(svg_placed *p, const char *s, double x, double y, double maxw, double px, int bold)
{
    size_t len = strlen(s);
    char *t = malloc(len + 4);
    if (!t)
        return runs_error_set(RUNS_ENOMEM, "out of memory laying out a chart");
    memcpy(t, s, len + 1);
    double w = runs_svg_text_width(t, px, bold);
    while (w > maxw && len > 0) {
        do
            len--;
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80);
        memcpy(t, s, len);
        memcpy(t + len, "\xe2\x80\xa6", 4);
        w = runs_svg_text_width(t, px, bold);
    }
    p->text = t;
    p->x = x;
    p->y = y;
    p->w = w;
    p->shown = w <= maxw;
    return 0;
}

void svg_frame_x(const runs_svg_chart *c, double *px, double *pw)
{
    *px = SVG_LEFT;
    *pw = c->width - SVG_LEFT - SVG_RIGHT;
    if (*pw < 10)
        *pw = 10;
}

#define LABEL_ROWS 8   /* at most; a label with no room keeps its line and a tooltip */
#define LABEL_ROW_H 14 /* a 10px label's box is 11.7px tall */
#define LABEL_GAP 6    /* between labels in a row */
#define LEGEND_ROW_H 16

static int row_free(const svg_layout *L, const int *order, int placed, int row, double x0, double w)
{
    for (int k = 0; k < placed; k++) {
        int j = order[k];
        if (!L->labels[j].shown || L->label_row[j] != row)
            continue;
        if (x0 < L->labels[j].x + L->labels[j].w + LABEL_GAP && L->labels[j].x < x0 + w + LABEL_GAP)
            return 0;
    }
    return 1;
}

/* Greedy: markers left to right; each label tries, row by row from the frame up, the
 * right of its line, then the left, then any x that keeps it inside the chart. */
static int place_labels(svg_layout *L, const runs_svg_chart *c, const double *mpx, int *rows)
{
    int W = c->width, *order = malloc((size_t)(c->nm ? c->nm : 1) * sizeof *order), n = 0, rc = 0;
    if (!order)
        return runs_error_set(RUNS_ENOMEM, "out of memory laying out a chart");
    for (int i = 0; i < c->nm; i++) {
        if (!c->m[i].label || !isfinite(mpx[i]))
            continue;
        int k = n++;
        while (k > 0 && mpx[order[k - 1]] > mpx[i]) { /* insertion sort: stable, few markers */
            order[k] = order[k - 1];
            k--;
        }
        order[k] = i;
    }
    *rows = 0;
    for (int k = 0; k < n && !rc; k++) {
        int i = order[k];
        svg_placed *p = &L->labels[i];
        if ((rc = place(p, c->m[i].label, 0, 0, W - 8, SVG_FONT_LABEL, 0)))
            break;
        double w = p->w, cand[3] = {mpx[i] + 3, mpx[i] - 3 - w, mpx[i] + 3};
        if (cand[2] + w > W - 4)
            cand[2] = W - 4 - w;
        if (cand[2] < 4)
            cand[2] = 4;
        int ok[3] = {cand[0] + w <= W - 4, cand[1] >= 4, 1};
        p->shown = 0;
        for (int r = 0; r < LABEL_ROWS && !p->shown; r++)
            for (int q = 0; q < 3 && !p->shown; q++)
                if (ok[q] && row_free(L, order, k, r, cand[q], w)) {
                    p->shown = 1;
                    p->x = cand[q];
                    L->label_row[i] = r;
                    if (r + 1 > *rows)
                        *rows = r + 1;
                }
    }
    free(order);
    return rc;
}

int svg_layout_make(svg_layout *L, const runs_svg_chart *c, const double *mpx)
{
    int rc = 0, W = c->width, rows = 0;
    memset(L, 0, sizeof *L);
    svg_frame_x(c, &L->px, &L->pw);
    L->labels = calloc((size_t)(c->nm ? c->nm : 1), sizeof *L->labels);
    L->label_row = calloc((size_t)(c->nm ? c->nm : 1), sizeof *L->label_row);
    L->legend = calloc((size_t)(c->ns ? c->ns : 1), sizeof *L->legend);
    if (!L->labels || !L->label_row || !L->legend)
        return runs_error_set(RUNS_ENOMEM, "out of memory laying out a chart");
    if (c->title && (rc = place(&L->title, c->title, L->px, 18, W - L->px - 8, SVG_FONT_TITLE, 1)))
        return rc;
    if ((rc = place_labels(L, c, mpx, &rows)))
        return rc;
    L->py = rows ? 26 + rows * LABEL_ROW_H : 34;
    L->ph = c->height - 82 < 10 ? 10 : c->height - 82;
    for (int i = 0; i < c->nm; i++) /* baseline: the box's bottom 3px above the row below */
        L->labels[i].y = L->py - 3 - L->label_row[i] * LABEL_ROW_H - 0.24 * SVG_FONT_LABEL;
    if (c->xlabel) {
        if ((rc = place(&L->xlabel, c->xlabel, 0, L->py + L->ph + 40, L->pw, SVG_FONT, 0)))
            return rc;
        L->xlabel.x = L->px + (L->pw - L->xlabel.w) / 2;
    }
    if (c->ylabel || c->log_y) { /* a log axis says so along the axis, not in the label band */
        const char *yl = c->ylabel ? c->ylabel : "";
        char *t = malloc(strlen(yl) + 16);
        if (!t)
            return runs_error_set(RUNS_ENOMEM, "out of memory laying out a chart");
        strcpy(t, yl);
        if (c->log_y)
            strcat(t, *yl ? " (log scale)" : "log scale");
        rc = place(&L->ylabel, t, 14, L->py + L->ph / 2, L->ph, SVG_FONT, 0);
        free(t);
        if (rc)
            return rc;
    }
    /* legend rows under the x label, on a background from margin to margin */
    double y0 = L->py + L->ph + 50, x = 14;
    int row = 0, any = 0;
    for (int i = 0; i < c->ns && !rc; i++) {
        if (!c->s[i].name)
            continue;
        svg_placed *p = &L->legend[i];
        if ((rc = place(p, c->s[i].name, 0, 0, W - 28 - 22, SVG_FONT, 0)))
            break;
        double w = 22 + p->w;
        if (any && x + w > W - 14) {
            row++;
            x = 14;
        }
        p->x = x; /* the swatch; the text starts at x + 22 */
        p->y = y0 + 4 + row * LEGEND_ROW_H + 12;
        p->w = w;
        p->shown = 1;
        x += w + 14;
        any = 1;
    }
    if (rc)
        return rc;
    if (any) {
        L->legend_y = y0;
        L->legend_h = (row + 1) * LEGEND_ROW_H + 8;
        L->height = (int)ceil(y0 + L->legend_h + 6);
    } else {
        L->height = (int)ceil(L->py + L->ph + 48);
    }
    return 0;
}

void svg_layout_free(svg_layout *L, const runs_svg_chart *c)
{
    free(L->title.text);
    free(L->xlabel.text);
    free(L->ylabel.text);
    for (int i = 0; L->labels && i < c->nm; i++)
        free(L->labels[i].text);
    for (int i = 0; L->legend && i < c->ns; i++)
        free(L->legend[i].text);
    free(L->labels);
    free(L->label_row);
    free(L->legend);
    memset(L, 0, sizeof *L);
}

/* The data's range (and the markers' x) into f; *empty when no y value is drawable. */
static void data_range(const runs_svg_chart *c, frame *f, int *empty)
{
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (int i = 0; i < c->ns; i++)
        for (size_t k = 0; k < c->s[i].n; k++) {
            double xv = c->s[i].x[k], yv = c->s[i].y[k];
            if (!isfinite(xv) || !y_ok(f, yv))
                continue;
            if (f->log_y)
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
    *empty = !(ylo <= yhi);
    if (!(xlo <= xhi)) {
        xlo = 0;
        xhi = 1;
    }
    if (*empty) {
        ylo = 0;
        yhi = 1;
    }
    if (xhi == xlo) {
        xlo -= 0.5;
        xhi += 0.5;
    }
    if (yhi == ylo) {
        double d = f->log_y ? 0.5 : (fabs(ylo) > 0 ? fabs(ylo) * 0.1 : 1);
        ylo -= d;
        yhi += d;
    }
    if (f->log_y) {
        ylo = floor(ylo);
        yhi = ceil(yhi);
    } else {
        double pad = (yhi - ylo) * 0.05;
        ylo -= pad;
        yhi += pad;
    }
    f->x0 = xlo;
    f->x1 = xhi;
    f->y0 = ylo;
    f->y1 = yhi;
}

int svg_lay_out(frame *f, svg_layout *L, int *empty, const runs_svg_chart *c)
{
    memset(L, 0, sizeof *L);
    memset(f, 0, sizeof *f);
    f->log_y = c->log_y;
    data_range(c, f, empty);
    svg_frame_x(c, &f->px, &f->pw);
    double *mpx = malloc((size_t)(c->nm ? c->nm : 1) * sizeof *mpx);
    if (!mpx)
        return runs_error_set(RUNS_ENOMEM, "out of memory laying out a chart");
    for (int i = 0; i < c->nm; i++)
        mpx[i] = isfinite(c->m[i].x) ? fx(f, c->m[i].x) : NAN;
    int rc = svg_layout_make(L, c, mpx);
    free(mpx);
    f->py = L->py;
    f->ph = L->ph;
    return rc;
}

int runs_svg_height(const runs_svg_chart *c)
{
    frame f;
    svg_layout L;
    int empty, h = svg_lay_out(&f, &L, &empty, c) ? 0 : L.height;
    svg_layout_free(&L, c);
    return h;
}

int runs_svg_boxes(runs_svg_box **out, size_t *n, const runs_svg_chart *c)
{
    frame f;
    svg_layout L;
    int empty, rc = svg_lay_out(&f, &L, &empty, c);
    size_t k = 0;
    runs_svg_box *v = NULL;
    *out = NULL;
    *n = 0;
    if (rc)
        goto done;
    v = malloc((size_t)(5 + c->nm + c->ns) * sizeof *v);
    if (!v) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory listing a chart's boxes");
        goto done;
    }
    v[k++] = (runs_svg_box){f.px, f.py, f.pw, f.ph, "frame"};
    if (L.title.shown) {
        svg_text_box(&L.title, SVG_FONT_TITLE, &v[k].x, &v[k].y, &v[k].w, &v[k].h);
        v[k++].cls = "title";
    }
    if (L.xlabel.shown) {
        svg_text_box(&L.xlabel, SVG_FONT, &v[k].x, &v[k].y, &v[k].w, &v[k].h);
        v[k++].cls = "axis-label";
    }
    if (L.ylabel.shown) /* rotated -90° about its centre: ascent to the left */
        v[k++] = (runs_svg_box){L.ylabel.x - 0.93 * SVG_FONT, L.ylabel.y - L.ylabel.w / 2, 1.17 * SVG_FONT, L.ylabel.w,
                                "axis-label"};
    for (int i = 0; i < c->nm; i++)
        if (L.labels[i].shown) {
            svg_text_box(&L.labels[i], SVG_FONT_LABEL, &v[k].x, &v[k].y, &v[k].w, &v[k].h);
            v[k++].cls = "marker-label";
        }
    if (L.legend_h > 0)
        v[k++] = (runs_svg_box){8, L.legend_y, c->width - 16, L.legend_h, "legend"};
    for (int i = 0; i < c->ns; i++)
        if (L.legend[i].shown) {
            svg_text_box(&L.legend[i], SVG_FONT, &v[k].x, &v[k].y, &v[k].w, &v[k].h);
            v[k++].cls = "legend-item";
        }
    *out = v;
    *n = k;
    v = NULL;
done:
    free(v);
    svg_layout_free(&L, c);
    return rc;
}
