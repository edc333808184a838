/* One client request on POST <base>/responses, from the scanned body to the last byte of the
 * answer: the delta decision, the upstream round trip, the translation of events back to SSE or
 * JSON, and the recording of the completed response in the shadow transcripts.
 *
 * An exchange outlives its h2o request when the client goes away mid-response: the upstream
 * connection stays held until the response ends there, then the exchange frees itself. */
#ifndef DW_EXCHANGE_H
#define DW_EXCHANGE_H

#include <h2o.h>

#include "proxy/proxy.h"

/* Handles req: returns 0 when it answers it (now or later), -1 when the request should go to the
 * plain HTTP passthrough unchanged (background responses, WebSocket mode off). */
int dw_exchange_start(dw_proxy_t *px, h2o_req_t *req);

/* Answers req with a complete body (copied) of the given content type. */
void dw_exchange_send_body(h2o_req_t *req, int status, const char *content_type, const char *p, size_t n);

/* Sends an OpenAI-style error answer on req. */
void dw_exchange_send_error(h2o_req_t *req, int status, const char *code, const char *param, const char *message);

#endif
