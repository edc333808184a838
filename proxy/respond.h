/* The client side of a request: deltawire's own answers on h2o. A complete JSON (or plain) body,
 * an OpenAI-style error, or an SSE stream fed event by event under h2o's flow control (one
 * h2o_send in flight; what arrives meanwhile waits in `pending` until on_proceed).
 *
 * The client side moves WAITING -> STREAMING -> DONE, or WAITING -> DONE (one complete body), and
 * to GONE from any state when h2o disposes of the request; nothing is written after DONE. */
#ifndef DW_RESPOND_H
#define DW_RESPOND_H

#include <h2o.h>

#include "translate/buf.h"

/* Answers req with a complete body (copied) of the given content type. */
void dw_respond_body(h2o_req_t *req, int status, const char *content_type, const char *p, size_t n);

/* Answers req with an OpenAI-style error body; code and param may be NULL. If the body cannot be
 * rendered (no memory) the client still gets a plain-text 500 that says so. */
void dw_respond_error_body(h2o_req_t *req, int status, const char *code, const char *param, const char *message);

enum dw_client_state { DW_CLIENT_WAITING, DW_CLIENT_STREAMING, DW_CLIENT_DONE, DW_CLIENT_GONE };

typedef struct dw_respond dw_respond_t;

struct dw_respond {
    h2o_req_t *req; /* borrowed; NULL once GONE */
    enum dw_client_state state;
    h2o_generator_t gen;
    int sending;      /* an h2o_send is in flight (STREAMING only) */
    int final_queued; /* the stream ends after `pending` */
    dw_buf_t pending, inflight;
    int status;             /* the status line that went out, 0 before */
    uint64_t first_byte_ns; /* uv_hrtime() when it went out, 0 before */
    uint64_t events;        /* SSE events written: the next one's sequence_number */
    int content;            /* bytes other than keepalive comments went out (events or raw SSE) */
    uv_timer_t *keepalive;  /* armed by dw_respond_keepalive, closed by dw_respond_free */
    uint64_t keepalive_ms;
    uint64_t last_out_ms;   /* uv_now() when bytes last went to h2o */
    /* called when h2o took the pending bytes and the client's buffer is below `drained_below`
     * again (set both to hear of it; the callback must not free r) */
    void (*on_drained)(dw_respond_t *r);
    size_t drained_below;
};

void dw_respond_init(dw_respond_t *r, h2o_req_t *req);
/* h2o disposed of the request: nothing more can be written. */
void dw_respond_gone(dw_respond_t *r);
/* Another h2o handler answers the request (the plain HTTP passthrough): WAITING -> DONE here. */
void dw_respond_handed_on(dw_respond_t *r);
/* Frees the buffers (after GONE or DONE). */
void dw_respond_free(dw_respond_t *r);

/* On a streaming answer, an SSE comment (": keepalive") after every `secs` without a byte to the
 * client, the first one starting the stream (status 200) if it is still WAITING: a proxy in between
 * must not cut a stream that is only thinking. Returns 0 or -1 (no memory: no keepalives). */
int dw_respond_keepalive(dw_respond_t *r, double secs);
/* Bytes rendered for the client and not yet taken by its connection (pending + in flight). */
size_t dw_respond_buffered(const dw_respond_t *r);
/* The same, summed over every answer of the process (the /metrics gauge). */
size_t dw_respond_buffered_total(void);

/* 1 while an answer can still be written (WAITING or STREAMING). */
int dw_respond_open(const dw_respond_t *r);
/* 1 once part of the answer is out (STREAMING or DONE): a retry would be a replay. */
int dw_respond_started(const dw_respond_t *r);
/* 1 while the client is there and has seen nothing but keepalive comments: a retry is no replay. */
int dw_respond_replayable(const dw_respond_t *r);

/* Adds a response header (name and value copied) while WAITING; nothing after. */
void dw_respond_header(dw_respond_t *r, const char *name, size_t n, const char *value, size_t vn);
/* WAITING -> DONE with a complete JSON body. */
void dw_respond_json(dw_respond_t *r, int status, const char *p, size_t n);
/* WAITING -> DONE with a 429 and Retry-After: 1. */
void dw_respond_busy(dw_respond_t *r, const char *message);
/* One SSE event (type without quotes, data: JSON); starts the stream with 200 if it is WAITING, ends
 * it after this event when final. Returns 0, or -1 when the event cannot be rendered (no memory):
 * the caller then ends the answer with dw_respond_fail. */
int dw_respond_event(dw_respond_t *r, const char *type, size_t type_len, const char *data, size_t n, int final);
/* SSE bytes already framed ([p, p+n): whole `data: ...\n\n` blocks, another API's chunks); starts
 * the stream with 200 if it is WAITING, ends it after them when final. Returns 0 or -1 (no memory). */
int dw_respond_sse_raw(dw_respond_t *r, const char *p, size_t n, int final);
/* Ends the answer with an error in whatever form is still possible: an error body while WAITING
 * (status, code, param, message; code and param may be NULL), while STREAMING the HTTP API's flat
 * SSE error event {"type":"error","code","message","param","sequence_number"}. */
void dw_respond_fail(dw_respond_t *r, int status, const char *code, const char *param, const char *message);

#endif
