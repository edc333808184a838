/* The stream_id field of WebSocket mode's lanes (upstream-protocol.md section 2, "Lanes"): the name
 * deltawire gives lane n ("dw<n>"), put into a response.create frame and taken out of the events
 * that echo it (the HTTP API never sends the field). Pure; no I/O. */
#ifndef DW_STREAM_ID_H
#define DW_STREAM_ID_H

#include <stddef.h>

#include "translate/buf.h"
#include "translate/event.h"
#include "translate/json_scan.h"

/* Bytes dw_stream_id_put adds for lane n (0 for n 0, the default lane, which has no name). */
size_t dw_stream_id_size(int n);

/* Puts "stream_id":"dw<n>" as the first member of the JSON object that starts at frame->p[at].
 * n 0: nothing. Returns 0, or -1 (no object there, or no memory: the frame is then unchanged). */
int dw_stream_id_put(dw_buf_t *frame, size_t at, int n);

/* Takes the top-level "stream_id" member out of the JSON object m[0..*n) (in place, *n shrinks),
 * already scanned into ev (dw_event_scan: no second pass over the message); ev's spans are moved
 * to match. Returns the lane it names (1.. for "dw<n>"), 0 when the message has none, -1 when it
 * names a lane deltawire never gives. */
int dw_stream_id_take_event(char *m, size_t *n, dw_event_t *ev);

/* 1 if the message is an error envelope about the stream_id field itself (its param, nested or
 * flat): the service refuses the field, or a name, without echoing one. */
int dw_stream_id_error_about(dw_span_t msg);

#endif
