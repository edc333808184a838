#include "proxy/exchange.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/attempt.h"
#include "proxy/log.h"
#include "proxy/offload.h"
#include "proxy/plan.h"
#include "proxy/record.h"
#include "proxy/respond.h"
#include "translate/body_decode.h"
#include "translate/envelope.h"
#include "translate/errors.h"
#include "translate/event.h"
#include "translate/frame.h"
#include "translate/request.h"

enum dw_up_state {
    DW_UP_CHECKING, /* a large body is checked and digested off the loop (offload.c) */
    DW_UP_IDLE,    /* nothing asked of the pool yet, or between two attempts */
    DW_UP_WAITING, /* a lease is asked for: queued, or its connection is opening */
    DW_UP_SENT,    /* holds `conn`: the request went out, its events come in */
    DW_UP_BACKOFF, /* the pause before a new handshake */
    DW_UP_DONE,    /* nothing more upstream: finished, failed, or handed to plain HTTP */
};

typedef struct dw_exchange {
    dw_proxy_t *px;
    dw_respond_t client;
    enum dw_up_state up;
    dw_lane_t *conn;    /* SENT: the leased lane */
    uv_timer_t *timer;  /* BACKOFF: the pause; SENT: the deadline for the next event (kept until the end once made) */
    int paused;         /* SENT: conn is not read while the client's buffer is full */
    int depth;          /* callbacks on the stack: the end waits for them to return */

    dw_creds_t creds;   /* header values borrowed from the request */
    dw_request_t rq;    /* the checked body, spans into the request's entity or `decoded` */
    dw_buf_t decoded;   /* the body with its Content-Encoding undone, when it had one */
    size_t body_n;      /* the (decoded) body's length */
    dw_offload_t *off;  /* a large body's check off the loop, kept until the end once made */
    dw_plan_t plan;
    dw_attempt_t attempt;
    dw_outputs_t outputs;

    /* accounting, for the metrics and the request's log line */
    uint64_t t_start_ns;
    uint64_t t_sent_ns;   /* the first frame handed to the upstream socket, 0 before */
    int outcome;          /* enum dw_outcome */
    int handed_on;        /* answered by the plain HTTP passthrough */
    int status;           /* what the client got, read from h2o when the request is disposed */
    uint64_t body_len;
    uint64_t bytes_up;
    uint64_t wire_up, wire_down, bytes_down; /* on the upstream socket: after compression, and inflated */
    uint64_t conn_wire_tx, conn_wire_rx, conn_payload_rx; /* the lane's counters when it was leased */
    size_t items_sent;
    uint64_t conn_id;
    int events;           /* upstream events of the current try */
    int ws_close;         /* the upstream's close code on this request's connection, 0 for none */
    char ws_close_reason[124];
    const char *why_http; /* why it went over plain HTTP unchanged (static or why_buf), NULL otherwise */
    char why_buf[80];
    char error[320];      /* why the request failed (or fell back), "" when it did not */

    /* another API in front (dw_exchange_start_as), NULL for /responses */
    const dw_exchange_mode_t *mode;
    void *mode_data;
    char mode_why[120];   /* its why_http */
} dw_exchange_t;

static int decode_body(dw_exchange_t *ex, h2o_req_t *req, h2o_iovec_t *body);
static void on_checked_off_loop(dw_offload_t *o);
static void on_forms_known(dw_offload_t *o);
static int forms_on_loop(dw_exchange_t *ex, dw_offload_t *o);
static int forms_known(dw_exchange_t *ex, dw_offload_t *o);
static int route(dw_exchange_t *ex, int rc, const dw_request_err_t *err, const dw_forms_t *forms);
static void plan(dw_exchange_t *ex, const dw_forms_t *forms);
static void dispatch(dw_exchange_t *ex);
static void on_lease(void *data, dw_lane_t *c, int http_status, const char *reason);
static void queue_timed_out(dw_exchange_t *ex, const char *reason);
static void busy(dw_exchange_t *ex, const char *message);
static void send_on(dw_exchange_t *ex, dw_lane_t *c);
static void on_conn_message(dw_lane_t *c, const char *p, size_t n, const dw_event_t *scanned_ev);
static int is_terminal(const dw_event_t *ev);
static dw_span_t done_as(const dw_event_t *ev);
static void on_hollow_terminal(dw_exchange_t *ex, const char *p, size_t n, const dw_event_t *ev);
static int relay(dw_exchange_t *ex, const char *p, size_t n, const dw_event_t *ev, int terminal);
static void on_error_envelope(dw_exchange_t *ex, const char *p, size_t n);
static void give_back(dw_exchange_t *ex, int close);
static void count_wire(dw_exchange_t *ex, const dw_lane_t *c);
static void on_conn_closed(dw_lane_t *c, const char *reason);
static void upstream_failed(dw_exchange_t *ex, enum dw_failure f, int http_status, const char *reason);
static void on_backoff(uv_timer_t *t);
static int arm(dw_exchange_t *ex, double secs, uv_timer_cb cb);
static void on_silence(uv_timer_t *t);
static void disarm(dw_exchange_t *ex);
static void on_client_drained(dw_respond_t *r);
static void fail(dw_exchange_t *ex, int status, const char *code, const char *param, const char *message);
static int relay_error_in_mode(dw_exchange_t *ex, const char *body, size_t n);
static void hand_on(dw_exchange_t *ex, int outcome);
static void too_big_for_ws(dw_exchange_t *ex, const char *why);
static void on_req_dispose(void *p);
static void enter(dw_exchange_t *ex);
static void leave(dw_exchange_t *ex);
static void maybe_end(dw_exchange_t *ex);
static void account(dw_exchange_t *ex);
static void exchange_free(dw_exchange_t *ex);
static void on_timer_closed(uv_handle_t *h);

/* The callbacks of a lane while this exchange holds it. */
static const dw_lane_cb_t conn_cb = {on_conn_message, on_conn_closed};

/* --- the request arrives: its body is checked, the delta planned ------------------------------ */

int dw_exchange_start(dw_proxy_t *px, h2o_req_t *req)
{
    return dw_exchange_start_as(px, req, NULL, 0, NULL, NULL, NULL);
}

