/* store/sha256.h — SHA-256 as the store names things: 64 lowercase hex digits in a
 * runs_oid (store/store.h). The streaming hashers (object put and verify, which hash
 * while they read or write) keep their own OpenSSL EVP contexts and name the digest
 * with runs_sha256_digest_hex. */
#ifndef RUNS_STORE_SHA256_H
#define RUNS_STORE_SHA256_H

#include <stddef.h>

#include "store/store.h"

/* SHA-256 of data (len bytes) as lowercase hex in *out; no store needed. 0, or
 * RUNS_ERROR when OpenSSL fails. */
int runs_sha256_hex(runs_oid *out, const void *data, size_t len);

/* The 32-byte digest d as 64 lowercase hex digits (NUL-terminated) in *out. */
void runs_sha256_digest_hex(runs_oid *out, const unsigned char d[32]);

#endif
