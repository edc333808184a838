#include "proxy/exchange.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/log.h"
#include "state/chain.h"
#include "translate/errors.h"
#include "translate/event.h"
#include "translate/frame.h"
#include "translate/recordable.h"
#include "translate/sse.h"

/* A response that failed before reaching the client is retried this many times in all. */
#define DW_MAX_ATTEMPTS 3

typedef struct dw_exchange {
    dw_proxy_t *px;
    h2o_req_t *req; /* NULL once the client went away */
    h2o_generator_t gen;
    dw_creds_t creds; /* header values borrowed from req */

    /* the scanned body (spans into req->entity) */
    dw_members_t members;
    dw_spans_t items;
    uint8_t *strip;
    int verbatim; /* forward `input` and previous_response_id as the client sent them */
    int stream;
    dw_span_t client_prev; /* raw previous_response_id the client sent, or "null" */

    /* the decision */
    int chained;         /* input_end is the chain of the whole input: record on completion */
    dw_digest_t input_end;
    uint64_t want_id;     /* connection to continue on (looked up again each time: it may close) */
    size_t delta_from;    /* items before this index are elided */
    char prev_id[DW_RESPONSE_ID_MAX + 1];
    int is_delta;
    int any_conn; /* the delta chains from a stored response: any connection can load it */
    int attempts;

    /* upstream */
    dw_pool_conn_t *pc;
    uv_timer_t timer;    /* the pause before a new handshake after a network failure */
    int timer_init;
    int waiting;         /* the timer will dispatch (or free) */
    int queued; /* waiting in the pool's queue */

    /* client side */
    int started;      /* status line and headers are out */
    int answered;     /* the answer is complete (or abandoned) */
    int sending;      /* an h2o_send is in flight */
    int final_queued; /* the stream ends after `pending` */
    dw_buf_t pending, inflight;

    /* accounting, for the metrics and the request's log line */
    uint64_t t_start_ns;
    int sent_once;
    int status;       /* HTTP status answered, 0 before */
    int outcome;      /* enum dw_outcome */
    uint64_t body_len;
    uint64_t bytes_up;
    size_t items_sent;
    uint64_t conn_id;

    /* output items seen in response.output_item.done, raw copies by output_index */
    dw_buf_t *done_items;
    size_t n_done_items;
} dw_exchange_t;

static const dw_pool_user_cb_t exchange_cb;

/* The request is over: its counters and its one log line (never content or credentials). */
static void account(dw_exchange_t *ex)
{
    dw_metrics_t *m = &ex->px->metrics;
    m->requests[ex->outcome]++;
    m->bytes_from_clients += ex->body_len;
    m->bytes_to_upstream += ex->bytes_up;
    if (ex->body_len > ex->bytes_up && ex->bytes_up > 0)
        m->bytes_saved += ex->body_len - ex->bytes_up;
    m->items_total += ex->items.n;
    if (ex->outcome == DW_OUT_DELTA)
        m->items_elided += ex->delta_from;
    if (dw_log_level < DW_LOG_INFO)
        return;
    char line[512];
    double total_ms = (double)(uv_hrtime() - ex->t_start_ns) / 1e6;
    snprintf(line, sizeof(line),
             "\"event\":\"request\",\"outcome\":\"%s\",\"status\":%d,\"stream\":%s,\"items\":%zu,\"items_sent\":%zu,"
             "\"bytes_in\":%llu,\"bytes_up\":%llu,\"conn\":%llu,\"attempts\":%d,\"client_gone\":%s,\"total_ms\":%.3f",
             dw_outcome_name(ex->outcome), ex->status, ex->stream ? "true" : "false", ex->items.n, ex->items_sent,
             (unsigned long long)ex->body_len, (unsigned long long)ex->bytes_up, (unsigned long long)ex->conn_id,
             ex->attempts, ex->status == 0 ? "true" : "false", total_ms);
    dw_log(DW_LOG_INFO, line);
}

static void on_timer_closed(uv_handle_t *h)
{
    free(h->data);
}

