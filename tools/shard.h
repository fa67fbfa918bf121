/* tools/shard.h — token shards in llm.c's layout.
 *
 * File layout (little-endian):
 *   int32 header[256]: header[0] = 20240520 (magic), header[1] = 1 (version),
 *                      header[2] = number of tokens; the rest are 0
 *   uint16 tokens[header[2]]
 * The file size must be exactly 1024 + 2 * header[2] bytes.
 *
 * The writer streams tokens to a temporary file next to the destination and
 * renames it into place on close, so a crash never leaves a half-written shard
 * under the final name. The reader maps the file read-only and validates it.
 */
#ifndef RUNS_TOOLS_SHARD_H
#define RUNS_TOOLS_SHARD_H

#include <stddef.h>
#include <stdint.h>

#define RUNS_SHARD_MAGIC 20240520
#define RUNS_SHARD_VERSION 1
#define RUNS_SHARD_HEADER_INTS 256
#define RUNS_SHARD_HEADER_BYTES (RUNS_SHARD_HEADER_INTS * 4)

typedef struct runs_shard_writer runs_shard_writer;

typedef struct {
    char *path;             /* owned */
    const uint16_t *tokens; /* into the mapping; NULL when count == 0 */
    uint64_t count;
    void *map;
    size_t map_len;
} runs_shard;

/* Opens path for writing (a temporary file until runs_shard_writer_close).
 * *out is freed by close or abort. */
int runs_shard_writer_open(runs_shard_writer **out, const char *path);
/* Appends n tokens; each must be in 0..65535 (RUNS_EINVALID naming the position otherwise). */
int runs_shard_writer_add(runs_shard_writer *w, const int32_t *ids, size_t n);
uint64_t runs_shard_writer_count(const runs_shard_writer *w);
/* Writes the header, fsyncs and renames into place; frees w even on failure. */
int runs_shard_writer_close(runs_shard_writer *w);
/* Discards the temporary file and frees w. */
void runs_shard_writer_abort(runs_shard_writer *w);

/* One-shot: writes n tokens to path. */
int runs_shard_write(const char *path, const int32_t *ids, size_t n);

/* Maps path and validates magic, version, size, and (vocab_size > 0) that every
 * token is < vocab_size. Errors: RUNS_ENOTFOUND (no file), RUNS_ECORRUPT (bad
 * header or size, with the file name and byte offset), RUNS_EINVALID (a token
 * outside the vocabulary, naming file, token index and byte offset). On success
 * fill *s; release with runs_shard_close. */
int runs_shard_open(runs_shard *s, const char *path, int vocab_size);
void runs_shard_close(runs_shard *s);

#endif
