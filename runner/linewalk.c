/* runner/linewalk.c — a lineage's history, root first; see runner/linewalk.h. */
#include "runner/linewalk.h"

#include <stdlib.h>

#include "store/lineage.h"

int runs_linewalk_concat(char **out, size_t *len, runs_store *s, const char *node_id, runs_linewalk_fn fn, void *ctx)
{
    char(*ids)[41] = NULL;
    size_t n = 0;
    runs_seg b = {0};
    cJSON *m = NULL;
    int rc = runs_lineage(&ids, &n, s, node_id);
    if (rc)
        goto done;
    /* runs_lineage lists node_id first: walk it backwards, so the history runs in step order */
    for (size_t i = n; i-- > 0;) {
        if ((rc = runs_node_manifest(&m, s, ids[i])) || (rc = fn(&b, s, m, ids[i], ctx)))
            goto done;
        cJSON_Delete(m);
        m = NULL;
    }
    if (!b.buf && (rc = runs_seg_append(&b, "", 0)))
        goto done;
    *out = b.buf;
    *len = b.len;
    b.buf = NULL;
done:
    cJSON_Delete(m);
    free(ids);
    free(b.buf);
    return rc;
}