static void exchange_free(dw_exchange_t *ex)
{
    account(ex);
    dw_members_free(&ex->members);
    dw_spans_free(&ex->items);
    free(ex->strip);
    dw_buf_free(&ex->pending);
    dw_buf_free(&ex->inflight);
    for (size_t i = 0; i < ex->n_done_items; i++)
        dw_buf_free(&ex->done_items[i]);
    free(ex->done_items);
    ex->px->inflight--;
    if (ex->timer_init)
        uv_close((uv_handle_t *)&ex->timer, on_timer_closed);
    else
        free(ex);
}

/* Frees the exchange once neither the client nor the upstream needs it. */
static void maybe_free(dw_exchange_t *ex)
{
    if (ex->req == NULL && ex->pc == NULL && !ex->waiting)
        exchange_free(ex);
}

static void on_req_dispose(void *p)
{
    dw_exchange_t *ex = *(dw_exchange_t **)p;
    if (ex->queued) {
        /* the wait borrowed this request's credentials */
        dw_pool_cancel(ex->px->pool, ex);
        ex->queued = 0;
    }
    ex->req = NULL;
    ex->answered = 1;
    maybe_free(ex);
}

/* The answer's status line goes out now. */
static void mark_answer(dw_exchange_t *ex, int status)
{
    ex->status = status;
    if (status >= 400)
        ex->outcome = DW_OUT_ERROR;
    dw_hist_observe(&ex->px->metrics.ttfb, (double)(uv_hrtime() - ex->t_start_ns) / 1e9);
}

static void add_header(h2o_req_t *req, const h2o_token_t *tok, const char *v)
{
    h2o_add_header(&req->pool, &req->res.headers, tok, NULL, v, strlen(v));
}

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 413:
        return "Payload Too Large";
    case 426:
        return "Upgrade Required";
    case 429:
        return "Too Many Requests";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    default:
        return status < 500 ? "Client Error" : "Server Error";
    }
}

void dw_exchange_send_body(h2o_req_t *req, int status, const char *content_type, const char *p, size_t n)
{
    req->res.status = status;
    req->res.reason = reason_phrase(status);
    req->res.content_length = n;
    add_header(req, H2O_TOKEN_CONTENT_TYPE, content_type);
    h2o_send_inline(req, p, n);
}

void dw_exchange_send_error(h2o_req_t *req, int status, const char *code, const char *param, const char *message)
{
    dw_buf_t b = {0};
    if (dw_error_body(&b, dw_error_type_for_status(status), code, param, message) != 0) {
        h2o_send_error_generic(req, 500, "Internal Server Error", "out of memory", 0);
        return;
    }
    dw_exchange_send_body(req, status, "application/json", b.p, b.len);
    dw_buf_free(&b);
}

/* --- the client side ------------------------------------------------------------------------ */

static void flush(dw_exchange_t *ex)
{
    if (ex->req == NULL || ex->sending || (ex->pending.len == 0 && !ex->final_queued))
        return;
    dw_buf_t t = ex->inflight;
    ex->inflight = ex->pending;
    ex->pending = t;
    dw_buf_reset(&ex->pending);
    h2o_iovec_t v = h2o_iovec_init(ex->inflight.p, ex->inflight.len);
    h2o_send_state_t st = ex->final_queued ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS;
    ex->sending = 1;
    if (st == H2O_SEND_STATE_FINAL)
        ex->answered = 1;
    h2o_send(ex->req, &v, v.len ? 1 : 0, st);
}

static void on_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    (void)req;
    dw_exchange_t *ex = H2O_STRUCT_FROM_MEMBER(dw_exchange_t, gen, gen);
    ex->sending = 0;
    dw_buf_reset(&ex->inflight);
    if (!ex->answered)
        flush(ex);
}

static void on_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    (void)req;
    dw_exchange_t *ex = H2O_STRUCT_FROM_MEMBER(dw_exchange_t, gen, gen);
    ex->answered = 1;
}

