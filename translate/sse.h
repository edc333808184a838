/* Server-sent events rendering for the client side of a streaming response. */
#ifndef DW_SSE_H
#define DW_SSE_H

#include <stddef.h>

#include "translate/buf.h"

/* Appends one event block, "event: <type>\ndata: <json>\n\n". A newline inside json (only
 * possible as whitespace between tokens) continues on a new "data:" line, which SSE parsers join
 * back with "\n", so the payload is preserved. Returns 0 or -1 (out of memory). */
int dw_sse_append(dw_buf_t *out, const char *type, size_t type_len, const char *json, size_t json_len);

#endif
