#include "proxy/frontend.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/chat.h"
#include "proxy/client_conn.h"
#include "proxy/exchange.h"
#include "proxy/http_path.h"
#include "proxy/respond.h"
#include "proxy/status_page.h"
#include "proxy/tls.h"

struct dw_frontend {
    dw_proxy_t *px;
    h2o_globalconf_t globalconf;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    uv_tcp_t listener;
    int listening;
    uv_tcp_t admin;    /* --admin-listen */
    int admin_listening;
    int admin_port;    /* bound; 0 without --admin-listen */
    char responses_path[600];
    char chat_path[600];
    SSL_CTX *up_ssl; /* the passthrough's TLS client context, for https upstreams */
    SSL_CTX *tls;    /* the clients' TLS, when --tls-cert is given */
    dw_client_conn_t *conns;
};

/* h2o's own request timeout (HTTP/1: headers and body, from the first byte, never re-armed; HTTP/2:
 * a connection without a request being answered) is only the outer bound: the idle-read timeout
 * (client_conn.h) is the one that cuts silent clients. */
#define DW_CLIENT_DEADLINE_MS (3600 * 1000)

typedef struct {
    h2o_handler_t super;
    dw_frontend_t *fe;
} dw_handler_t;

/* The port req arrived on. */
static int local_port(h2o_req_t *req)
{
    struct sockaddr_storage ss;
    socklen_t len = req->conn->callbacks->get_sockname(req->conn, (struct sockaddr *)&ss);
    if (len == 0)
        return -1;
    return ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                    : ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* The operator's endpoints: /healthz, /readyz, and unless `probes_only` /metrics, /stats, /status.
 * Returns 0 when answered. */
static int on_ops(dw_frontend_t *fe, h2o_req_t *req, int probes_only)
{
    dw_proxy_t *px = fe->px;
    h2o_iovec_t path = req->path_normalized;
    if (h2o_memis(path.base, path.len, H2O_STRLIT("/healthz"))) {
        if (px->draining)
            dw_respond_body(req, 503, "text/plain", H2O_STRLIT("draining\n"));
        else
            dw_respond_body(req, 200, "text/plain", H2O_STRLIT("ok\n"));
        return 0;
    }
    if (h2o_memis(path.base, path.len, H2O_STRLIT("/readyz"))) {
        /* ready: listening, not draining, and the upstream answered the last connect (or plain
         * HTTP is in effect, which does not need WebSocket mode) */
        int ready = !px->draining && (dw_proxy_upstream_reachable(px) || !dw_proxy_use_ws(px));
        const char *msg = ready ? "ready\n" : px->draining ? "draining\n" : "upstream unreachable\n";
        dw_respond_body(req, ready ? 200 : 503, "text/plain", msg, strlen(msg));
        return 0;
    }
    if (probes_only)
        return -1;
    /* the status page; also at "/" unless the upstream's API lives at its root */
    if (h2o_memis(path.base, path.len, H2O_STRLIT("/status")) ||
        (h2o_memis(path.base, path.len, H2O_STRLIT("/")) && px->cfg->up_base_path[0] != '\0')) {
        dw_respond_body(req, 200, "text/html; charset=utf-8", dw_status_page, dw_status_page_len);
        return 0;
    }
    int metrics = h2o_memis(path.base, path.len, H2O_STRLIT("/metrics"));
    if (metrics || h2o_memis(path.base, path.len, H2O_STRLIT("/stats"))) {
        dw_gauges_t g;
        dw_buf_t b = {0};
        dw_proxy_gauges(px, &g);
        int rc = metrics ? dw_metrics_prometheus(&b, &px->metrics, &g) : dw_metrics_json(&b, &px->metrics, &g);
        if (rc == 0)
            dw_respond_body(req, 200, metrics ? "text/plain; version=0.0.4" : "application/json", b.p, b.len);
        else
            h2o_send_error_generic(req, 500, "Internal Server Error", "deltawire ran out of memory rendering the metrics", 0);
        dw_buf_free(&b);
        return 0;
    }
    return -1;
}

/* POST <base>/responses and POST <base>/chat/completions are ours, and the operator's endpoints;
 * everything else under the host goes to the passthrough that follows this handler (returning -1
 * hands the request on). */
static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    dw_frontend_t *fe = ((dw_handler_t *)self)->fe;
    if (dw_client_conn_request(fe->conns, req)) {
        req->http1_is_persistent = 0;
        dw_respond_error_body(req, 400, "invalid_request_framing", NULL,
                              "the request has conflicting Content-Length values, or Content-Length with "
                              "Transfer-Encoding (RFC 9112 section 6.3)");
        return 0;
    }
    dw_http_path_strip_hop(req);
    int get = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"));
    if (fe->admin_port != 0 && local_port(req) == fe->admin_port) {
        if (!get || on_ops(fe, req, 0) != 0)
            dw_respond_error_body(req, 404, "not_found", NULL,
                                  "this address serves only /metrics, /stats, /status, /healthz and /readyz");
        return 0;
    }
    if (h2o_memis(req->path_normalized.base, req->path_normalized.len, fe->chat_path, strlen(fe->chat_path)) &&
        h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST")) && req->upgrade.base == NULL)
        return dw_chat_start(fe->px, req);
    if (!h2o_memis(req->path_normalized.base, req->path_normalized.len, fe->responses_path,
                   strlen(fe->responses_path))) {
        if (get && on_ops(fe, req, fe->admin_port != 0) == 0)
            return 0;
        fe->px->metrics.requests[DW_OUT_PASSTHROUGH]++;
        return -1;
    }
    if (req->upgrade.base != NULL) {
        /* WebSocket clients (Codex with supports_websockets) fall back to HTTP on a 426 */
        dw_respond_error_body(req, 426, "upgrade_required", NULL,
                               "deltawire serves the Responses API over HTTP; WebSocket clients: use HTTP.");
        return 0;
    }
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"))) {
        fe->px->metrics.requests[DW_OUT_PASSTHROUGH]++;
        return -1;
    }
    return dw_exchange_start(fe->px, req);
}