int dw_exchange_start_as(dw_proxy_t *px, h2o_req_t *req, const char *mode_body, size_t mode_body_n,
                         const dw_exchange_mode_t *mode, void *data, const char *fallback)
{
    dw_exchange_t *ex = calloc(1, sizeof(*ex));
    if (ex == NULL) {
        if (mode != NULL)
            mode->free(data);
        dw_respond_error_body(req, 500, NULL, NULL, "deltawire ran out of memory for a new request");
        return 0;
    }
    ex->mode = mode;
    ex->mode_data = data;
    dw_exchange_t **link = h2o_mem_alloc_shared(&req->pool, sizeof(*link), on_req_dispose);
    *link = ex;
    ex->px = px;
    ex->t_start_ns = uv_hrtime();
    ex->body_len = req->entity.len;
    ex->outcome = DW_OUT_ERROR;
    dw_respond_init(&ex->client, req);
    dw_attempt_init(&ex->attempt);
    px->inflight++;
    if (dw_creds_from_req(&ex->creds, req) != 0) {
        ex->up = DW_UP_DONE;
        fail(ex, 500, "server_error", NULL, "deltawire ran out of memory reading the request's headers");
        return 0;
    }

    if (fallback != NULL) {
        /* another API's request its translation cannot carry: what a direct call would do */
        snprintf(ex->mode_why, sizeof(ex->mode_why), "%s", fallback);
        ex->why_http = ex->mode_why;
        hand_on(ex, DW_OUT_FALLBACK_HTTP);
        return -1;
    }
    /* 1. the body, decoded and read and checked at the top level (translate/request.c); another
     * API's is the Responses body it translated the (decoded) request into */
    h2o_iovec_t body = mode ? h2o_iovec_init(mode_body, mode_body_n) : req->entity;
    switch (mode ? DW_DECODE_OK : decode_body(ex, req, &body)) {
    case DW_DECODE_OK:
        break;
    case DW_DECODE_EUNKNOWN:
        ex->why_http = "content-encoding";
        hand_on(ex, DW_OUT_PASSTHROUGH);
        return -1;
    default:
        return 0; /* answered */
    }
    ex->body_n = body.len;
    /* a large body is read and checked off the loop, with its items' digests, so that everyone
     * else is served meanwhile */
    if (body.base != NULL && body.len > DW_OFFLOAD_MIN_BYTES && body.len <= px->cfg->max_body &&
        (ex->off = dw_offload_start(px->loop, body.base, body.len, px->cfg->max_body, px->cfg->max_items,
                                    px->bodies, &ex->creds.digest, on_checked_off_loop, ex)) != NULL) {
        ex->up = DW_UP_CHECKING;
        px->checking++;
        return 0;
    }
    /* a body worth keeping is read the same way on the loop: its next turn is then keyed by
     * comparison, not hashed again */
    if (body.base != NULL && px->bodies != NULL && body.len >= DW_KEEP_MIN_BYTES && body.len <= px->cfg->max_body &&
        (ex->off = dw_offload_run(px->loop, body.base, body.len, px->cfg->max_body, px->cfg->max_items, px->bodies,
                                  &ex->creds.digest, ex)) != NULL) {
        if (forms_on_loop(ex, ex->off)) {
            ex->up = DW_UP_CHECKING;
            px->checking++;
            return 0;
        }
        enter(ex); /* forms_known reads the job after route */
        int rc = forms_known(ex, ex->off);
        leave(ex);
        return rc;
    }
    dw_request_err_t err;
    int rc = dw_request_parse(&ex->rq, body.base, body.len, px->cfg->max_body, &err);
    return route(ex, rc, &err, NULL);
}

/* The job's keys are looked up in the item cache, which knows most items from the last turn; the
 * rest (the new items) are canonicalised here when few. Returns 1 when they are many: they are
 * canonicalised off the loop, and on_forms_known follows. */
static int forms_on_loop(dw_exchange_t *ex, dw_offload_t *o)
{
    ex->rq = o->rq; /* its spans point into o->body, which lives as long as ex */
    memset(&o->rq, 0, sizeof(o->rq));
    if (o->rc == 0 && o->has_forms && ex->client.state != DW_CLIENT_GONE &&
        dw_forms_lookup(&o->forms, ex->px->transcripts, &ex->rq.items) > DW_OFFLOAD_MIN_BYTES &&
        dw_offload_fill(o, ex->px->loop, &ex->rq.items, on_forms_known) == 0)
        return 1;
    if (o->has_forms)
        dw_forms_fill(&o->forms, &ex->rq.items);
    return 0;
}

/* Every form is known: they are cached, the body is kept for the next turn, and the request takes
 * its way (route's result). */
static int forms_known(dw_exchange_t *ex, dw_offload_t *o)
{
    int rc = 0;
    if (o->has_forms) {
        dw_forms_remember(&o->forms, ex->px->transcripts);
        ex->px->metrics.items_keyed_by_comparison += o->keyed;
    }
    ex->px->metrics.body_bytes_scan_skipped += o->resumed;
    ex->px->metrics.body_bytes_copy_skipped += o->copy_skipped;
    dw_offload_keep(o, &ex->rq, uv_now(ex->px->loop));
    if (ex->client.state == DW_CLIENT_GONE)
        ex->up = DW_UP_DONE; /* the client left while its body was digested */
    else
        rc = route(ex, o->rc, &o->err, o->has_forms ? &o->forms : NULL);
    dw_forms_free(&o->forms);
    return rc;
}

/* The forms of a body checked off the loop are all known: the rest happens on the loop. */
static void on_forms_known(dw_offload_t *o)
{
    dw_exchange_t *ex = o->data;
    enter(ex);
    ex->px->checking--;
    ex->up = DW_UP_IDLE;
    if (forms_known(ex, o) != 0)
        h2o_delegate_request_deferred(ex->client.req, ex->px->handler);
    leave(ex);
}

/* The worker checked a large body and keyed its items. */
static void on_checked_off_loop(dw_offload_t *o)
{
    if (!forms_on_loop(o->data, o))
        on_forms_known(o);
}

/* The checked body (rc and err from dw_request_parse) decides the way: refused, plain HTTP, or
 * planned and dispatched. forms: the items' forms computed off the loop, or NULL. Returns -1 when
 * the caller hands the request to the plain HTTP passthrough, else 0. */
