#include "proxy/chat.h"

#include <stdio.h>
#include <stdlib.h>

#include "proxy/exchange.h"
#include "translate/body_decode.h"
#include "translate/chat_events.h"
#include "translate/chat_project.h"
#include "translate/chat_request.h"
#include "translate/recordable.h"

typedef struct {
    dw_buf_t decoded;     /* the request body with its Content-Encoding undone, when it had one */
    dw_chat_request_t rq; /* the translated body: the exchange's request borrows it */
    dw_chat_stream_t st;  /* streaming: the chunk translator */
    dw_buf_t out;         /* what one event renders */
    int ended;            /* streaming: the chunks ended ([DONE] or an error): nothing more is written */
    int carry;            /* --chat-reasoning carry */
} dw_chat_t;

static void chat_free(void *data)
{
    dw_chat_t *ch = data;
    dw_buf_free(&ch->decoded);
    dw_chat_request_free(&ch->rq);
    dw_chat_stream_free(&ch->st);
    dw_buf_free(&ch->out);
    free(ch);
}

/* The error object of a failed response or of an error envelope, and the envelope's status. */
static dw_span_t error_of(const dw_event_t *ev, int *status)
{
    dw_span_t e = ev->error;
    *status = ev->status;
    if (e.p == NULL && ev->response.p != NULL && !dw_json_object_get(ev->response, "error", &e))
        e = (dw_span_t){NULL, 0};
    if (e.p == NULL)
        e = (dw_span_t){"null", 4};
    return e;
}

/* A failure before anything reached the client: an HTTP error in the Chat API's envelope. */
static int answer_error(dw_respond_t *client, const dw_event_t *ev, dw_buf_t *out)
{
    int envelope_status, status;
    dw_span_t e = error_of(ev, &envelope_status);
    dw_buf_reset(out);
    if (dw_chat_error_body(e, envelope_status, out, &status) != 0)
        return -1;
    dw_respond_json(client, status, out->p, out->len);
    return 0;
}

static int chat_relay(void *data, dw_respond_t *client, const char *p, size_t n, const dw_event_t *ev, int terminal)
{
    dw_chat_t *ch = data;
    int failed = dw_event_is(ev, "response.failed") || dw_event_is(ev, "error");
    if (!ch->rq.stream) {
        if (!terminal)
            return 0;
        if (failed)
            return answer_error(client, ev, &ch->out);
        dw_buf_reset(&ch->out);
        if (dw_chat_completion(ev->response, ch->rq.legacy_functions, &ch->out) != 0)
            return -1;
        dw_respond_json(client, 200, ch->out.p, ch->out.len);
        return 0;
    }
    if (ch->ended)
        return 0;
    if (!ch->st.emitted && dw_event_is(ev, "response.created")) {
        /* a new attempt's response (nothing of an earlier one reached the client) */
        dw_chat_stream_free(&ch->st);
        dw_chat_stream_init(&ch->st, ch->rq.include_usage, ch->rq.legacy_functions);
    }
    int emitted = ch->st.emitted;
    dw_buf_reset(&ch->out);
    int rc = dw_chat_stream_event(&ch->st, p, n, &ch->out);
    if (rc < 0)
        return -1;
    if (rc == DW_CHAT_EV_FAILED && !emitted)
        return answer_error(client, ev, &ch->out);
    if (ch->out.len == 0 && rc == DW_CHAT_EV_MORE)
        return 0; /* nothing for the client yet: the stream starts lazily */
    ch->ended = rc != DW_CHAT_EV_MORE || terminal;
    return dw_respond_sse_raw(client, ch->out.p, ch->out.len, rc != DW_CHAT_EV_MORE || terminal);
}

/* The output items as one JSON array, for the projection. */
static int output_array(const dw_spans_t *items, dw_buf_t *b)
{
    if (dw_buf_append_str(b, "[") != 0)
        return -1;
    for (size_t i = 0; i < items->n; i++)
        if ((i > 0 && dw_buf_append_str(b, ",") != 0) || dw_buf_append(b, items->v[i].p, items->v[i].n) != 0)
            return -1;
    return dw_buf_append_str(b, "]");
}