/* The plain HTTP(S) passthrough to the upstream origin: same paths, streamed both ways. */
static int register_passthrough(dw_frontend_t *fe, h2o_pathconf_t *path)
{
    const dw_config_t *cfg = fe->px->cfg;
    char origin[512];
    snprintf(origin, sizeof(origin), "%s://%s:%d/", cfg->up_tls ? "https" : "http", cfg->up_host, cfg->up_port);
    h2o_url_t url;
    if (h2o_url_parse(origin, strlen(origin), &url) != 0) {
        fprintf(stderr, "deltawire: cannot use upstream origin %s\n", origin);
        return -1;
    }
    h2o_proxy_config_vars_t pc;
    memset(&pc, 0, sizeof(pc));
    pc.io_timeout = 10 * 60 * 1000; /* a model may think for minutes before its first byte */
    pc.keepalive_timeout = 2000;
    if (cfg->up_tls) {
        const char *err;
        fe->up_ssl = dw_tls_client_ctx(cfg->up_host, cfg->upstream_ca, &err);
        if (fe->up_ssl == NULL) {
            fprintf(stderr, "deltawire: %s (upstream %s, --upstream-ca '%s')\n", err, cfg->up_host, cfg->upstream_ca);
            return -1;
        }
        pc.ssl_ctx = fe->up_ssl;
    }
    h2o_proxy_register_reverse_proxy(path, &url, &pc);
    dw_http_path_json_errors(path);
    return 0;
}

static void on_accept(uv_stream_t *listener, int status)
{
    dw_frontend_t *fe = listener->data;
    if (status != 0)
        return;
    uv_tcp_t *conn = dw_client_conn_conn(fe->conns);
    if (conn == NULL)
        return;
    if (uv_accept(listener, (uv_stream_t *)conn) != 0) {
        uv_close((uv_handle_t *)conn, dw_client_conn_on_close);
        return;
    }
    uv_tcp_nodelay(conn, 1);
    dw_client_conn_watch(conn);
    h2o_socket_t *sock = h2o_uv_socket_create((uv_stream_t *)conn, dw_client_conn_on_close);
    h2o_accept(&fe->accept_ctx, sock);
    dw_client_conn_accepted(conn, sock);
}

/* Listens on host:port with l (flag names the option in messages). */
static int bind_listener(dw_frontend_t *fe, uv_tcp_t *l, const char *flag, const char *host, int port, int *bound_port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) != 0) {
        fprintf(stderr, "deltawire: %s needs a numeric IP address, got '%s'\n", flag, host);
        return -1;
    }
    uv_tcp_init(fe->px->loop, l);
    l->data = fe;
    int rc = uv_tcp_bind(l, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)l, 1024, on_accept);
    if (rc != 0) {
        fprintf(stderr, "deltawire: cannot listen on %s:%d: %s\n", host, port, uv_strerror(rc));
        uv_close((uv_handle_t *)l, NULL);
        return -1;
    }
    int len = sizeof(ss);
    uv_tcp_getsockname(l, (struct sockaddr *)&ss, &len);
    *bound_port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                           : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return 0;
}

/* Only for a front end that never accepted: h2o asserts when a context with live connections is
 * disposed. */