static int route(dw_exchange_t *ex, int rc, const dw_request_err_t *err, const dw_forms_t *forms)
{
    dw_proxy_t *px = ex->px;
    if (rc != 0) {
        ex->up = DW_UP_DONE;
        fail(ex, err->status, err->code, err->param, err->message);
        return 0;
    }
    if (ex->rq.background || !dw_proxy_use_ws(px)) {
        /* background responses do not exist over WebSocket; and WebSocket mode may be off */
        hand_on(ex, ex->rq.background ? DW_OUT_PASSTHROUGH : DW_OUT_FALLBACK_HTTP);
        return -1;
    }
    if (ex->creds.unknown.p != NULL) {
        /* a header that might change what the server does, and WebSocket mode has no place for it */
        snprintf(ex->why_buf, sizeof(ex->why_buf), "header %.*s", (int)(ex->creds.unknown.n < 64 ? ex->creds.unknown.n : 64),
                 ex->creds.unknown.p);
        ex->why_http = ex->why_buf;
        hand_on(ex, DW_OUT_PASSTHROUGH);
        return -1;
    }
    if (ex->creds.hdr_bytes > px->cfg->max_credential_bytes) {
        /* the WebSocket path only: no handshake carries them (libwebsockets gives up past ~65 KB,
         * silently); plain HTTP would, and the paths above forward them unchanged */
        char msg[200];
        snprintf(msg, sizeof(msg),
                 "The credential and connection headers take %zu bytes, more than the %zu bytes deltawire accepts.",
                 ex->creds.hdr_bytes, px->cfg->max_credential_bytes);
        ex->up = DW_UP_DONE;
        fail(ex, 431, "request_header_fields_too_large", NULL, msg);
        return 0;
    }
    if (ex->rq.items.n > px->cfg->max_items) {
        /* digesting that many items would cost more than a delta saves: as a direct call does */
        ex->why_http = "over --max-items";
        hand_on(ex, DW_OUT_PASSTHROUGH);
        return -1;
    }
    if (ex->rq.stream && dw_respond_keepalive(&ex->client, px->cfg->sse_keepalive) != 0)
        snprintf(ex->error, sizeof(ex->error), "no memory for the keepalive timer");
    ex->client.on_drained = on_client_drained;
    ex->client.drained_below = px->cfg->client_buffer;
    /* 2. the plan: what goes upstream, and on which connection (plan.c) */
    plan(ex, forms);
    if (ex->plan.kind == DW_PLAN_FULL && ex->body_n > ex->px->cfg->max_ws_message) {
        /* its full frame is about as big as the (decoded) body: not even a handshake (send_on
         * checks the frame exactly) */
        too_big_for_ws(ex, "frame over --max-ws-message");
        return 0;
    }
    /* 3. a leased connection and the frame; failures go to upstream_failed (attempt.c decides) */
    dispatch(ex);
    return 0;
}

/* Undoes the body's Content-Encoding into ex->decoded (*body then points there), bounded by
 * --max-body on the decoded size. Returns DW_DECODE_OK, DW_DECODE_EUNKNOWN (an encoding we do not
 * know: the caller hands the request on unchanged), or another code once the client is answered. */
static int decode_body(dw_exchange_t *ex, h2o_req_t *req, h2o_iovec_t *body)
{
    ssize_t at = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_ENCODING, -1);
    if (at < 0)
        return DW_DECODE_OK;
    h2o_iovec_t enc = req->headers.entries[at].value;
    if (h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_ENCODING, at) >= 0)
        return DW_DECODE_EUNKNOWN; /* a list split over two fields: HTTP carries it as it is */
    if (dw_body_decode_is_identity(enc.base, enc.len))
        return DW_DECODE_OK;
    const char *why = "";
    int rc = dw_body_decode(&ex->decoded, enc.base, enc.len, body->base, body->len, ex->px->cfg->max_body, &why);
    char msg[200];
    ex->up = DW_UP_DONE;
    switch (rc) {
    case DW_DECODE_OK:
        ex->up = DW_UP_IDLE;
        *body = h2o_iovec_init(ex->decoded.p ? ex->decoded.p : "", ex->decoded.len);
        return rc;
    case DW_DECODE_EUNKNOWN:
        ex->up = DW_UP_IDLE;
        return rc;
    case DW_DECODE_ETOO_LARGE:
        snprintf(msg, sizeof(msg), "Request body too large: decoded, it exceeds the limit of %zu bytes.",
                 ex->px->cfg->max_body);
        fail(ex, 413, "request_too_large", NULL, msg);
        return rc;
    case DW_DECODE_ECORRUPT:
        snprintf(msg, sizeof(msg), "The request body could not be decoded (Content-Encoding: %.*s): %s.",
                 (int)(enc.len < 40 ? enc.len : 40), enc.base, why);
        fail(ex, 400, NULL, NULL, msg);
        return rc;
    default:
        fail(ex, 500, "server_error", NULL, "deltawire ran out of memory decoding the request body");
        return rc;
    }
}

/* The delta decision, from what each connection of these credentials caches now. */
static void plan(dw_exchange_t *ex, const dw_forms_t *forms)
{
    dw_pool_view_t lanes;
    dw_pool_view(ex->px->pool, &ex->creds.key, &lanes);
    dw_plan_make(&ex->plan, ex->px->transcripts, &ex->creds.digest, &ex->rq, forms, &lanes.view);
}

/* --- a connection for it, and the frame goes out ---------------------------------------------- */

/* Leases a connection for the plan and sends, now or once the lease is granted. */
static void dispatch(dw_exchange_t *ex)
{
    ex->attempt.attempts++;
    dw_outputs_free(&ex->outputs); /* an earlier attempt's items are not this response's */
    uint64_t want = ex->plan.kind != DW_PLAN_FULL ? ex->plan.want_conn : 0;
    dw_lane_t *c;
    char err[160];
    int rc = dw_pool_connect(ex->px->pool, &ex->creds, want, &conn_cb, ex, on_lease, &c, err, sizeof(err));
    switch (rc) {
    case DW_POOL_READY:
        send_on(ex, c);
        return;
    case DW_POOL_PENDING:
    case DW_POOL_QUEUED:
        ex->up = DW_UP_WAITING;
        return;
    case DW_POOL_EFULL:
        ex->up = DW_UP_DONE;
        snprintf(ex->error, sizeof(ex->error), "this key's upstream connections are busy and its queue is full");
        busy(ex, "deltawire's upstream connections for this key are all busy and its queue is full; retry shortly.");
        return;
    default: {
        char msg[200];
        snprintf(msg, sizeof(msg), "could not open an upstream connection: %s", err);
        ex->up = DW_UP_DONE;
        fail(ex, 502, "upstream_unavailable", NULL, msg);
    }
    }
}

/* The pool granted the lease (c), or could not (c NULL: the handshake's status and reason). */
static void on_lease(void *data, dw_lane_t *c, int http_status, const char *reason)
{
    dw_exchange_t *ex = data;
    enter(ex);
    ex->up = DW_UP_IDLE;
    if (c != NULL)
        send_on(ex, c);
    else if (http_status == DW_POOL_ETIMEDOUT)
        queue_timed_out(ex, reason);
    else
        upstream_failed(ex, http_status != 0 ? DW_FAIL_REFUSED : DW_FAIL_UNREACHABLE, http_status, reason);
    leave(ex);
}

