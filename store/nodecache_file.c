/* store/nodecache_file.c — the bytes of STORE/cache/nodes: load, look up, write
 * (layout in store/nodecache.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/error.h"
#include "common/file.h"
#include "store/nodecache_int.h"
#include "store/publish.h"
#include "store/sha256.h"

#define NC_MAGIC "RUNSNODE"
#define NC_VERSION 2u
#define NC_ORDER 0x01020304u
#define NC_SUM 64 /* hex digits of the trailing SHA-256 */

typedef struct {
    char magic[8];
    uint32_t version, order, count, strbytes;
    uint64_t reserved;
} nc_header;

_Static_assert(sizeof(nc_header) == 32, "nodecache header layout");
_Static_assert(sizeof(nc_rec) == 112, "nodecache record layout");

static int unhex(unsigned char out[20], const char *hex)
{
    for (int i = 0; i < 20; i++) {
        int v = 0;
        for (int k = 0; k < 2; k++) {
            char c = hex[2 * i + k];
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (d < 0)
                return -1;
            v = v * 16 + d;
        }
        out[i] = (unsigned char)v;
    }
    return 0;
}

static void tohex(char out[41], const unsigned char id[20])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 20; i++) {
        out[2 * i] = digits[id[i] >> 4];
        out[2 * i + 1] = digits[id[i] & 15];
    }
    out[40] = '\0';
}

void runs__nc_free(nc_file *f)
{
    free(f->bytes);
    memset(f, 0, sizeof *f);
}

int runs__nc_load(nc_file *f, const char *path)
{
    char *b = NULL;
    size_t len = 0;
    nc_header h;
    runs_oid sum;
    memset(f, 0, sizeof *f);
    int rc = runs_file_read(&b, &len, path);
    if (rc == RUNS_ENOTFOUND) {
        runs_error_clear();
        return 0;
    }
    if (rc)
        return rc;
    if (len < sizeof h + NC_SUM) {
        rc = runs_error_set(RUNS_ECORRUPT, "%s: truncated (%zu bytes)", path, len);
        goto done;
    }
    memcpy(&h, b, sizeof h);
    if (memcmp(h.magic, NC_MAGIC, 8) != 0 || h.version != NC_VERSION || h.order != NC_ORDER) {
        rc = runs_error_set(RUNS_ECORRUPT, "%s: not a node cache of this version and byte order", path);
        goto done;
    }
    size_t body = sizeof h + (size_t)h.count * sizeof(nc_rec) + h.strbytes;
    if (body + NC_SUM != len || (h.strbytes && b[body - 1] != '\0')) {
        rc = runs_error_set(RUNS_ECORRUPT, "%s: %zu bytes where its header says %zu", path, len, body + NC_SUM);
        goto done;
    }
    if ((rc = runs_sha256_hex(&sum, b, body)) != 0)
        goto done;
    if (memcmp(sum.hex, b + body, NC_SUM) != 0) {
        rc = runs_error_set(RUNS_ECORRUPT, "%s: checksum mismatch (damaged or cut short)", path);
        goto done;
    }
    f->bytes = b;
    f->recs = (const nc_rec *)(b + sizeof h); /* malloc'd, so aligned; the header is 32 bytes */
    f->n = h.count;
    f->strs = b + sizeof h + (size_t)h.count * sizeof(nc_rec);
    f->strbytes = h.strbytes;
    b = NULL;
done:
    free(b);
    return rc;
}

