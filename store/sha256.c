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

int runs_sha256_hex(runs_oid *out, const void *data, size_t len)
{
    unsigned char d[32];
    unsigned int dl = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) && EVP_DigestUpdate(c, data, len) &&
             EVP_DigestFinal_ex(c, d, &dl);
    EVP_MD_CTX_free(c);
    if (!ok)
        return runs_error_set(RUNS_ERROR, "SHA-256 failed (OpenSSL EVP)");
    runs_sha256_digest_hex(out, d);
    return 0;
}