/* No connection came free within --queue-timeout: 429 with Retry-After, as the service answers a
 * client over its rate; 503 when the upstream cannot be reached at all (retrying soon won't help). */
static void queue_timed_out(dw_exchange_t *ex, const char *reason)
{
    ex->up = DW_UP_DONE;
    snprintf(ex->error, sizeof(ex->error), "%s", reason);
    if (!dw_proxy_upstream_reachable(ex->px)) {
        fail(ex, 503, "upstream_unavailable", NULL,
             "deltawire could not reach the upstream and no connection came free in time; retry later.");
        return;
    }
    busy(ex, "deltawire's upstream connections for this key stayed busy for --queue-timeout; retry shortly.");
}

/* 429 with Retry-After; or, once keepalive comments started the stream, the same error as its last
 * event (in the client's API). */
static void busy(dw_exchange_t *ex, const char *message)
{
    if (ex->client.state == DW_CLIENT_STREAMING)
        fail(ex, 429, "too_many_requests", NULL, message);
    else
        dw_respond_busy(&ex->client, message);
}

/* Holding lane c: the plan meets its cache, and the frame goes out. */
static void send_on(dw_exchange_t *ex, dw_lane_t *c)
{
    dw_proxy_ws_accepted(ex->px);
    ex->conn = c;
    ex->conn_wire_tx = c->wire_tx;
    ex->conn_wire_rx = c->wire_rx;
    ex->conn_payload_rx = c->payload_rx;
    ex->up = DW_UP_SENT;
    dw_plan_settle(&ex->plan, c->id, c->cached.resp_id);
    dw_frame_spec_t spec;
    dw_plan_frame_spec(&ex->plan, &ex->rq, &spec);
    spec.metadata = ex->creds.metadata.v;
    spec.n_metadata = ex->creds.metadata.n;
    dw_buf_t frame = {0};
    const char *why = "out of memory, or an input item that is not valid JSON";
    int rc = dw_frame_build(&frame, dw_upconn_headroom(), &spec);
    size_t frame_bytes = rc == 0 ? frame.len - dw_upconn_headroom() + dw_lane_overhead(c) : 0;
    if (rc == 0 && frame_bytes > ex->px->cfg->max_ws_message) {
        /* the upstream refuses a message this big: plain HTTP carries it, without a try */
        dw_buf_free(&frame);
        give_back(ex, 0);
        too_big_for_ws(ex, "frame over --max-ws-message");
        return;
    }
    ex->events = 0;
    if (rc == 0 && (rc = dw_lane_send(c, &frame)) != 0)
        why = dw_upconn_strerror(rc);
    dw_buf_free(&frame);
    if (rc != 0) {
        char msg[160];
        snprintf(msg, sizeof(msg), "could not send the request upstream: %s", why);
        give_back(ex, 1);
        ex->up = DW_UP_DONE;
        fail(ex, 502, "upstream_error", NULL, msg);
        return;
    }
    ex->bytes_up += frame_bytes;
    ex->items_sent = dw_plan_items_sent(&ex->plan, &ex->rq);
    ex->outcome = ex->plan.kind == DW_PLAN_DELTA ? DW_OUT_DELTA : DW_OUT_FULL;
    ex->conn_id = c->c->id;
    if (ex->t_sent_ns == 0)
        ex->t_sent_ns = uv_hrtime();
    /* a socket that died without a FIN swallows the request: bounded (once it is all written), then
     * retried elsewhere */
    if (arm(ex, ex->px->cfg->first_event_timeout, on_silence) != 0)
        snprintf(ex->error, sizeof(ex->error), "no memory for the upstream deadline");
}

/* --- the upstream's events, back to the client ------------------------------------------------ */

static void on_conn_message(dw_lane_t *c, const char *p, size_t n, const dw_event_t *scanned_ev)
{
    dw_exchange_t *ex = c->owner;
    enter(ex);
    ex->events++;
    if (!ex->paused)
        arm(ex, ex->px->cfg->upstream_idle_timeout, on_silence);
    dw_event_t ev;
    dw_buf_t renamed = {0};
    int scanned = scanned_ev != NULL;
    if (scanned)
        ev = *scanned_ev;
    if (scanned && dw_event_is(&ev, "response.done") && ev.response.p != NULL) {
        /* the HTTP API never sends response.done: from here on it is the terminal event its
         * response.status names, for the client (SSE name and "type") and for the record alike */
        dw_span_t as = done_as(&ev);
        size_t head = (size_t)(ev.type.p - p);
        if (dw_buf_append(&renamed, p, head) == 0 && dw_buf_append(&renamed, as.p, as.n) == 0 &&
            dw_buf_append(&renamed, ev.type.p + ev.type.n, n - head - ev.type.n) == 0 &&
            dw_event_scan(renamed.p, renamed.len, &ev) == 0) {
            p = renamed.p;
            n = renamed.len;
        } else {
            scanned = dw_event_scan(p, n, &ev) == 0; /* no memory: relayed as it came */
        }
    }
    if (!scanned) {
        snprintf(ex->error, sizeof(ex->error), "the upstream sent a frame that is not a JSON event");
        dw_upconn_close(c->c); /* a broken peer: on_conn_closed follows */
    } else if (dw_event_is(&ev, "error")) {
        on_error_envelope(ex, p, n);
    } else if (is_terminal(&ev) && ev.response.p == NULL) {
        on_hollow_terminal(ex, p, n, &ev);
    } else {
        dw_outputs_note(&ex->outputs, &ev);
        int terminal = is_terminal(&ev);
        if (dw_respond_open(&ex->client) &&
            (ex->mode ? ex->mode->relay(ex->mode_data, &ex->client, p, n, &ev, terminal) : relay(ex, p, n, &ev, terminal)) != 0)
            fail(ex, 500, "server_error", NULL, "deltawire could not render the upstream's response (out of memory)");
        if (!terminal && !ex->paused && dw_respond_open(&ex->client) &&
            dw_respond_buffered(&ex->client) >= ex->px->cfg->client_buffer) {
            /* a slow reader: the upstream waits (TCP pushes back) rather than deltawire buffering */
            ex->paused = 1;
            disarm(ex); /* the silence is the client's, not the upstream's */
            dw_lane_pause(c, 1);
        }
        if (terminal) {
            if (ex->mode)
                ex->mode->record(ex->mode_data, ex->px->transcripts, &ex->plan, &ex->outputs, &ev, c);
            else
                dw_record_response(ex->px->transcripts, &ex->plan, &ex->outputs, &ev, c);
            give_back(ex, 0);
            ex->up = DW_UP_DONE;
        }
    }
    dw_buf_free(&renamed);
    leave(ex);
}

