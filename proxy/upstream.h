/* One upstream WebSocket-mode connection (libwebsockets client on the shared libuv loop).
 *
 * A connection carries at most one response at a time. Its owner (the pool) sets the callbacks;
 * the connection object stays valid until on_closed has returned, after which it is freed. */
#ifndef DW_UPSTREAM_H
#define DW_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "translate/buf.h"

#define DW_UPCONN_HDRS 4

/* Handshake header names, in the order of hdr_values. */
extern const char *const dw_upconn_hdr_names[DW_UPCONN_HDRS];

typedef struct dw_upstream dw_upstream_t;
typedef struct dw_upconn dw_upconn_t;

typedef struct {
    void (*on_open)(dw_upconn_t *c);
    /* one complete text message; p is valid only during the call */
    void (*on_message)(dw_upconn_t *c, const char *p, size_t n);
    /* connect failure (http_status: the refusal's status, 0 for a network/TLS failure) or close */
    void (*on_closed)(dw_upconn_t *c, int http_status, const char *reason);
} dw_upconn_cb_t;

struct dw_upconn {
    uint64_t id;           /* never reused within a process */
    void *owner;           /* for the callbacks' use */
    const dw_upconn_cb_t *cb;
    int open;              /* handshake completed, not closed */
    int was_open;          /* the handshake completed once */
    struct lws *wsi;
    dw_upstream_t *up;
    char *hdr_values[DW_UPCONN_HDRS]; /* owned copies of the identity headers for the handshake */
    size_t hdr_lens[DW_UPCONN_HDRS];
    dw_buf_t tx;           /* frame waiting for WRITEABLE, LWS_PRE headroom included */
    size_t tx_headroom;
    dw_buf_t rx;           /* message being reassembled */
    int closing;
    int connecting_sync;   /* inside lws_client_connect_via_info */
    int sync_failed;
    uint64_t bytes_out;
};

/* Creates the upstream side on `loop`. Returns NULL on failure (message printed). */
dw_upstream_t *dw_upstream_new(uv_loop_t *loop, int tls, const char *host, int port, const char *ws_path,
                               const char *ca_file);
/* First stage of teardown, while the loop still runs; the second after the loop drained. */
void dw_upstream_shutdown(dw_upstream_t *up);
void dw_upstream_free(dw_upstream_t *up);

/* Starts a connection with the given identity headers (copied). Returns NULL on failure; else the
 * callbacks will be called on the loop. */
dw_upconn_t *dw_upconn_connect(dw_upstream_t *up, const char *const *hdr_values, const size_t *hdr_lens,
                               const dw_upconn_cb_t *cb, void *owner);
/* Sends one text message: frame is a buffer whose first `headroom` bytes are reserved (LWS_PRE).
 * Takes ownership of *frame (leaves it empty). Returns 0 or -1. */
int dw_upconn_send(dw_upconn_t *c, dw_buf_t *frame);
/* Bytes of header room dw_upconn_send needs in front of a frame. */
size_t dw_upconn_headroom(void);
/* Closes the connection; on_closed follows. */
void dw_upconn_close(dw_upconn_t *c);

#endif
