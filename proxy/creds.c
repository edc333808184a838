#include "proxy/creds.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The credential digest: length-prefixed values in dw_hdr_credentials' order, so that no value can
 * spill into the next field (never change it: it keys every transcript). */
static void credential_digest(dw_creds_t *c, const h2o_iovec_t *vals, const int *present)
{
    dw_digest_ctx_t ctx;
    dw_digest_init(&ctx);
    dw_digest_update(&ctx, "dw-cred-v1", 11);
    for (size_t i = 0; i < DW_HDR_N_CREDENTIALS; i++) {
        uint64_t len = present[i] ? vals[i].len + 1 : 0;
        dw_digest_update(&ctx, &len, sizeof(len));
        dw_digest_update(&ctx, vals[i].base, vals[i].len);
    }
    dw_digest_final(&ctx, &c->digest);
}

/* The pool key: the credential digest, then the connection headers' values as the handshake
 * carries them (length-prefixed, in dw_hdr_connection's order). */
static void pool_key(dw_creds_t *c, const h2o_iovec_t *conn)
{
    dw_digest_ctx_t ctx;
    dw_digest_init(&ctx);
    dw_digest_update(&ctx, "dw-pool-v1", 11);
    dw_digest_update(&ctx, &c->digest, sizeof(c->digest));
    for (size_t i = 0; i < DW_HDR_N_CONNECTION; i++) {
        uint64_t len = conn[i].base != NULL ? conn[i].len + 1 : 0;
        dw_digest_update(&ctx, &len, sizeof(len));
        dw_digest_update(&ctx, conn[i].base, conn[i].len);
    }
    dw_digest_final(&ctx, &c->key);
}

static void add_hdr(dw_creds_t *c, const char *name, const char *v, size_t n)
{
    c->hdrs[c->n++] = (dw_header_t){name, v, n};
    c->hdr_bytes += strlen(name) + n;
}

/* One metadata header as a client_metadata member; the spans are offsets until fixed up. */
static int add_metadata(dw_creds_t *c, const h2o_header_t *h)
{
    dw_span_t k, v;
    size_t at = c->md_buf.len;
    if (dw_headers_metadata_key(&c->md_buf, h->name->base, h->name->len) != 0)
        return -1;
    k = (dw_span_t){(const char *)(uintptr_t)(at + 1), c->md_buf.len - at - 2};
    at = c->md_buf.len;
    if (dw_buf_append_json_string(&c->md_buf, h->value.base, h->value.len) != 0)
        return -1;
    v = (dw_span_t){(const char *)(uintptr_t)at, c->md_buf.len - at};
    for (size_t i = 0; i < c->metadata.n; i++)
        if (c->metadata.v[i].key.n == k.n &&
            memcmp(c->md_buf.p + (uintptr_t)c->metadata.v[i].key.p, c->md_buf.p + (uintptr_t)k.p, k.n) == 0)
            return 0; /* a repeated header: its first value, no duplicate key */
    if (c->metadata.n == c->metadata.cap) {
        size_t cap = c->metadata.cap ? c->metadata.cap * 2 : 8;
        dw_member_t *nv = realloc(c->metadata.v, cap * sizeof(*nv));
        if (nv == NULL)
            return -1;
        c->metadata.v = nv;
        c->metadata.cap = cap;
    }
    c->metadata.v[c->metadata.n++] = (dw_member_t){k, v};
    return 0;
}

int dw_creds_from_req(dw_creds_t *c, h2o_req_t *req)
{
    memset(c, 0, sizeof(*c));
    h2o_iovec_t cred[DW_HDR_N_CREDENTIALS] = {{0}}, conn[DW_HDR_N_CONNECTION] = {{0}};
    int present[DW_HDR_N_CREDENTIALS] = {0};
    ssize_t at = h2o_find_header(&req->headers, H2O_TOKEN_CONNECTION, -1);
    h2o_iovec_t connection = at >= 0 ? req->headers.entries[at].value : h2o_iovec_init(NULL, 0);
    for (size_t i = 0; i < req->headers.size; i++) {
        const h2o_header_t *h = &req->headers.entries[i];
        const char *name = h->name->base;
        size_t n = h->name->len;
        if (connection.base != NULL && dw_headers_connection_lists(connection.base, connection.len, name, n))
            continue; /* hop-by-hop for this message */
        int idx = dw_headers_index(name, n);
        switch (dw_headers_class(name, n)) {
        case DW_HDR_CREDENTIAL:
            if (!present[idx]) { /* the first one, as the digest always read it */
                present[idx] = 1;
                cred[idx] = h->value;
            }
            break;
        case DW_HDR_CONNECTION:
            if (conn[idx].base == NULL)
                conn[idx] = h->value.base != NULL ? h->value : h2o_iovec_init("", 0);
            break;
        case DW_HDR_METADATA:
            if (add_metadata(c, h) != 0)
                return -1;
            break;
        case DW_HDR_UNKNOWN:
            if (c->unknown.p == NULL)
                c->unknown = (dw_span_t){name, n};
            break;
        case DW_HDR_INERT:
        case DW_HDR_HOP:
            break;
        }
    }
    for (size_t i = 0; i < c->metadata.n; i++) {
        c->metadata.v[i].key.p = c->md_buf.p + (uintptr_t)c->metadata.v[i].key.p;
        c->metadata.v[i].value.p = c->md_buf.p + (uintptr_t)c->metadata.v[i].value.p;
    }
    credential_digest(c, cred, present);
    for (size_t i = 0; i < DW_HDR_N_CREDENTIALS; i++)
        if (cred[i].len > 0)
            add_hdr(c, dw_hdr_credentials[i], cred[i].base, cred[i].len);
    /* OpenAI-Beta always: the client's flags with WebSocket mode's */
    if (dw_headers_merge_beta(&c->beta, conn[0].base, conn[0].len) != 0)
        return -1;
    conn[0] = h2o_iovec_init(c->beta.p, c->beta.len);
    for (size_t i = 0; i < DW_HDR_N_CONNECTION; i++)
        if (conn[i].base != NULL)
            add_hdr(c, dw_hdr_connection[i], conn[i].base, conn[i].len);
    pool_key(c, conn);
    return 0;
}

void dw_creds_free(dw_creds_t *c)
{
    dw_buf_free(&c->beta);
    dw_buf_free(&c->md_buf);
    dw_members_free(&c->metadata);
}
