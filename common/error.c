/* common/error.c — thread-local last-error message. */
#include "common/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_message[1024];
static _Thread_local int last_code;

int runs_error_set(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_message, sizeof last_message, fmt, ap);
    va_end(ap);
    last_code = code;
    return code;
}

int runs_error_sys(int code, const char *step, const char *path)
{
    int saved = errno;
    const char *hint = "";
    if (saved == ENOSPC || saved == EDQUOT)
        hint = "; free some space and retry";
    else if (saved == EROFS || saved == EACCES || saved == EPERM)
        hint = "; check the store's permissions";
    return runs_error_set(code, "%s %s: %s%s", step, path ? path : "", strerror(saved), hint);
}

const char *runs_error_message(void) { return last_message; }
int runs_error_code(void) { return last_code; }

void runs_error_clear(void)
{
    last_message[0] = '\0';
    last_code = 0;
}
