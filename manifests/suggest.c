/* manifests/suggest.c — nearest-name suggestions by edit distance. */
#define _GNU_SOURCE /* strcasestr */
#include "manifests/suggest.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int runs_edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > 256 || m > 256)
        return (int)(n > m ? n : m); /* keys are short; don't bother */
    int d[257][257];
    for (size_t i = 0; i <= n; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= n; i++) {
        for (size_t j = 1; j <= m; j++) {
            int cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            int v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v)
                v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1; /* transposition: "tpye" -> "type" */
            d[i][j] = v;
        }
    }
    return d[n][m];
}

const char *runs_nearest_name(const char *s, const char *const *names, size_t n)
{
    const char *best = NULL;
    int best_d = 1 << 30;
    for (size_t i = 0; i < n; i++) {
        int d = runs_edit_distance(s, names[i]);
        if (d < best_d) {
            best_d = d;
            best = names[i];
        }
    }
    if (!best)
        return NULL;
    size_t len = strlen(best);
    int limit = len <= 3 ? 1 : len <= 6 ? 2 : 3;
    if (best_d <= limit)
        return best;
    /* a part of a longer key ("warmup_sources" for "curriculum_warmup_sources") or a
     * truncated one ("warmup" for "warmup_steps") is a likely slip too */
    size_t sl = strlen(s);
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(names[i]);
        if ((sl >= 4 && strcasestr(names[i], s)) || (l >= 4 && strcasestr(s, names[i])) ||
            (sl >= 3 && l >= 3 && strncasecmp(s, names[i], l < sl ? l : sl) == 0))
            return names[i];
    }
    return NULL;
}

const char *runs_suggest_hint(char *buf, size_t n, const char *s, const char *const *names, size_t count)
{
    const char *near = runs_nearest_name(s, names, count);
    if (!n)
        return buf;
    if (near) {
        snprintf(buf, n, " (did you mean \"%s\"?)", near);
        return buf;
    }
    size_t used = (size_t)snprintf(buf, n, " (known: ");
    for (size_t i = 0; i < count && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? ", " : "", names[i]);
    if (used < n)
        snprintf(buf + used, n - used, ")");
    if (count == 0)
        snprintf(buf, n, " (no keys are allowed here)");
    return buf;
}
