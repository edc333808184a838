/* What each client request header means for the WebSocket path: the one table (issue 13, item 3;
 * upstream-protocol.md section 2, "Headers that shape a request", and the Codex 0.169.0 `-ws`
 * fixtures in tests/fixtures/clients, whose handshakes and `client_metadata` show the mapping).
 *
 *   credential  identifies who pays: on the handshake and part of the pool key
 *   connection  shapes the connection (beta features, session): on the handshake and part of the
 *               pool key, so a request only ever runs on a socket opened with its own values
 *   metadata    shapes this request only: carried inside the frame's `client_metadata`, the way
 *               Codex's own WebSocket client does (see dw_headers_metadata_key)
 *   inert       known not to change what the server does (user agent, accept*, SDK telemetry,
 *               tracing): dropped
 *   hop         hop-by-hop or HTTP-only (RFC 9110 section 7.6.1; Host, Content-Length, Cookie...):
 *               never forwarded on the WebSocket path
 *   unknown     anything else might change what the server does: that request goes over plain
 *               HTTP, unchanged */
#ifndef DW_HEADERS_H
#define DW_HEADERS_H

#include <stddef.h>

#include "translate/buf.h"

typedef enum {
    DW_HDR_CREDENTIAL,
    DW_HDR_CONNECTION,
    DW_HDR_METADATA,
    DW_HDR_INERT,
    DW_HDR_HOP,
    DW_HDR_UNKNOWN,
} dw_hdr_class_t;

/* The credential headers, in the order their values enter the credential digest (never reorder:
 * the digest keys every transcript). Lower case. */
#define DW_HDR_N_CREDENTIALS 4
extern const char *const dw_hdr_credentials[DW_HDR_N_CREDENTIALS];

/* The connection-scoped headers, in a fixed order (pool key, handshake). Lower case. */
#define DW_HDR_N_CONNECTION 5
extern const char *const dw_hdr_connection[DW_HDR_N_CONNECTION];

/* The class of header `name` (any case, n bytes). */
dw_hdr_class_t dw_headers_class(const char *name, size_t n);

/* Index of `name` in dw_hdr_credentials or dw_hdr_connection (by its class), or -1. */
int dw_headers_index(const char *name, size_t n);

/* 1 when `name` is listed in a Connection header value (comma-separated tokens, any case): such
 * a header is hop-by-hop for this message (RFC 9110 section 7.6.1). */
int dw_headers_connection_lists(const char *conn, size_t conn_len, const char *name, size_t n);

/* Appends the `client_metadata` key for a metadata header as a JSON string (quotes included):
 * `x-codex-*` headers under their own (lower-case) names, others as `ws_request_header_<name>`
 * with '-' as '_' (e.g. x-openai-internal-codex-responses-lite ->
 * "ws_request_header_x_openai_internal_codex_responses_lite"). Returns 0 or -1 (out of memory). */
int dw_headers_metadata_key(dw_buf_t *out, const char *name, size_t n);

/* The WebSocket beta flag that WebSocket mode is asked for with. */
#define DW_HDR_WS_BETA "responses_websockets=2026-02-06"

/* Appends the OpenAI-Beta value for the handshake: the client's value (may be empty) with
 * DW_HDR_WS_BETA added unless the client already names it. Returns 0 or -1 (out of memory). */
int dw_headers_merge_beta(dw_buf_t *out, const char *client, size_t n);

#endif
