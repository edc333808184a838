/*
 * SHA-256 digests: the identity of items, chains and credentials.
 *
 * Uses OpenSSL's low-level SHA-256 (SHA-NI accelerated), which has no
 * per-call provider lookup and is the fastest path for the many small
 * inputs deltawire hashes.
 */
#ifndef DW_TRANSLATE_DIGEST_H
#define DW_TRANSLATE_DIGEST_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/sha.h>

typedef struct {
    uint8_t b[32];
} dw_digest_t;

/* Streaming state; lives on the caller's stack, owns nothing. */
typedef struct {
    SHA256_CTX sha;
} dw_digest_ctx_t;

/* One-shot SHA-256 of [p, p+n). */
void dw_digest_bytes(dw_digest_t *out, const void *p, size_t n);

void dw_digest_init(dw_digest_ctx_t *ctx);
void dw_digest_update(dw_digest_ctx_t *ctx, const void *p, size_t n);
void dw_digest_final(dw_digest_ctx_t *ctx, dw_digest_t *out);

/* 1 if equal, else 0 (not constant-time: digests here are not secrets). */
int dw_digest_eq(const dw_digest_t *a, const dw_digest_t *b);

#endif
