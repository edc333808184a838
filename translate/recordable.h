/*
 * Which output of a finished response the proxy may record.
 *
 * A record says "the upstream now holds this input followed by these output
 * items"; a wrong one turns into a delta the model sees differently from
 * the client's history, while no record only costs a full send. So:
 *  - only response.completed and response.incomplete are recorded (the
 *    upstream caches both; a failed response evicts);
 *  - the items are the response object's "output"; when the upstream also
 *    streamed response.output_item.done items, they must be exactly those
 *    items (same count, each byte-equal or canonically equal): fewer or
 *    more, a gap, or a leftover of an earlier attempt means no record;
 *  - a response without an "output" array (or with an empty one) is
 *    recorded with the streamed items, which must have no gap;
 *  - "stored" is the response object's own "store" (true only when it says
 *    so): only stored items can be found later by id.
 * Source: the upstream's WebSocket mode (one cached response per connection, a failed turn
 * evicts it; terminal events response.completed/failed/incomplete).
 */
#ifndef DW_TRANSLATE_RECORDABLE_H
#define DW_TRANSLATE_RECORDABLE_H

#include <stddef.h>
#include "translate/buf.h"
#include "translate/event.h"
#include "translate/json_scan.h"

typedef struct {
    dw_spans_t items; /* the output items to chain: spans into the event or into done[] */
    int stored;       /* the response says "store": true */
} dw_recordable_t;

/* ev: the terminal event; done[i]: the raw item of response.output_item.done
 * with output_index i (len 0 when none arrived), n_done slots. Fills *out
 * and returns 1 when the response may be recorded (free out->items with
 * dw_spans_free), else 0 with out->items empty. -1: no memory (no record). */
int dw_recordable(const dw_event_t *ev, const dw_buf_t *done, size_t n_done, dw_recordable_t *out);

#endif