/* response.completed, .failed, .incomplete, and response.done, whose response.status says which. */
static int is_terminal(const dw_event_t *ev)
{
    return dw_event_is(ev, "response.completed") || dw_event_is(ev, "response.failed") ||
           dw_event_is(ev, "response.incomplete") || dw_event_is(ev, "response.done");
}

/* The terminal event a response.done stands for, by its response.status (quotes included, as
 * dw_event_t.type): completed and incomplete as they are, anything else as failed (evicts). */
static dw_span_t done_as(const dw_event_t *ev)
{
    static const char completed[] = "\"response.completed\"", incomplete[] = "\"response.incomplete\"",
                      failed[] = "\"response.failed\"";
    dw_span_t st;
    if (dw_json_object_get(ev->response, "status", &st)) {
        if (st.n == 11 && memcmp(st.p, "\"completed\"", 11) == 0)
            return (dw_span_t){completed, sizeof(completed) - 1};
        if (st.n == 12 && memcmp(st.p, "\"incomplete\"", 12) == 0)
            return (dw_span_t){incomplete, sizeof(incomplete) - 1};
    }
    return (dw_span_t){failed, sizeof(failed) - 1};
}

/* A terminal event without its response object (issue 19 item 8): the response is over all the
 * same. A stream ends with the event as it came; a JSON answer has no body to give: 502. Nothing
 * is recorded, and the connection, whose cache is unknown, closes. */
static void on_hollow_terminal(dw_exchange_t *ex, const char *p, size_t n, const dw_event_t *ev)
{
    dw_record_evict(ex->px->transcripts, ex->conn);
    give_back(ex, 1);
    ex->up = DW_UP_DONE;
    char msg[200];
    snprintf(msg, sizeof(msg), "the upstream ended the response with %.*s without its response object",
             (int)(ev->type.n < 40 ? ev->type.n : 40), ev->type.p);
    if (ex->client.state == DW_CLIENT_STREAMING) {
        snprintf(ex->error, sizeof(ex->error), "%s", msg);
        ex->outcome = DW_OUT_ERROR;
        if (dw_respond_event(&ex->client, ev->type.p + 1, ev->type.n - 2, p, n, 1) != 0)
            fail(ex, 502, "upstream_error", NULL, msg);
        return;
    }
    fail(ex, 502, "upstream_error", NULL, msg);
}

/* One upstream event to the client: an SSE event, or at the end the JSON body; each with the
 * client's previous_response_id in place of the one deltawire sent. Returns 0 or -1 (no memory). */
static int relay(dw_exchange_t *ex, const char *p, size_t n, const dw_event_t *ev, int terminal)
{
    dw_span_t prev = ex->rq.prev;
    dw_buf_t out = {0};
    int rc = 0;
    if (ex->rq.stream && ev->response.p == NULL) {
        /* no response object, no previous_response_id to rewrite (the deltas): rendered from p */
        rc = dw_respond_event(&ex->client, ev->type.p + 1, ev->type.n - 2, p, n, terminal);
    } else if (ex->rq.stream) {
        rc = dw_event_rewrite_prev(&out, p, n, ev->response, prev.p, prev.n);
        if (rc == 0)
            rc = dw_respond_event(&ex->client, ev->type.p + 1, ev->type.n - 2, out.p, out.len, terminal);
    } else if (terminal) {
        rc = dw_event_response_body(&out, ev->response, prev.p, prev.n);
        if (rc == 0)
            dw_respond_json(&ex->client, 200, out.p, out.len);
    }
    dw_buf_free(&out);
    return rc;
}

/* The upstream does not take the stream_id field (upstream-protocol.md section 2, "Lanes"): an
 * unsupported parameter, or any error about that parameter. */
static int refuses_stream_id(const dw_envelope_t *env)
{
    static const char field[] = "\"stream_id\"";
    int param = env->param.n == sizeof(field) - 1 && memcmp(env->param.p, field, sizeof(field) - 1) == 0;
    return param || (dw_envelope_code_is(env, "unsupported_parameter") && env->message.p != NULL &&
                     memmem(env->message.p, env->message.n, "stream_id", 9) != NULL);
}

/* An error envelope ends the response: recover where the guide says how, else give back what the
 * HTTP API would have (translate/envelope.h reads every shape the service sends). */
