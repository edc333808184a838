/*
 * Chat Completions request → Responses request (issue 18), without a DOM.
 *
 * A `POST /chat/completions` body is translated into a `POST /responses` body with the same
 * semantics, or refused with a reason ("cannot carry faithfully"), in which case the caller forwards
 * the original body unchanged over HTTP to the upstream's /chat/completions. The full mapping, with
 * the reason for every decision, is the table in the README (Chat Completions, "The mapping").
 *
 * Sources: OpenAI's guide "Migrate to the Responses API"
 * (developers.openai.com/api/docs/guides/migrate-to-responses: messages become items,
 * tool_calls become function_call items, role "tool" becomes function_call_output, the function
 * tool definition is flattened, response_format moves to text.format, `n` is gone), and the
 * openai-node 7.57.0 types (resources/chat/completions/completions.d.ts:
 * ChatCompletionCreateParamsBase, ChatCompletionMessageParam and its content parts;
 * resources/responses/responses.d.ts: ResponseCreateParamsBase, FunctionTool ("if strict is
 * omitted, Responses attempts to use strict validation"), ResponseInputImage, ResponseInputFile,
 * ResponseFormatTextJSONSchemaConfig).
 *
 * Work is linear in the body's bytes: one validating scan, then every value that passes through is
 * copied as its raw JSON bytes (already valid, escapes untouched); nothing is decoded but enum
 * strings (about 2 ns/byte on a 4 MB history, debugoptimized build).
 *
 * The caller: on DW_CHAT_FALLBACK logs req->reason and forwards the original body unchanged to the
 * upstream's /chat/completions; on DW_CHAT_OK runs req->body through the Responses path and turns
 * what comes back into Chat Completions output with translate/chat_events.h (req->stream,
 * req->include_usage, req->legacy_functions say how), retrying once as the original request if the
 * upstream refuses the translation before anything reached the client; after a completed turn it
 * consults translate/chat_project.h to decide what to record.
 */
#ifndef DW_CHAT_REQUEST_H
#define DW_CHAT_REQUEST_H

#include <stddef.h>

#include "translate/buf.h"
#include "translate/json_scan.h"

#define DW_CHAT_OK       0
#define DW_CHAT_FALLBACK 1    /* cannot carry faithfully: see reason */
#define DW_CHAT_ENOMEM   (-1)

#define DW_CHAT_REASON_MAX 96

typedef struct {
    dw_buf_t body;            /* the Responses request body (DW_CHAT_OK); owned, dw_chat_request_free frees */
    char reason[DW_CHAT_REASON_MAX]; /* DW_CHAT_FALLBACK: why, naming the field (printable ASCII, for the log) */
    unsigned stream : 1;        /* the client asked for `stream: true` */
    unsigned include_usage : 1; /* `stream_options.include_usage: true`: the output side adds the usage chunk */
    unsigned legacy_functions : 1; /* `functions`/`function_call`: the output side answers with `function_call` */
} dw_chat_request_t;

/* Translation state across the messages of one request: start zeroed. */
typedef struct {
    size_t count;       /* items written so far */
    size_t open_fn;     /* 1 + index of the assistant message whose legacy function_call awaits its result, or 0 */
    dw_span_t open_name; /* that call's name (raw JSON string) */
} dw_chat_items_t;

/*
 * Translates the Chat Completions body [p, p+n) into req->body. *req must be zeroed before the
 * first call. Returns DW_CHAT_OK, DW_CHAT_FALLBACK (req->reason set, req->body empty; invalid JSON
 * is a fallback too, so the upstream produces its own error) or DW_CHAT_ENOMEM.
 */
int dw_chat_request(const char *p, size_t n, dw_chat_request_t *req);

/* Frees req->body; req can be reused after dw_chat_request_free. */
void dw_chat_request_free(dw_chat_request_t *req);

/*
 * The Responses input items of one chat message (msg: a validated JSON object, e.g. an element of
 * `messages`), appended to out comma-separated: a leading ',' before each item when st->count > 0;
 * st->count is increased by the items written. index names the message in the reason and in the
 * call id a legacy function_call gets ("call_legacy_<index>"); st pairs it with its role "function"
 * result, so one st serves all messages of a request, in order. Returns
 * DW_CHAT_OK, DW_CHAT_FALLBACK (reason filled, out may hold a partial item) or DW_CHAT_ENOMEM.
 * Used by dw_chat_request and by the chat-visible projection (translate/chat_project.h), so an
 * echoed message and the recorded output go through the same function.
 */
int dw_chat_message_items(dw_buf_t *out, dw_span_t msg, size_t index, dw_chat_items_t *st, char reason[DW_CHAT_REASON_MAX]);

#endif
