/* The WebSocket `error` envelope, in every shape the service sends, and what an HTTP client gets
 * for it (issue 13, item 4; upstream-protocol.md section 2, "Error envelope variants" and
 * "HTTP-side shapes to give back"). Shapes read:
 *   {"type":"error","status":429,"error":{"type","code","message","param","headers":{...}}}
 *   the same with "status_code" instead of "status"
 *   flat: {"type":"error","status":400,"code","message","param"} (the ChatGPT backend)
 *   "headers" under "error" or at the top level
 *   plus optional "sequence_number" and "stream_id" (a lane-scoped error). */
#ifndef DW_ENVELOPE_H
#define DW_ENVELOPE_H

#include <stddef.h>

#include "translate/buf.h"
#include "translate/json_scan.h"

typedef struct {
    int status;           /* "status" or "status_code" if an integer in 100..599, else 0 */
    dw_span_t detail;     /* the object with message/type/code/param: "error" when nested, else the
                           * envelope itself */
    dw_span_t code;       /* raw JSON value of the detail's "code", or {NULL,0} */
    dw_span_t message;    /* raw JSON value of "message", or {NULL,0} */
    dw_span_t type;       /* raw JSON value of "type" inside the detail (never "error"), or {NULL,0} */
    dw_span_t param;      /* raw JSON value of "param", or {NULL,0} */
    dw_span_t headers;    /* the "headers" object (under "error", else top level), or {NULL,0} */
    dw_span_t stream_id;  /* raw JSON string, or {NULL,0} */
} dw_envelope_t;

/* Reads the validated envelope object [p, p+n) (its "type" is "error"). Spans point into it.
 * Returns 0, or -1 when it is not an object. */
int dw_envelope_scan(const char *p, size_t n, dw_envelope_t *env);

/* 1 when the envelope's code is the string `code`. */
int dw_envelope_code_is(const dw_envelope_t *env, const char *code);

/* The HTTP status an HTTP client would have got: the envelope's, else 500. */
int dw_envelope_http_status(const dw_envelope_t *env);

/* Appends the HTTP error body {"error":{"message","type","param","code"}} (missing fields as
 * null; a missing type from the status). Returns 0 or -1 (out of memory). */
int dw_envelope_http_body(dw_buf_t *out, const dw_envelope_t *env);

/* Appends the data of the HTTP API's mid-stream SSE error event, which is flat:
 * {"type":"error","code","message","param","sequence_number":seq}. Returns 0 or -1. */
int dw_envelope_sse_error(dw_buf_t *out, const dw_envelope_t *env, long seq);

/* 1 when a header of the error may be given back to the HTTP client: retry-after,
 * retry-after-ms, x-ratelimit-*, x-request-id, openai-* (any case). */
int dw_envelope_header_allowed(const char *name, size_t n);

/* Appends the allowed headers of the envelope to *out as members (raw key bytes, raw JSON string
 * values; non-string values are skipped). Returns 0 or a DW_JSON_E* code. */
int dw_envelope_headers(const dw_envelope_t *env, dw_members_t *out);

#endif
