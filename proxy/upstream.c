#include "proxy/upstream.h"

#include <libwebsockets.h>

#include "proxy/config.h"
#include "translate/event.h"
#include "translate/json_scan.h"
#include "translate/stream_id.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* lws has no limit of its own; a message beyond this closes the connection. */
#define DW_UPSTREAM_MAX_MESSAGE (256u << 20)

/* permessage-deflate's per-socket settings (lws option syntax). rx_buf_size 2^20: lws 4.1 inflates
 * into this buffer and asserts ("RX trailer apply 2") when a message's last input leaves it full
 * with output still pending, so it must exceed any message's last inflate step (1 KiB by default;
 * the protocol's rx_buffer_size below caps it). tx_buf_size 2^16: one compressed fragment per
 * writeable callback. Window 2^15: the repeated fields sit a whole message back (2^13 doubled the
 * bytes per Codex-like turn); mem_level 4: the compressor's hash table at 16 KiB instead of 128 KiB,
 * ~75 KB less per idle socket for the same bytes (bench/RESULTS.md, memory per socket). */
#define DW_DEFLATE_RX_BUFFER (1u << 20)
#define DW_DEFLATE_DEFAULTS "rx_buf_size=20; tx_buf_size=16; client_max_window_bits=15; mem_level=4"

struct dw_upstream {
    struct lws_context *ctx;
    int deflate; /* DW_DEFLATE_* */
    int tls;
    char host[256];
    int port;
    char path[600];
    char authority[270]; /* the handshake's Host: host, and :port unless the scheme's default */
    uint64_t next_id;
    lws_retry_bo_t keepalive; /* lws keeps a pointer to it in every connection */
    uint64_t sent; /* messages sent on lanes: their order */
};

/* A frame waiting for the one going out. */
struct dw_txq {
    dw_buf_t frame;
    dw_lane_t *lane;
    struct dw_txq *next;
};

static void flow(dw_upconn_t *c);

/* Bytes the socket sent for the frame going out: its lane's too. */
static void count_tx(dw_upconn_t *c, uint64_t n)
{
    c->wire_tx += n;
    if (c->tx_lane != NULL)
        c->tx_lane->wire_tx += n;
}

/* The message just received was lane l's (NULL: nobody's). */
static void count_rx(dw_upconn_t *c, dw_lane_t *l)
{
    if (l != NULL) {
        l->wire_rx += c->msg_wire_rx;
        l->payload_rx += c->msg_payload_rx;
    }
    c->msg_wire_rx = c->msg_payload_rx = 0;
}

