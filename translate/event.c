#include "translate/event.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* A non-negative integer that fits a long, or -1 (fraction, exponent, sign, too large). */
static long span_index(dw_span_t v)
{
    char tmp[32];
    if (v.n == 0 || v.n >= sizeof(tmp) || v.p[0] == '-')
        return -1;
    memcpy(tmp, v.p, v.n);
    tmp[v.n] = '\0';
    char *end;
    errno = 0;
    long x = strtol(tmp, &end, 10);
    return *end == '\0' && errno == 0 ? x : -1;
}

int dw_event_scan(const char *p, size_t n, dw_event_t *ev)
{
    dw_members_t m = {0};
    size_t off;
    memset(ev, 0, sizeof(*ev));
    ev->output_index = -1;
    if (dw_json_scan_object(p, n, NULL, &m, NULL, &off) != 0) {
        dw_members_free(&m);
        return -1;
    }
    for (size_t i = 0; i < m.n; i++) {
        dw_member_t *mb = &m.v[i];
        char kind = dw_json_kind(mb->value);
        if (dw_json_key_eq(mb->key, "type") && kind == '"')
            ev->type = mb->value;
        else if (dw_json_key_eq(mb->key, "response") && kind == '{')
            ev->response = mb->value;
        else if (dw_json_key_eq(mb->key, "item") && kind == '{')
            ev->item = mb->value;
        else if (dw_json_key_eq(mb->key, "error") && kind == '{')
            ev->error = mb->value;
        else if (dw_json_key_eq(mb->key, "output_index") && kind == '0')
            ev->output_index = span_index(mb->value);
        else if (dw_json_key_eq(mb->key, "status") && kind == '0') {
            long x = span_index(mb->value);
            ev->status = x >= 0 && x <= INT_MAX ? (int)x : 0; /* never truncated into another status */
        }
    }
    dw_members_free(&m);
    return ev->type.p ? 0 : -1;
}

int dw_event_is(const dw_event_t *ev, const char *type)
{
    size_t n = strlen(type);
    /* event types never carry escapes, so the raw bytes between the quotes are the value */
    return ev->type.n == n + 2 && memcmp(ev->type.p + 1, type, n) == 0;
}

int dw_event_rewrite_prev(dw_buf_t *out, const char *p, size_t n, dw_span_t obj, const char *prev, size_t prev_len)
{
    dw_span_t val;
    if (obj.p == NULL || !dw_json_object_get(obj, "previous_response_id", &val) ||
        (val.n == prev_len && memcmp(val.p, prev, prev_len) == 0))
        return dw_buf_append(out, p, n);
    size_t head = (size_t)(val.p - p);
    size_t tail = n - head - val.n;
    if (dw_buf_append(out, p, head) || dw_buf_append(out, prev, prev_len) || dw_buf_append(out, val.p + val.n, tail))
        return -1;
    return 0;
}

int dw_event_response_body(dw_buf_t *out, dw_span_t response, const char *prev, size_t prev_len)
{
    return dw_event_rewrite_prev(out, response.p, response.n, response, prev, prev_len);
}
