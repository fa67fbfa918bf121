/* common/buf.h — the growable string the text writers build on (SVG charts, the HTML
 * report, the plot and lr tables): one builder for every module. */
#ifndef RUNS_COMMON_BUF_H
#define RUNS_COMMON_BUF_H

#include <stddef.h>

/* A growable NUL-terminated string. Zero-initialise ({0}); free with runs_buf_free. */
typedef struct {
    char *s;
    size_t len, cap;
    int oom; /* an append failed: s holds what fitted before */
} runs_buf;

/* Appends n bytes of s (0, or RUNS_ENOMEM: b->oom is set and later appends fail too,
 * so a writer may check once at the end). b->s stays NUL-terminated. */
int runs_buf_append(runs_buf *b, const char *s, size_t n);
int runs_buf_puts(runs_buf *b, const char *s);
int runs_buf_printf(runs_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s with &, <, >, " and ' escaped for XML/HTML text and attributes. */
int runs_buf_put_escaped(runs_buf *b, const char *s);
void runs_buf_free(runs_buf *b);

#endif
