/* common/progress.c — see progress.h. */
#include "common/progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void draw(runs_progress *p, int final)
{
    double el = now_s() - p->started;
    double pct = p->total ? 100.0 * (double)p->done / (double)p->total : 100.0;
    if (p->bytes) {
        double rate = el > 0 ? p->done / el / 1e9 : 0;
        fprintf(stderr, "\r%s %3.0f%%  %.2f/%.2f GB  %.2f GB/s%s", p->label, pct, p->done / 1e9, p->total / 1e9, rate,
                final ? "\n" : "");
    } else {
        fprintf(stderr, "\r%s %3.0f%%  %llu/%llu%s", p->label, pct, (unsigned long long)p->done,
                (unsigned long long)p->total, final ? "\n" : "");
    }
    fflush(stderr);
    p->last_draw = now_s();
}

void runs_progress_start(runs_progress *p, const char *label, uint64_t total, int bytes)
{
    p->label = label;
    p->total = total;
    p->done = 0;
    p->bytes = bytes;
    p->enabled = isatty(2) && !getenv("RUNS_NO_PROGRESS");
    p->started = p->last_draw = now_s();
}

void runs_progress_add(runs_progress *p, uint64_t n)
{
    p->done += n;
    if (p->enabled && now_s() - p->last_draw > 0.1)
        draw(p, 0);
}

void runs_progress_end(runs_progress *p)
{
    if (p->enabled)
        draw(p, 1);
}
