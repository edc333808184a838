/* The upstream request: a WebSocket-mode "response.create" text frame built from the client's
 * scanned body. Every top-level field is copied byte for byte, except `stream` (implicit over
 * WebSocket), `input`/`previous_response_id`, which the delta decision supplies, and
 * `client_metadata`, which may gain the request's metadata headers. */
#ifndef DW_FRAME_H
#define DW_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "translate/buf.h"
#include "translate/json_scan.h"

typedef struct {
    const dw_members_t *members; /* the client body's top-level members */
    const dw_span_t *items;      /* the client's input items; may be NULL when n_items is 0 */
    size_t n_items;
    size_t first;                /* items[first..n_items) are sent: the delta, or all of them (0) */
    const uint8_t *strip;        /* per item, indexed like items: forward a copy without
                                  * parsed/parsed_arguments; may be NULL */
    const char *prev_id;         /* previous_response_id to send, or NULL to send none */
    int input_verbatim;          /* 1: copy the client's `input` member as it is (a string input) */
    /* members added to the body's `client_metadata` object (its own keys win, none is repeated),
     * or making it when the body has none or null: keys raw (no quotes), values raw JSON; the
     * per-request headers, as Codex's WebSocket client carries them (translate/headers.h). May be
     * NULL when n_metadata is 0. A non-object client_metadata is forwarded as it is. */
    const dw_member_t *metadata;
    size_t n_metadata;
} dw_frame_spec_t;

/* Appends the frame to out after `headroom` reserved bytes (the WebSocket library's header room).
 * The caller passes the whole input array and `first` rather than a pointer past the elided prefix:
 * the scanner leaves items NULL for `"input": []`, and NULL + 0 is undefined behaviour.
 * Returns 0, or -1 when out of memory or an item to strip is not valid JSON; out then holds a
 * partial frame (the caller resets it). */
int dw_frame_build(dw_buf_t *out, size_t headroom, const dw_frame_spec_t *spec);

#endif
