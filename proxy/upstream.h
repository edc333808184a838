/* One upstream WebSocket-mode connection (libwebsockets client on the shared libuv loop), and its
 * lanes (upstream-protocol.md section 2, "Lanes").
 *
 * A connection carries responses on lanes: the default lane (no stream_id) and up to
 * DW_LANE_NAMES named ones ("dw1".."dw32", the connection's lifetime budget of names, reused once
 * named). A lane carries one response at a time and caches its most recent one; at most
 * DW_LANE_INFLIGHT lanes of a connection are leased at once (pool.h). The connection's callbacks and
 * owner are the pool's; a leased lane's are its holder's: each message goes to the lane its
 * stream_id names (none: the default lane), with stream_id taken out, since the HTTP API never
 * sends it. The connection object stays valid until on_closed has returned, after which it is
 * freed. */
#ifndef DW_UPSTREAM_H
#define DW_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "state/transcripts.h"
#include "translate/buf.h"
#include "translate/event.h"

/* At most this many caller headers go into a handshake: the credential and connection headers of
 * translate/headers.h. */
#define DW_UPCONN_HDRS 9

/* One handshake header: name without the colon, value of len bytes (both borrowed). */
typedef struct {
    const char *name;
    const char *value;
    size_t len;
} dw_header_t;

/* What the upstream caches on a connection: its most recent response, the only one a delta on it
 * may chain from (the service keeps one per connection). */
typedef struct {
    char resp_id[DW_RESPONSE_ID_MAX + 1]; /* "" when nothing or evicted */
    dw_digest_t key;                      /* its transcript record, if keyed */
    int keyed;
    int store; /* the upstream also stored it (store=true) */
} dw_upconn_cache_t;

/* Responses in flight on one connection, and distinct lane names per connection lifetime (the
 * service's limits; the default lane does not count). */
#define DW_LANE_INFLIGHT 16
#define DW_LANE_NAMES 32

/* dw_lane_send's errors. */
enum { DW_UPCONN_ECLOSED = -1, DW_UPCONN_EBUSY = -2 };

typedef struct dw_upstream dw_upstream_t;
typedef struct dw_upconn dw_upconn_t;
typedef struct dw_lane dw_lane_t;

/* A leased lane's callbacks: one complete message of its response (p valid only during the call,
 * stream_id taken out; ev its dw_event_scan, spans into p, or NULL when it is not a JSON event),
 * or the end of its connection (on_closed runs for each leased lane before
 * the connection's own on_closed). */
typedef struct {
    void (*on_message)(dw_lane_t *l, const char *p, size_t n, const dw_event_t *ev);
    void (*on_closed)(dw_lane_t *l, const char *reason);
} dw_lane_cb_t;

/* One lane of a connection. */
struct dw_lane {
    uint64_t id;     /* never reused within a process: what a cached response is keyed by */
    dw_upconn_t *c;
    int name;        /* 0: the default lane; n: stream_id "dw<n>" */
    int leased;
    int paused;      /* its reader is behind (dw_lane_pause) */
    uint64_t awaiting; /* sent (the order it went in), and no message of its own heard yet: 0 */
    void *owner;     /* while leased */
    const dw_lane_cb_t *cb;
    uint64_t idle_since_ms;
    struct dw_lane *older, *newer; /* pool.c: free and caching, among its connection's, by release */
    int in_lru;                    /* pool.c: on that list */
    uint64_t wire_tx, wire_rx, payload_rx; /* this lane's share of its connection's counters */
    dw_upconn_cache_t cached; /* written by record.c only */
};

typedef struct {
    void (*on_open)(dw_upconn_t *c);
    /* one complete text message; p is valid only during the call */
    void (*on_message)(dw_upconn_t *c, const char *p, size_t n);
    /* connect failure (http_status: the refusal's status, 431 when the caller's headers do not fit
     * in the handshake, 0 for a network/TLS failure or a handshake timeout) or close */
    void (*on_closed)(dw_upconn_t *c, int http_status, const char *reason);
    /* what the upstream does with stream_id, heard once per connection: echoed 1 when a message
     * named its lane, 0 when a named lane's response came without the name (the upstream ignores
     * the field: its events cannot be told apart once two responses are in flight) */
    void (*on_lanes)(dw_upconn_t *c, int echoed);
} dw_upconn_cb_t;