static void start_stream(dw_exchange_t *ex)
{
    h2o_req_t *req = ex->req;
    mark_answer(ex, 200);
    req->res.status = 200;
    req->res.reason = "OK";
    add_header(req, H2O_TOKEN_CONTENT_TYPE, "text/event-stream; charset=utf-8");
    add_header(req, H2O_TOKEN_CACHE_CONTROL, "no-cache");
    ex->gen.proceed = on_proceed;
    ex->gen.stop = on_stop;
    h2o_start_response(req, &ex->gen);
    ex->started = 1;
}

static void answer_json(dw_exchange_t *ex, int status, const char *p, size_t n)
{
    mark_answer(ex, status);
    ex->started = ex->answered = 1;
    dw_exchange_send_body(ex->req, status, "application/json", p, n);
}

/* Ends the client's answer with an error, in whatever form is still possible. */
static void fail_client(dw_exchange_t *ex, int status, const char *code, const char *message)
{
    if (ex->req == NULL || ex->answered)
        return;
    if (!ex->started) {
        ex->answered = 1;
        mark_answer(ex, status);
        dw_exchange_send_error(ex->req, status, code, NULL, message);
        return;
    }
    ex->outcome = DW_OUT_ERROR;
    /* part of a stream is out: an honest error event, never a replay */
    dw_buf_t body = {0};
    if (dw_buf_append_str(&body, "{\"type\":\"error\",\"error\":") == 0 &&
        dw_error_object(&body, dw_error_type_for_status(status), code, NULL, message) == 0 &&
        dw_buf_append_str(&body, "}") == 0)
        dw_sse_append(&ex->pending, "error", 5, body.p, body.len);
    dw_buf_free(&body);
    ex->final_queued = 1;
    flush(ex);
}

/* --- the upstream side ---------------------------------------------------------------------- */

/* The first input item that goes upstream: after the elided prefix of a delta. */
static size_t first_sent(const dw_exchange_t *ex)
{
    return ex->is_delta ? ex->delta_from : 0;
}

static int build_frame(dw_exchange_t *ex, dw_buf_t *frame)
{
    dw_frame_spec_t spec = {
        .members = &ex->members,
        .items = ex->items.v + first_sent(ex),
        .n_items = ex->items.n - first_sent(ex),
        .strip = ex->strip ? ex->strip + first_sent(ex) : NULL,
        .prev_id = ex->is_delta ? ex->prev_id : NULL,
        .input_verbatim = ex->verbatim,
    };
    return dw_frame_build(frame, dw_upconn_headroom(), &spec);
}

static void send_request(dw_exchange_t *ex)
{
    dw_buf_t frame = {0};
    int ok = build_frame(ex, &frame) == 0;
    size_t frame_bytes = ok ? frame.len - dw_upconn_headroom() : 0;
    if (ok && dw_upconn_send(ex->pc->c, &frame) == 0) {
        ex->bytes_up += frame_bytes;
        ex->items_sent = ex->items.n - first_sent(ex);
        ex->outcome = ex->is_delta ? DW_OUT_DELTA : DW_OUT_FULL;
        ex->conn_id = ex->pc->c->id;
        if (!ex->sent_once) {
            ex->sent_once = 1;
            dw_hist_observe(&ex->px->metrics.added_latency, (double)(uv_hrtime() - ex->t_start_ns) / 1e9);
        }
        return;
    }
    dw_buf_free(&frame);
    dw_pool_conn_t *pc = ex->pc;
    ex->pc = NULL;
    dw_upconn_close(pc->c); /* closing first keeps it from being handed to a waiter */
    dw_pool_release(pc);
    fail_client(ex, 502, "upstream_error", "could not send the request upstream");
    maybe_free(ex);
}

