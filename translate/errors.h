/* OpenAI-style error bodies: {"error":{"message","type","param","code"}}. */
#ifndef DW_ERRORS_H
#define DW_ERRORS_H

#include <stdint.h>

#include "translate/buf.h"

/* Appends the error object {"message","type","param","code"} to out, for an SSE error event.
 * `param` and `code` may be NULL (rendered as null). Returns 0 or -1 (out of memory). */
int dw_error_object(dw_buf_t *out, const char *type, const char *code, const char *param, const char *message);

/* Appends an error body, {"error":<object>}, to out. `param` and `code` may be NULL (rendered as null).
 * Returns 0 or -1 (out of memory). */
int dw_error_body(dw_buf_t *out, const char *type, const char *code, const char *param, const char *message);

/* Appends the HTTP API's SSE error event, flat: {"type":"error","code","message","param",
 * "sequence_number"} (a stream that fails after events went out; the mock's --error-after-events
 * sends the same over HTTP). `code` and `param` may be NULL. Returns 0 or -1 (out of memory). */
int dw_error_event(dw_buf_t *out, const char *code, const char *param, const char *message, uint64_t sequence_number);
/* The error type OpenAI uses for an HTTP status (e.g. 400 → invalid_request_error). */
const char *dw_error_type_for_status(int status);

#endif
