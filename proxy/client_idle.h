/* The clients' idle-read timeout: a client connection that sends nothing for --client-idle-timeout
 * while deltawire waits for it (a request's headers or body, or the next request) is cut; one that
 * waits for deltawire's answer is not. h2o 2.2.5's own request timeout is one deadline for headers
 * and body together, never re-armed (issue 19 item 4), so h2o's is set far out and this one, re-armed
 * by every byte that arrives, does the work.
 *
 * Bytes are seen through the kernel (TCP_INFO's time since the last data received), so h2o's read
 * path stays untouched; requests in flight are counted from deltawire's handler, which sees every
 * request, to the request's disposal. */
#ifndef DW_CLIENT_IDLE_H
#define DW_CLIENT_IDLE_H

#include <h2o.h>
#include <uv.h>

typedef struct dw_client_idle dw_client_idle_t;

/* Watches connections on loop, cutting them after idle_secs without a byte while no request is in
 * flight. Returns NULL when out of memory. Lives as long as the process (like the h2o context). */
dw_client_idle_t *dw_client_idle_new(uv_loop_t *loop, double idle_secs);

/* A TCP handle for the next accepted client (uv_tcp_init done), owned by the watcher: give
 * dw_client_idle_on_close as its close callback (h2o_uv_socket_create's, or uv_close's when the
 * accept failed). NULL when out of memory. */
uv_tcp_t *dw_client_idle_conn(dw_client_idle_t *ci);
/* Starts watching an accepted connection (after uv_accept succeeded). */
void dw_client_idle_watch(uv_tcp_t *conn);
void dw_client_idle_on_close(uv_handle_t *h);

/* A request of req's connection is in flight until h2o disposes of it (call from the first
 * handler). */
void dw_client_idle_request(dw_client_idle_t *ci, h2o_req_t *req);

#endif
