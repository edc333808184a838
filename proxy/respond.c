#include "proxy/respond.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "translate/errors.h"
#include "translate/sse.h"

/* What every answer holds for its client and h2o has not taken yet (the /metrics gauge). */
static size_t buffered_total;

/* Keeps buffered_total in step with r's buffers; call after every change to them. */
static void count_buffered(dw_respond_t *r, size_t before)
{
    buffered_total = buffered_total - before + dw_respond_buffered(r);
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

void dw_respond_body(h2o_req_t *req, int status, const char *content_type, const char *p, size_t n)
{
    req->res.status = status;
    req->res.reason = reason_phrase(status);
    req->res.content_length = n;
    add_header(req, H2O_TOKEN_CONTENT_TYPE, content_type);
    h2o_send_inline(req, p, n);
}

void dw_respond_error_body(h2o_req_t *req, int status, const char *code, const char *param, const char *message)
{
    dw_buf_t b = {0};
    if (dw_error_body(&b, dw_error_type_for_status(status), code, param, message) == 0)
        dw_respond_body(req, status, "application/json", b.p, b.len);
    else
        h2o_send_error_generic(req, 500, "Internal Server Error", "deltawire ran out of memory rendering an error", 0);
    dw_buf_free(&b);
}

void dw_respond_init(dw_respond_t *r, h2o_req_t *req)
{
    memset(r, 0, sizeof(*r));
    r->req = req;
    r->state = DW_CLIENT_WAITING;
}

void dw_respond_gone(dw_respond_t *r)
{
    size_t before = dw_respond_buffered(r);
    r->req = NULL;
    r->state = DW_CLIENT_GONE;
    dw_buf_free(&r->pending); /* h2o is done with the request, and with what it was sending */
    dw_buf_free(&r->inflight);
    count_buffered(r, before);
}

void dw_respond_handed_on(dw_respond_t *r)
{
    if (r->state == DW_CLIENT_WAITING)
        r->state = DW_CLIENT_DONE;
}

static void on_keepalive_closed(uv_handle_t *h)
{
    free(h);
}

void dw_respond_free(dw_respond_t *r)
{
    size_t before = dw_respond_buffered(r);
    dw_buf_free(&r->pending);
    dw_buf_free(&r->inflight);
    count_buffered(r, before);
    if (r->keepalive != NULL)
        uv_close((uv_handle_t *)r->keepalive, on_keepalive_closed);
    r->keepalive = NULL;
}

size_t dw_respond_buffered(const dw_respond_t *r)
{
    return r->pending.len + r->inflight.len;
}

size_t dw_respond_buffered_total(void)
{
    return buffered_total;
}

int dw_respond_open(const dw_respond_t *r)
{
    return r->state == DW_CLIENT_WAITING || r->state == DW_CLIENT_STREAMING;
}

int dw_respond_started(const dw_respond_t *r)
{
    return r->state == DW_CLIENT_STREAMING || r->state == DW_CLIENT_DONE;
}

int dw_respond_replayable(const dw_respond_t *r)
{
    return r->state == DW_CLIENT_WAITING || (r->state == DW_CLIENT_STREAMING && !r->content);
}

/* The status line goes out now. */
static void status_out(dw_respond_t *r, int status)
{
    r->status = status;
    r->first_byte_ns = uv_hrtime();
}

void dw_respond_header(dw_respond_t *r, const char *name, size_t n, const char *value, size_t vn)
{
    if (r->state != DW_CLIENT_WAITING)
        return;
    char *lname = h2o_mem_alloc_pool(&r->req->pool, n);
    for (size_t i = 0; i < n; i++)
        lname[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
    h2o_iovec_t v = h2o_strdup(&r->req->pool, value, vn);
    h2o_add_header_by_str(&r->req->pool, &r->req->res.headers, lname, n, 0, NULL, v.base, v.len);
}

void dw_respond_json(dw_respond_t *r, int status, const char *p, size_t n)
{
    if (r->state != DW_CLIENT_WAITING)
        return;
    status_out(r, status);
    r->state = DW_CLIENT_DONE;
    dw_respond_body(r->req, status, "application/json", p, n);
}

void dw_respond_busy(dw_respond_t *r, const char *message)
{
    if (r->state != DW_CLIENT_WAITING)
        return;
    add_header(r->req, H2O_TOKEN_RETRY_AFTER, "1");
    status_out(r, 429);
    r->state = DW_CLIENT_DONE;
    dw_respond_error_body(r->req, 429, "too_many_requests", NULL, message);
}

/* Hands `pending` to h2o when no send is in flight. */
static void flush(dw_respond_t *r)
{
    if (r->state != DW_CLIENT_STREAMING || r->sending || (r->pending.len == 0 && !r->final_queued))
        return;
    r->last_out_ms = uv_now(r->req->conn->ctx->loop);
    dw_buf_t t = r->inflight;
    r->inflight = r->pending;
    r->pending = t;
    dw_buf_reset(&r->pending);
    h2o_iovec_t v = h2o_iovec_init(r->inflight.p, r->inflight.len);
    h2o_send_state_t st = r->final_queued ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS;
    r->sending = 1;
    if (st == H2O_SEND_STATE_FINAL)
        r->state = DW_CLIENT_DONE;
    h2o_send(r->req, &v, v.len ? 1 : 0, st);
}

static void on_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    (void)req;
    dw_respond_t *r = H2O_STRUCT_FROM_MEMBER(dw_respond_t, gen, gen);
    size_t before = dw_respond_buffered(r);
    r->sending = 0;
    dw_buf_reset(&r->inflight);
    flush(r);
    count_buffered(r, before);
    if (r->on_drained != NULL && dw_respond_buffered(r) < r->drained_below)
        r->on_drained(r);
}

/* The client stopped reading: the rest of the answer is dropped. */
static void on_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    (void)req;
    dw_respond_t *r = H2O_STRUCT_FROM_MEMBER(dw_respond_t, gen, gen);
    if (r->state == DW_CLIENT_STREAMING)
        r->state = DW_CLIENT_DONE;
}

