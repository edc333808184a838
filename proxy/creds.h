/* What the request's headers mean for the WebSocket path, read through the one header table
 * (translate/headers.h): the caller's credentials and the digest that binds every transcript to
 * them; the connection-scoped headers, which with the credentials make the pool key (a request
 * only ever runs on a socket opened with its own values) and the handshake; the per-request
 * headers carried in the frame's `client_metadata`; and the first header the table does not know
 * (then the request goes over plain HTTP unchanged). */
#ifndef DW_CREDS_H
#define DW_CREDS_H

#include <h2o.h>

#include "proxy/upstream.h"
#include "translate/digest.h"
#include "translate/headers.h"
#include "translate/json_scan.h"

/* The credential headers: authorization, api-key, openai-organization, openai-project. */
#define DW_CREDS_N DW_HDR_N_CREDENTIALS

typedef struct {
    dw_digest_t digest; /* the credentials only: binds transcripts (and the per-key limits) */
    dw_digest_t key;    /* the credentials and the connection headers: which sockets it may use */
    /* the handshake's headers: each credential header the request carries, then each connection
     * header (OpenAI-Beta always, merged with WebSocket mode's flag); values borrowed from the
     * request, except OpenAI-Beta's, which is `beta` */
    dw_header_t hdrs[DW_UPCONN_HDRS];
    size_t n;
    size_t hdr_bytes;   /* names and values of hdrs, the handshake's share of the request */
    dw_buf_t beta;      /* the merged OpenAI-Beta value (owned) */
    /* the metadata headers as client_metadata members: keys without quotes, values JSON strings;
     * spans into md_buf (owned) */
    dw_members_t metadata;
    dw_buf_t md_buf;
    /* the first header of class unknown: name borrowed from the request, {NULL,0} when none */
    dw_span_t unknown;
} dw_creds_t;

/* Reads req's headers (values stay owned by req). Returns 0, or -1 when out of memory (then free
 * it all the same). */
int dw_creds_from_req(dw_creds_t *c, h2o_req_t *req);

void dw_creds_free(dw_creds_t *c);

#endif
