/* The process-wide state of one deltawire worker: configuration, the shared libuv loop, the
 * upstream side and the shadow transcripts. */
#ifndef DW_PROXY_H
#define DW_PROXY_H

#include <h2o.h>

#include "proxy/config.h"
#include "proxy/metrics.h"
#include "proxy/pool.h"
#include "proxy/upstream.h"
#include "state/bodies.h"
#include "state/transcripts.h"

typedef struct {
    const dw_config_t *cfg;
    uv_loop_t *loop;
    dw_upstream_t *upstream;
    dw_pool_t *pool;
    dw_transcripts_t *transcripts;
    dw_bodies_t *bodies;      /* recent large bodies (offload.c keys the next turn's items with them) */
    size_t inflight;
    size_t checking;          /* large bodies on the thread pool (offload.c) */
    int draining;
    dw_metrics_t metrics;
    h2o_handler_t *handler;   /* deltawire's handler; the plain HTTP passthrough follows it */
    uint64_t ws_retry_at_ms;  /* auto mode: plain HTTP until then (loop time) */
    uint64_t ws_backoff_ms;   /* the next refusal's wait */
} dw_proxy_t;

/* Fills the gauges of the metrics renderings, and brings the pool's counters (connects, handshake
 * failures) into px->metrics. */
void dw_proxy_gauges(dw_proxy_t *px, dw_gauges_t *g);

/* An idle upstream connection closed: the upstream dropped what it cached there (the pool's
 * dw_pool_closed_cb; data is the dw_proxy_t). */
void dw_proxy_conn_closed(void *data, dw_lane_t *c);

/* 0 after an upstream connect failed on the network or was refused WebSocket mode, until one works
 * (readiness; one caller's refusal, such as a 401 on its key, does not count). */
int dw_proxy_upstream_reachable(dw_proxy_t *px);

/* WebSocket mode unless --transport http, or auto while the upstream refuses upgrades. */
int dw_proxy_use_ws(dw_proxy_t *px);
/* The upstream refused an upgrade (426, 404, 405...): plain HTTP for a while, doubling. */
void dw_proxy_ws_refused(dw_proxy_t *px);
/* An upgrade succeeded: the backoff starts over. */
void dw_proxy_ws_accepted(dw_proxy_t *px);

#endif
