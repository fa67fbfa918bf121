/* store/crypto_lazy.c — the OpenSSL functions the project calls (SHA-256 through
 * EVP), each forwarding to libcrypto loaded on first use (common/lazylib.h says why:
 * commands that never hash, `runs --help` and `runs log` among them, no longer pay
 * for loading it). Built only where the Makefile found libcrypto's soname
 * (RUNS_LIBCRYPTO_SONAME); elsewhere the programs link libcrypto as usual. */
#include "store/sha256.h"

#ifdef RUNS_LIBCRYPTO_SONAME

#include <openssl/evp.h>

#include "common/lazylib.h"

static runs_lazylib libcrypto =
    RUNS_LAZYLIB_INIT(RUNS_LIBCRYPTO_SONAME, "OpenSSL's libcrypto, the version runs was built with");

int runs__crypto_load(void)
{
    return runs_lazylib_load(&libcrypto);
}

RUNS_LAZY_FN(libcrypto, EVP_MD_CTX *, EVP_MD_CTX_new, (void), (), NULL)
RUNS_LAZY_VOID(libcrypto, EVP_MD_CTX_free, (EVP_MD_CTX * ctx), (ctx))
RUNS_LAZY_FN(libcrypto, const EVP_MD *, EVP_sha256, (void), (), NULL)
RUNS_LAZY_FN(libcrypto, int, EVP_DigestInit_ex, (EVP_MD_CTX * ctx, const EVP_MD *type, ENGINE *impl), (ctx, type, impl),
             0)
RUNS_LAZY_FN(libcrypto, int, EVP_DigestUpdate, (EVP_MD_CTX * ctx, const void *d, size_t cnt), (ctx, d, cnt), 0)
RUNS_LAZY_FN(libcrypto, int, EVP_DigestFinal_ex, (EVP_MD_CTX * ctx, unsigned char *md, unsigned int *s), (ctx, md, s),
             0)

#else

int runs__crypto_load(void)
{
    return 0; /* linked at build time: loaded before main() */
}

#endif
