/* manifests/canon.h — canonical JSON and strict parsing with positions.
 *
 * Canonical form (same content -> same bytes, so manifests hash stably):
 * object keys sorted by byte order, no whitespace, strings escaped minimally
 * (only '"', '\\' and control characters, the latter always as \u00xx with
 * lowercase hex; UTF-8 passed through), numbers: integral values with
 * |x| < 2^53 as plain integers (-0 -> 0), everything else as the shortest
 * "%.{1..17}g" form that reads back to the same double.
 */
#ifndef RUNS_MANIFESTS_CANON_H
#define RUNS_MANIFESTS_CANON_H

#include <cJSON.h>

/* Canonical serialisation of v. Returns a malloc'd string the caller free()s,
 * or NULL with the error set (RUNS_EINVALID for NaN/Inf, RUNS_ENOMEM). */
char *runs_json_canonical(const cJSON *v);

/* Strict RFC 8259 parse of text (one value, optional surrounding whitespace).
 * Also refuses duplicate object keys, invalid UTF-8 and nesting deeper than 512.
 * Errors read "<origin>:LINE:COL: <what>" (1-based). On success *out is a new
 * tree the caller cJSON_Delete()s; on failure *out is NULL. origin may be NULL. */
int runs_json_parse(cJSON **out, const char *text, const char *origin);

/* Reads path and parses it as above; errors name the file (and line:column).
 * Caller cJSON_Delete()s *out. */
int runs_json_parse_file(cJSON **out, const char *path);

/* Value as a short human-readable snippet for error messages ("\"x\"", "-1",
 * "an object", ...). Writes at most n bytes into buf (NUL-terminated); returns buf. */
const char *runs_json_describe(char *buf, size_t n, const cJSON *v);

/* Structural equality: numbers by value (1 == 1.0), objects ignoring key order.
 * NULL equals only NULL. */
int runs_json_equal(const cJSON *a, const cJSON *b);

#endif
