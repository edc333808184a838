/* Lanes of upstream connections (upstream.h), leased one request at a time, shaped like h2o's
 * socketpool: connect or reuse (dw_pool_connect), cancel a lease not yet granted
 * (dw_pool_cancel), give it back (dw_pool_return), or report that its connection closed while
 * leased (dw_pool_detach).
 *
 * A connection belongs to exactly one credential digest, and its lanes are leased only to requests
 * with its pool key (the credentials and the connection headers it was opened with); at most
 * DW_LANE_INFLIGHT lanes of one connection at once. With --lanes off, or once the upstream refused
 * stream_id under --lanes auto, only the default lane: one request per connection. A lane's cache
 * is its own; a leased lane's callbacks are the holder's. Connections are bounded per key and in
 * all; a request that finds none free waits in its key's bounded FIFO, and beyond that bound it is
 * refused (the caller answers 429). Idle connections close after --idle-timeout; old ones retire once idle
 * after --max-conn-age, before the upstream's own 60-minute limit. */
#ifndef DW_POOL_H
#define DW_POOL_H

#include <stdint.h>

#include "proxy/config.h"
#include "proxy/creds.h"
#include "proxy/metrics.h"
#include "proxy/plan.h"
#include "proxy/upstream.h"

typedef struct dw_pool dw_pool_t;

/* A lease is granted: lane l of an open connection is the caller's until dw_pool_return or its
 * on_closed. Or it failed: l is NULL, http_status is the handshake's refusal (0 for a network or TLS failure,
 * DW_POOL_ETIMEDOUT when the request waited --queue-timeout in the queue) and reason says why. */
typedef void (*dw_pool_connect_cb)(void *data, dw_lane_t *l, int http_status, const char *reason);

/* A connection closed: what lane l cached is gone. */
typedef void (*dw_pool_closed_cb)(void *data, dw_lane_t *l);

/* on_closed(data, l) is called for every lane of a connection that closes, before it is freed. */
dw_pool_t *dw_pool_new(uv_loop_t *loop, const dw_config_t *cfg, dw_upstream_t *up, dw_pool_closed_cb on_closed,
                       void *data);
/* Closes every connection; no callback is called any more. Frees the pool. */
void dw_pool_free(dw_pool_t *p);

/* What the lanes of the open connections of the pool key (dw_creds_t.key) cache, for dw_plan_make:
 * view is filled in place and borrows p and key, valid while both are and the loop does not run. */
typedef struct {
    dw_lanes_view_t view;
    dw_pool_t *pool;
    const dw_digest_t *key;
} dw_pool_view_t;
void dw_pool_view(dw_pool_t *p, const dw_digest_t *key, dw_pool_view_t *view);

enum {
    DW_POOL_READY = 0,
    DW_POOL_PENDING = 1,
    DW_POOL_QUEUED = 2,
    DW_POOL_ECONNECT = -1,
    DW_POOL_EFULL = -2,
    DW_POOL_ETIMEDOUT = -3,
};
/* Leases a lane for cr (borrowed until the lease is granted or cancelled), in the order that
 * keeps conversations' caches: the lane want_lane (the one caching the response the request
 * chains from, 0 for none) if it is free (a place in the queue while its connection is full: it
 * takes another lane when it heads the queue as a lease returns, or at the next second's sweep),
 * else a free lane that caches nothing on a connection with room, else a new connection while
 * under --max-conns-per-key and --max-conns, else the free lane least recently used, else a place
 * in this key's queue. While leased, l->cb is ucb and l->owner is data.
 * Each key has its own FIFO queue, and the keys with waiters are served in turn (round robin); a
 * waiter gets its own connection first when that frees. A key below its own limit may open a
 * connection whatever other keys wait for; at the global bound another key's idle connection is
 * closed to make room. A waiter still queued after --queue-timeout gets cb with DW_POOL_ETIMEDOUT
 * (checked every second).
 * READY: *out is leased and open, send now. PENDING and QUEUED: cb(data, ...) follows once, unless
 * cancelled. EFULL: this key's queue is at --max-queue (other keys are unaffected). ECONNECT: no
 * connection could be started, err says why. An error return never calls cb. */
int dw_pool_connect(dw_pool_t *p, const dw_creds_t *cr, uint64_t want_lane, const dw_lane_cb_t *ucb, void *data,
                    dw_pool_connect_cb cb, dw_lane_t **out, char *err, size_t errlen);
/* Withdraws the lease data asked for and has not got yet; its cb will not be called. */
void dw_pool_cancel(dw_pool_t *p, void *data);
/* The leased l is free again (and may go to a waiting request); retire: its connection takes no
 * more leases and closes once none of its lanes is leased. */
void dw_pool_return(dw_pool_t *p, dw_lane_t *l, int retire);
/* The leased l's connection closed (call from its on_closed). */
void dw_pool_detach(dw_pool_t *p, dw_lane_t *l);
/* The upstream refused stream_id: from now on only default lanes (--lanes auto). */
void dw_pool_lanes_refused(dw_pool_t *p);

typedef struct {
    size_t open, busy, connecting, queued;
    size_t lanes_busy; /* responses in flight */
    uint64_t connects;                     /* handshakes that completed */
    uint64_t handshake_failures[DW_HS_N];  /* by enum dw_hs_fail */
    int reachable; /* 0 after a connect failed on the network or WebSocket mode was refused (426, 404,
                    * 405), until one succeeds or the upstream refuses one caller (other 4xx) */
} dw_pool_stats_t;
void dw_pool_stats(const dw_pool_t *p, dw_pool_stats_t *st);

#endif
