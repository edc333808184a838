/* What the plain HTTP path (the passthrough and the fallback, h2o's reverse proxy) needs besides
 * h2o: hop-by-hop request headers removed as RFC 9110 section 7.6.1 says, and h2o's own proxy
 * errors ("connection failed", "certificate has expired", "I/O timeout": plain text 502) answered
 * in OpenAI's JSON error format. Responses the upstream itself sent are never touched. */
#ifndef DW_HTTP_PATH_H
#define DW_HTTP_PATH_H

#include <h2o.h>

/* Removes from req->headers every header named in a Connection header, and Proxy-Connection (h2o's
 * proxy drops Connection, Keep-Alive, TE, Transfer-Encoding, Upgrade itself). Call before anything
 * reads the headers. */
void dw_http_path_strip_hop(h2o_req_t *req);

/* Registers on path the filter that rewrites h2o's proxy errors as JSON: 504 for a timeout, else
 * 502, code "upstream_error", h2o's reason in the message. */
void dw_http_path_json_errors(h2o_pathconf_t *path);

#endif
