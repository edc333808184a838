/* OpenAI-style error bodies: {"error":{"message","type","param","code"}}. */
#ifndef DW_ERRORS_H
#define DW_ERRORS_H

#include "translate/buf.h"

/* Appends the error object {"message","type","param","code"} to out, for an SSE error event.
 * `param` and `code` may be NULL (rendered as null). Returns 0 or -1 (out of memory). */
int dw_error_object(dw_buf_t *out, const char *type, const char *code, const char *param, const char *message);

/* Appends an error body, {"error":<object>}, to out. `param` and `code` may be NULL (rendered as null).
 * Returns 0 or -1 (out of memory). */
int dw_error_body(dw_buf_t *out, const char *type, const char *code, const char *param, const char *message);

/* The error type OpenAI uses for an HTTP status (e.g. 400 → invalid_request_error). */
const char *dw_error_type_for_status(int status);

#endif