static void on_error_envelope(dw_exchange_t *ex, const char *p, size_t n)
{
    dw_envelope_t env;
    if (dw_envelope_scan(p, n, &env) != 0)
        memset(&env, 0, sizeof(env));
    int stale = dw_envelope_code_is(&env, "previous_response_not_found") && ex->plan.kind == DW_PLAN_DELTA;
    /* the connection's limits (its age, its lane names): a retry elsewhere, this one retires */
    int aged = dw_envelope_code_is(&env, "websocket_connection_limit_reached") ||
               dw_envelope_code_is(&env, "websocket_stream_limit_reached");
    /* an upstream that refuses stream_id (the ChatGPT backend): this request again without a lane,
     * and no more lanes (--lanes auto); nothing reached the client */
    int no_lanes = ex->conn->name != 0 && ex->px->cfg->lanes == DW_LANES_AUTO &&
                   ex->client.state == DW_CLIENT_WAITING && refuses_stream_id(&env);
    dw_record_evict(ex->px->transcripts, ex->conn);
    give_back(ex, aged);
    if (no_lanes) {
        dw_pool_lanes_refused(ex->px->pool);
        dw_plan_full(&ex->plan);
        dispatch(ex);
        return;
    }
    if (stale || aged) {
        uint64_t delay_ms;
        int fresh = dw_respond_replayable(&ex->client);
        if (dw_attempt_next(&ex->attempt, stale ? DW_FAIL_STALE : DW_FAIL_AGED, fresh, 0, &delay_ms) ==
            DW_NEXT_RETRY) {
            dw_plan_full(&ex->plan);
            dispatch(ex);
            return;
        }
    }
    ex->up = DW_UP_DONE;
    int status = dw_envelope_http_status(&env);
    char *code_s = dw_json_kind(env.code) == '"' ? dw_json_string_dup(env.code) : NULL;
    snprintf(ex->error, sizeof(ex->error), "the upstream answered with error %s (status %d)", code_s ? code_s : "null",
             status);
    if (ex->mode && ex->client.state == DW_CLIENT_WAITING && (status == 400 || status == 404 || status == 422)) {
        /* the upstream refused the translation before anything reached the client: the original
         * request, once, over plain HTTP. Only a refusal of the request itself: a 429, an auth
         * error or a server error would be the same over HTTP, and retrying would double it */
        snprintf(ex->mode_why, sizeof(ex->mode_why), "retried as the original request over HTTP (upstream error %s)",
                 code_s ? code_s : "null");
        free(code_s);
        ex->why_http = ex->mode_why;
        hand_on(ex, DW_OUT_FALLBACK_HTTP);
        h2o_delegate_request_deferred(ex->client.req, ex->px->handler);
        return;
    }
    free(code_s);
    dw_buf_t body = {0};
    if (ex->mode && ex->client.state == DW_CLIENT_STREAMING) {
        /* after the first byte: another API's own error chunk */
        ex->outcome = DW_OUT_ERROR;
        if (dw_envelope_http_body(&body, &env) != 0 || relay_error_in_mode(ex, body.p, body.len) != 0)
            fail(ex, 502, "upstream_error", NULL, "the upstream's error event could not be relayed (out of memory)");
    } else if (ex->client.state == DW_CLIENT_STREAMING) {
        /* after the first byte: the HTTP API's flat error event, numbered after the events relayed */
        ex->outcome = DW_OUT_ERROR;
        if (dw_envelope_sse_error(&body, &env, ex->events - 1) != 0 ||
            dw_respond_event(&ex->client, "error", 5, body.p, body.len, 1) != 0)
            fail(ex, 502, "upstream_error", NULL, "the upstream's error event could not be relayed (out of memory)");
    } else if (ex->client.state == DW_CLIENT_WAITING) {
        /* before it: the status, the {"error":{...}} body and the allowed headers (retry-after...) */
        dw_members_t hdrs = {0};
        if (dw_envelope_http_body(&body, &env) != 0 || dw_envelope_headers(&env, &hdrs) != 0) {
            fail(ex, 500, "server_error", NULL, "deltawire could not render the upstream's error (out of memory)");
        } else {
            for (size_t i = 0; i < hdrs.n; i++) {
                char *v = dw_json_string_dup(hdrs.v[i].value);
                if (v != NULL)
                    dw_respond_header(&ex->client, hdrs.v[i].key.p, hdrs.v[i].key.n, v, strlen(v));
                free(v);
            }
            dw_respond_json(&ex->client, status, body.p, body.len);
        }
        dw_members_free(&hdrs);
    }
    dw_buf_free(&body);
}

/* Gives the connection back; closed first when it must not serve anyone else. */
static void give_back(dw_exchange_t *ex, int close)
{
    dw_lane_t *c = ex->conn;
    ex->conn = NULL;
    ex->up = DW_UP_IDLE;
    count_wire(ex, c);
    disarm(ex);
    if (ex->paused)
        dw_lane_pause(c, 0);
    ex->paused = 0;
    dw_pool_return(ex->px->pool, c, close); /* close: it retires, once its other lanes are done */
}

/* What lane c moved while this request held it (one response at a time per lane). */
static void count_wire(dw_exchange_t *ex, const dw_lane_t *c)
{
    ex->wire_up += c->wire_tx - ex->conn_wire_tx;
    ex->wire_down += c->wire_rx - ex->conn_wire_rx;
    ex->bytes_down += c->payload_rx - ex->conn_payload_rx;
}

/* --- when a try fails: retry, pause, plain HTTP, or an honest error --------------------------- */

static void on_conn_closed(dw_lane_t *l, const char *reason)
{
    dw_exchange_t *ex = l->owner;
    dw_upconn_t *c = l->c;
    enter(ex);
    dw_record_evict(ex->px->transcripts, l); /* the upstream dropped what it cached there */
    count_wire(ex, l);
    dw_pool_detach(ex->px->pool, l);
    ex->conn = NULL;
    ex->up = DW_UP_IDLE;
    ex->paused = 0;
    disarm(ex);
    if (c->close_code != 0) {
        ex->ws_close = c->close_code;
        snprintf(ex->ws_close_reason, sizeof(ex->ws_close_reason), "%s", c->close_reason);
    }
    if (ex->events == 0 && dw_attempt_close_refused(c->close_code, c->close_reason)) {
        /* the upstream refused the message itself, before any event: nothing reached the client */
        uint64_t delay_ms;
        if (dw_attempt_next(&ex->attempt, DW_FAIL_TOO_BIG, ex->client.state == DW_CLIENT_WAITING,
                            ex->px->cfg->transport != DW_TRANSPORT_WS, &delay_ms) == DW_NEXT_HTTP) {
            ex->why_http = "message refused by the upstream";
            snprintf(ex->error, sizeof(ex->error), "plain HTTP after the upstream closed with %d (%s)", c->close_code,
                     c->close_reason);
            hand_on(ex, DW_OUT_FALLBACK_HTTP);
            h2o_delegate_request_deferred(ex->client.req, ex->px->handler);
        } else {
            char msg[224];
            snprintf(msg, sizeof(msg), "the upstream refused the request's WebSocket message (close %d: %s)",
                     c->close_code, c->close_reason);
            ex->up = DW_UP_DONE;
            fail(ex, 413, "request_too_large", NULL, msg);
        }
        leave(ex);
        return;
    }
    char why[320];
    snprintf(why, sizeof(why), "%s", ex->error[0] ? ex->error : reason);
    upstream_failed(ex, DW_FAIL_LOST, 0, why);
    leave(ex);
}

