/* POST <base>/chat/completions (issue 18): a Chat Completions request translated into a Responses
 * request (translate/chat_request.h), run through the exchange's delta path (exchange.h,
 * dw_exchange_start_as), and the upstream's events translated back (translate/chat_events.h). What
 * the translation cannot carry goes to the upstream's /chat/completions over plain HTTP unchanged,
 * the log line's "reason" says why. A finished turn is recorded as the chat client will echo it
 * (translate/chat_project.h): the output itself when the echo equals it (`exact`), else nothing
 * (the next turn goes in full) or, with --chat-reasoning carry, the chat-visible projection. */
#ifndef DW_CHAT_H
#define DW_CHAT_H

#include <h2o.h>

#include "proxy/proxy.h"

/* Handles req as dw_exchange_start does: 0 when it answers it, -1 when the plain HTTP passthrough
 * should forward it unchanged. */
int dw_chat_start(dw_proxy_t *px, h2o_req_t *req);

#endif
