/* tools/plot_render.c — chart data → SVG (see tools/plot.h): one colour per run, each
 * run drawn where its data is its own, held-out loss as its own dashed series. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "tools/plot.h"

/* Copies the part of a series at steps >= from into x/y (column picks the metric). */
static size_t slice(const runs_plot_series *sr, const double *col, long from, double **x, double **y)
{
    size_t first = 0;
    while (first < sr->n && sr->step[first] < from)
        first++;
    size_t m = sr->n - first;
    *x = malloc((m ? m : 1) * sizeof(double));
    *y = malloc((m ? m : 1) * sizeof(double));
    if (!*x || !*y)
        return (size_t)-1;
    for (size_t i = 0; i < m; i++) {
        (*x)[i] = (double)sr->step[first + i];
        (*y)[i] = col[first + i];
    }
    return m;
}

/* The part of a series at steps in [from, to] (to < 0: to the end) as a chart series. */
static int add_series(runs_svg_chart *c, const runs_plot_series *sr, const double *col, long from, long to,
                      const runs_svg_style *st)
{
    double *x = NULL, *y = NULL;
    size_t m = slice(sr, col, from, &x, &y);
    if (m != (size_t)-1 && to >= 0)
        while (m > 0 && x[m - 1] > (double)to)
            m--;
    int rc = m == (size_t)-1 ? runs_error_set(RUNS_ENOMEM, "plot: out of memory")
                             : runs_svg_add_series_styled(c, st, x, y, m);
    free(x);
    free(y);
    return rc;
}

/* One run's lines: its main column from `from` on (the main run: faded up to its own
 * first node, the ancestors' history), on the loss chart its raw loss (main only) and
 * held-out loss as their own series. */
static int add_run(runs_svg_chart *c, const runs_plot_series *sr, int which, int is_main)
{
    char name[128];
    const double *col = which == 0 ? sr->ema : which == 1 ? sr->lr : sr->grad_norm;
    long from = is_main ? 0 : sr->branch_step;
    int rc = 0;
    if (is_main && which == 0) {
        snprintf(name, sizeof name, "%s (raw)", sr->run);
        runs_svg_style raw = {name, sr->color, 0, 1, 0.3};
        rc = add_series(c, sr, sr->loss, 0, -1, &raw);
    }
    /* the main lineage's stretches of other runs: its ancestors, faded, in their colours */
    for (size_t k = 0; is_main && k < sr->n_stretch && !rc; k++) {
        const runs_plot_stretch *g = &sr->stretch[k];
        if (!strcmp(g->run, sr->run))
            continue;
        snprintf(name, sizeof name, "%s (ancestor)", g->run);
        runs_svg_style faded = {name, g->color, 0, 1.5, 0.4};
        rc = add_series(c, sr, col, k ? sr->stretch[k - 1].to : 0, g->to, &faded);
        from = g->to;
    }
    if (is_main)
        snprintf(name, sizeof name, which == 0 ? "%s (EMA)" : "%s", sr->run);
    else
        snprintf(name, sizeof name, which == 0 ? "%s (EMA, from step %ld)" : "%s (from step %ld)", sr->run,
                 sr->branch_step);
    runs_svg_style line = {name, sr->color, 0, which == 0 ? 2 : 1.5, 1};
    if (!rc)
        rc = add_series(c, sr, col, from, -1, &line);
    /* held-out loss, dashed in the run's colour: unseen data, so a fork that helps only
     * the training mix shows here as no gain */
    size_t first = 0;
    while (which == 0 && first < sr->n_val && sr->val_step[first] < (is_main ? 0 : sr->branch_step))
        first++;
    if (!rc && which == 0 && first < sr->n_val) {
        size_t m = sr->n_val - first;
        double *x = malloc(m * sizeof *x);
        if (!x)
            return runs_error_set(RUNS_ENOMEM, "plot: out of memory");
        for (size_t i = 0; i < m; i++)
            x[i] = (double)sr->val_step[first + i];
        if (is_main)
            snprintf(name, sizeof name, "%s (held-out)", sr->run);
        else
            snprintf(name, sizeof name, "%s (held-out, from step %ld)", sr->run, sr->branch_step);
        runs_svg_style val = {name, sr->color, 1, 2, 1};
        rc = runs_svg_add_series_styled(c, &val, x, sr->val_loss + first, m);
        free(x);
    }
    return rc;
}

static int build_chart(runs_svg_chart **out, const runs_plot_data *d, int which)
{
    const char *titles[3] = {"loss", "learning rate", "gradient norm (before clipping)"};
    char title[160];
    snprintf(title, sizeof title, "%s — %s", d->main.run, titles[which]);
    const char *ylabels[3] = {"loss", "learning rate", "gradient norm"}; /* the title says more */
    runs_svg_chart *c = runs_svg_new(title, "step", ylabels[which], RUNS_PLOT_WIDTH, RUNS_PLOT_HEIGHT);
    if (!c)
        return runs_error_set(RUNS_ENOMEM, "plot: out of memory");
    if (which == 2)
        runs_svg_set_log_y(c, 1);
    int rc = add_run(c, &d->main, which, 1);
    for (size_t i = 0; i < d->n_siblings && !rc; i++)
        rc = add_run(c, &d->siblings[i], which, 0);
    for (size_t i = 0; i < d->n_events && !rc; i++) {
        const runs_plot_event *e = &d->events[i];
        char label[160];
        snprintf(label, sizeof label, "%s %s@step_%ld", e->kind, e->run, e->step);
        rc = runs_svg_add_marker(c, (double)e->step, label, e->color);
    }
    if (rc) {
        runs_svg_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

int runs_plot_render(runs_buf *b, const runs_plot_data *d, unsigned what, int standalone)
{
    int rc = 0, n = 0, total = 0;
    runs_svg_chart *c[3] = {NULL, NULL, NULL};
    for (int i = 0; i < 3 && !rc; i++)
        if ((what >> i) & 1) {
            if (!(rc = build_chart(&c[n], d, i)))
                total += runs_svg_height(c[n++]);
        }
    if (!rc && standalone) /* the charts stacked, each as tall as its labels and legend need */
        rc = runs_buf_printf(b,
                             "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                             "viewBox=\"0 0 %d %d\">\n",
                             RUNS_PLOT_WIDTH, total, RUNS_PLOT_WIDTH, total);
    for (int i = 0, y = 0; i < n && !rc; i++) {
        rc = runs_svg_render(b, c[i], 0, y, standalone ? RUNS_SVG_NESTED : RUNS_SVG_FLUID);
        y += runs_svg_height(c[i]);
    }
    if (!rc && standalone)
        rc = runs_buf_puts(b, "</svg>\n");
    for (int i = 0; i < n; i++)
        runs_svg_free(c[i]);
    return rc;
}
