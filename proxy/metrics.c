#include "proxy/metrics.h"

#include <stdarg.h>
#include <stdio.h>

static const double bucket_le[DW_HIST_BUCKETS] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                  0.025,   0.05,   0.1,     0.25,   0.5,   1,      2.5,   10};
static const char *const outcome_names[DW_OUT_N] = {"delta", "full", "fallback_http", "passthrough", "error"};
static const char *const hs_names[DW_HS_N] = {"refused_426", "refused_404", "refused_405", "refused_other", "network"};
static const char *const rec_names[DW_REC_N] = {"previous_response_not_found", "connection_limit_reached",
                                                "connection_lost", "handshake_retry", "http_fallback",
                                                "message_refused"};

const char *dw_outcome_name(int outcome)
{
    return outcome_names[outcome];
}

void dw_hist_observe(dw_hist_t *h, double seconds)
{
    size_t i = 0;
    while (i < DW_HIST_BUCKETS && seconds > bucket_le[i])
        i++;
    h->counts[i]++;
    h->n++;
    h->sum_seconds += seconds;
}

static int appendf(dw_buf_t *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int appendf(dw_buf_t *out, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return -1;
    return dw_buf_append(out, tmp, (size_t)n);
}

static int head(dw_buf_t *out, const char *name, const char *type, const char *help)
{
    return appendf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int hist(dw_buf_t *out, const char *name, const char *help, const dw_hist_t *h)
{
    int rc = head(out, name, "histogram", help);
    uint64_t cum = 0;
    for (size_t i = 0; i < DW_HIST_BUCKETS && rc == 0; i++) {
        cum += h->counts[i];
        rc = appendf(out, "%s_bucket{le=\"%g\"} %llu\n", name, bucket_le[i], (unsigned long long)cum);
    }
    if (rc == 0)
        rc = appendf(out, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9f\n%s_count %llu\n", name, (unsigned long long)h->n,
                     name, h->sum_seconds, name, (unsigned long long)h->n);
    return rc;
}

#define LABELLED(out, name, label, names, values, n)                                                                   \
    do {                                                                                                               \
        for (size_t i_ = 0; i_ < (n) && rc == 0; i_++)                                                                 \
            rc = appendf(out, "%s{%s=\"%s\"} %llu\n", name, label, names[i_], (unsigned long long)(values)[i_]);      \
    } while (0)

int dw_metrics_prometheus(dw_buf_t *out, const dw_metrics_t *m, const dw_gauges_t *g)
{
    int rc = head(out, "deltawire_requests_total", "counter", "Requests by outcome.");
    LABELLED(out, "deltawire_requests_total", "outcome", outcome_names, m->requests, DW_OUT_N);
    struct {
        const char *name, *help;
        uint64_t v;
    } counters[] = {
        {"deltawire_client_bytes_total", "Request body bytes received on POST /responses.", m->bytes_from_clients},
        {"deltawire_upstream_bytes_total", "Request bytes sent upstream (frames and fallback bodies).",
         m->bytes_to_upstream},
        {"deltawire_upstream_received_bytes_total",
         "WebSocket message bytes received from the upstream, as inflated (next to the down wire bytes).",
         m->bytes_from_upstream},
        {"deltawire_saved_bytes_total", "Request bytes that did not have to go upstream.", m->bytes_saved},
        {"deltawire_items_total", "Input items received.", m->items_total},
        {"deltawire_items_elided_total", "Input items not re-sent because the upstream held them.", m->items_elided},
        {"deltawire_items_keyed_by_comparison_total",
         "Items of bodies from 16 KiB whose cache key came from comparing bytes with a kept earlier body, not hashing.",
         m->items_keyed_by_comparison},
        {"deltawire_body_bytes_scan_skipped_total",
         "Bytes of bodies not scanned again: shared from the start with a kept earlier body, up to an item's end.",
         m->body_bytes_scan_skipped},
        {"deltawire_body_bytes_copy_skipped_total",
         "Bytes of bodies not copied: shared from the start with the kept earlier body they replace, whose buffer was "
         "taken over.",
         m->body_bytes_copy_skipped},
        {"deltawire_upstream_connects_total", "Upstream WebSocket connections opened.", m->connects},
    };
    for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]) && rc == 0; i++) {
        rc = head(out, counters[i].name, "counter", counters[i].help);
        if (rc == 0)
            rc = appendf(out, "%s %llu\n", counters[i].name, (unsigned long long)counters[i].v);
    }
    if (rc == 0)
        rc = head(out, "deltawire_upstream_wire_bytes_total", "counter",
                  "Bytes on the upstream socket after permessage-deflate: WebSocket message payloads (frame "
                  "headers and TLS not counted) and, up, fallback bodies.") ||
             appendf(out, "deltawire_upstream_wire_bytes_total{direction=\"up\"} %llu\n"
                          "deltawire_upstream_wire_bytes_total{direction=\"down\"} %llu\n",
                     (unsigned long long)m->wire_to_upstream, (unsigned long long)m->wire_from_upstream);
    if (rc == 0)
        rc = head(out, "deltawire_upstream_handshake_failures_total", "counter", "Failed upstream handshakes.");
    LABELLED(out, "deltawire_upstream_handshake_failures_total", "reason", hs_names, m->handshake_failures, DW_HS_N);
    if (rc == 0)
        rc = head(out, "deltawire_recoveries_total", "counter", "Requests recovered before reaching the client.");
    LABELLED(out, "deltawire_recoveries_total", "reason", rec_names, m->recoveries, DW_REC_N);
    if (rc == 0)
        rc = head(out, "deltawire_upstream_connections", "gauge", "Upstream connections by state.") ||
             appendf(out,
                     "deltawire_upstream_connections{state=\"open\"} %zu\n"
                     "deltawire_upstream_connections{state=\"busy\"} %zu\n"
                     "deltawire_upstream_connections{state=\"idle\"} %zu\n"
                     "deltawire_upstream_connections{state=\"connecting\"} %zu\n",
                     g->conns_open, g->conns_busy, g->conns_open - g->conns_busy, g->conns_connecting) ||
             head(out, "deltawire_queued_requests", "gauge", "Requests waiting for an upstream connection.") ||
             appendf(out, "deltawire_queued_requests %zu\n", g->queued) ||
             head(out, "deltawire_inflight_requests", "gauge", "Requests being answered.") ||
             appendf(out, "deltawire_inflight_requests %zu\n", g->inflight) ||
             head(out, "deltawire_bodies_checking", "gauge",
                  "Large request bodies being checked and digested on the thread pool.") ||
             appendf(out, "deltawire_bodies_checking %zu\n", g->checking) ||
             head(out, "deltawire_bodies_kept", "gauge",
                  "Recent request bodies (16 KiB and more) kept to key the next turn by comparison (--body-memory).") ||
             appendf(out, "deltawire_bodies_kept %zu\n", g->bodies_kept) ||
             head(out, "deltawire_bodies_kept_bytes", "gauge", "Bytes those bodies take (with their item tables and the per-key index).") ||
             appendf(out, "deltawire_bodies_kept_bytes %zu\n", g->bodies_kept_bytes) ||
             head(out, "deltawire_client_buffered_bytes", "gauge",
                  "Answer bytes waiting for slow clients (bounded per client by --client-buffer).") ||
             appendf(out, "deltawire_client_buffered_bytes %zu\n", g->client_buffered) ||
             head(out, "deltawire_transcripts", "gauge", "Responses tracked in the transcript index.") ||
             appendf(out, "deltawire_transcripts %zu\n", g->transcripts) ||
             head(out, "deltawire_item_cache_entries", "gauge", "Items whose canonical digest is cached.") ||
             appendf(out, "deltawire_item_cache_entries %zu\n", g->items_cached) ||
             head(out, "deltawire_transcript_bytes", "gauge",
                  "Bytes the transcript index holds (bounded by --max-conversations and its item tables).") ||
             appendf(out, "deltawire_transcript_bytes %zu\n", g->transcript_bytes) ||
             head(out, "deltawire_items_canonicalised_total", "counter",
                  "Client items canonicalised: those the item cache did not know (per turn, the new ones).") ||
             appendf(out, "deltawire_items_canonicalised_total %llu\n", (unsigned long long)g->items_canonicalised) ||
             head(out, "deltawire_client_inputs_presized_total", "counter",
                  "HTTP/1.1 requests whose connection input was sized for the whole body once the head was read.") ||
             appendf(out, "deltawire_client_inputs_presized_total %llu\n", (unsigned long long)g->inputs_presized) ||
             hist(out, "deltawire_added_latency_seconds", "Time from a request's arrival to its upstream send.",
                  &m->added_latency) ||
             hist(out, "deltawire_ttfb_seconds", "Time from a request's arrival to the first byte answered.", &m->ttfb) ||
             head(out, "deltawire_build_info", "gauge", "Build information.") ||
             appendf(out, "deltawire_build_info{version=\"%s\"} 1\n", DW_VERSION) ||
             /* "replica", not "instance": Prometheus sets instance from the scrape target and would
              * rename ours to exported_instance */
             head(out, "deltawire_instance_info", "gauge", "This replica's name (--instance), to sum or split a fleet.") ||
             appendf(out, "deltawire_instance_info{replica=\"%s\",version=\"%s\"} 1\n", g->instance, DW_VERSION);
    return rc ? -1 : 0;
}

