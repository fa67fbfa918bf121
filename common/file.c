/* common/file.c — see file.h. */
#include "common/file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/error.h"

int runs_file_read(char **out, size_t *len, const char *path)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT ? runs_error_set(RUNS_ENOTFOUND, "%s: no such file", path)
                               : runs_error_sys(RUNS_EIO, "open", path);
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    int rc = RUNS_OK;
    for (;;) {
        if (!buf) {
            rc = runs_error_set(RUNS_ENOMEM, "out of memory reading %s", path);
            break;
        }
        n += fread(buf + n, 1, cap - n - 1, f);
        if (ferror(f)) {
            rc = runs_error_sys(RUNS_EIO, "read", path);
            break;
        }
        if (feof(f))
            break;
        cap *= 2;
        char *nb = realloc(buf, cap);
        if (!nb)
            free(buf);
        buf = nb;
    }
    fclose(f);
    if (rc != RUNS_OK) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *out = buf;
    if (len)
        *len = n;
    return RUNS_OK;
}
