/* One client request on POST <base>/responses, top to bottom: the body is read and checked
 * (translate/request.h), the delta is planned (plan.h), a connection is leased (pool.h) and the
 * frame sent, the upstream's events go back to the client (respond.h), a failure leads to what
 * attempt.h decides, and a completed response is recorded (record.h). Accounting (metrics, the
 * one log line) happens once, when the request ends.
 *
 * Two sides, each with its own state. The client side (respond.h) goes to GONE when h2o disposes
 * of the request; the upstream side goes IDLE -> WAITING (a lease asked for) -> SENT (holding a
 * connection) -> DONE, with BACKOFF between attempts. When the client side goes away the upstream
 * side is detached: a lease asked for is cancelled, a pause is stopped, and a response in flight
 * runs to its end so that it is recorded. The request ends when the client side is GONE and the
 * upstream side is DONE, in whichever order they get there. */
#ifndef DW_EXCHANGE_H
#define DW_EXCHANGE_H

#include <h2o.h>

#include "proxy/plan.h"
#include "proxy/proxy.h"
#include "proxy/record.h"
#include "proxy/respond.h"
#include "translate/event.h"

/* Handles req: returns 0 when it answers it (now or later), -1 when the request should go to the
 * plain HTTP passthrough unchanged (background responses, WebSocket mode off). Either way the
 * request is accounted for when h2o disposes of it. */
int dw_exchange_start(dw_proxy_t *px, h2o_req_t *req);

/* Another API in front of the same delta path (proxy/chat.c for POST <base>/chat/completions): it
 * supplies the Responses body it translated the client's request into, and renders the upstream's
 * events in its own API. An upstream error envelope that arrives before anything reached the client
 * hands the request, unchanged, to the plain HTTP passthrough (the original request, retried once,
 * as a direct call would have made it). */
typedef struct {
    const char *name; /* the log line's "api" */
    /* Renders one upstream event for the client (an error, once the answer has started, as the
     * nested envelope {"type":"error","error":{message,type,param,code}}); terminal: nothing follows. Returns 0, or -1 when it cannot (no memory, an event it
     * cannot read): the exchange then fails the request. */
    int (*relay)(void *data, dw_respond_t *client, const char *p, size_t n, const dw_event_t *ev, int terminal);
    /* Records a finished response, in place of dw_record_response (same arguments). */
    void (*record)(void *data, dw_transcripts_t *t, const dw_plan_t *pl, const dw_outputs_t *o, const dw_event_t *ev,
                   dw_lane_t *c);
    void (*free)(void *data);
} dw_exchange_mode_t;

/* As dw_exchange_start, with the body [body, body+n) (borrowed from data; a translation, so never
 * Content-Encoding decoded) in place of the request's, and the events rendered by mode. fallback non-NULL: the request goes to the plain HTTP passthrough
 * unchanged (returns -1) and the log line's "reason" says why. Takes data in every case: mode->free
 * frees it when the request ends. */
int dw_exchange_start_as(dw_proxy_t *px, h2o_req_t *req, const char *body, size_t n, const dw_exchange_mode_t *mode,
                         void *data, const char *fallback);

#endif
