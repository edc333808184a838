/* What a finished response leaves behind: its input and output items chained in the shadow
 * transcripts (so that the next request can be sent as a delta from it), and what the upstream now
 * caches on the lane (c->cached). The one place that writes c->cached. */
#ifndef DW_RECORD_H
#define DW_RECORD_H

#include "proxy/plan.h"
#include "proxy/upstream.h"
#include "state/transcripts.h"
#include "translate/event.h"

/* Raw copies of the items of response.output_item.done events, by output_index: the output when
 * the terminal event does not carry it. */
typedef struct {
    dw_buf_t *v;
    size_t n;
} dw_outputs_t;

/* Keeps ev's item if ev is a response.output_item.done (without memory: a gap, and no record). */
void dw_outputs_note(dw_outputs_t *o, const dw_event_t *ev);
void dw_outputs_free(dw_outputs_t *o);

/* The terminal event ev (response.completed, .failed, .incomplete) ended the response on lane c, sent
 * by plan pl. A response dw_recordable accepts, whose input chain is known, is recorded (stored or
 * not as the response object itself says) and becomes what c caches; any other one still replaces
 * c's cached response (a failed one evicts it). */
void dw_record_response(dw_transcripts_t *t, const dw_plan_t *pl, const dw_outputs_t *o, const dw_event_t *ev,
                        dw_lane_t *c);

/* As dw_record_response, for another API in front (proxy/chat.c): the transcripts chain `items` in
 * place of the response's output (the chat-visible projection, spans borrowed), or nothing when
 * items is NULL (c then counts as caching nothing: no delta can chain from its response, so the pool
 * hands it to the next full send like an empty one, a warm socket instead of a new handshake). */
void dw_record_response_as(dw_transcripts_t *t, const dw_plan_t *pl, const dw_outputs_t *o, const dw_event_t *ev,
                           dw_lane_t *c, const dw_spans_t *items);

/* The upstream holds nothing on c any more (an error envelope, a close): its store=false record
 * can no longer be chained from and is forgotten. */
void dw_record_evict(dw_transcripts_t *t, dw_lane_t *c);

#endif