/* Takes a connection and sends, now or once it is open. */
static void dispatch(dw_exchange_t *ex)
{
    ex->attempts++;
    for (size_t i = 0; i < ex->n_done_items; i++)
        dw_buf_free(&ex->done_items[i]); /* an earlier attempt's items are not this response's */
    ex->n_done_items = 0;
    dw_pool_conn_t *pc;
    dw_pool_conn_t *want = NULL;
    if (ex->is_delta || ex->verbatim)
        want = dw_pool_find(ex->px->pool, &ex->creds.digest, ex->want_id);
    if (ex->is_delta && !ex->any_conn && (want == NULL || strcmp(want->last_resp_id, ex->prev_id) != 0)) {
        /* the connection no longer caches the response to chain from: full input, elsewhere */
        ex->is_delta = 0;
        want = NULL;
    }
    int rc = dw_pool_acquire(ex->px->pool, &ex->creds, want, &exchange_cb, ex, &pc);
    if (rc == DW_POOL_FULL) {
        if (ex->req != NULL && !ex->started) {
            add_header(ex->req, H2O_TOKEN_RETRY_AFTER, "1");
            ex->answered = 1;
            mark_answer(ex, 429);
            dw_exchange_send_error(ex->req, 429, "too_many_requests", NULL,
                                   "deltawire's upstream connections are all busy and its queue is full; retry shortly.");
        }
        maybe_free(ex);
        return;
    }
    if (rc == DW_POOL_ERROR) {
        fail_client(ex, 502, "upstream_unavailable", "could not open an upstream connection");
        maybe_free(ex);
        return;
    }
    if (rc == DW_POOL_QUEUED) {
        ex->queued = 1;
        return;
    }
    if (ex->is_delta && pc != want && !ex->any_conn)
        ex->is_delta = 0; /* the holder of the conversation is busy: full input */
    ex->pc = pc;
    if (rc == DW_POOL_READY)
        send_request(ex);
}

/* Falls back to the full input on a fresh attempt, if nothing reached the client yet. */
static int retry_full(dw_exchange_t *ex)
{
    if (ex->req == NULL || ex->started || ex->attempts >= DW_MAX_ATTEMPTS)
        return 0;
    ex->is_delta = 0;
    dispatch(ex);
    return 1;
}

static void start_timer(dw_exchange_t *ex, uv_timer_cb cb, uint64_t timeout, uint64_t repeat)
{
    if (!ex->timer_init) {
        uv_timer_init(ex->px->loop, &ex->timer);
        ex->timer.data = ex;
        ex->timer_init = 1;
    }
    ex->waiting = 1;
    uv_timer_start(&ex->timer, cb, timeout, repeat);
}

static void on_backoff(uv_timer_t *t)
{
    dw_exchange_t *ex = t->data;
    ex->waiting = 0;
    if (ex->req == NULL) {
        maybe_free(ex);
        return;
    }
    ex->is_delta = 0;
    dispatch(ex);
}

/* A new handshake after a pause that doubles with every attempt (100 ms, 200 ms...), while
 * nothing has reached the client. */
static int retry_later(dw_exchange_t *ex)
{
    if (ex->req == NULL || ex->started || ex->attempts >= DW_MAX_ATTEMPTS)
        return 0;
    start_timer(ex, on_backoff, 100u << (ex->attempts - 1), 0);
    return 1;
}

static void on_ready(void *user, dw_pool_conn_t *pc)
{
    dw_exchange_t *ex = user;
    dw_proxy_ws_accepted(ex->px);
    if (ex->queued) {
        ex->queued = 0;
        ex->pc = pc;
        if (ex->is_delta && !ex->any_conn && (pc->c->id != ex->want_id || strcmp(pc->last_resp_id, ex->prev_id) != 0))
            ex->is_delta = 0; /* waited for another connection, or ours moved on meanwhile */
    }
    if (ex->req == NULL) {
        /* the client left before anything was sent: nothing to wait for */
        ex->pc = NULL;
        dw_pool_release(pc);
        maybe_free(ex);
        return;
    }
    send_request(ex);
}

/* Hands the request, unchanged, to the plain HTTP passthrough: it is what a direct call would do. */
static int fall_back_to_http(dw_exchange_t *ex)
{
    if (ex->req == NULL || ex->started || ex->px->cfg->transport == DW_TRANSPORT_WS)
        return 0;
    ex->answered = 1;
    ex->outcome = DW_OUT_FALLBACK_HTTP;
    ex->status = 200; /* answered by the passthrough; its own status is in its access log */
    ex->bytes_up += ex->body_len;
    ex->px->metrics.recoveries[DW_REC_HTTP_FALLBACK]++;
    h2o_delegate_request_deferred(ex->req, ex->px->handler);
    return 1;
}

