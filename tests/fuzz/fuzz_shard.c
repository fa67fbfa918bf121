/* Fuzz target: the token shard loader (tools/shard.h).
 * The input is written to a file and opened as a shard. Properties:
 *   - a shard that opens has exactly (size - 1024) / 2 tokens and a header with
 *     the magic, version and that count,
 *   - opened with vocab = max token + 1 it opens; with vocab = max token it is
 *     refused with RUNS_EINVALID (every token < vocab is what training relies on),
 *   - writing its tokens back with runs_shard_write gives the input's bytes (all but
 *     the reserved header ints 3..255),
 *   - a refusal is RUNS_ECORRUPT or RUNS_EINVALID with a message. */
#include "tests/fuzz/fuzz_util.h"

#include "common/error.h"
#include "tools/shard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = fuzz_path(0, "in.tok"), *out = fuzz_path(1, "out.tok");
    runs_shard s = {0};
    int32_t *ids = NULL;
    uint8_t *back = NULL;
    fuzz_write(in, data, size);
    int rc = runs_shard_open(&s, in, 0);
    if (rc != 0) {
        FUZZ_CHECK(rc == RUNS_ECORRUPT || rc == RUNS_EINVALID, "open returned %d: %s", rc, runs_error_message());
        FUZZ_CHECK(runs_error_message()[0], "a refusal without a message");
        return 0;
    }
    FUZZ_CHECK(size >= RUNS_SHARD_HEADER_BYTES && s.count == (size - RUNS_SHARD_HEADER_BYTES) / 2 &&
                   (size - RUNS_SHARD_HEADER_BYTES) % 2 == 0,
               "%zu bytes opened as %llu tokens", size, (unsigned long long)s.count);
    int32_t h[3];
    memcpy(h, data, sizeof h);
    FUZZ_CHECK(h[0] == RUNS_SHARD_MAGIC && h[1] == RUNS_SHARD_VERSION && (uint64_t)h[2] == s.count,
               "header %d %d %d accepted", h[0], h[1], h[2]);
    int max = -1;
    uint64_t count = s.count;
    ids = fuzz_xmalloc(count * sizeof *ids);
    for (uint64_t i = 0; i < count; i++) {
        ids[i] = s.tokens[i];
        if (ids[i] > max)
            max = ids[i];
    }
    runs_shard_close(&s);
    if (max >= 0) {
        FUZZ_CHECK(runs_shard_open(&s, in, max + 1) == 0, "refused with vocab = max + 1: %s", runs_error_message());
        runs_shard_close(&s);
        if (max > 0) {
            rc = runs_shard_open(&s, in, max);
            FUZZ_CHECK(rc == RUNS_EINVALID, "token %d accepted with vocab %d (rc %d)", max, max, rc);
        }
    }
    FUZZ_CHECK(runs_shard_write(out, ids, count) == 0, "writing the tokens back failed: %s", runs_error_message());
    size_t n;
    back = fuzz_read(out, &n);
    /* header ints 3..255 are reserved (zero when we write them); the rest must match */
    FUZZ_CHECK(
        n == size && memcmp(back, data, 12) == 0 &&
            memcmp(back + RUNS_SHARD_HEADER_BYTES, data + RUNS_SHARD_HEADER_BYTES, size - RUNS_SHARD_HEADER_BYTES) == 0,
        "write(open(x)) differs from x");
    free(back);
    free(ids);
    return 0;
}
