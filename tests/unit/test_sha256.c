/* tests/unit/test_sha256.c — the two SHA-256s agree: runs__sha256_small (portable C,
 * store/sha256_small.c, what runs_sha256_hex uses for short inputs so listings start
 * without libcrypto) against FIPS 180-4's examples and against OpenSSL's EVP digest at
 * every length through the padding edges (55/56/64 bytes and their multiples), over
 * random inputs, and across RUNS__SHA256_SMALL_MAX, where runs_sha256_hex changes
 * implementation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "store/sha256.h"

static void evp_hex(runs_oid *out, const void *data, size_t len)
{
    unsigned char d[32];
    unsigned int dl = 0;
    EVP_MD_CTX *c = runs__sha256_begin();
    assert_non_null(c);
    assert_true(EVP_DigestUpdate(c, data, len) && EVP_DigestFinal_ex(c, d, &dl));
    assert_int_equal(dl, 32);
    EVP_MD_CTX_free(c);
    runs_sha256_digest_hex(out, d);
}

static void small_hex(runs_oid *out, const void *data, size_t len)
{
    unsigned char d[32];
    runs__sha256_small(d, data, len);
    runs_sha256_digest_hex(out, d);
}

/* deterministic bytes (xorshift), so a failure names a reproducible length */
static void fill(unsigned char *p, size_t n, uint64_t seed)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        p[i] = (unsigned char)(x >> 24);
    }
}

static void fips_examples(void **state)
{
    (void)state;
    static const struct {
        const char *in, *hex;
    } ex[] = {
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    runs_oid o;
    for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
        small_hex(&o, ex[i].in, strlen(ex[i].in));
        assert_string_equal(o.hex, ex[i].hex);
        assert_int_equal(runs_sha256_hex(&o, ex[i].in, strlen(ex[i].in)), 0);
        assert_string_equal(o.hex, ex[i].hex);
    }
    /* a million 'a's: many blocks (FIPS 180-2's third example) */
    size_t n = 1000000;
    char *a = malloc(n);
    assert_non_null(a);
    memset(a, 'a', n);
    small_hex(&o, a, n);
    assert_string_equal(o.hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(a);
}

static void every_length_through_the_padding_edges(void **state)
{
    (void)state;
    unsigned char buf[300];
    runs_oid a, b;
    for (size_t len = 0; len <= sizeof buf; len++) {
        fill(buf, len, len);
        small_hex(&a, buf, len);
        evp_hex(&b, buf, len);
        if (strcmp(a.hex, b.hex) != 0)
            fail_msg("length %zu: portable %s, OpenSSL %s", len, a.hex, b.hex);
    }
}

static void random_inputs_and_the_threshold(void **state)
{
    (void)state;
    size_t max = RUNS__SHA256_SMALL_MAX;
    unsigned char *buf = malloc(max + 4096);
    assert_non_null(buf);
    const size_t lens[] = {1000, 4095, 65536, 123457, max - 1, max, max + 1, max + 4095};
    runs_oid a, b;
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        fill(buf, lens[i], 1000 + i);
        assert_int_equal(runs_sha256_hex(&a, buf, lens[i]), 0);
        evp_hex(&b, buf, lens[i]);
        if (strcmp(a.hex, b.hex) != 0)
            fail_msg("length %zu: runs_sha256_hex %s, OpenSSL %s", lens[i], a.hex, b.hex);
        if (lens[i] <= max) {
            small_hex(&a, buf, lens[i]);
            assert_string_equal(a.hex, b.hex);
        }
    }
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fips_examples),
        cmocka_unit_test(every_length_through_the_padding_edges),
        cmocka_unit_test(random_inputs_and_the_threshold),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
