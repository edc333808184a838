#include "proxy/creds.h"

#include <string.h>

/* The one table of identity header names: the digest and the handshake both read it. */
static const char *const names[DW_CREDS_N] = {"authorization", "api-key", "openai-organization", "openai-project"};

void dw_creds_from_req(dw_creds_t *c, h2o_req_t *req)
{
    dw_digest_ctx_t ctx;
    dw_digest_init(&ctx);
    dw_digest_update(&ctx, "dw-cred-v1", 11);
    c->n = 0;
    for (size_t i = 0; i < DW_CREDS_N; i++) {
        const char *name = names[i];
        ssize_t at = h2o_find_header_by_str(&req->headers, name, strlen(name), -1);
        h2o_iovec_t v = at >= 0 ? req->headers.entries[at].value : h2o_iovec_init(NULL, 0);
        /* length-prefixed so that no value can spill into the next field */
        uint64_t len = at >= 0 ? v.len + 1 : 0;
        dw_digest_update(&ctx, &len, sizeof(len));
        dw_digest_update(&ctx, v.base, v.len);
        if (v.len > 0)
            c->hdrs[c->n++] = (dw_header_t){name, v.base, v.len};
    }
    dw_digest_final(&ctx, &c->digest);
}