/* The current try failed: retry, pause, fall back to plain HTTP or fail, as attempt.c decides. */
static void upstream_failed(dw_exchange_t *ex, enum dw_failure f, int http_status, const char *reason)
{
    dw_proxy_t *px = ex->px;
    char msg[224];
    if (f == DW_FAIL_REFUSED)
        snprintf(msg, sizeof(msg), "the upstream WebSocket handshake failed with HTTP %d (%s)", http_status, reason);
    else if (f == DW_FAIL_UNREACHABLE)
        snprintf(msg, sizeof(msg), "could not reach the upstream: %s", reason);
    else
        snprintf(msg, sizeof(msg), "upstream connection lost before the response completed: %s", reason);
    if (f == DW_FAIL_REFUSED && (http_status == 426 || http_status == 404 || http_status == 405))
        dw_proxy_ws_refused(px);
    uint64_t delay_ms;
    int fresh = dw_respond_replayable(&ex->client);
    /* plain HTTP answers with its own status line: only while none went out */
    int http = px->cfg->transport != DW_TRANSPORT_WS && ex->client.state == DW_CLIENT_WAITING;
    switch (dw_attempt_next(&ex->attempt, f, fresh, http, &delay_ms)) {
    case DW_NEXT_RETRY:
        dw_plan_full(&ex->plan);
        dispatch(ex);
        return;
    case DW_NEXT_BACKOFF:
        dw_plan_full(&ex->plan);
        if (arm(ex, (double)delay_ms / 1000, on_backoff) != 0)
            break;
        ex->up = DW_UP_BACKOFF;
        return;
    case DW_NEXT_HTTP:
        snprintf(ex->error, sizeof(ex->error), "plain HTTP after: %s", msg);
        hand_on(ex, DW_OUT_FALLBACK_HTTP);
        h2o_delegate_request_deferred(ex->client.req, px->handler);
        return;
    case DW_NEXT_FAIL:
        break;
    }
    ex->up = DW_UP_DONE;
    fail(ex, http_status >= 400 && http_status < 600 ? http_status : 502, "upstream_error", NULL, msg);
}

/* Starts the exchange's one timer (made on first use) to call cb after secs. Returns 0 or -1. */
static int arm(dw_exchange_t *ex, double secs, uv_timer_cb cb)
{
    if (ex->timer == NULL) {
        ex->timer = malloc(sizeof(*ex->timer));
        if (ex->timer == NULL)
            return -1;
        uv_timer_init(ex->px->loop, ex->timer);
        ex->timer->data = ex;
    }
    uv_timer_start(ex->timer, cb, (uint64_t)(secs * 1000), 0);
    return 0;
}

static void disarm(dw_exchange_t *ex)
{
    if (ex->timer != NULL)
        uv_timer_stop(ex->timer);
}

/* SENT, and the upstream said nothing for too long: the socket is given up, the request goes
 * again in full if nothing reached the client, else the client gets an error. */
static void on_silence(uv_timer_t *t)
{
    dw_exchange_t *ex = t->data;
    if (ex->events == 0 && dw_upconn_writing(ex->conn->c)) {
        /* the request is still being uploaded: that is no silence */
        arm(ex, ex->px->cfg->first_event_timeout, on_silence);
        return;
    }
    enter(ex);
    char why[160];
    if (ex->events == 0)
        snprintf(why, sizeof(why), "no event within %g s of the request (--first-event-timeout)",
                 ex->px->cfg->first_event_timeout);
    else
        snprintf(why, sizeof(why), "no event for %g s (--upstream-idle-timeout)", ex->px->cfg->upstream_idle_timeout);
    /* not a close handshake: a silent peer may never answer it, nor take what is still buffered */
    snprintf(ex->error, sizeof(ex->error), "%s", why);
    dw_upconn_abort(ex->conn->c, why); /* on_conn_closed follows at once: a retry, or an honest error */
    leave(ex);
}

/* The client took enough of its buffer: its upstream connection is read again. */
static void on_client_drained(dw_respond_t *r)
{
    dw_exchange_t *ex = H2O_STRUCT_FROM_MEMBER(dw_exchange_t, client, r);
    if (!ex->paused || ex->conn == NULL)
        return;
    ex->paused = 0;
    dw_lane_pause(ex->conn, 0);
    arm(ex, ex->px->cfg->upstream_idle_timeout, on_silence);
}

static void on_backoff(uv_timer_t *t)
{
    dw_exchange_t *ex = t->data;
    enter(ex);
    ex->up = DW_UP_IDLE;
    dispatch(ex);
    leave(ex);
}

/* Another API's stream ends with its own rendering of an error: the HTTP error body
 * {"error":{...}} [body, body+n) goes through the mode as an error envelope. Returns 0 or -1. */
static int relay_error_in_mode(dw_exchange_t *ex, const char *body, size_t n)
{
    dw_buf_t b = {0};
    dw_event_t ev;
    int rc = -1;
    if (n > 1 && dw_buf_append_str(&b, "{\"type\":\"error\",") == 0 && dw_buf_append(&b, body + 1, n - 1) == 0 &&
        dw_event_scan(b.p, b.len, &ev) == 0)
        rc = ex->mode->relay(ex->mode_data, &ex->client, b.p, b.len, &ev, 1);
    dw_buf_free(&b);
    return rc;
}

/* The request fails with a reason that goes to the client and into the log line. */
static void fail(dw_exchange_t *ex, int status, const char *code, const char *param, const char *message)
{
    snprintf(ex->error, sizeof(ex->error), "%s", message);
    if (dw_respond_started(&ex->client))
        ex->outcome = DW_OUT_ERROR;
    if (ex->mode && ex->client.state == DW_CLIENT_STREAMING) {
        dw_buf_t b = {0};
        int rc = dw_buf_append_str(&b, "{\"error\":") == 0 &&
                         dw_error_object(&b, dw_error_type_for_status(status), code, param, message) == 0 &&
                         dw_buf_append_str(&b, "}") == 0
                     ? relay_error_in_mode(ex, b.p, b.len)
                     : -1;
        dw_buf_free(&b);
        if (rc == 0)
            return;
    }
    dw_respond_fail(&ex->client, status, code, param, message);
}

/* Hands the request, unchanged, to the plain HTTP passthrough: it is what a direct call would do. */
static void hand_on(dw_exchange_t *ex, int outcome)
{
    ex->up = DW_UP_DONE;
    ex->outcome = outcome;
    ex->handed_on = 1;
    ex->bytes_up += ex->body_len;
    ex->wire_up += ex->body_len; /* plain HTTP: the body goes as the client sent it */
    dw_respond_handed_on(&ex->client);
}

/* A message the upstream would refuse for its size: plain HTTP carries it unchanged, unless the
 * transport setting forbids plain HTTP (then 413, as the upstream would have answered). */
static void too_big_for_ws(dw_exchange_t *ex, const char *why)
{
    if (ex->px->cfg->transport == DW_TRANSPORT_WS || ex->client.state != DW_CLIENT_WAITING) {
        /* plain HTTP answers with its own status line: not once keepalives started the stream */
        ex->up = DW_UP_DONE;
        fail(ex, 413, "request_too_large", NULL,
             "the request is larger than the upstream accepts as one WebSocket message (--max-ws-message)");
        return;
    }
    ex->why_http = why;
    hand_on(ex, DW_OUT_FALLBACK_HTTP);
    h2o_delegate_request_deferred(ex->client.req, ex->px->handler);
}