/* ,"name":{"count":N,"sum_seconds":S,"counts":[per bucket, the last one +Inf]} */
static int hist_json(dw_buf_t *out, const char *name, const dw_hist_t *h)
{
    int rc = appendf(out, ",\"%s\":{\"count\":%llu,\"sum_seconds\":%.9f,\"counts\":[", name, (unsigned long long)h->n,
                     h->sum_seconds);
    for (size_t i = 0; i <= DW_HIST_BUCKETS && rc == 0; i++)
        rc = appendf(out, "%s%llu", i ? "," : "", (unsigned long long)h->counts[i]);
    return rc || dw_buf_append(out, "]}", 2);
}

int dw_metrics_json(dw_buf_t *out, const dw_metrics_t *m, const dw_gauges_t *g)
{
    uint64_t reqs = 0;
    for (size_t i = 0; i < DW_OUT_N; i++)
        reqs += m->requests[i];
    double saved = m->bytes_from_clients ? 100.0 * (double)m->bytes_saved / (double)m->bytes_from_clients : 0;
    double wire_saved = m->bytes_from_clients && m->wire_to_upstream < m->bytes_from_clients
                            ? 100.0 * (double)(m->bytes_from_clients - m->wire_to_upstream) / (double)m->bytes_from_clients
                            : 0;
    int rc = appendf(out, "{\"version\":\"%s\",\"instance\":\"%s\",\"requests\":%llu,\"by_outcome\":{", DW_VERSION,
                     g->instance, (unsigned long long)reqs);
    for (size_t i = 0; i < DW_OUT_N && rc == 0; i++)
        rc = appendf(out, "%s\"%s\":%llu", i ? "," : "", outcome_names[i], (unsigned long long)m->requests[i]);
    if (rc == 0)
        rc = appendf(out,
                     "},\"bytes_from_clients\":%llu,\"bytes_to_upstream\":%llu,\"bytes_saved\":%llu,"
                     "\"saved_percent\":%.1f,\"items_total\":%llu,\"items_elided\":%llu,",
                     (unsigned long long)m->bytes_from_clients, (unsigned long long)m->bytes_to_upstream,
                     (unsigned long long)m->bytes_saved, saved, (unsigned long long)m->items_total,
                     (unsigned long long)m->items_elided);
    if (rc == 0)
        rc = appendf(out,
                     "\"wire_to_upstream\":%llu,\"wire_saved_percent\":%.1f,\"wire_from_upstream\":%llu,"
                     "\"bytes_from_upstream\":%llu,",
                     (unsigned long long)m->wire_to_upstream, wire_saved, (unsigned long long)m->wire_from_upstream,
                     (unsigned long long)m->bytes_from_upstream);
    if (rc == 0)
        rc = appendf(out,
                     "\"upstream_connections\":{\"open\":%zu,\"busy\":%zu,\"connecting\":%zu},\"queued\":%zu,"
                     "\"inflight\":%zu,\"transcripts\":%zu,\"draining\":%s",
                     g->conns_open, g->conns_busy, g->conns_connecting, g->queued, g->inflight, g->transcripts,
                     g->draining ? "true" : "false");
    /* the histograms as they are, for the status page's recent-latency figures */
    if (rc == 0)
        rc = dw_buf_append_str(out, ",\"latency\":{\"le\":[");
    for (size_t i = 0; i < DW_HIST_BUCKETS && rc == 0; i++)
        rc = appendf(out, "%s%g", i ? "," : "", bucket_le[i]);
    if (rc == 0)
        rc = dw_buf_append(out, "]", 1) || hist_json(out, "added", &m->added_latency) || hist_json(out, "ttfb", &m->ttfb) ||
             dw_buf_append(out, "}}", 2);
    return rc;
}

static void human_bytes(char *out, size_t cap, uint64_t b)
{
    if (b >= 1000000)
        snprintf(out, cap, "%.1f MB", (double)b / 1e6);
    else if (b >= 1000)
        snprintf(out, cap, "%.1f kB", (double)b / 1e3);
    else
        snprintf(out, cap, "%llu B", (unsigned long long)b);
}

int dw_metrics_summary(dw_buf_t *out, const dw_metrics_t *m)
{
    uint64_t reqs = 0;
    for (size_t i = 0; i < DW_OUT_N; i++)
        reqs += m->requests[i];
    char in[32], up[32];
    human_bytes(in, sizeof(in), m->bytes_from_clients);
    human_bytes(up, sizeof(up), m->bytes_to_upstream);
    double less = m->bytes_from_clients ? 100.0 * (double)m->bytes_saved / (double)m->bytes_from_clients : 0;
    return appendf(out, "%llu requests, %s from clients, %s upstream, %.0f%% less", (unsigned long long)reqs, in, up,
                   less);
}
