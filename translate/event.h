/* Upstream events (WebSocket text frames): what the proxy needs from each, without a DOM. */
#ifndef DW_EVENT_H
#define DW_EVENT_H

#include <stddef.h>
#include <string.h>

#include "translate/buf.h"
#include "translate/json_scan.h"

typedef struct {
    dw_span_t type;     /* the "type" string, quotes included */
    dw_span_t response; /* "response" object (response.* events), or {NULL,0} */
    dw_span_t item;     /* "item" object (response.output_item.*), or {NULL,0} */
    dw_span_t error;    /* "error" object (the WebSocket error envelope), or {NULL,0} */
    dw_span_t stream_id; /* "stream_id" value (raw JSON: the lane it is for), or {NULL,0} */
    long output_index;  /* -1 when absent or not a non-negative integer that fits a long */
    int status;         /* the envelope's "status", 0 when absent or not a non-negative int */
} dw_event_t;

/* Validates one event and fills ev with spans into [p, p+n). Returns 0, or -1 when the frame is not
 * a JSON object with a string "type". */
int dw_event_scan(const char *p, size_t n, dw_event_t *ev);

/* 1 if the event's type equals the literal. Inline: called with literals for every event, whose
 * length the compiler then knows. Event types never carry escapes, so the raw bytes between the
 * quotes are the value. */
static inline int dw_event_is(const dw_event_t *ev, const char *type)
{
    size_t n = strlen(type);
    return ev->type.n == n + 2 && memcmp(ev->type.p + 1, type, n) == 0;
}

/* Appends [p, p+n) to out with every "previous_response_id" member of the object `obj` (a span
 * inside [p, p+n)) replaced by the raw JSON `prev` (e.g. "null" or "\"resp_1\""). Copies unchanged
 * when obj is empty or has no such member. Returns 0 or -1 (out of memory). */
int dw_event_rewrite_prev(dw_buf_t *out, const char *p, size_t n, dw_span_t obj, const char *prev, size_t prev_len);

/* Appends the response object with its "previous_response_id" rewritten as above. */
int dw_event_response_body(dw_buf_t *out, dw_span_t response, const char *prev, size_t prev_len);

#endif