const nc_rec *runs__nc_find(const nc_file *f, const char *hex)
{
    unsigned char id[20];
    if (!f->n || unhex(id, hex) != 0)
        return NULL;
    size_t lo = 0, hi = f->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(f->recs[mid].id, id, 20);
        if (c == 0)
            return &f->recs[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static int str_at(const char **out, const nc_file *f, uint32_t off)
{
    *out = NULL;
    if (off == NC_NONE)
        return 0;
    if (off >= f->strbytes)
        return runs_error_set(RUNS_ECORRUPT, "node cache: a string offset past the table");
    *out = f->strs + off;
    return 0;
}

int runs__nc_info(runs_node_info *o, const nc_file *f, const nc_rec *r)
{
    static const unsigned char zero[20];
    memset(o, 0, sizeof *o);
    tohex(o->id, r->id);
    if (memcmp(r->parent, zero, 20) != 0)
        tohex(o->parent, r->parent);
    o->time = r->time;
    o->step = r->step;
    o->loss = r->loss;
    o->val_loss = r->val_loss;
    o->n_changes = r->n_changes;
    o->flags = r->flags & NC_CACHED_FLAGS;
    o->file_ino = r->file_ino;
    o->file_size = r->file_size;
    o->file_ctime_ns = r->file_ctime_ns;
    int rc = str_at(&o->run, f, r->run);
    if (!rc)
        rc = str_at(&o->kind, f, r->kind);
    if (!rc)
        rc = str_at(&o->changes, f, r->changes);
    if (!rc && !o->changes)
        o->changes = "";
    return rc;
}

/* ---- writing ---- */

/* The string table being built: NUL-terminated strings, each stored once. */
typedef struct {
    char *b;
    size_t len, cap;
    uint32_t *slot; /* open addressing: offset + 1, 0 = empty */
    size_t nslot, used;
} strtab;

static uint64_t str_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int strtab_grow(strtab *t)
{
    size_t n = t->nslot ? t->nslot * 2 : 64;
    uint32_t *ns = calloc(n, sizeof *ns);
    if (!ns)
        return RUNS_ENOMEM;
    for (size_t i = 0; i < t->nslot; i++)
        if (t->slot[i]) {
            size_t k = str_hash(t->b + t->slot[i] - 1) & (n - 1);
            while (ns[k])
                k = (k + 1) & (n - 1);
            ns[k] = t->slot[i];
        }
    free(t->slot);
    t->slot = ns;
    t->nslot = n;
    return 0;
}

/* The offset of s in the table, adding it when new. */
static int strtab_put(uint32_t *off, strtab *t, const char *s)
{
    if (!s) {
        *off = NC_NONE;
        return 0;
    }
    if (2 * (t->used + 1) > t->nslot && strtab_grow(t))
        return runs_error_set(RUNS_ENOMEM, "out of memory writing the node cache");
    size_t k = str_hash(s) & (t->nslot - 1);
    for (; t->slot[k]; k = (k + 1) & (t->nslot - 1))
        if (!strcmp(t->b + t->slot[k] - 1, s)) {
            *off = t->slot[k] - 1;
            return 0;
        }
    size_t n = strlen(s) + 1;
    if (t->len + n >= NC_NONE - 1)
        return runs_error_set(RUNS_EINVALID, "node cache: string table over 4 GiB");
    if (t->len + n > t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 4096;
        while (nc < t->len + n)
            nc *= 2;
        char *nb = realloc(t->b, nc);
        if (!nb)
            return runs_error_set(RUNS_ENOMEM, "out of memory writing the node cache");
        t->b = nb;
        t->cap = nc;
    }
    memcpy(t->b + t->len, s, n);
    *off = (uint32_t)t->len;
    t->slot[k] = (uint32_t)t->len + 1;
    t->len += n;
    t->used++;
    return 0;
}

static int cmp_info_ptr(const void *a, const void *b)
{
    /* lower-case hex sorts like the 20 bytes it spells */
    return strcmp((*(const runs_node_info *const *)a)->id, (*(const runs_node_info *const *)b)->id);
}

int runs__nc_write(const char *path, const runs_node_info *v, size_t n)
{
    const runs_node_info **p = malloc((n ? n : 1) * sizeof *p);
    nc_rec *recs = malloc((n ? n : 1) * sizeof *recs);
    strtab t = {0};
    char *out = NULL, dir[4096];
    size_t nr = 0;
    int rc = 0;
    if (!p || !recs) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory writing the node cache (%zu nodes)", n);
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        p[i] = &v[i];
    qsort(p, n, sizeof *p, cmp_info_ptr);
    for (size_t i = 0; i < n; i++) {
        if (nr && !strcmp(p[i]->id, p[i - 1]->id))
            continue;
        nc_rec *r = &recs[nr++];
        memset(r, 0, sizeof *r);
        if (unhex(r->id, p[i]->id) || (p[i]->parent[0] && unhex(r->parent, p[i]->parent))) {
            rc = runs_error_set(RUNS_EINVALID, "node cache: '%.41s' is not a node id", p[i]->id);
            goto done;
        }
        r->time = p[i]->time;
        r->step = p[i]->step;
        r->loss = p[i]->loss;
        r->val_loss = p[i]->val_loss;
        r->n_changes = p[i]->n_changes > 0xffff ? 0xffff : (uint16_t)p[i]->n_changes;
        r->flags = (uint16_t)(p[i]->flags & NC_CACHED_FLAGS);
        r->file_ino = p[i]->file_ino;
        r->file_size = p[i]->file_size;
        r->file_ctime_ns = p[i]->file_ctime_ns;
        if ((rc = strtab_put(&r->run, &t, p[i]->run)) || (rc = strtab_put(&r->kind, &t, p[i]->kind)) ||
            (rc = strtab_put(&r->changes, &t, p[i]->changes && *p[i]->changes ? p[i]->changes : NULL)))
            goto done;
    }
    nc_header h = {.version = NC_VERSION, .order = NC_ORDER, .count = (uint32_t)nr, .strbytes = (uint32_t)t.len};
    memcpy(h.magic, NC_MAGIC, 8);
    size_t body = sizeof h + nr * sizeof *recs + t.len;
    if (!(out = malloc(body + NC_SUM))) {
        rc = runs_error_set(RUNS_ENOMEM, "out of memory writing the node cache (%zu bytes)", body);
        goto done;
    }
    memcpy(out, &h, sizeof h);
    memcpy(out + sizeof h, recs, nr * sizeof *recs);
    if (t.len)
        memcpy(out + sizeof h + nr * sizeof *recs, t.b, t.len);
    runs_oid sum;
    if ((rc = runs_sha256_hex(&sum, out, body)) != 0)
        goto done;
    memcpy(out + body, sum.hex, NC_SUM);
    /* STORE/cache/ may not exist yet (a store made before any cache) */
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
            rc = runs_error_sys(RUNS_EIO, "mkdir", dir);
            goto done;
        }
    }
    rc = runs_file_write_atomic(path, out, body + NC_SUM);
done:
    free(p);
    free(recs);
    free(t.b);
    free(t.slot);
    free(out);
    return rc;
}

static int same_str(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

int runs__nc_same(const runs_node_info *a, const runs_node_info *b, const char **field)
{
    *field = strcmp(a->id, b->id)                                                ? "id"
             : strcmp(a->parent, b->parent)                                      ? "parent"
             : a->time != b->time                                                ? "commit time"
             : !same_str(a->run, b->run)                                         ? "run"
             : !same_str(a->kind, b->kind)                                       ? "kind"
             : (a->flags & NC_CACHED_FLAGS) != (b->flags & NC_CACHED_FLAGS)      ? "presence of step/loss/val_loss"
             : memcmp(&a->step, &b->step, sizeof a->step)                        ? "step"
             : memcmp(&a->loss, &b->loss, sizeof a->loss)                        ? "loss"
             : memcmp(&a->val_loss, &b->val_loss, sizeof a->val_loss)            ? "val_loss"
             : a->n_changes != b->n_changes || !same_str(a->changes, b->changes) ? "changes"
                                                                                 : NULL;
    return *field == NULL;
}