/* --- the end of a request: both sides through, counted and logged once ------------------------ */

/* h2o disposes of the request: the client side is GONE, and the upstream side is detached. */
static void on_req_dispose(void *p)
{
    dw_exchange_t *ex = *(dw_exchange_t **)p;
    enter(ex);
    ex->status = ex->client.req->res.status; /* whoever answered: us, or the plain HTTP passthrough */
    dw_respond_gone(&ex->client);
    if (ex->up == DW_UP_CHECKING) {
        dw_offload_release(ex->off); /* h2o frees the body: the copy stops */
    } else if (ex->up == DW_UP_WAITING) {
        /* the lease borrowed this request's credentials */
        dw_pool_cancel(ex->px->pool, ex);
        ex->up = DW_UP_DONE;
    } else if (ex->up == DW_UP_BACKOFF) {
        uv_timer_stop(ex->timer);
        ex->up = DW_UP_DONE;
    } else if (ex->up == DW_UP_SENT && ex->paused) {
        /* nobody reads any more: the response runs to its end, bounded by the idle timeout */
        ex->paused = 0;
        dw_lane_pause(ex->conn, 0);
        arm(ex, ex->px->cfg->upstream_idle_timeout, on_silence);
    }
    /* SENT: the response runs to its end upstream, so that it is recorded */
    leave(ex);
}

static void enter(dw_exchange_t *ex)
{
    ex->depth++;
}

static void leave(dw_exchange_t *ex)
{
    ex->depth--;
    maybe_end(ex);
}

/* Ends the request once both sides are through and no callback of it is on the stack. */
static void maybe_end(dw_exchange_t *ex)
{
    if (ex->depth == 0 && ex->client.state == DW_CLIENT_GONE && (ex->up == DW_UP_DONE || ex->up == DW_UP_IDLE)) {
        account(ex);
        exchange_free(ex);
    }
}

/* The request is over: its counters and its one log line (never content or credentials). */
static void account(dw_exchange_t *ex)
{
    dw_metrics_t *m = &ex->px->metrics;
    if (ex->status >= 400 && !ex->handed_on)
        ex->outcome = DW_OUT_ERROR;
    int recovered = ex->outcome != DW_OUT_ERROR && ex->status > 0 && ex->status < 400;
    m->requests[ex->outcome]++;
    if (recovered && ex->attempt.recovery >= 0)
        m->recoveries[ex->attempt.recovery]++;
    m->bytes_from_clients += ex->body_len;
    m->bytes_to_upstream += ex->bytes_up;
    m->wire_to_upstream += ex->wire_up;
    m->wire_from_upstream += ex->wire_down;
    m->bytes_from_upstream += ex->bytes_down;
    if (ex->body_len > ex->bytes_up && ex->bytes_up > 0)
        m->bytes_saved += ex->body_len - ex->bytes_up;
    m->items_total += ex->rq.items.n;
    if (ex->outcome == DW_OUT_DELTA)
        m->items_elided += ex->plan.delta_from;
    if (ex->client.first_byte_ns != 0)
        dw_hist_observe(&m->ttfb, (double)(ex->client.first_byte_ns - ex->t_start_ns) / 1e9);
    if (ex->t_sent_ns != 0)
        dw_hist_observe(&m->added_latency, (double)(ex->t_sent_ns - ex->t_start_ns) / 1e9);
    if (dw_log_level < DW_LOG_INFO)
        return;
    char head[600];
    double total_ms = (double)(uv_hrtime() - ex->t_start_ns) / 1e6;
    snprintf(head, sizeof(head),
             "\"event\":\"request\",\"outcome\":\"%s\",\"status\":%d,\"stream\":%s,\"items\":%zu,\"items_sent\":%zu,"
             "\"bytes_in\":%llu,\"bytes_up\":%llu,\"wire_up\":%llu,\"conn\":%llu,\"attempts\":%d,\"client_gone\":%s,"
             "\"total_ms\":%.3f",
             dw_outcome_name(ex->outcome), ex->status, ex->rq.stream ? "true" : "false", ex->rq.items.n,
             ex->items_sent, (unsigned long long)ex->body_len, (unsigned long long)ex->bytes_up,
             (unsigned long long)ex->wire_up, (unsigned long long)ex->conn_id, ex->attempt.attempts,
             ex->status == 0 ? "true" : "false", total_ms);
    /* the texts are cut before they are escaped, so an escape is never cut in half */
    dw_buf_t line = {0};
    int rc = dw_buf_append_str(&line, head);
    if (rc == 0 && ex->why_http != NULL)
        rc = dw_buf_append_str(&line, ",\"reason\":") ||
             dw_buf_append_json_string(&line, ex->why_http, strnlen(ex->why_http, 100));
    if (rc == 0 && ex->mode != NULL)
        rc = dw_buf_append_str(&line, ",\"api\":") ||
             dw_buf_append_json_string(&line, ex->mode->name, strlen(ex->mode->name));
    if (rc == 0 && ex->ws_close != 0) {
        char code[40];
        snprintf(code, sizeof(code), ",\"ws_close\":%d,\"ws_close_reason\":", ex->ws_close);
        rc = dw_buf_append_str(&line, code) ||
             dw_buf_append_json_string(&line, ex->ws_close_reason, strlen(ex->ws_close_reason));
    }
    if (rc == 0 && ex->error[0] != '\0' && !recovered)
        rc = dw_buf_append_str(&line, ",\"error\":") ||
             dw_buf_append_json_string(&line, ex->error, strlen(ex->error));
    if (rc == 0 && dw_buf_append(&line, "", 1) == 0)
        dw_log(DW_LOG_INFO, line.p);
    else
        dw_log(DW_LOG_INFO, head); /* no memory for the texts: the figures still */
    dw_buf_free(&line);
}

static void exchange_free(dw_exchange_t *ex)
{
    dw_request_free(&ex->rq);
    if (ex->off != NULL)
        dw_offload_free(ex->off);
    dw_buf_free(&ex->decoded);
    dw_creds_free(&ex->creds);
    dw_plan_free(&ex->plan);
    dw_outputs_free(&ex->outputs);
    dw_respond_free(&ex->client);
    if (ex->mode != NULL)
        ex->mode->free(ex->mode_data);
    if (ex->timer != NULL)
        uv_close((uv_handle_t *)ex->timer, on_timer_closed);
    ex->px->inflight--;
    free(ex);
}

static void on_timer_closed(uv_handle_t *h)
{
    free(h);
}
