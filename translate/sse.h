/* Server-sent events rendering for the client side of a streaming response. */
#ifndef DW_SSE_H
#define DW_SSE_H

#include <stddef.h>

#include "translate/buf.h"

/* Appends one event block, "event: <type>\ndata: <json>\n\n". A line break inside json (CRLF,
 * LF or a lone CR, all of which end a line for an SSE parser, WHATWG HTML "Parsing an event
 * stream"; in JSON only possible as whitespace between tokens) continues on a new "data:" line,
 * which SSE parsers join back with "\n", so the JSON value is preserved (issue 19, item 7).
 * `type` must hold no CR or LF. Returns 0 or -1 (out of memory). */
int dw_sse_append(dw_buf_t *out, const char *type, size_t type_len, const char *json, size_t json_len);

#endif