static void on_lost(void *user, dw_pool_conn_t *pc, int was_open, int status, const char *reason)
{
    dw_exchange_t *ex = user;
    (void)pc;
    ex->pc = NULL;
    if (!was_open && status != 0) {
        /* a refused upgrade. 426/404/405: no WebSocket mode here (any more). Anything else (401,
         * 429, 5xx) concerns this caller, and over HTTP the client gets the upstream's own answer */
        if (status == 426 || status == 404 || status == 405)
            dw_proxy_ws_refused(ex->px);
        if (fall_back_to_http(ex)) {
            maybe_free(ex);
            return;
        }
    } else if (was_open ? retry_full(ex) : (retry_later(ex) || fall_back_to_http(ex))) {
        /* lost before the first event: a fresh connection with the full input; a handshake that
         * failed on the network: again after a pause, and plain HTTP once they keep failing */
        ex->px->metrics.recoveries[was_open ? DW_REC_CONN_LOST : DW_REC_HANDSHAKE_RETRY]++;
        maybe_free(ex);
        return;
    }
    char msg[256];
    if (status >= 400)
        snprintf(msg, sizeof(msg), "upstream refused the WebSocket handshake with HTTP %d", status);
    else
        snprintf(msg, sizeof(msg), "upstream connection lost before the response completed: %s", reason);
    fail_client(ex, status >= 400 && status < 600 ? status : 502, "upstream_error", msg);
    maybe_free(ex);
}

static dw_buf_t *done_item_slot(dw_exchange_t *ex, long index)
{
    if (index < 0 || index > 100000)
        return NULL;
    if ((size_t)index >= ex->n_done_items) {
        dw_buf_t *v = realloc(ex->done_items, ((size_t)index + 1) * sizeof(*v));
        if (v == NULL)
            return NULL;
        memset(v + ex->n_done_items, 0, ((size_t)index + 1 - ex->n_done_items) * sizeof(*v));
        ex->done_items = v;
        ex->n_done_items = (size_t)index + 1;
    }
    return &ex->done_items[index];
}

static void response_id(dw_span_t response, char *out, size_t cap)
{
    dw_span_t v;
    out[0] = '\0';
    if (dw_json_object_get(response, "id", &v) && dw_json_kind(v) == '"') {
        char *s = dw_json_string_dup(v);
        if (s != NULL && strlen(s) < cap)
            memcpy(out, s, strlen(s) + 1);
        free(s);
    }
}

/* Records what the upstream now caches on the connection. */
static void record(dw_exchange_t *ex, const dw_event_t *ev)
{
    char id[DW_RESPONSE_ID_MAX + 1];
    response_id(ev->response, id, sizeof(id));
    dw_recordable_t out;
    if (!ex->chained || id[0] == '\0' || dw_recordable(ev, ex->done_items, ex->n_done_items, &out) != 1) {
        /* a failed turn evicts; an unrecorded one still replaces the cached response */
        dw_pool_set_last(ex->pc, dw_event_is(ev, "response.failed") ? "" : id, NULL, 0);
        return;
    }
    dw_digest_t link = ex->input_end;
    int ok = dw_transcripts_output_chain(ex->px->transcripts, &link, out.items.v, out.items.n, out.stored) == 0 &&
             dw_transcripts_record(ex->px->transcripts, &link, id, ex->pc->c->id, out.stored) != NULL;
    dw_pool_set_last(ex->pc, id, ok ? &link : NULL, out.stored);
    dw_spans_free(&out.items);
}

static void end_upstream(dw_exchange_t *ex)
{
    dw_pool_conn_t *pc = ex->pc;
    ex->pc = NULL;
    dw_pool_release(pc);
    maybe_free(ex);
}

static int error_code_is(const dw_event_t *ev, const char *code)
{
    dw_span_t v;
    size_t n = strlen(code);
    return ev->error.p && dw_json_object_get(ev->error, "code", &v) && v.n == n + 2 && memcmp(v.p + 1, code, n) == 0;
}