/* What the chat client will echo decides what is recorded: the output when the echo is exactly it,
 * else nothing (the next turn goes in full), or with carry the echo's items. */
static void chat_record(void *data, dw_transcripts_t *t, const dw_plan_t *pl, const dw_outputs_t *o,
                        const dw_event_t *ev, dw_lane_t *c)
{
    dw_chat_t *ch = data;
    dw_recordable_t out;
    if (!pl->chained || dw_recordable(ev, o->v, o->n, &out) != 1) {
        dw_record_response_as(t, pl, o, ev, c, NULL); /* caches the id; records nothing */
        return;
    }
    dw_buf_t arr = {0};
    dw_chat_projection_t pj = {0};
    int rc = output_array(&out.items, &arr) == 0 ? dw_chat_project((dw_span_t){arr.p, arr.len},
                                                                     ch->rq.legacy_functions, &pj)
                                                   : DW_CHAT_ENOMEM;
    if (rc == DW_CHAT_OK && pj.exact)
        dw_record_response(t, pl, o, ev, c);
    else if (rc == DW_CHAT_OK && ch->carry)
        dw_record_response_as(t, pl, o, ev, c, &pj.spans);
    else
        dw_record_response_as(t, pl, o, ev, c, NULL);
    dw_chat_projection_free(&pj);
    dw_buf_free(&arr);
    dw_spans_free(&out.items);
}

static const dw_exchange_mode_t chat_mode = {"chat", chat_relay, chat_record, chat_free};

/* The request's JSON: its Content-Encoding undone into ch->decoded. Returns 0, or -1 with why the
 * request goes unchanged to the upstream instead (which then answers an encoding it knows, or not). */
static int chat_body(dw_proxy_t *px, h2o_req_t *req, dw_chat_t *ch, h2o_iovec_t *body, const char **why)
{
    *body = req->entity;
    ssize_t at = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_ENCODING, -1);
    if (at < 0)
        return 0;
    h2o_iovec_t enc = req->headers.entries[at].value;
    if (h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_ENCODING, at) >= 0) {
        *why = "content-encoding (split over two fields)";
        return -1;
    }
    if (dw_body_decode_is_identity(enc.base, enc.len))
        return 0;
    if (dw_body_decode(&ch->decoded, enc.base, enc.len, body->base, body->len, px->cfg->max_body, why) != DW_DECODE_OK)
        return -1;
    *body = h2o_iovec_init(ch->decoded.p ? ch->decoded.p : "", ch->decoded.len);
    return 0;
}

int dw_chat_start(dw_proxy_t *px, h2o_req_t *req)
{
    dw_chat_t *ch = calloc(1, sizeof(*ch));
    h2o_iovec_t body;
    const char *why = NULL;
    if (ch != NULL && chat_body(px, req, ch, &body, &why) != 0) {
        char reason[DW_CHAT_REASON_MAX];
        snprintf(reason, sizeof(reason), "content-encoding: %s", why);
        return dw_exchange_start_as(px, req, NULL, 0, &chat_mode, ch, reason);
    }
    int rc = ch != NULL ? dw_chat_request(body.base, body.len, &ch->rq) : DW_CHAT_ENOMEM;
    if (rc == DW_CHAT_ENOMEM) {
        if (ch != NULL)
            chat_free(ch);
        dw_respond_error_body(req, 500, NULL, NULL, "deltawire ran out of memory translating a chat request");
        return 0;
    }
    ch->carry = px->cfg->chat_reasoning == DW_CHAT_REASONING_CARRY;
    if (rc == DW_CHAT_FALLBACK)
        return dw_exchange_start_as(px, req, NULL, 0, &chat_mode, ch, ch->rq.reason);
    dw_chat_stream_init(&ch->st, ch->rq.include_usage, ch->rq.legacy_functions);
    return dw_exchange_start_as(px, req, ch->rq.body.p, ch->rq.body.len, &chat_mode, ch, NULL);
}
