/* Fuzz target: the tokenizer loader (tools/bpe.h).
 * The input is written to a file and loaded as a tokenizer. Properties, for any file
 * that loads:
 *   - encode -> decode gives back the exact bytes, for a fixed sample and for the
 *     input itself as text, with and without special literals honoured,
 *   - every id encode produces is inside the vocabulary,
 *   - save -> load -> save gives the same bytes (the file format round-trips) and
 *     the reloaded tokenizer has the same vocabulary size and merge count,
 *   - no token is longer than a pre-split chunk (RUNS_BPE_MAX_CHUNK),
 * and a file that does not load is refused as corrupt with a message, never for want
 * of memory: a small file must not need gigabytes (the replay driver caps memory). */
#include "tests/fuzz/fuzz_util.h"

#include "common/error.h"
#include "tools/bpe.h"

static const char sample[] = "Hello, world! The pipe | sends 1234 bytes.\n\t<|endoftext|> caf\xc3\xa9 \xff\xfe";

static void round_trip(const runs_bpe *b, const void *text, size_t len, int flags)
{
    runs_tokens t = {0};
    char *back = NULL;
    size_t back_len = 0;
    FUZZ_CHECK(runs_bpe_encode(b, text, len, flags, &t) == 0, "encode failed: %s", runs_error_message());
    int vocab = runs_bpe_vocab_size(b);
    for (size_t i = 0; i < t.n; i++)
        FUZZ_CHECK(t.ids[i] >= 0 && t.ids[i] < vocab, "id %d at %zu outside vocabulary %d", t.ids[i], i, vocab);
    FUZZ_CHECK(runs_bpe_decode(b, t.ids, t.n, &back, &back_len) == 0, "decode failed: %s", runs_error_message());
    FUZZ_CHECK(back_len == len && memcmp(back, text, len) == 0, "decode(encode(x)) != x (%zu bytes, got %zu)", len,
               back_len);
    free(back);
    free(t.ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = fuzz_path(0, "in.bpe"), *s1 = fuzz_path(1, "s1.bpe"), *s2 = fuzz_path(2, "s2.bpe");
    runs_bpe *b = NULL, *b2 = NULL;
    uint8_t *f1 = NULL, *f2 = NULL;
    fuzz_write(in, data, size);
    int rc = runs_bpe_load(&b, in);
    if (rc != 0) {
        FUZZ_CHECK(rc == RUNS_ECORRUPT, "load returned %d: %s", rc, runs_error_message());
        FUZZ_CHECK(runs_error_message()[0], "a refusal without a message");
        goto done;
    }
    for (int id = 0; id < runs_bpe_vocab_size(b); id++) {
        size_t len;
        runs_bpe_token_bytes(b, id, &len);
        FUZZ_CHECK(len <= RUNS_BPE_MAX_CHUNK || (id >= RUNS_BPE_EOT && id < RUNS_BPE_FIRST_MERGE),
                   "token %d is %zu bytes", id, len);
    }
    FUZZ_CHECK(runs_bpe_vocab_size(b) >= RUNS_BPE_FIRST_MERGE && runs_bpe_vocab_size(b) <= RUNS_BPE_MAX_VOCAB,
               "vocab_size %d", runs_bpe_vocab_size(b));
    round_trip(b, sample, sizeof sample - 1, 0);
    round_trip(b, sample, sizeof sample - 1, RUNS_BPE_SPECIALS);
    round_trip(b, data, size, 0);
    round_trip(b, data, size, RUNS_BPE_SPECIALS);

    FUZZ_CHECK(runs_bpe_save(b, s1) == 0, "save failed: %s", runs_error_message());
    FUZZ_CHECK(runs_bpe_load(&b2, s1) == 0, "a saved tokenizer does not load: %s", runs_error_message());
    FUZZ_CHECK(runs_bpe_vocab_size(b2) == runs_bpe_vocab_size(b) && runs_bpe_n_merges(b2) == runs_bpe_n_merges(b),
               "reload changed the vocabulary");
    FUZZ_CHECK(runs_bpe_save(b2, s2) == 0, "save failed: %s", runs_error_message());
    size_t n1, n2;
    f1 = fuzz_read(s1, &n1);
    f2 = fuzz_read(s2, &n2);
    FUZZ_CHECK(n1 == n2 && memcmp(f1, f2, n1) == 0, "save -> load -> save changed the file");
done:
    runs_bpe_free(b);
    runs_bpe_free(b2);
    free(f1);
    free(f2);
    return 0;
}
