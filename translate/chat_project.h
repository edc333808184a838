/*
 * The chat-visible projection of a Responses output (issue 18, "Fidelity").
 *
 * A Chat Completions client echoes, on its next turn, only the assistant message it was given
 * (content, refusal, tool_calls): never reasoning items, never item ids, and one message where the
 * output may hold several. The projection is what that echo translates to: the output goes through
 * dw_chat_message (what the client received) and then through dw_chat_message_items (what its echo
 * becomes upstream), the same two functions the live path uses, so the caller can digest the echo
 * before it arrives.
 *
 * The caller records, for the response:
 *  - the output itself when `exact` (the projection is the output item for item, as an echo may
 *    carry it under the rules of translate/canon.h, dw_canon_within): the echo then chains by
 *    previous_response_id and the model sees exactly what the client sent;
 *  - otherwise (`hidden`: reasoning or other items the client never sees; or messages merged):
 *    nothing by default, so the next turn goes in full; the projection's items with
 *    `--chat-reasoning carry`, so turns chain and the model keeps its own earlier reasoning, which
 *    the client never sent.
 */
#ifndef DW_CHAT_PROJECT_H
#define DW_CHAT_PROJECT_H

#include "translate/buf.h"
#include "translate/chat_request.h"
#include "translate/json_scan.h"

typedef struct {
    dw_buf_t message;  /* the assistant chat message the client received, JSON */
    dw_buf_t items;    /* JSON array: the Responses input items its echo translates to */
    dw_spans_t spans;  /* each item of `items`, spans into items.p */
    unsigned hidden : 1; /* the output holds items a Chat client never echoes (reasoning...) */
    unsigned exact : 1;  /* the projection is the output item for item, as an echo may carry it (dw_canon_within) */
} dw_chat_projection_t;

/*
 * Projects a response's `output` array (a validated JSON array span) into *pj, which must be
 * zeroed or freed before. legacy_functions: the request used `functions` (the client then echoes a
 * `function_call`, whose invented call id never equals the recorded one: never exact). Returns DW_CHAT_OK, DW_CHAT_FALLBACK when the echo could not be
 * translated (an output with no text and no call: its echo goes over HTTP, record nothing), or
 * DW_CHAT_ENOMEM (also when an item cannot be digested).
 */
int dw_chat_project(dw_span_t output, int legacy_functions, dw_chat_projection_t *pj);

/* Frees what *pj holds and zeroes it. */
void dw_chat_projection_free(dw_chat_projection_t *pj);

#endif
