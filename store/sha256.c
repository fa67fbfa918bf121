/* store/sha256.c — see sha256.h. */
#include "store/sha256.h"

#include <openssl/evp.h>

#include "common/error.h"

void runs_sha256_digest_hex(runs_oid *out, const unsigned char d[32])
{
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out->hex[2 * i] = hx[d[i] >> 4];
        out->hex[2 * i + 1] = hx[d[i] & 15];
    }
    out->hex[64] = '\0';
}

EVP_MD_CTX *runs__sha256_begin(void)
{
    EVP_MD_CTX *c = NULL;
    if (runs__crypto_load() != 0)
        return NULL;
    if (!(c = EVP_MD_CTX_new())) {
        runs_error_set(RUNS_ENOMEM, "out of memory starting a SHA-256 (OpenSSL EVP)");
        return NULL;
    }
    if (!EVP_DigestInit_ex(c, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(c);
        runs_error_set(RUNS_ERROR, "SHA-256 init failed (OpenSSL EVP)");
        return NULL;
    }
    return c;
}

int runs_sha256_hex(runs_oid *out, const void *data, size_t len)
{
    unsigned char d[32];
    unsigned int dl = 0;
    if (len <= RUNS__SHA256_SMALL_MAX) {
        runs__sha256_small(d, data, len);
        runs_sha256_digest_hex(out, d);
        return 0;
    }
    EVP_MD_CTX *c = runs__sha256_begin();
    if (!c)
        return runs_error_code();
    int ok = EVP_DigestUpdate(c, data, len) && EVP_DigestFinal_ex(c, d, &dl);
    EVP_MD_CTX_free(c);
    if (!ok)
        return runs_error_set(RUNS_ERROR, "SHA-256 failed (OpenSSL EVP)");
    runs_sha256_digest_hex(out, d);
    return 0;
}
