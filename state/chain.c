#include "state/chain.h"

static const char chain_domain[] = "dw-chain-v1"; /* hashed with its NUL */

void dw_chain_seed(dw_digest_t *link, const dw_digest_t *cred)
{
    dw_digest_ctx_t c;
    dw_digest_init(&c);
    dw_digest_update(&c, chain_domain, sizeof chain_domain);
    dw_digest_update(&c, cred->b, sizeof cred->b);
    dw_digest_final(&c, link);
}

void dw_chain_next(dw_digest_t *link, const dw_digest_t *item)
{
    uint8_t buf[64];
    for (int i = 0; i < 32; i++) {
        buf[i] = link->b[i];
        buf[32 + i] = item->b[i];
    }
    dw_digest_bytes(link, buf, sizeof buf);
}
