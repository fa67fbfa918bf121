/* store/sha256.h — SHA-256 as the store names things: 64 lowercase hex digits in a
 * runs_oid (store/store.h). The streaming hashers (object put and verify, which hash
 * while they read or write) keep their own OpenSSL EVP contexts, started with
 * runs__sha256_begin, and name the digest with runs_sha256_digest_hex. OpenSSL's
 * libcrypto is loaded on the first hash (store/crypto_lazy.c). */
#ifndef RUNS_STORE_SHA256_H
#define RUNS_STORE_SHA256_H

#include <openssl/evp.h>
#include <stddef.h>

#include "store/store.h"

/* SHA-256 of data (len bytes) as lowercase hex in *out; no store needed. 0, or
 * RUNS_ERROR when OpenSSL fails (RUNS_EIO when libcrypto cannot be loaded). Inputs up to
 * RUNS__SHA256_SMALL_MAX bytes are hashed without libcrypto (runs__sha256_small). */
int runs_sha256_hex(runs_oid *out, const void *data, size_t len);

/* Up to this many bytes, runs_sha256_hex hashes in portable C: at 150-300 MB/s that
 * takes less time than loading and starting libcrypto (about 6 ms a process). */
#define RUNS__SHA256_SMALL_MAX ((size_t)1 << 20)

/* SHA-256 of data into digest, in portable C (store/sha256_small.c); the same bytes
 * as OpenSSL's, slower per byte, with no library to load. */
void runs__sha256_small(unsigned char digest[32], const void *data, size_t len);

/* A new EVP context started on SHA-256, loading libcrypto first where it is loaded on
 * first use; the caller frees it with EVP_MD_CTX_free. NULL with the error set
 * (RUNS_EIO: libcrypto cannot be loaded; RUNS_ENOMEM; RUNS_ERROR: OpenSSL failed). */
EVP_MD_CTX *runs__sha256_begin(void);

/* libcrypto loaded (where the build loads it on first use): 0, or RUNS_EIO with a
 * message saying what to install. store/crypto_lazy.c. */
int runs__crypto_load(void);

/* The 32-byte digest d as 64 lowercase hex digits (NUL-terminated) in *out. */
void runs_sha256_digest_hex(runs_oid *out, const unsigned char d[32]);

#endif