struct dw_upconn {
    uint64_t id;           /* never reused within a process */
    void *owner;           /* for the callbacks' use */
    const dw_upconn_cb_t *cb;
    int open;              /* handshake completed, not closed */
    int was_open;          /* the handshake completed once */
    struct lws *wsi;
    dw_upstream_t *up;
    char *hdr_names[DW_UPCONN_HDRS]; /* owned "name:" copies of the handshake headers */
    char *hdr_values[DW_UPCONN_HDRS]; /* owned value copies */
    size_t hdr_lens[DW_UPCONN_HDRS];
    size_t n_hdrs;
    dw_lane_t lanes[1 + DW_LANE_NAMES]; /* [0] the default lane, [n] "dw<n>" */
    int inflight;          /* lanes leased (pool.c) */
    int rx_paused;         /* not read: every leased lane is paused */
    int lanes_heard;       /* on_lanes was called */
    dw_buf_t tx;           /* frame going out, LWS_PRE headroom included */
    struct dw_txq *txq;    /* frames waiting behind it, in order */
    struct dw_txq **txq_tail;
    dw_lane_t *tx_lane;    /* whose frame tx is */
    size_t tx_headroom;
    int tx_written;        /* tx went to lws, which still compresses from it: freed once drained */
    int tx_draining;       /* the compressor's last pass over tx left input or output pending (0 without deflate) */
    int deflate;           /* permessage-deflate was negotiated */
    /* message payload bytes as they crossed the socket (after compression; WebSocket frame headers
     * and TLS not counted), and as received once inflated; for the per-request difference */
    uint64_t wire_tx, wire_rx, payload_rx;
    uint64_t msg_wire_rx, msg_payload_rx; /* of the message being received: its lane's once routed */
    dw_buf_t rx;           /* message being reassembled */
    int closing;
    int close_code;        /* the upstream's close frame: its status code (0: none came) ... */
    char close_reason[124]; /* ... and its reason text (NUL-terminated, may be "") */
    int hdrs_too_large;    /* the handshake could not be built: reported as 431 */
    int connecting_sync;   /* inside lws_client_connect_via_info */
    int sync_failed;
    char sync_reason[128]; /* why the connect failed while dw_upconn_connect was on the stack */
};

/* Creates the upstream side on `loop`; deflate is a DW_DEFLATE_* mode (config.h). Returns NULL on
 * failure (message printed). */
dw_upstream_t *dw_upstream_new(uv_loop_t *loop, int tls, const char *host, int port, const char *ws_path,
                               const char *ca_file, int deflate);
/* Keepalive for every connection started from now on: a ping after ping_secs without proof of
 * life (a pong or a message), the close when none came within pong_secs more (lws's
 * retry_and_idle_policy; whole seconds, rounded up, at least 1; lws allows at most 65535 in all). */
void dw_upstream_keepalive(dw_upstream_t *up, double ping_secs, double pong_secs);
/* First stage of teardown, while the loop still runs; the second after the loop drained. */
void dw_upstream_shutdown(dw_upstream_t *up);
void dw_upstream_free(dw_upstream_t *up);

/* Starts a connection with hdrs[0..n) (n <= DW_UPCONN_HDRS, copied) added to the handshake. Returns
 * the connection, whose callbacks follow on the loop; or NULL with the reason in err[0..errlen),
 * and then no callback is called. */
dw_upconn_t *dw_upconn_connect(dw_upstream_t *up, const dw_header_t *hdrs, size_t n, const dw_upconn_cb_t *cb,
                               void *owner, char *err, size_t errlen);
/* Sends one text message on lane l: frame is a response.create object whose first `headroom`
 * bytes are reserved (LWS_PRE); a named lane's stream_id is put in. Messages go out in order.
 * Takes ownership of *frame (leaves it empty) on success. Returns 0, DW_UPCONN_ECLOSED (not open)
 * or DW_UPCONN_EBUSY (no memory). */
int dw_lane_send(dw_lane_t *l, dw_buf_t *frame);
/* Bytes dw_lane_send adds to a frame on l (its stream_id member). */
size_t dw_lane_overhead(const dw_lane_t *l);
/* The reason of a dw_lane_send error. */
const char *dw_upconn_strerror(int err);
/* Bytes of header room dw_lane_send needs in front of a frame. */
size_t dw_upconn_headroom(void);
/* 1 while messages sent have not all gone to the kernel (a big frame on a slow link). */
int dw_upconn_writing(const dw_upconn_t *c);
/* Marks lane l's reader as behind (paused 1) or caught up (0). The connection stops reading only
 * while every leased lane of it is paused: its messages then wait in the kernel and in lws while the
 * readers catch up (lws_rx_flow_control); a lane whose neighbours still read takes its messages (its
 * reader's buffer grows past the bound) rather than stall them. A paused connection reads no pong
 * either: paused longer than the keepalive (ours or the service's) it is closed. */
void dw_lane_pause(dw_lane_t *l, int paused);
/* Closes the connection; on_closed follows. */
void dw_upconn_close(dw_upconn_t *c);
/* Ends the connection now, whatever its state: on_closed(c, 0, reason) is called before this returns
 * (and c is freed); lws closes the socket later, unheard. For a handshake that never completes. */
void dw_upconn_abort(dw_upconn_t *c, const char *reason);

#endif