static void on_error_envelope(dw_exchange_t *ex, const char *p, size_t n, const dw_event_t *ev)
{
    /* the recoveries the guide prescribes: resend the full input without previous_response_id,
     * on a new connection when this one reached its age limit */
    int stale = error_code_is(ev, "previous_response_not_found") && ex->is_delta;
    int aged = error_code_is(ev, "websocket_connection_limit_reached");
    dw_pool_set_last(ex->pc, "", NULL, 0);
    dw_pool_conn_t *pc = ex->pc;
    ex->pc = NULL;
    if (aged)
        dw_upconn_close(pc->c);
    dw_pool_release(pc);
    if ((stale || aged) && retry_full(ex)) {
        ex->px->metrics.recoveries[stale ? DW_REC_PREV_NOT_FOUND : DW_REC_CONN_LIMIT]++;
        return;
    }
    if (ex->req != NULL && !ex->answered) {
        if (!ex->started) {
            dw_buf_t body = {0};
            if (dw_buf_append_str(&body, "{\"error\":") == 0 &&
                dw_buf_append(&body, ev->error.p ? ev->error.p : "null", ev->error.p ? ev->error.n : 4) == 0 &&
                dw_buf_append_str(&body, "}") == 0)
                answer_json(ex, ev->status >= 400 && ev->status < 600 ? ev->status : 500, body.p, body.len);
            dw_buf_free(&body);
        } else {
            ex->outcome = DW_OUT_ERROR;
            dw_sse_append(&ex->pending, "error", 5, p, n);
            ex->final_queued = 1;
            flush(ex);
        }
    }
    maybe_free(ex);
}

static int is_terminal(const dw_event_t *ev)
{
    return dw_event_is(ev, "response.completed") || dw_event_is(ev, "response.failed") ||
           dw_event_is(ev, "response.incomplete");
}

static void on_message(void *user, dw_pool_conn_t *pc, const char *p, size_t n)
{
    dw_exchange_t *ex = user;
    (void)pc;
    dw_event_t ev;
    if (dw_event_scan(p, n, &ev) != 0) {
        dw_upconn_close(ex->pc->c); /* a broken peer: on_lost follows */
        return;
    }
    if (dw_event_is(&ev, "error")) {
        on_error_envelope(ex, p, n, &ev);
        return;
    }
    if (dw_event_is(&ev, "response.output_item.done") && ev.item.p) {
        dw_buf_t *slot = done_item_slot(ex, ev.output_index);
        if (slot != NULL) {
            dw_buf_reset(slot);
            dw_buf_append(slot, ev.item.p, ev.item.n);
        }
    }
    int terminal = is_terminal(&ev) && ev.response.p;
    if (ex->req != NULL && !ex->answered) {
        if (ex->stream) {
            if (!ex->started)
                start_stream(ex);
            dw_buf_t rewritten = {0};
            if (dw_event_rewrite_prev(&rewritten, p, n, ev.response, ex->client_prev.p, ex->client_prev.n) == 0)
                dw_sse_append(&ex->pending, ev.type.p + 1, ev.type.n - 2, rewritten.p, rewritten.len);
            dw_buf_free(&rewritten);
            ex->final_queued = terminal;
            flush(ex);
        } else if (terminal) {
            dw_buf_t body = {0};
            if (dw_event_response_body(&body, ev.response, ex->client_prev.p, ex->client_prev.n) == 0)
                answer_json(ex, 200, body.p, body.len);
            dw_buf_free(&body);
        }
    }
    if (terminal) {
        record(ex, &ev);
        end_upstream(ex);
    }
}

static const dw_pool_user_cb_t exchange_cb = {on_ready, on_message, on_lost};

/* --- the request -------------------------------------------------------------------------- */

static const dw_member_t *member(const dw_members_t *m, const char *key, int *dup)
{
    const dw_member_t *found = NULL;
    for (size_t i = 0; i < m->n; i++) {
        if (dw_json_key_eq(m->v[i].key, key)) {
            if (found != NULL)
                *dup = 1;
            found = &m->v[i];
        }
    }
    return found;
}

