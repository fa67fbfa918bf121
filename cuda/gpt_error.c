/* cuda/gpt_error.c — the trainer's error message (thread-local, one per thread). */
#include <stdarg.h>
#include <stdio.h>

#include "cuda/gpt_backend.h"

static _Thread_local char gpt_err_buf[512];

int gpt_set_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(gpt_err_buf, sizeof gpt_err_buf, fmt, ap);
    va_end(ap);
    return -1;
}

const char *gpt_last_error(void)
{
    return gpt_err_buf;
}
