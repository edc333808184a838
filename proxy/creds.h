/* The caller's credentials: the headers that identify who pays, and a digest that binds every
 * transcript and upstream connection to them. */
#ifndef DW_CREDS_H
#define DW_CREDS_H

#include <h2o.h>

#include "proxy/upstream.h"
#include "translate/digest.h"

/* How many end-to-end identity headers there are (authorization, api-key, openai-organization,
 * openai-project): the only client headers copied into the upstream handshake. */
#define DW_CREDS_N 4

typedef struct {
    dw_digest_t digest;
    /* (name, value) of each identity header the request carries, in that order; values
     * borrowed from the request */
    dw_header_t hdrs[DW_CREDS_N];
    size_t n;
} dw_creds_t;

/* Reads the identity headers of req (values stay owned by req) and computes their digest. */
void dw_creds_from_req(dw_creds_t *c, h2o_req_t *req);

#endif
