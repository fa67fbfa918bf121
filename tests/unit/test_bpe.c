/* tests/unit/test_bpe.c — byte-level BPE: round trips, specials, determinism, save/load. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "common/error.h"
#include "tools/bpe.h"

static const char *CORPUS = "The quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs.\n"
                            "A tokenizer learns merges: the the the then there these those.\n"
                            "Numbers 12345 and 2024-05-20, tabs\tand  double  spaces.\n"
                            "Unicode: café, naïve, Straße, 東京, Москва, مرحبا.\n";

static char *big_corpus(size_t *len)
{
    size_t n = strlen(CORPUS), reps = 200;
    char *s = malloc(n * reps + 1);
    for (size_t i = 0; i < reps; i++)
        memcpy(s + i * n, CORPUS, n);
    s[n * reps] = 0;
    *len = n * reps;
    return s;
}

static runs_bpe *trained(int vocab)
{
    size_t len;
    char *text = big_corpus(&len);
    runs_bpe *b = NULL;
    assert_int_equal(runs_bpe_train(&b, text, len, vocab), 0);
    free(text);
    return b;
}

static void roundtrip(const runs_bpe *b, const void *bytes, size_t n, int flags)
{
    runs_tokens t = {0};
    assert_int_equal(runs_bpe_encode(b, bytes, n, flags, &t), 0);
    char *out = NULL;
    size_t out_len = 0;
    assert_int_equal(runs_bpe_decode(b, t.ids, t.n, &out, &out_len), 0);
    assert_int_equal(out_len, n);
    assert_memory_equal(out, bytes, n);
    for (size_t i = 0; i < t.n; i++)
        assert_true(t.ids[i] >= 0 && t.ids[i] < runs_bpe_vocab_size(b));
    free(out);
    free(t.ids);
}

static void test_roundtrip_text_and_compression(void **state)
{
    runs_bpe *b = trained(600);
    assert_true(runs_bpe_n_merges(b) > 100);
    roundtrip(b, CORPUS, strlen(CORPUS), 0);
    runs_tokens t = {0};
    assert_int_equal(runs_bpe_encode(b, CORPUS, strlen(CORPUS), 0, &t), 0);
    assert_true(t.n * 2 < strlen(CORPUS)); /* merges actually compress trained text */
    free(t.ids);
    runs_bpe_free(b);
}

static void test_roundtrip_arbitrary_bytes(void **state)
{
    runs_bpe *b = trained(600);
    /* every byte value, invalid UTF-8, NULs, long runs (chunk cutting) */
    unsigned char buf[4096];
    for (int i = 0; i < 256; i++)
        buf[i] = (unsigned char)i;
    const unsigned char bad[] = {0xff, 0xfe, 0xc3, 0x28, 0xe2, 0x82, 0x00, 0xf0, 0x28, 0x8c, 0xbc, 0x80};
    memcpy(buf + 256, bad, sizeof bad);
    memset(buf + 268, ' ', 300);
    memset(buf + 568, 'a', 500);
    memset(buf + 1068, '\n', 100);
    uint32_t x = 12345;
    for (int i = 1168; i < 4096; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (unsigned char)(x >> 16);
    }
    roundtrip(b, buf, sizeof buf, 0);
    roundtrip(b, buf, sizeof buf, RUNS_BPE_SPECIALS);
    roundtrip(b, "", 0, 0);
    roundtrip(b, "x", 1, 0);
    runs_bpe_free(b);
}

static void test_special_tokens(void **state)
{
    runs_bpe *b = trained(600);
    const char *s = "<|user|>hi there<|assistant|>hello<|endoftext|><|system|>";
    runs_tokens t = {0};
    assert_int_equal(runs_bpe_encode(b, s, strlen(s), RUNS_BPE_SPECIALS, &t), 0);
    assert_int_equal(t.ids[0], RUNS_BPE_USER);
    assert_int_equal(t.ids[t.n - 1], RUNS_BPE_SYSTEM);
    int seen_a = 0, seen_e = 0;
    for (size_t i = 0; i < t.n; i++) {
        seen_a += t.ids[i] == RUNS_BPE_ASSISTANT;
        seen_e += t.ids[i] == RUNS_BPE_EOT;
    }
    assert_int_equal(seen_a, 1);
    assert_int_equal(seen_e, 1);
    free(t.ids);
    /* without the flag the literal stays bytes and still round-trips */
    t = (runs_tokens){0};
    assert_int_equal(runs_bpe_encode(b, s, strlen(s), 0, &t), 0);
    for (size_t i = 0; i < t.n; i++)
        assert_true(t.ids[i] < 256 || t.ids[i] >= RUNS_BPE_FIRST_MERGE);
    free(t.ids);
    roundtrip(b, s, strlen(s), RUNS_BPE_SPECIALS);
    assert_int_equal(runs_bpe_special_id("<|endoftext|>"), 256);
    assert_int_equal(runs_bpe_special_id("<|assistant|>"), 258);
    assert_int_equal(runs_bpe_special_id("<|nope|>"), -1);
    size_t l;
    const char *ub = runs_bpe_token_bytes(b, RUNS_BPE_USER, &l);
    assert_int_equal(l, 8);
    assert_memory_equal(ub, "<|user|>", 8);
    runs_bpe_free(b);
}

