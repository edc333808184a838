/* Counters, gauges and histograms of one proxy process, and their renderings: Prometheus text for
 * GET /metrics, JSON for GET /stats, and the one human line printed on exit. */
#ifndef DW_METRICS_H
#define DW_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "translate/buf.h"

enum dw_outcome { DW_OUT_DELTA, DW_OUT_FULL, DW_OUT_FALLBACK_HTTP, DW_OUT_PASSTHROUGH, DW_OUT_ERROR, DW_OUT_N };
enum dw_hs_fail { DW_HS_REFUSED_426, DW_HS_REFUSED_404, DW_HS_REFUSED_405, DW_HS_REFUSED_OTHER, DW_HS_NETWORK, DW_HS_N };
enum dw_recovery {
    DW_REC_PREV_NOT_FOUND,
    DW_REC_CONN_LIMIT,
    DW_REC_CONN_LOST,
    DW_REC_HANDSHAKE_RETRY,
    DW_REC_HTTP_FALLBACK,
    DW_REC_MESSAGE_REFUSED, /* closed with 1009 before any event: sent over HTTP */
    DW_REC_N
};

#define DW_HIST_BUCKETS 16

typedef struct {
    uint64_t counts[DW_HIST_BUCKETS + 1]; /* the last one is +Inf */
    uint64_t n;
    double sum_seconds;
} dw_hist_t;

typedef struct {
    uint64_t requests[DW_OUT_N];
    uint64_t bytes_from_clients; /* request bodies on POST /responses */
    uint64_t bytes_to_upstream;  /* WebSocket frames and fallback bodies */
    uint64_t bytes_saved;        /* request bytes that did not go upstream */
    /* on the upstream socket: WebSocket message payloads after permessage-deflate (frame headers and
     * TLS not counted) plus fallback bodies (up); and what the received messages inflate to (down) */
    uint64_t wire_to_upstream, wire_from_upstream, bytes_from_upstream;
    uint64_t items_total;
    uint64_t items_elided;
    uint64_t items_keyed_by_comparison; /* items of large bodies keyed from a kept body, not hashed */
    uint64_t body_bytes_scan_skipped;   /* bytes of large bodies whose scan resumed past them */
    uint64_t body_bytes_copy_skipped;   /* bytes of large bodies not copied: a kept body's buffer taken over */
    uint64_t connects;
    uint64_t handshake_failures[DW_HS_N];
    uint64_t recoveries[DW_REC_N];
    dw_hist_t added_latency; /* request received -> its frame handed to the upstream socket */
    dw_hist_t ttfb;          /* request received -> first byte of the answer */
} dw_metrics_t;

/* Gauges read at render time. */
typedef struct {
    size_t conns_open, conns_busy, conns_connecting, queued, inflight, transcripts, items_cached, transcript_bytes;
    uint64_t items_canonicalised;
    uint64_t inputs_presized; /* client inputs sized for their whole request (proxy/client_conn.h) */
    size_t checking; /* large bodies being checked and digested off the loop */
    size_t bodies_kept, bodies_kept_bytes; /* state/bodies.h */
    size_t client_buffered; /* bytes rendered for clients that their connections have not taken */
    int draining;
    const char *instance; /* the replica's name (--instance), borrowed */
} dw_gauges_t;

void dw_hist_observe(dw_hist_t *h, double seconds);

/* "delta", "full", "fallback_http", "passthrough", "error": the label of an enum dw_outcome. */
const char *dw_outcome_name(int outcome);

/* Append renderings to out. Return 0 or -1 (out of memory). */
int dw_metrics_prometheus(dw_buf_t *out, const dw_metrics_t *m, const dw_gauges_t *g);
int dw_metrics_json(dw_buf_t *out, const dw_metrics_t *m, const dw_gauges_t *g);
/* "412 requests, 38.1 MB from clients, 2.9 MB upstream, 92% less" */
int dw_metrics_summary(dw_buf_t *out, const dw_metrics_t *m);

#endif
