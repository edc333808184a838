/* The caller's credentials: the headers that identify who pays, and a digest that binds every
 * transcript and upstream connection to them. */
#ifndef DW_CREDS_H
#define DW_CREDS_H

#include <h2o.h>

#include "translate/digest.h"

#define DW_CREDS_N 4

/* The end-to-end identity headers copied into the upstream handshake, and nothing else. */
extern const char *const dw_creds_names[DW_CREDS_N];

typedef struct {
    dw_digest_t digest;
    h2o_iovec_t values[DW_CREDS_N]; /* borrowed from the request; len 0 when absent */
} dw_creds_t;

/* Reads the identity headers of req (values stay owned by req) and computes their digest. */
void dw_creds_from_req(dw_creds_t *c, h2o_req_t *req);

#endif
