/*
 * Responses events → Chat Completions output (issue 18).
 *
 * Streaming: a translator fed one upstream event at a time (the JSON object of a WebSocket text
 * frame or an SSE data line) that appends `chat.completion.chunk` SSE blocks, `data: {...}\n\n`,
 * and ends with `data: [DONE]\n\n`. Not streaming: one `chat.completion` object built from the
 * final response object. Shapes follow openai-node 7.57.0 (resources/chat/completions/
 * completions.d.ts: ChatCompletionChunk, ChatCompletion, ChatCompletionMessage, CompletionUsage)
 * and the event types of resources/responses/responses.d.ts.
 *
 *  - id `chatcmpl-<response id without "resp_">`, `created` = response.created_at, `model`,
 *    `service_tier` as the response reports them; no `system_fingerprint` (optional in the
 *    types; Responses has none to give);
 *  - the first chunk carries `role: "assistant"` (with `content: ""` before text, `content: null`
 *    with the first tool call, `refusal: ""` before a refusal), nothing is written before the
 *    first output, so a turn that fails before any output can still be answered with an HTTP
 *    error or retried by the caller;
 *  - `response.output_text.delta` → `delta.content`, `response.refusal.delta` → `delta.refusal`,
 *    each function_call item → `delta.tool_calls[{index, id: call_id, type: "function",
 *    function: {name, arguments: ""}}]`, its `response.function_call_arguments.delta` →
 *    `{index, function: {arguments}}` (index = order of the call among the function calls,
 *    found by the event's output_index, so interleaved parallel calls stay apart);
 *  - reasoning items and every other item write nothing (Chat Completions has no such output);
 *  - the envelope fields come from response.created; events before it (never seen) would get an
 *    empty id and model;
 *  - finish_reason: `length` (incomplete, max_output_tokens), `content_filter` (incomplete,
 *    content_filter), else `tool_calls` when the answer has function calls, else `stop`;
 *  - legacy functions (the request used `functions`): the call is `delta.function_call` {name,
 *    arguments} then {arguments}, `message.function_call`, finish_reason `function_call`;
 *  - with include_usage, every chunk carries `"usage":null` and a last chunk `choices: []` the
 *    usage (see dw_chat_usage).
 */
#ifndef DW_CHAT_EVENTS_H
#define DW_CHAT_EVENTS_H

#include <stddef.h>

#include "translate/buf.h"
#include "translate/json_scan.h"

#define DW_CHAT_EV_MORE   0 /* more events expected */
#define DW_CHAT_EV_DONE   1 /* terminal event translated, `data: [DONE]` written */
#define DW_CHAT_EV_FAILED 2 /* response.failed or an error envelope: `data: {"error":{...}}` written, the stream ends */
#define DW_CHAT_EV_ENOMEM (-1)
#define DW_CHAT_EV_EBADEVENT (-2) /* not a JSON object with a string "type", or a function call item without
                                    * a usable output_index: nothing written; the caller ends the turn as for
                                    * a broken upstream */

typedef struct {
    int tool;          /* index among function calls, -1 for other items */
    unsigned args : 1; /* an arguments delta was written */
} dw_chat_slot_t;

typedef struct {
    dw_buf_t head;         /* `{"id":…,"object":"chat.completion.chunk","created":…,"model":…` */
    dw_chat_slot_t *slots; /* by output_index */
    size_t nslots;
    int ntools;
    unsigned include_usage : 1;
    unsigned legacy : 1;  /* legacy functions: `function_call` instead of `tool_calls` */
    unsigned emitted : 1; /* something was written for the client (the role chunk at least) */
} dw_chat_stream_t;

/* Starts a translation; include_usage and legacy_functions from dw_chat_request_t. */
void dw_chat_stream_init(dw_chat_stream_t *s, int include_usage, int legacy_functions);

/* Translates one event [p, p+n), appending to out. Returns one of DW_CHAT_EV_*. After DONE or
 * FAILED the caller ends the stream. On FAILED with s->emitted == 0 the caller may instead discard
 * what was appended and answer with an HTTP error (dw_chat_error_body) or retry. */
int dw_chat_stream_event(dw_chat_stream_t *s, const char *p, size_t n, dw_buf_t *out);

/* Frees what the translator holds; s can be re-initialised. */
void dw_chat_stream_free(dw_chat_stream_t *s);

/*
 * The `chat.completion` object for a final response object (a completed or incomplete response,
 * e.g. `response` of response.completed, or the body of a non-streaming HTTP answer), appended to
 * out. A failed response is answered with dw_chat_error_body(<its "error">, 0, ...) instead.
 * Returns 0 or -1 (out of memory, or response is not an object with a string id).
 */
int dw_chat_completion(dw_span_t response, int legacy_functions, dw_buf_t *out);

/*
 * The assistant message a Chat client receives for a response's `output` array (and echoes on its
 * next turn): {"role":"assistant","content":<joined output_text or null>,"refusal":<joined refusal
 * or null>,"annotations":[],"tool_calls":[...] when any}. *hidden is set to 1 when the output holds
 * items a Chat client never sees (reasoning, or any type other than message and function_call),
 * *tool_calls to the number of function calls. With legacy_functions the first call is rendered as
 * `"function_call":{"name","arguments"}` instead of tool_calls. Returns 0 or -1.
 */
int dw_chat_message(dw_span_t output, int legacy_functions, dw_buf_t *out, int *hidden, int *tool_calls);

/* The CompletionUsage object for a Responses usage object: prompt_tokens, completion_tokens,
 * total_tokens, prompt_tokens_details.cached_tokens, completion_tokens_details.reasoning_tokens.
 * Returns 0 or -1. */
int dw_chat_usage(dw_span_t usage, dw_buf_t *out);

/* `{"error":<error>}` for a Responses error object (the error envelope's or a failed response's
 * `error`), with the Chat API's fields message/type/param/code; returns the HTTP status to answer
 * with in *status (the envelope's when given, else one from the code). Returns 0 or -1. */
int dw_chat_error_body(dw_span_t error, int envelope_status, dw_buf_t *out, int *status);

#endif
