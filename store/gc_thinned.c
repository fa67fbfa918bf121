/* store/gc_thinned.c — the store's `thinned` list: the nodes gc thinned (their tensor
 * objects may be gone), read lazily and checked against its trailing checksum, looked
 * up by id or by (run, step), and replaced atomically (invariant 5 in store/store.c).
 * gc (store/gc.c) decides what goes in it. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "store/gc.h"
#include "store/internal.h"
#include "store/sha256.h"

int runs__thinned_cmp(const void *a, const void *b)
{
    return strcmp(((const struct runs_thinned *)a)->id, ((const struct runs_thinned *)b)->id);
}

int runs__thinned_load(runs_store *s)
{
    char p[PATH_MAX], line[256];
    if (s->thinned_loaded)
        return 0;
    snprintf(p, sizeof p, "%s/thinned", s->dir);
    FILE *f = fopen(p, "r");
    if (!f) {
        if (errno == ENOENT) {
            s->thinned_loaded = 1;
            return 0;
        }
        return runs_error_sys(RUNS_EIO, "open", p);
    }
    size_t cap = 0, body = 0;
    int rc = 0, sealed = 0;
    char want[80], *seen = NULL;
    while (fgets(line, sizeof line, f)) {
        struct runs_thinned e;
        size_t ll = strlen(line);
        char extra[2];
        memset(&e, 0, sizeof e);
        if (sealed) {
            rc = runs_error_set(RUNS_ECORRUPT, "%s: a line after its checksum line; run `runs verify --all`", p);
            goto done;
        }
        /* "# sha256 <hex>": the checksum of every byte before it (lists older than
         * the checksum have none and stay readable) */
        if (line[0] == '#') {
            if (ll != 74 || line[73] != '\n' || sscanf(line, "# sha256 %64s %1s", want, extra) != 1 ||
                !runs_oid_valid(want)) {
                rc = runs_error_set(RUNS_ECORRUPT, "%s: malformed checksum line; run `runs verify --all`", p);
                goto done;
            }
            sealed = 1;
            continue;
        }
        char lead[41];
        snprintf(lead, sizeof lead, "%.40s", line);
        int hex = strlen(line) > 40 && runs_is_hex(lead, 40);
        if (!hex || line[ll - 1] != '\n' || sscanf(line, "%40s %63s %lld %1s", e.id, e.run, &e.step, extra) != 3 ||
            strlen(e.id) != 40 || e.step < 0) {
            rc = runs_error_set(RUNS_ECORRUPT, "%s: malformed line '%.60s'; run `runs verify --all`", p, line);
            goto done;
        }
        char *nb = realloc(seen, body + ll + 1);
        if (!nb) {
            rc = runs_error_set(RUNS_ENOMEM, "out of memory reading %s", p);
            goto done;
        }
        seen = nb;
        memcpy(seen + body, line, ll);
        body += ll;
        if (s->n_thinned == cap) {
            cap = cap ? cap * 2 : 64;
            struct runs_thinned *nv = realloc(s->thinned, cap * sizeof *nv);
            if (!nv) {
                rc = runs_error_set(RUNS_ENOMEM, "out of memory reading %s", p);
                goto done;
            }
            s->thinned = nv;
        }
        s->thinned[s->n_thinned++] = e;
    }
    if (ferror(f)) {
        rc = runs_error_sys(RUNS_EIO, "read", p);
        goto done;
    }
    if (sealed) {
        runs_oid got;
        if ((rc = runs_sha256_hex(&got, seen ? seen : "", body)) != 0)
            goto done;
        if (strcmp(got.hex, want) != 0) {
            rc = runs_error_set(
                RUNS_ECORRUPT,
                "%s: its checksum does not match its %zu bytes of entries (damaged); run `runs verify --all`", p, body);
            goto done;
        }
    }
    if (s->n_thinned)
        qsort(s->thinned, s->n_thinned, sizeof *s->thinned, runs__thinned_cmp);
    s->thinned_loaded = 1;
done:
    fclose(f);
    free(seen);
    if (rc) {
        free(s->thinned);
        s->thinned = NULL;
        s->n_thinned = 0;
    }
    return rc;
}

const struct runs_thinned *runs__thinned_find(runs_store *s, const char *id)
{
    struct runs_thinned key;
    if (runs__thinned_load(s) != 0 || !id || strlen(id) != 40)
        return NULL;
    memcpy(key.id, id, 41);
    if (!s->n_thinned)
        return NULL; /* bsearch on a NULL array is undefined even with 0 items */
    return bsearch(&key, s->thinned, s->n_thinned, sizeof *s->thinned, runs__thinned_cmp);
}

const struct runs_thinned *runs__thinned_find_step(runs_store *s, const char *run, long long step)
{
    if (runs__thinned_load(s) != 0)
        return NULL;
    for (size_t i = 0; i < s->n_thinned; i++)
        if (s->thinned[i].step == step && !strcmp(s->thinned[i].run, run))
            return &s->thinned[i];
    return NULL;
}

int runs_node_thinned(runs_store *s, const char *id)
{
    return runs__thinned_find(s, id) != NULL;
}

int runs__thinned_write(runs_store *s, const struct runs_thinned *v, size_t n)
{
    char p[PATH_MAX], tmpdir[PATH_MAX];
    size_t cap = n * 128 + 80, len = 0;
    char *buf = malloc(cap);
    runs_oid sum;
    if (!buf)
        return runs_error_set(RUNS_ENOMEM, "out of memory writing the thinned list");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s %s %lld\n", v[i].id, v[i].run, v[i].step);
    /* a trailing checksum, so verify (and gc itself) can tell a damaged list */
    if (runs_sha256_hex(&sum, buf, len) != 0) {
        free(buf);
        return runs_error_code() ? runs_error_code() : RUNS_ERROR;
    }
    len += (size_t)snprintf(buf + len, cap - len, "# sha256 %s\n", sum.hex);
    snprintf(p, sizeof p, "%s/thinned", s->dir);
    snprintf(tmpdir, sizeof tmpdir, "%s/tmp", s->dir);
    int rc = runs__write_atomic(p, buf, len, tmpdir, 0644);
    free(buf);
    if (rc == 0)
        s->thinned_loaded = 0, free(s->thinned), s->thinned = NULL, s->n_thinned = 0;
    return rc;
}
