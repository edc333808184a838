#include "proxy/upstream.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* lws has no limit of its own; a message beyond this closes the connection. */
#define DW_UPSTREAM_MAX_MESSAGE (256u << 20)

struct dw_upstream {
    struct lws_context *ctx;
    int tls;
    char host[256];
    int port;
    char path[600];
    char authority[270]; /* the handshake's Host: host, and :port unless the scheme's default */
    uint64_t next_id;
};

static void conn_free(dw_upconn_t *c)
{
    for (size_t i = 0; i < c->n_hdrs; i++) {
        free(c->hdr_names[i]);
        free(c->hdr_values[i]);
    }
    dw_buf_free(&c->tx);
    dw_buf_free(&c->rx);
    free(c);
}

/* Reports the end of the connection once, then frees it. */
static void conn_finish(dw_upconn_t *c, struct lws *wsi, int status, const char *reason)
{
    if (wsi != NULL)
        lws_set_opaque_user_data(wsi, NULL);
    c->wsi = NULL;
    c->open = 0;
    if (c->connecting_sync) {
        /* dw_upconn_connect is still on the stack: it reports the failure itself */
        c->sync_failed = 1;
        snprintf(c->sync_reason, sizeof(c->sync_reason), "%s", reason);
        return;
    }
    c->cb->on_closed(c, status, reason);
    conn_free(c);
}

static int append_handshake_headers(dw_upconn_t *c, struct lws *wsi, unsigned char **p, unsigned char *end)
{
    for (size_t i = 0; i < c->n_hdrs; i++) {
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)c->hdr_names[i],
                                        (const unsigned char *)c->hdr_values[i], (int)c->hdr_lens[i], p, end))
            goto too_large;
    }
    return 0; /* OpenAI-Beta, with WebSocket mode's flag, is among them (proxy/creds.c) */
too_large:
    /* lws then frees the wsi with no callback but WSI_DESTROY; the fault is this caller's headers,
     * not the upstream's */
    c->hdrs_too_large = 1;
    return -1;
}

