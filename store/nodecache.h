/* store/nodecache.h — what a listing needs of every node, without opening each
 * node's manifest: a cache in the manner of git's commit-graph.
 *
 * STORE/cache/nodes holds one record per node: commit id, first parent, commit time,
 * and from the manifest run, kind, step, metrics.loss, metrics.val_loss and a summary
 * of changes.config (what `runs log`, `runs log --all [--json|--graph]` and `runs ls`
 * print). Records are keyed by commit id, and a commit's bytes (hence its manifest)
 * never change under its id, so a record never goes stale.
 *
 * The cache is never trusted over the lineage:
 *   - the nodes listed are those a walk from the ref files reaches (the refs are read
 *     every time; only the parent links and fields of ids the walk reaches come from
 *     the cache), so a node no ref reaches any more (gc, a deleted ref) is not listed
 *     even while the cache still holds its record;
 *   - a node the cache lacks is read from lineage.git (commit and validated manifest)
 *     and the cache is rewritten whole (store/publish.h: temp file, fsync, rename),
 *     holding exactly the nodes the walk reached (records of unreachable ids pruned);
 *     concurrent writers each write a whole file, the last rename wins, both correct;
 *   - a record also holds the inode, size and ctime of its commit's loose object file;
 *     a record whose file changed or went (damage, a repack) is not used: the node is
 *     read from the lineage again, so a damaged commit fails the listing as it would
 *     without the cache (one fstatat per listed node);
 *   - the file ends in the SHA-256 of its bytes: a damaged, truncated or foreign file
 *     (another byte order, another format version) is ignored and rewritten;
 *   - `runs verify` compares every record the lineage reaches with its commit and
 *     manifest (runs_nodecache_check) and `--repair` rewrites it (runs_nodecache_rebuild).
 * RUNS_NO_NODECACHE=1 in the environment bypasses the cache (neither read nor written):
 * every field then comes from the lineage, in the same order, so the outputs compare.
 *
 * File layout (native byte order; a reader on another order sees a bad magic):
 *   header   "RUNSNODE" magic, u32 version (2), u32 0x01020304, u32 records,
 *            u32 string-table bytes, u64 reserved (0)
 *   records  sorted by id: id[20], parent[20] (zeros = a root), i64 commit time,
 *            f64 step, f64 loss, f64 val_loss, u32 run, kind, changes (offsets into
 *            the string table), u16 changes count, u16 flags (has step/loss/val_loss),
 *            u64 inode, u64 size, i64 ctime (ns) of the commit's loose object file
 *   strings  NUL-terminated, deduplicated
 *   trailer  64 hex digits: SHA-256 of everything before it
 */
#ifndef RUNS_STORE_NODECACHE_H
#define RUNS_STORE_NODECACHE_H

#include <stddef.h>
#include <stdint.h>

#include "store/lineage.h"
#include "store/store.h"

enum {
    RUNS_NODE_HAS_STEP = 1,  /* manifest "step" is a number */
    RUNS_NODE_HAS_LOSS = 2,  /* metrics.loss is a number */
    RUNS_NODE_HAS_VAL = 4,   /* metrics.val_loss is a number */
    RUNS_NODE_REWOUND = 8,   /* reachable only from a rewound tip (not cached: refs move) */
    RUNS_NODE_HAS_NOTE = 16, /* the node has a note under refs/notes/runs (not cached) */
};

/* One node as a listing prints it. Strings are owned by the runs_nodes holding it. */
typedef struct {
    char id[41];
    char parent[41];     /* first git parent (= manifest parent), "" for a root */
    int64_t time;        /* committer time, seconds since the epoch */
    const char *run;     /* manifest "run", NULL when absent */
    const char *kind;    /* manifest "kind", NULL when absent */
    const char *changes; /* changes.config as `runs log` shows it ("  changed: PATH A->B, ..."), "" when none */
    int n_changes;       /* entries in changes.config */
    double step, loss, val_loss;
    unsigned flags; /* RUNS_NODE_* */
    /* the commit's loose object file when the fields were read (inode, size, ctime in
     * ns; zeros when not loose): a cached record is used only while that file is
     * unchanged, so a damaged or replaced commit is read (and reported) again */
    uint64_t file_ino, file_size;
    int64_t file_ctime_ns;
} runs_node_info;

typedef struct runs_nodes_mem runs_nodes_mem;

/* A list of nodes and, from runs_nodecache_all, the user tags. Free with
 * runs_nodecache_free (also after an error). */
typedef struct {
    runs_node_info *v;
    size_t n;
    runs_tag_ref *tags; /* user tags (refs/tags/NAME), sorted by id then name, as runs_tag_map */
    size_t ntags;
    runs_nodes_mem *mem; /* the strings' storage */
} runs_nodes;

/* Every node reachable from a ref under refs/heads/, refs/tags/ and refs/rewound/,
 * children before parents, newer commit time first among nodes whose children are all
 * listed (ties: higher step, then the order the walk met them: heads, rewound, tags,
 * each by ref name). RUNS_NODE_REWOUND marks nodes reachable from refs/rewound/ but
 * from no run's tip (as runs_node_rewound); RUNS_NODE_HAS_NOTE nodes with a note.
 * Fails closed like runs_node_all: a damaged ref file or an unreadable commit or
 * manifest is RUNS_ECORRUPT naming it. Extends (or rebuilds) STORE/cache/nodes when it
 * read any node from the lineage; a cache that cannot be written is left alone (the
 * listing is right either way). *out receives the nodes and the user tags. */
int runs_nodecache_all(runs_nodes *out, runs_store *s);

/* id, its parent, ..., the root, as runs_lineage, with each node's fields (no tags).
 * Nodes it had to read from the lineage are added to the cache (nothing is pruned:
 * this walk does not know what else is reachable). RUNS_ENOTFOUND when id is no node. */
int runs_nodecache_lineage(runs_nodes *out, runs_store *s, const char *id);

void runs_nodecache_free(runs_nodes *n);

/* The user tags (refs/tags/NAME, sorted by id then name, as runs_tag_map) from the files
 * directly in refs/tags/ and packed-refs: what a listing of one lineage shows, without
 * reading a per-step tag (RUN/step_N) per node as runs_tag_map does. A damaged tag file
 * is RUNS_ECORRUPT. Free with runs_tag_map_free. */
int runs_nodecache_tags(runs_tag_ref **out, size_t *n, runs_store *s);

/* The node of id in n, or NULL (a linear scan is avoided: n keeps an index). */
const runs_node_info *runs_nodecache_find(const runs_nodes *n, const char *id);

/* Compares STORE/cache/nodes with the lineage: every record whose id is one of
 * ids[0..n) (the nodes the caller's walk reached; records of other ids are never used)
 * must equal what the commit and its manifest say. *bad receives the number of
 * disagreeing or unreadable records (a file failing its checksum counts 1) and msg one
 * line naming the first; 0 and "" when there is no cache. The lineage is only read. */
int runs_nodecache_check(size_t *bad, char *msg, size_t msglen, runs_store *s, const char (*ids)[41], size_t n);

/* Rewrites STORE/cache/nodes from the lineage alone (what `runs verify --repair` does
 * with a cache that disagrees); the old file is not read. When the lineage cannot be
 * walked the file is removed (and the error returned): the next listing rebuilds it. */
int runs_nodecache_rebuild(runs_store *s);

/* 1 unless RUNS_NO_NODECACHE is set to something other than "" or "0". */
int runs_nodecache_enabled(void);

#endif