static void frontend_free(dw_frontend_t *fe)
{
    dw_frontend_stop_accepting(fe);
    h2o_context_dispose(&fe->ctx);
    h2o_config_dispose(&fe->globalconf);
    if (fe->up_ssl != NULL)
        SSL_CTX_free(fe->up_ssl);
    if (fe->tls != NULL)
        SSL_CTX_free(fe->tls);
    free(fe);
}

dw_frontend_t *dw_frontend_start(dw_proxy_t *px, int *bound_port)
{
    dw_frontend_t *fe = calloc(1, sizeof(*fe));
    if (fe == NULL)
        return NULL;
    fe->px = px;
    snprintf(fe->responses_path, sizeof(fe->responses_path), "%s/responses", px->cfg->up_base_path);
    snprintf(fe->chat_path, sizeof(fe->chat_path), "%s/chat/completions", px->cfg->up_base_path);

    h2o_config_init(&fe->globalconf);
    /* h2o answers bodies beyond its own limit with a plain-text 413; keep it above ours so that
     * the usual oversize request gets the OpenAI-style 413 from the exchange */
    size_t limit = px->cfg->max_body;
    fe->globalconf.max_request_entity_size = limit > SIZE_MAX / 2 ? SIZE_MAX : limit * 2;
    fe->globalconf.server_name = h2o_iovec_init(H2O_STRLIT("deltawire"));
    fe->globalconf.http1.req_timeout = DW_CLIENT_DEADLINE_MS;
    fe->globalconf.http2.idle_timeout = DW_CLIENT_DEADLINE_MS;
    h2o_hostconf_t *host = h2o_config_register_host(&fe->globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    dw_handler_t *h = (dw_handler_t *)h2o_create_handler(path, sizeof(*h));
    h->super.on_req = on_req;
    h->fe = fe;
    px->handler = &h->super;
    /* the client's address and our name stay out of what the upstream sees */
    fe->globalconf.proxy.emit_x_forwarded_headers = 0;
    fe->globalconf.proxy.emit_via_header = 0;
    if (register_passthrough(fe, path) != 0) {
        h2o_config_dispose(&fe->globalconf);
        free(fe);
        return NULL;
    }

    const char *err;
    if (px->cfg->tls_cert[0] != '\0' && (fe->tls = dw_tls_server_ctx(px->cfg->tls_cert, px->cfg->tls_key, &err)) == NULL) {
        fprintf(stderr, "deltawire: %s ('%s', '%s')\n", err, px->cfg->tls_cert, px->cfg->tls_key);
        if (fe->up_ssl != NULL)
            SSL_CTX_free(fe->up_ssl);
        h2o_config_dispose(&fe->globalconf);
        free(fe);
        return NULL;
    }
    fe->conns = dw_client_conn_new(px->loop, px->cfg->client_idle_timeout, fe->globalconf.max_request_entity_size);
    if (fe->conns == NULL) {
        fprintf(stderr, "deltawire: out of memory\n");
        if (fe->up_ssl != NULL)
            SSL_CTX_free(fe->up_ssl);
        if (fe->tls != NULL)
            SSL_CTX_free(fe->tls);
        h2o_config_dispose(&fe->globalconf);
        free(fe);
        return NULL;
    }
    h2o_context_init(&fe->ctx, px->loop, &fe->globalconf);
    fe->accept_ctx.ctx = &fe->ctx;
    fe->accept_ctx.hosts = fe->globalconf.hosts;
    fe->accept_ctx.ssl_ctx = fe->tls;
    const dw_config_t *cfg = px->cfg;
    if (bind_listener(fe, &fe->listener, "--listen", cfg->listen_host, cfg->listen_port, bound_port) != 0) {
        frontend_free(fe);
        return NULL;
    }
    fe->listening = 1;
    if (cfg->admin_host[0] != '\0') {
        /* requests are told apart by the port they arrived on */
        if (cfg->admin_port != 0 && cfg->admin_port == *bound_port) {
            fprintf(stderr, "deltawire: --admin-listen needs another port than --listen\n");
            frontend_free(fe);
            return NULL;
        }
        if (bind_listener(fe, &fe->admin, "--admin-listen", cfg->admin_host, cfg->admin_port, &fe->admin_port) != 0) {
            frontend_free(fe);
            return NULL;
        }
        fe->admin_listening = 1;
        fprintf(stderr, "deltawire: admin endpoints on %s:%d\n", cfg->admin_host, fe->admin_port);
    }
    return fe;
}

void dw_frontend_stop_accepting(dw_frontend_t *fe)
{
    if (fe->listening) {
        fe->listening = 0;
        uv_close((uv_handle_t *)&fe->listener, NULL);
    }
    if (fe->admin_listening) {
        fe->admin_listening = 0;
        uv_close((uv_handle_t *)&fe->admin, NULL);
    }
}