static void test_training_never_learns_specials(void **state)
{
    const char *s = "<|endoftext|><|endoftext|><|endoftext|><|endoftext|>ab ab ab ab";
    runs_bpe *b = NULL;
    assert_int_equal(runs_bpe_train(&b, s, strlen(s), 300), 0);
    for (int id = RUNS_BPE_FIRST_MERGE; id < RUNS_BPE_FIRST_MERGE + runs_bpe_n_merges(b); id++) {
        size_t l;
        const char *p = runs_bpe_token_bytes(b, id, &l);
        assert_null(memchr(p, '|', l));
    }
    runs_bpe_free(b);
}

static void test_deterministic_and_save_load(void **state)
{
    runs_bpe *a = trained(700), *b = trained(700), *c = NULL;
    char pa[] = "/tmp/test_bpe_XXXXXX", pb[] = "/tmp/test_bpe_XXXXXX";
    int fa = mkstemp(pa), fb = mkstemp(pb);
    close(fa);
    close(fb);
    assert_int_equal(runs_bpe_save(a, pa), 0);
    assert_int_equal(runs_bpe_save(b, pb), 0);
    FILE *f1 = fopen(pa, "rb"), *f2 = fopen(pb, "rb");
    char b1[1 << 16], b2[1 << 16];
    size_t n1 = fread(b1, 1, sizeof b1, f1), n2 = fread(b2, 1, sizeof b2, f2);
    fclose(f1);
    fclose(f2);
    assert_int_equal(n1, n2);
    assert_memory_equal(b1, b2, n1); /* byte-identical tokenizer files */
    assert_int_equal(runs_bpe_load(&c, pa), 0);
    assert_int_equal(runs_bpe_vocab_size(c), 700);
    assert_int_equal(runs_bpe_n_merges(c), runs_bpe_n_merges(a));
    runs_tokens ta = {0}, tc = {0};
    assert_int_equal(runs_bpe_encode(a, CORPUS, strlen(CORPUS), 0, &ta), 0);
    assert_int_equal(runs_bpe_encode(c, CORPUS, strlen(CORPUS), 0, &tc), 0);
    assert_int_equal(ta.n, tc.n);
    assert_memory_equal(ta.ids, tc.ids, ta.n * sizeof(int32_t));
    free(ta.ids);
    free(tc.ids);
    unlink(pa);
    unlink(pb);
    runs_bpe_free(a);
    runs_bpe_free(b);
    runs_bpe_free(c);
}

static void test_load_errors(void **state)
{
    runs_bpe *b = NULL;
    assert_int_equal(runs_bpe_load(&b, "/nonexistent/tok.bin"), RUNS_ENOTFOUND);
    assert_non_null(strstr(runs_error_message(), "/nonexistent/tok.bin"));
    char p[] = "/tmp/test_bpe_XXXXXX";
    int fd = mkstemp(p);
    dprintf(fd, "runs-bpe 1\nvocab_size 300\nmerges 2\n97 98\n999 97\n");
    close(fd);
    assert_int_equal(runs_bpe_load(&b, p), RUNS_ECORRUPT);
    assert_non_null(strstr(runs_error_message(), "merge 1"));
    fd = open(p, O_WRONLY | O_TRUNC);
    dprintf(fd, "hello\n");
    close(fd);
    assert_int_equal(runs_bpe_load(&b, p), RUNS_ECORRUPT);
    assert_null(b);
    unlink(p);
    assert_int_equal(runs_bpe_train(&b, "abc", 3, 100), RUNS_EINVALID);
}

static void test_documents_lines_and_chat(void **state)
{
    char out[256];
    size_t n = runs_bpe_prepare_line("a\\nb\\\\n\\tc", 10, RUNS_BPE_DOC_LINES, out);
    assert_int_equal(n, 7);
    assert_string_equal(out, "a\nb\\n\tc");
    n = runs_bpe_prepare_line("> hi / < yo / > see http://a/b / < ok", 37, RUNS_BPE_DOC_CHAT, out);
    assert_string_equal(out, "<|user|>hi<|assistant|>yo<|user|>see http://a/b<|assistant|>ok");
    runs_bpe *b = trained(400);
    runs_tokens t = {0};
    long docs = 0;
    const char *text = "> q / < a\n\n> q2 / < a2\n";
    assert_int_equal(runs_bpe_encode_documents(b, text, strlen(text), RUNS_BPE_DOC_CHAT, &t, &docs), 0);
    assert_int_equal(docs, 2); /* the empty line is not a document */
    int eot = 0, user = 0;
    for (size_t i = 0; i < t.n; i++) {
        eot += t.ids[i] == RUNS_BPE_EOT;
        user += t.ids[i] == RUNS_BPE_USER;
    }
    assert_int_equal(eot, 2);
    assert_int_equal(user, 2);
    assert_int_equal(t.ids[t.n - 1], RUNS_BPE_EOT);
    free(t.ids);
    t = (runs_tokens){0};
    assert_int_equal(runs_bpe_encode_documents(b, "whole file", 10, RUNS_BPE_DOC_FILE, &t, NULL), 0);
    assert_int_equal(t.ids[t.n - 1], RUNS_BPE_EOT);
    free(t.ids);
    runs_bpe_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_text_and_compression),
        cmocka_unit_test(test_roundtrip_arbitrary_bytes),
        cmocka_unit_test(test_special_tokens),
        cmocka_unit_test(test_training_never_learns_specials),
        cmocka_unit_test(test_deterministic_and_save_load),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_documents_lines_and_chat),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
