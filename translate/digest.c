/*
 * SHA-256 through OpenSSL's low-level interface. OpenSSL 3 marks it
 * deprecated in favour of EVP, but EVP pays a provider fetch and context
 * allocation per digest, which dominates for the small items hashed here.
 */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <string.h>
#include "translate/digest.h"

void dw_digest_bytes(dw_digest_t *out, const void *p, size_t n)
{
    /* not SHA256(): in OpenSSL 3 it is EVP_Digest underneath, with its fetch (~650 ns a call here,
     * against ~200 ns for a whole 200-byte item this way; bench/RESULTS.md, issue 16) */
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, p, n);
    SHA256_Final(out->b, &c);
}

void dw_digest_init(dw_digest_ctx_t *ctx)
{
    SHA256_Init(&ctx->sha);
}

void dw_digest_update(dw_digest_ctx_t *ctx, const void *p, size_t n)
{
    SHA256_Update(&ctx->sha, p, n);
}

void dw_digest_final(dw_digest_ctx_t *ctx, dw_digest_t *out)
{
    SHA256_Final(out->b, &ctx->sha);
}

int dw_digest_eq(const dw_digest_t *a, const dw_digest_t *b)
{
    return memcmp(a->b, b->b, sizeof a->b) == 0;
}
