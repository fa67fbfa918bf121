/* store/put_stats.h — where runs_object_put_many's time went (store/object_put.c),
 * for bench/bench_store.c; library-internal, not part of the public API. */
#ifndef RUNS_STORE_PUT_STATS_H
#define RUNS_STORE_PUT_STATS_H

#include <stddef.h>

/* Where runs_object_put_many's time went (store/object_put.c), for bench_store: the
 * last call in this process, wall-clock seconds from its start. hash_s, write_s and
 * fsync_s are summed over threads (they overlap each other and the device). */
typedef struct {
    double written; /* the last object hashed and written to its temp file */
    double synced;  /* the last object fsynced and renamed */
    double wall;    /* the directories fsynced too: the whole call */
    double hash_s, write_s, fsync_s, dir_s;
    size_t objects, fsyncs, dirs;
} runs__put_stats;
void runs__put_stats_get(runs__put_stats *out);

#endif