static void conn_free(dw_upconn_t *c)
{
    for (size_t i = 0; i < c->n_hdrs; i++) {
        free(c->hdr_names[i]);
        free(c->hdr_values[i]);
    }
    dw_buf_free(&c->tx);
    while (c->txq != NULL) {
        struct dw_txq *q = c->txq;
        c->txq = q->next;
        dw_buf_free(&q->frame);
        free(q);
    }
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
    /* the lanes' holders first: the pool forgets the connection after them */
    for (int i = 0; i <= DW_LANE_NAMES; i++)
        if (c->lanes[i].leased && c->lanes[i].cb != NULL)
            c->lanes[i].cb->on_closed(&c->lanes[i], reason);
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

/* The upstream's answer to stream_id, told to the pool once per connection. */
static void heard_lanes(dw_upconn_t *c, int echoed)
{
    if (!c->lanes_heard) {
        c->lanes_heard = 1;
        c->cb->on_lanes(c, echoed);
    }
}

/* The one leased lane, or NULL when none or several are. */
static dw_lane_t *sole_lease(dw_upconn_t *c)
{
    for (int i = 0; c->inflight == 1 && i <= DW_LANE_NAMES; i++)
        if (c->lanes[i].leased)
            return &c->lanes[i];
    return NULL;
}

/* The leased lane a message is for: the one its stream_id names; without one, the named lane that
 * waits longest when the message is about stream_id, else the default lane, else the only lane in
 * flight (an upstream that ignores stream_id answers without it: the pool keeps one response per
 * connection until the upstream has echoed a name, so that lane is the only one it can be for).
 * NULL: nobody's. *all is set for a message that names no lane while several lanes are leased and
 * that concerns them all: an error (the connection's limits), or a frame that is not an event (a
 * broken peer). ev: the message scanned, NULL when it is not a JSON event. Takes stream_id out of
 * the message, and moves ev's spans to match. */
static dw_lane_t *route(dw_upconn_t *c, char *m, size_t *n, dw_event_t *ev, int *all)
{
    *all = 0;
    int name = ev != NULL ? dw_stream_id_take_event(m, n, ev) : 0;
    if (name != 0) {
        heard_lanes(c, 1);
        dw_lane_t *l = name >= 1 && name <= DW_LANE_NAMES ? &c->lanes[name] : NULL;
        return l != NULL && l->leased ? l : NULL;
    }
    int is_error = ev != NULL && dw_event_is(ev, "error");
    if (is_error && dw_stream_id_error_about((dw_span_t){m, *n})) {
        dw_lane_t *oldest = NULL;
        for (int i = 1; i <= DW_LANE_NAMES; i++) {
            dw_lane_t *l = &c->lanes[i];
            if (l->leased && l->awaiting && (oldest == NULL || l->awaiting < oldest->awaiting))
                oldest = l;
        }
        if (oldest != NULL)
            return oldest;
    }
    if (c->lanes[0].leased)
        return &c->lanes[0];
    dw_lane_t *sole = sole_lease(c);
    if (sole != NULL) {
        /* a response's event, not one about the connection (codex.rate_limits comes unnamed) */
        if (ev != NULL && ev->type.n > 10 && memcmp(ev->type.p, "\"response.", 10) == 0)
            heard_lanes(c, 0);
        return sole;
    }
    *all = is_error || ev == NULL;
    return NULL;
}

/* One whole message to its reader: the lane its stream_id names (the name taken out, in place, so
 * the client never sees it), the oldest waiting lane for an error about the field itself, every
 * leased lane for an error naming none, else the connection's holder. m is writable; it is scanned
 * once here, and the lane's reader gets the scan. */
static void deliver(dw_upconn_t *c, char *m, size_t n)
{
    int all = 0;
    dw_event_t scan, *ev = n > 0 && dw_event_scan(m, n, &scan) == 0 ? &scan : NULL;
    dw_lane_t *l = n > 0 ? route(c, m, &n, ev, &all) : NULL;
    count_rx(c, l);
    if (l != NULL) {
        l->awaiting = 0;
        l->cb->on_message(l, m, n, ev);
    } else if (all) {
        /* the lanes leased now: one given back on the way may go to a request this is not for */
        uint64_t held = 0;
        for (int i = 1; i <= DW_LANE_NAMES; i++)
            held |= (uint64_t)c->lanes[i].leased << i;
        for (int i = 1; i <= DW_LANE_NAMES && c->wsi != NULL; i++) {
            if (held >> i & 1) {
                c->lanes[i].awaiting = 0;
                c->lanes[i].cb->on_message(&c->lanes[i], m, n, ev);
            }
        }
    } else {
        c->cb->on_message(c, n > 0 ? m : "", n);
    }
}

static int on_receive(dw_upconn_t *c, struct lws *wsi, void *in, size_t len)
{
    int whole = lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0;
    if (c->rx.len == 0 && whole && len <= DW_UPSTREAM_MAX_MESSAGE) {
        /* the message came in one piece (the usual event): handed on from lws's buffer, uncopied */
        lws_validity_confirmed(wsi);
        deliver(c, in, len);
        return c->wsi == NULL ? -1 : 0;
    }
    if (c->rx.len + len > DW_UPSTREAM_MAX_MESSAGE || dw_buf_append(&c->rx, in, len) != 0)
        return -1;
    if (!whole)
        return 0;
    lws_validity_confirmed(wsi); /* a whole message is proof of life: no ping while events flow */
    deliver(c, c->rx.p, c->rx.len);
    if (c->wsi == NULL)
        return -1;
    dw_buf_reset(&c->rx);
    return 0;
}

/* The next waiting frame becomes the one going out. Returns 1 if there was one. */
static int tx_next(dw_upconn_t *c)
{
    dw_buf_free(&c->tx);
    c->tx_lane = NULL;
    struct dw_txq *q = c->txq;
    if (q == NULL)
        return 0;
    c->txq = q->next;
    if (c->txq == NULL)
        c->txq_tail = &c->txq;
    c->tx = q->frame;
    c->tx_lane = q->lane;
    free(q);
    return 1;
}

/* Writes the message in tx. Returns 0, or -1 when the socket failed (tx freed; the connection must
 * close). lws sends what the kernel does not take at once itself, later. */
static int tx_write(dw_upconn_t *c, struct lws *wsi)
{
    size_t n = c->tx.len - c->tx_headroom;
    int w = lws_write(wsi, (unsigned char *)c->tx.p + c->tx_headroom, n, LWS_WRITE_TEXT);
    if (w < (int)n) {
        dw_buf_free(&c->tx);
        return -1;
    }
    if (!c->deflate)
        count_tx(c, n); /* compressed, deflate_ext counts what the extension writes */
    if (c->tx_draining) {
        /* the compressor reads the rest of the message from tx on later writeable turns: keep it
         * until lws hands the socket back to us */
        c->tx_written = 1;
        lws_callback_on_writable(wsi);
    } else if (tx_next(c)) {
        /* sent, or compressed whole in this write (every message up to the compressor's 64 KB
         * output): nothing to wait for, where a writeable turn cost four poll re-arms a request */
        lws_callback_on_writable(wsi);
    }
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
    case LWS_CALLBACK_WS_EXT_DEFAULTS:
        /* in: room for this socket's option string, parsed before the server's answer */
        snprintf(in, len, "%s%s", DW_DEFLATE_DEFAULTS,
                 c->up->deflate == DW_DEFLATE_NO_CONTEXT_TAKEOVER ? "; client_no_context_takeover" : "");
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        c->payload_rx += len;
        c->msg_payload_rx += len;
        if (!c->deflate) {
            c->wire_rx += len;
            c->msg_wire_rx += len;
        }
        if (lws_frame_is_binary(wsi))
            return 0;
        return on_receive(c, wsi, in, len);
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (c->closing)
            return -1;
        if (c->tx_written) {
            /* lws calls back only once the extension has compressed the whole message */
            c->tx_written = 0;
            if (tx_next(c))
                lws_callback_on_writable(wsi);
        } else if (c->tx.len > c->tx_headroom) {
            return tx_write(c, wsi);
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
    /* rx_buffer_size bounds pm-deflate's inflate buffer (above); malloc maps it, and pages count
     * only once a message that large arrives */
    {"dw-upstream", callback, 0, DW_DEFLATE_RX_BUFFER, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* lws 4.1's argument to LWS_EXT_CB_PAYLOAD_RX/TX (its private struct lws_ext_pm_deflate_rx_ebufs)
 * and the return codes of its private enum pmd_return that matter here. */
typedef struct {
    struct lws_tokens eb_in, eb_out;
} pmd_ebufs_t;
enum { PMDR_UNKNOWN = 0, PMDR_DID_NOTHING = 1, PMDR_HAS_PENDING = 2, PMDR_NOTHING_WE_SHOULD_DO = 5 };

/* lws's permessage-deflate, watched: it counts the compressed bytes each way and marks the
 * connection deflating once the server accepted the offer. */
static int deflate_ext(struct lws_context *ctx, const struct lws_extension *ext, struct lws *wsi,
                       enum lws_extension_callback_reasons reason, void *user, void *in, size_t len)
{
    dw_upconn_t *c = lws_get_opaque_user_data(wsi);
    pmd_ebufs_t *eb = in;
    int before = reason == LWS_EXT_CB_PAYLOAD_RX ? eb->eb_in.len : 0;
    int r = lws_extension_callback_pm_deflate(ctx, ext, wsi, reason, user, in, len);
    if (c == NULL)
        return r;
    switch (reason) {
    case LWS_EXT_CB_CLIENT_CONSTRUCT:
        c->deflate = r == 0;
        break;
    case LWS_EXT_CB_PAYLOAD_TX:
        if (r > PMDR_DID_NOTHING) /* DID_NOTHING leaves eb_out as it was */
            count_tx(c, (uint64_t)eb->eb_out.len);
        c->tx_draining = r == PMDR_HAS_PENDING; /* lws then drains it on writeable turns */
        break;
    case LWS_EXT_CB_PAYLOAD_RX:
        if (r == PMDR_NOTHING_WE_SHOULD_DO) {
            /* a message the server sent uncompressed (RSV1 clear, as RFC 7692 allows): lws 4.1.6's
             * client parser then hands the payload over without consuming it, and again, for ever
             * (fixed upstream in 2023, lws commit 9202017c); as UNKNOWN it is consumed once */
            c->wire_rx += (uint64_t)before;
            c->msg_wire_rx += (uint64_t)before;
            return PMDR_UNKNOWN;
        }
        if (r >= 0 && before > eb->eb_in.len) {
            c->wire_rx += (uint64_t)(before - eb->eb_in.len);
            c->msg_wire_rx += (uint64_t)(before - eb->eb_in.len);
        }
        break;
    default:
        break;
    }
    return r;
}

static const struct lws_extension extensions[] = {
    {"permessage-deflate", deflate_ext, "permessage-deflate; client_max_window_bits"},
    {NULL, NULL, NULL},
};
static const struct lws_extension extensions_no_context[] = {
    {"permessage-deflate", deflate_ext,
     "permessage-deflate; client_no_context_takeover; server_no_context_takeover; client_max_window_bits"},
    {NULL, NULL, NULL},
};

dw_upstream_t *dw_upstream_new(uv_loop_t *loop, int tls, const char *host, int port, const char *ws_path,
                               const char *ca_file, int deflate)
{
    dw_upstream_t *up = calloc(1, sizeof(*up));
    if (up == NULL)
        return NULL;
    up->deflate = deflate;
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
    if (deflate != DW_DEFLATE_OFF)
        info.extensions = deflate == DW_DEFLATE_ON ? extensions : extensions_no_context;
    up->ctx = lws_create_context(&info);
    if (up->ctx == NULL) {
        fprintf(stderr, "deltawire: cannot create the upstream WebSocket context\n");
        free(up);
        return NULL;
    }
    return up;
}

static uint16_t whole_secs(double s)
{
    return s < 1 ? 1 : s >= 32767 ? 32767 : (uint16_t)(s + 0.999);
}

void dw_upstream_keepalive(dw_upstream_t *up, double ping_secs, double pong_secs)
{
    memset(&up->keepalive, 0, sizeof(up->keepalive));
    up->keepalive.secs_since_valid_ping = whole_secs(ping_secs);
    up->keepalive.secs_since_valid_hangup = (uint16_t)(up->keepalive.secs_since_valid_ping + whole_secs(pong_secs));
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
    c->txq_tail = &c->txq;
    for (int i = 0; i <= DW_LANE_NAMES; i++)
        c->lanes[i] = (dw_lane_t){.id = up->next_id++, .c = c, .name = i};
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
    if (up->keepalive.secs_since_valid_ping != 0)
        ci.retry_and_idle_policy = &up->keepalive;
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

size_t dw_lane_overhead(const dw_lane_t *l)
{
    return dw_stream_id_size(l->name);
}

int dw_lane_send(dw_lane_t *l, dw_buf_t *frame)
{
    dw_upconn_t *c = l->c;
    if (c->wsi == NULL || !c->open)
        return DW_UPCONN_ECLOSED;
    if (dw_stream_id_put(frame, c->tx_headroom, l->name) != 0)
        return DW_UPCONN_EBUSY;
    l->awaiting = ++c->up->sent;
    l->paused = 0;
    flow(c); /* a new response: its reader is not behind */
    if (c->tx.len == 0 && !c->tx_written) {
        c->tx = *frame;
        c->tx_lane = l;
        memset(frame, 0, sizeof(*frame));
        /* nothing is going out (lws holds no unsent bytes either): written now, not on a writeable
         * callback, which costs two poll re-arms and a loop pass before the request leaves (issue
         * 16). A failed socket closes as on any write error; the lane hears of it from the close. */
        if (c->closing || lws_partial_buffered(c->wsi))
            lws_callback_on_writable(c->wsi);
        else if (tx_write(c, c->wsi) != 0)
            lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        return 0;
    }
    struct dw_txq *q = malloc(sizeof(*q));
    if (q == NULL)
        return DW_UPCONN_EBUSY;
    *q = (struct dw_txq){*frame, l, NULL};
    *c->txq_tail = q;
    c->txq_tail = &q->next;
    memset(frame, 0, sizeof(*frame));
    lws_callback_on_writable(c->wsi);
    return 0;
}

const char *dw_upconn_strerror(int err)
{
    return err == DW_UPCONN_EBUSY ? "out of memory for the upstream message" : "the upstream connection is closed";
}

void dw_upconn_abort(dw_upconn_t *c, const char *reason)
{
    struct lws *wsi = c->wsi;
    if (wsi != NULL)
        lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    conn_finish(c, wsi, 0, reason);
}

int dw_upconn_writing(const dw_upconn_t *c)
{
    return c->wsi != NULL && (c->tx.len != 0 || c->txq != NULL || lws_send_pipe_choked(c->wsi));
}

/* Reads c, or not while every leased lane's reader is behind. */
static void flow(dw_upconn_t *c)
{
    int leased = 0, paused = 0;
    for (int i = 0; i <= DW_LANE_NAMES; i++) {
        leased += c->lanes[i].leased;
        paused += c->lanes[i].leased && c->lanes[i].paused;
    }
    int stop = leased > 0 && paused == leased;
    if (c->wsi != NULL && stop != c->rx_paused)
        lws_rx_flow_control(c->wsi, stop ? 0 : 1);
    c->rx_paused = stop;
}

void dw_lane_pause(dw_lane_t *l, int paused)
{
    l->paused = paused;
    flow(l->c);
}

void dw_upconn_close(dw_upconn_t *c)
{
    if (c->wsi == NULL || c->closing)
        return;
    c->closing = 1;
    lws_callback_on_writable(c->wsi);
}
