/* store/jsonl.h — the one module that writes, reads and truncates the JSON Lines
 * logs (.loss.json, .samples.json, the loss/samples segments kept in the store).
 *
 * ONE POLICY for a damaged log, whoever reads it:
 *   - a line holding only blanks is skipped;
 *   - a torn last line (the text does not end in '\n') is what a crash mid-append
 *     leaves: it is skipped and counted (*torn = 1), never an error;
 *   - any other line that is not a JSON object is corruption: RUNS_ECORRUPT naming
 *     "FILE:LINE: not a JSON object" (1-based line numbers).
 * Writers append whole lines and check every step: a short write or a failed fflush
 * is RUNS_EIO naming "write", a failed fsync names "fsync".
 * Truncation rewrites through the atomic publish path (store/publish.h), so a crash
 * leaves the old log or the new one.
 */
#ifndef RUNS_STORE_JSONL_H
#define RUNS_STORE_JSONL_H

#include <stddef.h>
#include <stdio.h>

#include <cJSON.h>

/* Called once per record, in order. obj is the parsed object and line/len its
 * exact text without the '\n' (both owned by the reader, valid during the call);
 * lineno counts from 1. A non-zero return stops the reading and is returned. */
typedef int (*runs_jsonl_fn)(void *ctx, const cJSON *obj, const char *line, size_t len, long lineno);

/* flags for runs_jsonl_read_buf: the text is a store object (a loss or samples
 * segment), complete when it was hashed, so it cannot be torn: a last line without
 * '\n' is a record like any other (and corruption if it does not parse). */
#define RUNS_JSONL_WHOLE 1

/* Reads text[0..len) under the policy above; origin names it in messages (a path,
 * or "object abc123..."). flags: 0 or RUNS_JSONL_WHOLE. torn may be NULL; else it
 * is set to the number of torn lines skipped (0 or 1). */
int runs_jsonl_read_buf(const char *text, size_t len, const char *origin, int flags, runs_jsonl_fn fn, void *ctx,
                        size_t *torn);

/* Reads the file at path; RUNS_ENOTFOUND when it does not exist (callers that treat
 * a missing log as empty clear that error). An empty file calls fn never. */
int runs_jsonl_read_file(const char *path, runs_jsonl_fn fn, void *ctx, size_t *torn);

/* Reads a stream to its end (stdin for "-"); origin names it in messages. */
int runs_jsonl_read_stream(FILE *f, const char *origin, runs_jsonl_fn fn, void *ctx, size_t *torn);

/* Opens path for appending (created 0644 when missing). A torn last line left by a
 * crash is cut off first (so the next line does not glue onto it) and counted in
 * *torn (may be NULL). *out is closed with fclose by the caller. */
int runs_jsonl_open_append(FILE **out, size_t *torn, const char *path);

/* Appends one record: line (len bytes, without the '\n', which is added) and
 * flushes it to the kernel. path names the log in messages. */
int runs_jsonl_append(FILE *f, const char *path, const char *line, size_t len);

/* Makes what was appended durable (fflush + fsync), before a node names it. */
int runs_jsonl_sync(FILE *f, const char *path);

/* Keeps only the records whose "step" satisfies step < limit (keep_equal = 0) or
 * step <= limit (keep_equal = 1), byte for byte, and rewrites path atomically. A
 * missing file is created empty; a torn last line is dropped; a corrupt line or a
 * record without a numeric "step" is RUNS_ECORRUPT and the file is left as it was. */
int runs_jsonl_truncate_steps(const char *path, long limit, int keep_equal);

#endif
