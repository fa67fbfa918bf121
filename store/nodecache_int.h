/* store/nodecache_int.h — shared by store/nodecache.c (the walks),
 * store/nodecache_nodes.c (the list in memory), store/nodecache_read.c (a node from the
 * lineage) and store/nodecache_file.c (the file STORE/cache/nodes); not part of the
 * public API. */
#ifndef RUNS_STORE_NODECACHE_INT_H
#define RUNS_STORE_NODECACHE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "store/nodecache.h"

/* One record of the file, as laid out on disk (see store/nodecache.h). */
typedef struct {
    unsigned char id[20], parent[20];
    int64_t time;
    double step, loss, val_loss;
    uint32_t run, kind, changes; /* string offsets; NC_NONE = NULL */
    uint16_t n_changes, flags;
    uint64_t file_ino, file_size;
    int64_t file_ctime_ns;
} nc_rec;

#define NC_NONE 0xffffffffu
#define NC_CACHED_FLAGS (RUNS_NODE_HAS_STEP | RUNS_NODE_HAS_LOSS | RUNS_NODE_HAS_VAL)

/* A loaded cache file: its bytes (owned), the records and the string table in them. */
typedef struct {
    char *bytes;
    const nc_rec *recs;
    size_t n;
    const char *strs;
    size_t strbytes;
} nc_file;

/* Loads path into *f. 0 with f->n == 0 when there is no file; RUNS_ECORRUPT (message
 * set) when the file is there but unusable: truncated, a bad checksum or magic, another
 * version or byte order. Nothing of a rejected file is kept. */
int runs__nc_load(nc_file *f, const char *path);
void runs__nc_free(nc_file *f);

/* What a runs_nodes owns besides its array (store/nodecache_nodes.c). */
struct runs_nodes_mem {
    nc_file cache; /* the loaded cache file: cached nodes' strings point into it */
    char **blocks; /* strings of nodes read from the lineage */
    size_t nblocks;
    size_t *index; /* open addressing over v: position + 1, 0 = empty */
    size_t nindex;
    size_t cap; /* allocated entries of v */
};

/* ---- the list in memory (store/nodecache_nodes.c) ---- */

/* An empty list with its index (runs_nodecache_free frees it). */
int runs__nc_nodes_init(runs_nodes *n);
/* Appends *o to n (and to the index). */
int runs__nc_nodes_add(runs_nodes *n, const runs_node_info *o);
/* Rebuilds n's id index for want nodes (after the array is reordered). */
int runs__nc_index_rebuild(runs_nodes *n, size_t want);
/* A copy of s kept as long as n (NULL stays NULL). */
int runs__nc_keep_str(const char **out, runs_nodes *n, const char *s);

/* ---- a node from the lineage (store/nodecache_read.c) ---- */

/* The loose object file of commit id (under the objects directory objfd) into o's
 * file_* fields; zeros when it is not loose or cannot be seen. */
void runs__nc_commit_file(runs_node_info *o, int objfd, const char *id);
/* lineage.git/objects opened as a directory (-1 when it cannot be). */
int runs__nc_objects_dir(runs_store *s);
/* Node id's fields from its commit and its (validated) manifest; objfd: where to see
 * its loose object file (-1: not asked). Strings are kept in n. */
int runs__nc_read_node(runs_node_info *o, runs_nodes *n, runs_store *s, const char *id, int objfd);

/* The record of the node whose 40-hex id is hex, or NULL. */
const nc_rec *runs__nc_find(const nc_file *f, const char *hex);

/* The node of record r into o (strings point into f's bytes; flags only the cached ones).
 * RUNS_ECORRUPT when a string offset is out of the table. */
int runs__nc_info(runs_node_info *o, const nc_file *f, const nc_rec *r);

/* Writes v[0..n) as the whole cache file at path (atomically; the directory is created
 * when missing). v's order does not matter; a node listed twice is written once. */
int runs__nc_write(const char *path, const runs_node_info *v, size_t n);

/* 1 when a and b agree on every cached field; else 0 and the first differing field's
 * name in *field. */
int runs__nc_same(const runs_node_info *a, const runs_node_info *b, const char **field);

/* A ref and the object it names (40 hex). */
typedef struct {
    const char *name; /* "refs/heads/main", into the names buffer of runs__nc_read_refs */
    char hex[41];
} nc_ref;

/* Every ref under refs/heads/, refs/tags/, refs/rewound/ (tags_only: the files directly
 * in refs/tags/), loose or packed, sorted by name; *names holds the names (free it
 * after *out). A damaged ref file is RUNS_ECORRUPT, worded by runs__refs_check (as
 * runs_node_all): a shorter list would hide nodes. (store/nodecache_refs.c) */
int runs__nc_read_refs(nc_ref **out, size_t *n, char **names, runs_store *s, int tags_only);

/* Reorders v[0..n) children first, then newer time, higher step, lower index; par[i]
 * is the index of v[i]'s parent, n when it is not in v. (store/nodecache_order.c) */
int runs__nc_order(runs_node_info *v, size_t n, const size_t *par);

#endif