/* Digests every input item and chains them; finds the longest recorded prefix that is still
 * cached on a live connection of these credentials. */
static void decide(dw_exchange_t *ex)
{
    dw_transcripts_t *t = ex->px->transcripts;
    size_t n = ex->items.n;
    dw_digest_t *links = malloc((n ? n : 1) * sizeof(*links));
    ex->strip = calloc(n ? n : 1, 1);
    if (links == NULL || ex->strip == NULL) {
        free(links);
        return;
    }
    dw_digest_t link;
    dw_chain_seed(&link, &ex->creds.digest);
    for (size_t i = 0; i < n; i++) {
        dw_form_t f;
        dw_digest_t d;
        if (dw_transcripts_item(t, ex->items.v[i].p, ex->items.v[i].n, &f) != 0) {
            free(links);
            return; /* not canonicalisable: send in full, record nothing */
        }
        ex->strip[i] = f.strip;
        dw_transcripts_resolve(t, &link, &f, &d);
        dw_chain_next(&link, &d);
        links[i] = link;
    }
    ex->input_end = link;
    ex->chained = 1;

    size_t upto = n;
    dw_match_t m;
    while (upto > 0 && dw_transcripts_match(t, links, upto, &m)) {
        dw_pool_conn_t *pc = dw_pool_find(ex->px->pool, &ex->creds.digest, m.rec->conn_id);
        int cached = pc != NULL && strcmp(pc->last_resp_id, m.rec->id) == 0;
        if (cached || m.rec->store) {
            /* cached on its connection; or stored upstream, which any connection can load */
            ex->is_delta = 1;
            ex->want_id = cached ? pc->c->id : 0;
            ex->any_conn = m.rec->store;
            ex->delta_from = m.matched;
            memcpy(ex->prev_id, m.rec->id, sizeof(ex->prev_id));
            break;
        }
        upto = m.matched - 1;
    }
    free(links);
}

/* A string input is one user message: digest it as the item a client would echo next turn. */
static void decide_string_input(dw_exchange_t *ex, dw_span_t input)
{
    dw_buf_t item = {0};
    dw_digest_t d;
    if (dw_buf_append_str(&item, "{\"role\":\"user\",\"content\":") == 0 &&
        dw_buf_append(&item, input.p, input.n) == 0 && dw_buf_append_str(&item, "}") == 0 &&
        dw_transcripts_item_digest(ex->px->transcripts, item.p, item.len, &d) == 0) {
        dw_chain_seed(&ex->input_end, &ex->creds.digest);
        dw_chain_next(&ex->input_end, &d);
        ex->chained = 1;
    }
    dw_buf_free(&item);
}

static void reject(dw_exchange_t *ex, int status, const char *code, const char *param, const char *message)
{
    mark_answer(ex, status);
    dw_exchange_send_error(ex->req, status, code, param, message);
}