static void start_stream(dw_respond_t *r)
{
    h2o_req_t *req = r->req;
    status_out(r, 200);
    req->res.status = 200;
    req->res.reason = "OK";
    add_header(req, H2O_TOKEN_CONTENT_TYPE, "text/event-stream; charset=utf-8");
    add_header(req, H2O_TOKEN_CACHE_CONTROL, "no-cache");
    r->gen.proceed = on_proceed;
    r->gen.stop = on_stop;
    r->state = DW_CLIENT_STREAMING;
    h2o_start_response(req, &r->gen);
}

int dw_respond_event(dw_respond_t *r, const char *type, size_t type_len, const char *data, size_t n, int final)
{
    if (!dw_respond_open(r))
        return 0;
    if (r->state == DW_CLIENT_WAITING)
        start_stream(r);
    size_t before = dw_respond_buffered(r);
    if (dw_sse_append(&r->pending, type, type_len, data, n) != 0)
        return -1;
    r->events++;
    r->content = 1;
    r->final_queued = final;
    flush(r);
    count_buffered(r, before);
    return 0;
}

static void on_keepalive(uv_timer_t *t)
{
    dw_respond_t *r = t->data;
    if (!dw_respond_open(r))
        return;
    uint64_t now = uv_now(t->loop);
    uint64_t quiet = now - r->last_out_ms;
    if (quiet >= r->keepalive_ms) {
        if (r->state == DW_CLIENT_WAITING)
            start_stream(r);
        size_t before = dw_respond_buffered(r);
        /* a comment line: SSE parsers skip it (WHATWG HTML, "Parsing an event stream") */
        if (dw_buf_append_str(&r->pending, ": keepalive\n\n") == 0)
            flush(r);
        count_buffered(r, before);
        r->last_out_ms = now;
        quiet = 0;
    }
    uv_timer_start(t, on_keepalive, r->keepalive_ms - quiet, 0);
}

int dw_respond_keepalive(dw_respond_t *r, double secs)
{
    uv_loop_t *loop = r->req->conn->ctx->loop;
    r->keepalive = malloc(sizeof(*r->keepalive));
    if (r->keepalive == NULL)
        return -1;
    uv_timer_init(loop, r->keepalive);
    r->keepalive->data = r;
    r->keepalive_ms = secs * 1000 < 1 ? 1 : (uint64_t)(secs * 1000);
    r->last_out_ms = uv_now(loop);
    uv_timer_start(r->keepalive, on_keepalive, r->keepalive_ms, 0);
    return 0;
}

int dw_respond_sse_raw(dw_respond_t *r, const char *p, size_t n, int final)
{
    if (!dw_respond_open(r))
        return 0;
    if (r->state == DW_CLIENT_WAITING)
        start_stream(r);
    size_t before = dw_respond_buffered(r);
    if (dw_buf_append(&r->pending, p, n) != 0)
        return -1;
    r->content |= n > 0;
    r->final_queued = final;
    flush(r);
    count_buffered(r, before);
    return 0;
}

void dw_respond_fail(dw_respond_t *r, int status, const char *code, const char *param, const char *message)
{
    if (r->state == DW_CLIENT_WAITING) {
        status_out(r, status);
        r->state = DW_CLIENT_DONE;
        dw_respond_error_body(r->req, status, code, param, message);
        return;
    }
    if (r->state != DW_CLIENT_STREAMING)
        return;
    /* part of a stream is out: an honest error event, never a replay; flat, as the HTTP API's */
    size_t before = dw_respond_buffered(r);
    dw_buf_t body = {0};
    if (dw_error_event(&body, code, param, message, r->events) != 0 ||
        dw_sse_append(&r->pending, "error", 5, body.p, body.len) != 0) {
        /* not even the error event fits in memory: the stream ends without it; the log says why */
        dw_buf_reset(&r->pending);
    }
    dw_buf_free(&body);
    r->final_queued = 1;
    flush(r);
    count_buffered(r, before);
}
