/* common/buf.c — see buf.h. */
#include "common/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

static int buf_reserve(runs_buf *b, size_t extra)
{
    if (b->oom)
        return RUNS_ENOMEM;
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) {
        b->oom = 1;
        return runs_error_set(RUNS_ENOMEM, "out of memory growing a %zu-byte text buffer", cap);
    }
    b->s = s;
    b->cap = cap;
    return 0;
}

int runs_buf_append(runs_buf *b, const char *s, size_t n)
{
    int rc = buf_reserve(b, n);
    if (rc)
        return rc;
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
    return 0;
}

int runs_buf_puts(runs_buf *b, const char *s)
{
    return runs_buf_append(b, s, strlen(s));
}

int runs_buf_printf(runs_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return runs_error_set(RUNS_EINVALID, "bad format string \"%s\"", fmt);
    int rc = buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int runs_buf_put_escaped(runs_buf *b, const char *s)
{
    int rc = 0;
    const char *run = s;
    for (; *s && !rc; s++) {
        const char *rep = NULL;
        switch (*s) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default:
            /* XML 1.0 forbids most control characters even as references. */
            if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t' && *s != '\r')
                rep = "\xef\xbf\xbd";
        }
        if (rep) {
            rc = runs_buf_append(b, run, (size_t)(s - run));
            if (!rc)
                rc = runs_buf_puts(b, rep);
            run = s + 1;
        }
    }
    if (!rc)
        rc = runs_buf_append(b, run, (size_t)(s - run));
    return rc;
}

void runs_buf_free(runs_buf *b)
{
    free(b->s);
    memset(b, 0, sizeof *b);
}