static int scan_request(dw_exchange_t *ex, h2o_req_t *req)
{
    size_t off = 0;
    if (req->entity.base == NULL) {
        reject(ex, 400, "missing_body", NULL, "The request needs a JSON body.");
        return -1;
    }
    if (req->entity.len > ex->px->cfg->max_body) {
        reject(ex, 413, "request_too_large", NULL, "The request body exceeds the configured limit.");
        return -1;
    }
    int rc = dw_json_scan_object(req->entity.base, req->entity.len, "input", &ex->members, &ex->items, &off);
    if (rc == DW_JSON_ENOMEM) {
        reject(ex, 500, NULL, NULL, "out of memory");
        return -1;
    }
    if (rc != 0) {
        char msg[200];
        if (rc == DW_JSON_ENOTOBJECT)
            snprintf(msg, sizeof(msg), "The request body must be a JSON object.");
        else
            snprintf(msg, sizeof(msg),
                     "We could not parse the JSON body of your request (invalid JSON at byte %zu). The OpenAI API "
                     "expects a JSON payload.",
                     off);
        reject(ex, 400, "invalid_json", NULL, msg);
        return -1;
    }
    int dup = 0;
    const dw_member_t *input = member(&ex->members, "input", &dup);
    const dw_member_t *stream = member(&ex->members, "stream", &dup);
    const dw_member_t *prev = member(&ex->members, "previous_response_id", &dup);
    const dw_member_t *conversation = member(&ex->members, "conversation", &dup);
    /* a prompt template or server-side context management shapes the context on the server: what
     * a previous response holds is then not provably the client's items, so no delta */
    const dw_member_t *prompt = member(&ex->members, "prompt", &dup);
    const dw_member_t *context_management = member(&ex->members, "context_management", &dup);
    member(&ex->members, "store", &dup);
    member(&ex->members, "model", &dup);
    if (dup) {
        reject(ex, 400, "duplicate_key", NULL,
                               "The request body repeats a top-level field; send each field once.");
        return -1;
    }
    char kind = input ? dw_json_kind(input->value) : 0;
    if (input != NULL && kind != '[' && kind != '"') {
        reject(ex, 400, "invalid_type", "input",
                               "Invalid type for 'input': expected a string or an array of input items.");
        return -1;
    }
    if (stream != NULL && dw_json_kind(stream->value) != 't' && dw_json_kind(stream->value) != 'f' &&
        dw_json_kind(stream->value) != 'n') {
        reject(ex, 400, "invalid_type", "stream", "Invalid type for 'stream': expected a boolean.");
        return -1;
    }
    ex->stream = stream != NULL && dw_json_kind(stream->value) == 't';
    int has_prev = prev != NULL && dw_json_kind(prev->value) != 'n';
    ex->client_prev = has_prev ? prev->value : (dw_span_t){"null", 4};
    int server_shaped = (prompt != NULL && dw_json_kind(prompt->value) != 'n') ||
                        (context_management != NULL && dw_json_kind(context_management->value) != 'n');
    if (has_prev || conversation != NULL || server_shaped || input == NULL || kind == '"') {
        /* the upstream holds (or builds) the context itself: forward the input untouched, on the
         * connection that caches the named response if we have it */
        ex->verbatim = 1;
        if (has_prev && dw_json_kind(prev->value) == '"') {
            char *id = dw_json_string_dup(prev->value);
            dw_pool_conn_t *holder = id ? dw_pool_find_by_response(ex->px->pool, &ex->creds.digest, id) : NULL;
            ex->want_id = holder != NULL ? holder->c->id : 0;
            free(id);
        }
        if (kind == '"' && !has_prev && conversation == NULL && !server_shaped)
            decide_string_input(ex, input->value);
        return 0;
    }
    return 0;
}

static int wants_background(const dw_members_t *m)
{
    for (size_t i = 0; i < m->n; i++)
        if (dw_json_key_eq(m->v[i].key, "background") && dw_json_kind(m->v[i].value) == 't')
            return 1;
    return 0;
}

int dw_exchange_start(dw_proxy_t *px, h2o_req_t *req)
{
    dw_exchange_t *ex = calloc(1, sizeof(*ex));
    if (ex == NULL) {
        dw_exchange_send_error(req, 500, NULL, NULL, "out of memory");
        return 0;
    }
    ex->px = px;
    ex->req = req;
    ex->t_start_ns = uv_hrtime();
    ex->body_len = req->entity.len;
    ex->outcome = DW_OUT_ERROR;
    px->inflight++;
    dw_creds_from_req(&ex->creds, req);
    if (scan_request(ex, req) != 0) {
        ex->req = NULL;
        exchange_free(ex);
        return 0;
    }
    int background = wants_background(&ex->members);
    if (background || !dw_proxy_use_ws(px)) {
        /* background responses do not exist over WebSocket; and WebSocket mode may be off */
        ex->outcome = background ? DW_OUT_PASSTHROUGH : DW_OUT_FALLBACK_HTTP;
        ex->status = 200;
        ex->bytes_up = ex->body_len;
        ex->req = NULL;
        exchange_free(ex);
        return -1;
    }
    dw_exchange_t **link = h2o_mem_alloc_shared(&req->pool, sizeof(*link), on_req_dispose);
    *link = ex;
    if (!ex->verbatim)
        decide(ex);
    dispatch(ex);
    return 0;
}
