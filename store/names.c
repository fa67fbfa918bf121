/* store/names.c — see names.h. */
#include "store/names.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "manifests/suggest.h"
#include "store/lineage.h"

const char *runs_store_suggest(char *buf, size_t n, runs_store *s, const char *name)
{
    char **runs = NULL, **tags = NULL;
    const char **all = NULL;
    size_t nruns = 0, ntags = 0, k = 0;
    buf[0] = '\0';
    if (runs_run_list(&runs, &nruns, s) || runs_tag_list(&tags, &ntags, s, NULL))
        goto done;
    if (!(all = malloc((nruns + ntags + 1) * sizeof *all)))
        goto done;
    for (size_t i = 0; i < nruns; i++)
        all[k++] = runs[i];
    for (size_t i = 0; i < ntags; i++)
        all[k++] = tags[i];
    const char *near = runs_nearest_name(name, all, k);
    if (near && strcmp(near, name))
        snprintf(buf, n, " (did you mean \"%s\"?)", near);
done:
    free(all);
    runs_strings_free(runs, nruns);
    runs_strings_free(tags, ntags);
    runs_error_clear(); /* a listing that failed only means no suggestion */
    return buf;
}
