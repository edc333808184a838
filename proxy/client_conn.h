/* What deltawire watches on each client connection, beside h2o:
 *
 * - the idle-read timeout: a connection that sends nothing for --client-idle-timeout while
 *   deltawire waits for it (a request's headers or body, or the next request) is cut; one that
 *   waits for deltawire's answer is not. h2o 2.2.5's own request timeout is one deadline for
 *   headers and body together, never re-armed (issue 19 item 4), so h2o's is set far out and this
 *   one, re-armed by every byte that arrives, does the work. Bytes are seen through the kernel
 *   (TCP_INFO's time since the last data received); requests in flight are counted from
 *   deltawire's handler, which sees every request, to the request's disposal.
 * - HTTP/1.1 request framing: h2o 2.2.5 keeps neither a second Content-Length nor a Content-Length
 *   beside Transfer-Encoding, and serves both (request smuggling, translate/http1_framing.h). Each
 *   request head is read from the socket's input before h2o parses it (h2o's read callback is
 *   wrapped), and the request is marked for a 400. */
#ifndef DW_CLIENT_CONN_H
#define DW_CLIENT_CONN_H

#include <h2o.h>
#include <uv.h>

typedef struct dw_client_conn dw_client_conn_t;

/* Watches connections on loop, cutting them after idle_secs without a byte while no request is in
 * flight; max_body is h2o's max_request_entity_size (no input is sized beyond it). Returns NULL
 * when out of memory. Lives as long as the process (like the h2o context). */
dw_client_conn_t *dw_client_conn_new(uv_loop_t *loop, double idle_secs, size_t max_body);

/* A TCP handle for the next accepted client (uv_tcp_init done), owned by the watcher: give
 * dw_client_conn_on_close as its close callback (h2o_uv_socket_create's, or uv_close's when the
 * accept failed). NULL when out of memory. */
uv_tcp_t *dw_client_conn_conn(dw_client_conn_t *cc);
/* Starts watching an accepted connection: after uv_accept, before h2o_accept. */
void dw_client_conn_watch(uv_tcp_t *conn);
/* After h2o_accept(sock): h2o reads the connection from now on. */
void dw_client_conn_accepted(uv_tcp_t *conn, h2o_socket_t *sock);
void dw_client_conn_on_close(uv_handle_t *h);

/* A request of req's connection is in flight until h2o disposes of it (call from the first
 * handler, once per request). Returns 1 when its HTTP/1.1 head has conflicting lengths (answer 400
 * and close), else 0. */
int dw_client_conn_request(dw_client_conn_t *cc, h2o_req_t *req);

/* Client inputs sized for their whole request so far (HTTP/1.1 with a Content-Length; presize in
 * client_conn.c), for /metrics. */
uint64_t dw_client_conn_presized_total(void);

#endif
