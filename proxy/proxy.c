/* Process-wide decisions and readings: the transport (WebSocket mode when the upstream speaks it,
 * plain HTTP when it does not, retried with exponential backoff so that a restored upstream is used
 * again), readiness, the gauges, and what an idle connection's close means for the transcripts. */
#include "proxy/proxy.h"

#include <string.h>

#include "proxy/client_conn.h"
#include "proxy/record.h"
#include "proxy/respond.h"

#define DW_WS_BACKOFF_MIN_MS 1000
#define DW_WS_BACKOFF_MAX_MS (10 * 60 * 1000)

int dw_proxy_use_ws(dw_proxy_t *px)
{
    switch (px->cfg->transport) {
    case DW_TRANSPORT_WS:
        return 1;
    case DW_TRANSPORT_HTTP:
        return 0;
    default:
        return uv_now(px->loop) >= px->ws_retry_at_ms;
    }
}

void dw_proxy_ws_refused(dw_proxy_t *px)
{
    if (px->ws_backoff_ms == 0)
        px->ws_backoff_ms = DW_WS_BACKOFF_MIN_MS;
    px->ws_retry_at_ms = uv_now(px->loop) + px->ws_backoff_ms;
    px->ws_backoff_ms *= 2;
    if (px->ws_backoff_ms > DW_WS_BACKOFF_MAX_MS)
        px->ws_backoff_ms = DW_WS_BACKOFF_MAX_MS;
}

void dw_proxy_ws_accepted(dw_proxy_t *px)
{
    px->ws_backoff_ms = 0;
    px->ws_retry_at_ms = 0;
}

void dw_proxy_conn_closed(void *data, dw_lane_t *c)
{
    dw_proxy_t *px = data;
    dw_record_evict(px->transcripts, c);
}

int dw_proxy_upstream_reachable(dw_proxy_t *px)
{
    dw_pool_stats_t ps;
    dw_pool_stats(px->pool, &ps);
    return ps.reachable;
}

void dw_proxy_gauges(dw_proxy_t *px, dw_gauges_t *g)
{
    dw_pool_stats_t ps;
    dw_transcripts_counts_t tc;
    dw_pool_stats(px->pool, &ps);
    dw_transcripts_counts(px->transcripts, &tc);
    px->metrics.connects = ps.connects;
    memcpy(px->metrics.handshake_failures, ps.handshake_failures, sizeof(px->metrics.handshake_failures));
    g->conns_open = ps.open;
    g->conns_busy = ps.busy;
    g->conns_connecting = ps.connecting;
    g->queued = ps.queued;
    g->inflight = px->inflight;
    g->checking = px->checking;
    g->client_buffered = dw_respond_buffered_total();
    g->transcripts = tc.responses;
    g->items_cached = tc.items_cached;
    g->transcript_bytes = tc.bytes;
    g->items_canonicalised = tc.canonicalised;
    g->inputs_presized = dw_client_conn_presized_total();
    dw_bodies_counts(px->bodies, &g->bodies_kept, &g->bodies_kept_bytes);
    g->bodies_kept_bytes += dw_bodies_index_bytes(px->bodies);
    g->draining = px->draining;
    g->instance = px->cfg->instance;
}
