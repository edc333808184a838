#include "proxy/creds.h"

#include <string.h>

const char *const dw_creds_names[DW_CREDS_N] = {"authorization", "api-key", "openai-organization", "openai-project"};

void dw_creds_from_req(dw_creds_t *c, h2o_req_t *req)
{
    dw_digest_ctx_t ctx;
    dw_digest_init(&ctx);
    dw_digest_update(&ctx, "dw-cred-v1", 11);
    for (size_t i = 0; i < DW_CREDS_N; i++) {
        ssize_t at = h2o_find_header_by_str(&req->headers, dw_creds_names[i], strlen(dw_creds_names[i]), -1);
        c->values[i] = at >= 0 ? req->headers.entries[at].value : h2o_iovec_init(NULL, 0);
        /* length-prefixed so that no value can spill into the next field */
        uint64_t len = at >= 0 ? c->values[i].len + 1 : 0;
        dw_digest_update(&ctx, &len, sizeof(len));
        dw_digest_update(&ctx, c->values[i].base, c->values[i].len);
    }
    dw_digest_final(&ctx, &c->digest);
}
