/* store/nodecache_nodes.c — a listing in memory (runs_nodes): its nodes, the strings
 * they point to, and the index by id behind runs_nodecache_find. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "store/nodecache_int.h"

void runs_nodecache_free(runs_nodes *n)
{
    if (!n)
        return;
    if (n->mem) {
        runs__nc_free(&n->mem->cache);
        for (size_t i = 0; i < n->mem->nblocks; i++)
            free(n->mem->blocks[i]);
        free(n->mem->blocks);
        free(n->mem->index);
        free(n->mem);
    }
    free(n->v);
    runs_tag_map_free(n->tags, n->ntags);
    memset(n, 0, sizeof *n);
}

/* ---- the id index ---- */

static size_t id_hash(const char *id)
{
    size_t h = 0;
    for (int i = 0; i < 16; i++)
        h = h * 16 + (size_t)(id[i] <= '9' ? id[i] - '0' : id[i] - 'a' + 10);
    return h;
}

int runs__nc_index_rebuild(runs_nodes *n, size_t want)
{
    runs_nodes_mem *m = n->mem;
    size_t ni = 64;
    while (ni < 2 * want)
        ni *= 2;
    size_t *idx = calloc(ni, sizeof *idx);
    if (!idx)
        return runs_error_set(RUNS_ENOMEM, "out of memory indexing %zu nodes", want);
    for (size_t i = 0; i < n->n; i++) {
        size_t k = id_hash(n->v[i].id) & (ni - 1);
        while (idx[k])
            k = (k + 1) & (ni - 1);
        idx[k] = i + 1;
    }
    free(m->index);
    m->index = idx;
    m->nindex = ni;
    return 0;
}

const runs_node_info *runs_nodecache_find(const runs_nodes *n, const char *id)
{
    if (!n->mem || !n->mem->nindex || !id || strlen(id) != 40)
        return NULL;
    size_t mask = n->mem->nindex - 1;
    for (size_t k = id_hash(id) & mask; n->mem->index[k]; k = (k + 1) & mask)
        if (!strcmp(n->v[n->mem->index[k] - 1].id, id))
            return &n->v[n->mem->index[k] - 1];
    return NULL;
}

/* Appends *o to n (and to the index). */
int runs__nc_nodes_add(runs_nodes *n, const runs_node_info *o)
{
    runs_nodes_mem *m = n->mem;
    if (n->n == m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 256;
        runs_node_info *nv = realloc(n->v, nc * sizeof *nv);
        if (!nv)
            return runs_error_set(RUNS_ENOMEM, "out of memory listing %zu nodes", n->n);
        n->v = nv;
        m->cap = nc;
    }
    n->v[n->n++] = *o;
    if (2 * n->n > m->nindex)
        return runs__nc_index_rebuild(n, n->n);
    size_t k = id_hash(o->id) & (m->nindex - 1);
    while (m->index[k])
        k = (k + 1) & (m->nindex - 1);
    m->index[k] = n->n;
    return 0;
}

int runs__nc_nodes_init(runs_nodes *n)
{
    memset(n, 0, sizeof *n);
    if (!(n->mem = calloc(1, sizeof *n->mem)))
        return runs_error_set(RUNS_ENOMEM, "out of memory listing nodes");
    return runs__nc_index_rebuild(n, 0);
}

/* A copy of s kept as long as n (NULL stays NULL). */
int runs__nc_keep_str(const char **out, runs_nodes *n, const char *s)
{
    *out = NULL;
    if (!s)
        return 0;
    char **nb = realloc(n->mem->blocks, (n->mem->nblocks + 1) * sizeof *nb);
    if (!nb)
        return runs_error_set(RUNS_ENOMEM, "out of memory listing nodes");
    n->mem->blocks = nb;
    if (!(nb[n->mem->nblocks] = strdup(s)))
        return runs_error_set(RUNS_ENOMEM, "out of memory listing nodes");
    *out = nb[n->mem->nblocks++];
    return 0;
}
