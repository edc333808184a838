/*
 * The event scanner, the previous_response_id rewriter and the SSE renderer
 * on any upstream frame, the way the proxy chains them for a streaming
 * client: scan, rewrite response.previous_response_id, render. The rendered
 * block is then parsed with the SSE rules (WHATWG HTML, "Interpreting an
 * event stream": a line ends at CRLF, LF or CR; "data" lines are joined with
 * LF; one space after the colon is dropped) and must give back exactly one
 * event, of the scanned type, whose data is the rewritten JSON value.
 * A lone CR in the event's JSON (legal whitespace) must not end an SSE
 * line (issue 19 item 7; reproducer corpus/sse/lone-cr-known-issue-19-7).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "translate/event.h"
#include "translate/sse.h"

#define LOAD_FLAGS (JSON_DECODE_ANY | JSON_ALLOW_NUL)

#define FUZZ_NAME "fuzz_sse"
#include "fuzz_check.h"

typedef struct {
    dw_buf_t event, data;
    int events;      /* dispatched */
    int data_lines;  /* in the pending event */
} sse_parser_t;

static void sse_line(sse_parser_t *s, const char *p, size_t n)
{
    if (n == 0) { /* dispatch */
        if (s->data_lines > 0)
            s->events++;
        return;
    }
    const char *colon = memchr(p, ':', n);
    size_t fn = colon ? (size_t)(colon - p) : n;
    const char *v = colon ? colon + 1 : p + n;
    size_t vn = (size_t)(p + n - v);
    if (vn > 0 && *v == ' ') {
        v++;
        vn--;
    }
    if (fn == 5 && memcmp(p, "event", 5) == 0) {
        dw_buf_reset(&s->event);
        CHECK(dw_buf_append(&s->event, v, vn) == 0, "oom");
    } else if (fn == 4 && memcmp(p, "data", 4) == 0) {
        if (s->data_lines++ > 0)
            CHECK(dw_buf_append(&s->data, "\n", 1) == 0, "oom");
        CHECK(dw_buf_append(&s->data, v, vn) == 0, "oom");
    }
}

/* Splits at CRLF, LF or CR. Returns 0 if the stream ends with a complete line. */
static int sse_parse(sse_parser_t *s, const char *p, size_t n)
{
    const char *end = p + n;
    while (p < end) {
        const char *q = p;
        while (q < end && *q != '\r' && *q != '\n')
            q++;
        if (q == end)
            return -1;
        sse_line(s, p, (size_t)(q - p));
        p = q + (*q == '\r' && q + 1 < end && q[1] == '\n' ? 2 : 1);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the first byte picks what the client's previous_response_id was */
    static const char *const prevs[] = {"null", "\"resp_client\"", "\"\"", "\"r\\u00e9\\n\\\"\""};
    if (size < 1)
        return 0;
    const char *prev = prevs[data[0] % 4];
    const char *p = (const char *)data + 1;
    size_t n = size - 1;

    dw_event_t ev;
    if (dw_event_scan(p, n, &ev) != 0)
        return 0;
    CHECK(ev.type.n >= 2 && ev.type.p[0] == '"' && ev.type.p[ev.type.n - 1] == '"', "type span");

    dw_buf_t rewritten = {0}, body = {0}, out = {0};
    CHECK(dw_event_rewrite_prev(&rewritten, p, n, ev.response, prev, strlen(prev)) == 0, "rewrite");
    json_t *want = json_loadb(p, n, LOAD_FLAGS, NULL);
    json_t *got = json_loadb(rewritten.p, rewritten.len, LOAD_FLAGS, NULL);
    if (want != NULL) { /* else a number beyond jansson */
        json_t *resp = json_object_get(want, "response");
        if (ev.response.p != NULL && json_object_get(resp, "previous_response_id") != NULL)
            json_object_set_new(resp, "previous_response_id", json_loads(prev, JSON_DECODE_ANY, NULL));
        CHECK(got != NULL && json_equal(got, want), "rewritten event differs: %.*s", (int)rewritten.len, rewritten.p);
    }
    if (ev.response.p != NULL) {
        CHECK(dw_event_response_body(&body, ev.response, prev, strlen(prev)) == 0, "response body");
        json_t *rb = json_loadb(body.p, body.len, LOAD_FLAGS, NULL);
        if (want != NULL)
            CHECK(rb != NULL && json_equal(rb, json_object_get(want, "response")), "response body differs");
        json_decref(rb);
    }

    CHECK(dw_sse_append(&out, ev.type.p + 1, ev.type.n - 2, rewritten.p, rewritten.len) == 0, "render");
    sse_parser_t s = {0};
    CHECK(sse_parse(&s, out.p, out.len) == 0, "block does not end with a line end");
    int ok = s.events == 1 && s.event.len == ev.type.n - 2 &&
             (s.event.len == 0 || memcmp(s.event.p, ev.type.p + 1, s.event.len) == 0);
    json_t *back = ok ? json_loadb(s.data.p, s.data.len, LOAD_FLAGS, NULL) : NULL;
    if (want != NULL)
        ok = ok && back != NULL && json_equal(back, got);
    else
        ok = ok && dw_json_validate(s.data.p, s.data.len, &(size_t){0}) == 0;
    CHECK(ok, "SSE round trip lost the event: %.*s", (int)out.len, out.p);

    json_decref(back);
    json_decref(got);
    json_decref(want);
    dw_buf_free(&s.event);
    dw_buf_free(&s.data);
    dw_buf_free(&rewritten);
    dw_buf_free(&body);
    dw_buf_free(&out);
    return 0;
}
