/* The client's POST /responses body, read and checked at the top level: the fields deltawire acts
 * on (input, stream, store, previous_response_id, conversation, prompt, context_management,
 * background), and every reason to refuse it before anything goes upstream. Pure: no I/O. */
#ifndef DW_REQUEST_H
#define DW_REQUEST_H

#include <stddef.h>

#include "translate/json_scan.h"

typedef struct {
    dw_members_t members; /* top-level members, spans into the body (owned arrays) */
    dw_spans_t items;     /* elements of an array `input` (owned array) */
    int stream;           /* "stream": true */
    int store;            /* "store" absent or not false */
    int background;       /* "background": true: answered by the plain HTTP passthrough */
    dw_span_t prev;       /* previous_response_id as sent, or the literal null */
    dw_span_t string_input; /* a string `input` (raw JSON string), else {NULL, 0} */
    /* the upstream holds or shapes the context itself (previous_response_id, conversation, a
     * prompt template, context_management), or the input is a string or absent: forward `input`
     * untouched, never as a delta */
    int verbatim;
    int has_prev;         /* previous_response_id is a string */
    int string_chain;     /* a string input that starts a conversation: chain it as one user item */
} dw_request_t;

/* Why a body is refused: the HTTP status, OpenAI error code and param (NULL when none), and the
 * message (NUL-terminated) the client reads. */
typedef struct {
    int status;
    const char *code;
    const char *param;
    char message[200];
} dw_request_err_t;

/* Scans body[0..n) (body NULL: no body) into *rq; max_body: the configured limit in bytes.
 * Returns 0, or -1 with *err filled (400 missing_body, invalid_json, duplicate_key, invalid_type,
 * unknown_parameter for the WebSocket-only `generate` and `stream_id`;
 * 413 request_too_large; 500 out of memory). *rq borrows body; free it with dw_request_free
 * in every case. */
int dw_request_parse(dw_request_t *rq, const char *body, size_t n, size_t max_body, dw_request_err_t *err);

/* dw_request_parse of a body whose first `same` bytes are those of an earlier body that
 * dw_request_parse accepted: its scan resumes at `at` (dw_json_resume_at on that body's members and
 * items; borrowed), so the work is in the bytes after it. Same results and errors. */
int dw_request_parse_from(dw_request_t *rq, const char *body, size_t n, size_t max_body, const dw_json_resume_t *at,
                          size_t same, dw_request_err_t *err);

void dw_request_free(dw_request_t *rq);

#endif