static int on_receive(dw_upconn_t *c, struct lws *wsi, const void *in, size_t len)
{
    if (c->rx.len + len > DW_UPSTREAM_MAX_MESSAGE || dw_buf_append(&c->rx, in, len) != 0)
        return -1;
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) != 0)
        return 0;
    c->cb->on_message(c, c->rx.p ? c->rx.p : "", c->rx.len);
    if (c->wsi == NULL)
        return -1;
    dw_buf_reset(&c->rx);
    return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    (void)user;
    dw_upconn_t *c = lws_get_opaque_user_data(wsi);
    if (c == NULL)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
        return append_handshake_headers(c, wsi, (unsigned char **)in, *(unsigned char **)in + len);
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
        int status = (int)lws_http_client_http_response(wsi);
        conn_finish(c, wsi, status, in ? (const char *)in : "connection failed");
        return 0;
    }
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        c->open = c->was_open = 1;
        c->cb->on_open(c);
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (lws_frame_is_binary(wsi))
            return 0;
        return on_receive(c, wsi, in, len);
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (c->closing)
            return -1;
        if (c->tx.len > c->tx_headroom) {
            size_t n = c->tx.len - c->tx_headroom;
            int w = lws_write(wsi, (unsigned char *)c->tx.p + c->tx_headroom, n, LWS_WRITE_TEXT);
            dw_buf_free(&c->tx);
            if (w < (int)n)
                return -1;
        }
        return 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        /* the status code (network order) and reason: a 1009 means the message was refused */
        if (len >= 2) {
            const unsigned char *b = in;
            size_t rn = len - 2 < sizeof(c->close_reason) - 1 ? len - 2 : sizeof(c->close_reason) - 1;
            c->close_code = b[0] << 8 | b[1];
            memcpy(c->close_reason, b + 2, rn);
            c->close_reason[rn] = '\0';
        }
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        conn_finish(c, wsi, 0, "closed");
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        /* every wsi ends here; lws frees some (a handshake it cannot build) without the callbacks
         * above, and their owner must still hear of it */
        if (c->hdrs_too_large)
            conn_finish(c, wsi, 431, "the credential headers do not fit in the upstream handshake");
        else
            conn_finish(c, wsi, 0, c->was_open ? "closed" : "the upstream connection ended before its handshake");
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols protocols[] = {
    {"dw-upstream", callback, 0, 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

dw_upstream_t *dw_upstream_new(uv_loop_t *loop, int tls, const char *host, int port, const char *ws_path,
                               const char *ca_file)
{
    dw_upstream_t *up = calloc(1, sizeof(*up));
    if (up == NULL)
        return NULL;
    up->tls = tls;
    snprintf(up->host, sizeof(up->host), "%s", host);
    up->port = port;
    snprintf(up->path, sizeof(up->path), "%s", ws_path);
    /* RFC 9110 7.2: Host carries the port when it is not the default; lws sends ci.host as it is
     * and drops a ":port" itself for SNI and the certificate check */
    if (port == (tls ? 443 : 80))
        snprintf(up->authority, sizeof(up->authority), "%s", host);
    else
        snprintf(up->authority, sizeof(up->authority), "%s:%d", host, port);
    up->next_id = 1;

    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    void *loops[] = {loop};
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.foreign_loops = loops;
    info.client_ssl_ca_filepath = ca_file && *ca_file ? ca_file : NULL;
    info.pt_serv_buf_size = 64 * 1024;
    up->ctx = lws_create_context(&info);
    if (up->ctx == NULL) {
        fprintf(stderr, "deltawire: cannot create the upstream WebSocket context\n");
        free(up);
        return NULL;
    }
    return up;
}

void dw_upstream_shutdown(dw_upstream_t *up)
{
    lws_context_destroy(up->ctx);
}

void dw_upstream_free(dw_upstream_t *up)
{
    /* with a foreign loop the second call completes what the first started */
    lws_context_destroy(up->ctx);
    free(up);
}

/* A copy of hdrs as lws wants them ("name:"), or -1 when out of memory. */
static int copy_headers(dw_upconn_t *c, const dw_header_t *hdrs, size_t n)
{
    for (size_t i = 0; i < n && i < DW_UPCONN_HDRS; i++, c->n_hdrs++) {
        size_t nl = strlen(hdrs[i].name);
        c->hdr_names[i] = malloc(nl + 2);
        c->hdr_values[i] = strndup(hdrs[i].value, hdrs[i].len);
        c->hdr_lens[i] = hdrs[i].len;
        if (c->hdr_names[i] == NULL || c->hdr_values[i] == NULL) {
            c->n_hdrs++;
            return -1;
        }
        memcpy(c->hdr_names[i], hdrs[i].name, nl);
        memcpy(c->hdr_names[i] + nl, ":", 2);
    }
    return 0;
}

dw_upconn_t *dw_upconn_connect(dw_upstream_t *up, const dw_header_t *hdrs, size_t n, const dw_upconn_cb_t *cb,
                               void *owner, char *err, size_t errlen)
{
    dw_upconn_t *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        snprintf(err, errlen, "out of memory for an upstream connection");
        return NULL;
    }
    c->id = up->next_id++;
    c->up = up;
    c->cb = cb;
    c->owner = owner;
    c->tx_headroom = LWS_PRE;
    if (copy_headers(c, hdrs, n) != 0) {
        snprintf(err, errlen, "out of memory for the handshake headers");
        conn_free(c);
        return NULL;
    }

    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof(ci));
    ci.context = up->ctx;
    ci.address = up->host;
    ci.port = up->port;
    ci.ssl_connection = up->tls ? LCCSCF_USE_SSL : 0;
    ci.path = up->path;
    ci.host = up->authority;
    ci.origin = NULL;
    ci.protocol = NULL;
    ci.local_protocol_name = protocols[0].name;
    ci.ietf_version_or_minus_one = -1;
    ci.opaque_user_data = c;
    ci.pwsi = &c->wsi;
    c->connecting_sync = 1;
    struct lws *wsi = lws_client_connect_via_info(&ci);
    c->connecting_sync = 0;
    if (wsi == NULL || c->sync_failed) {
        if (wsi != NULL)
            lws_set_opaque_user_data(wsi, NULL);
        snprintf(err, errlen, "cannot connect to the upstream: %s", c->sync_failed ? c->sync_reason : "connect refused by lws");
        conn_free(c);
        return NULL;
    }
    return c;
}

size_t dw_upconn_headroom(void)
{
    return LWS_PRE;
}

int dw_upconn_send(dw_upconn_t *c, dw_buf_t *frame)
{
    if (c->wsi == NULL || !c->open)
        return DW_UPCONN_ECLOSED;
    if (c->tx.len != 0)
        return DW_UPCONN_EBUSY;
    c->tx = *frame;
    memset(frame, 0, sizeof(*frame));
    lws_callback_on_writable(c->wsi);
    return 0;
}

const char *dw_upconn_strerror(int err)
{
    return err == DW_UPCONN_EBUSY ? "the upstream connection still has a message to send" : "the upstream connection is closed";
}

void dw_upconn_abort(dw_upconn_t *c, const char *reason)
{
    struct lws *wsi = c->wsi;
    if (wsi != NULL)
        lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    conn_finish(c, wsi, 0, reason);
}

void dw_upconn_close(dw_upconn_t *c)
{
    if (c->wsi == NULL || c->closing)
        return;
    c->closing = 1;
    lws_callback_on_writable(c->wsi);
}
