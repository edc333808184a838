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

#include "proxy/proxy.h"

/* Handles req: returns 0 when it answers it (now or later), -1 when the request should go to the
 * plain HTTP passthrough unchanged (background responses, WebSocket mode off). Either way the
 * request is accounted for when h2o disposes of it. */
int dw_exchange_start(dw_proxy_t *px, h2o_req_t *req);

#endif
