#include "translate/stream_id.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEMBER_FMT "\"stream_id\":\"dw%d\","

size_t dw_stream_id_size(int n)
{
    char member[40];
    return n == 0 ? 0 : (size_t)snprintf(member, sizeof(member), MEMBER_FMT, n);
}

int dw_stream_id_put(dw_buf_t *frame, size_t at, int n)
{
    if (n == 0)
        return 0;
    char member[40];
    size_t mn = (size_t)snprintf(member, sizeof(member), MEMBER_FMT, n);
    if (frame->len <= at || frame->p[at] != '{' || dw_buf_append(frame, member, mn) != 0)
        return -1;
    char *body = frame->p + at + 1;
    memmove(body + mn, body, frame->len - mn - at - 1);
    memcpy(body, member, mn);
    return 0;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Takes the top-level member whose value is v out of the object m[0..*n); the bytes from *at on
 * moved *len back. */
static void cut_member(char *m, size_t *n, dw_span_t v, size_t *at, size_t *len)
{
    size_t from = (size_t)(v.p - m), to = from + v.n;
    while (from > 0 && m[from - 1] != ',' && m[from - 1] != '{')
        from--; /* back over `"stream_id" :` to the separator before the member */
    while (to < *n && is_space(m[to]))
        to++;
    if (to < *n && m[to] == ',')
        to++; /* a member follows: its comma goes */
    else if (from > 0 && m[from - 1] == ',')
        from--; /* the last member: the comma before it goes */
    memmove(m + from, m + to, *n - to);
    *n -= to - from;
    *at = from;
    *len = to - from;
}

/* The lane the stream_id value v names (1.. for "dw<n>"), or -1. */
static int lane_of(dw_span_t v)
{
    char *end;
    if (v.n > 4 && memcmp(v.p, "\"dw", 3) == 0 && v.p[3] >= '1' && v.p[3] <= '9') {
        long lane = strtol(v.p + 3, &end, 10);
        if (end == v.p + v.n - 1 && lane <= 1000000)
            return (int)lane;
    }
    return -1;
}

/* s after the cut at m + at of len bytes (a top-level member: no span holds it). */
static void shift(dw_span_t *s, const char *m, size_t at, size_t len)
{
    if (s->p != NULL && s->p > m + at)
        s->p -= len;
}

int dw_stream_id_take_event(char *m, size_t *n, dw_event_t *ev)
{
    if (ev->stream_id.p == NULL)
        return 0;
    size_t at, len;
    int lane = lane_of(ev->stream_id);
    cut_member(m, n, ev->stream_id, &at, &len);
    ev->stream_id = (dw_span_t){NULL, 0};
    shift(&ev->type, m, at, len);
    shift(&ev->response, m, at, len);
    shift(&ev->item, m, at, len);
    shift(&ev->error, m, at, len);
    return lane;
}

int dw_stream_id_error_about(dw_span_t msg)
{
    static const char field[] = "\"stream_id\"";
    dw_span_t t, e, param;
    if (!dw_json_object_get(msg, "type", &t) || t.n != 7 || memcmp(t.p, "\"error\"", 7) != 0)
        return 0;
    if (!(dw_json_object_get(msg, "error", &e) && dw_json_kind(e) == '{' && dw_json_object_get(e, "param", &param)) &&
        !dw_json_object_get(msg, "param", &param))
        return 0;
    return param.n == sizeof(field) - 1 && memcmp(param.p, field, sizeof(field) - 1) == 0;
}
