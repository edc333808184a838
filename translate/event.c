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

/* A member's key against a literal: raw bytes unless the key holds an escape. Whether it does is
 * looked up once per member (esc), not once per literal: dw_json_key_eqn looks for a backslash in
 * every key longer than the literal, and an event's keys ("sequence_number", "content_index") are
 * longer than most literals here (bench/RESULTS.md, session 5). */
#define KEY_IS(key, esc, lit)                                                                         \
    ((esc) ? dw_json_key_eqn(key, lit, sizeof(lit) - 1)                                              \
           : (key).n == sizeof(lit) - 1 && memcmp((key).p, lit, sizeof(lit) - 1) == 0)

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
        int esc = memchr(mb->key.p, '\\', mb->key.n) != NULL;
        if (KEY_IS(mb->key, esc, "type") && kind == '"')
            ev->type = mb->value;
        else if (KEY_IS(mb->key, esc, "response") && kind == '{')
            ev->response = mb->value;
        else if (KEY_IS(mb->key, esc, "item") && kind == '{')
            ev->item = mb->value;
        else if (KEY_IS(mb->key, esc, "error") && kind == '{')
            ev->error = mb->value;
        else if (KEY_IS(mb->key, esc, "stream_id"))
            ev->stream_id = mb->value;
        else if (KEY_IS(mb->key, esc, "output_index") && kind == '0')
            ev->output_index = span_index(mb->value);
        else if (KEY_IS(mb->key, esc, "status") && kind == '0') {
            long x = span_index(mb->value);
            ev->status = x >= 0 && x <= INT_MAX ? (int)x : 0; /* never truncated into another status */
        }
    }
    dw_members_free(&m);
    return ev->type.p ? 0 : -1;
}


int dw_event_rewrite_prev(dw_buf_t *out, const char *p, size_t n, dw_span_t obj, const char *prev, size_t prev_len)
{
    /* Every occurrence is rewritten: with a duplicate key, parsers keep the first or the last
     * (JavaScript keeps the last), and neither may see the upstream's id (found by fuzz_sse). */
    dw_members_t m = {0};
    int rc = obj.p != NULL ? dw_json_object_members(obj, &m) : DW_JSON_ENOTOBJECT;
    if (rc != 0) {
        dw_members_free(&m);
        return rc == DW_JSON_ENOMEM ? -1 : dw_buf_append(out, p, n);
    }
    const char *at = p;
    for (size_t i = 0; i < m.n && rc == 0; i++) {
        dw_span_t v = m.v[i].value;
        if (!dw_json_key_eq(m.v[i].key, "previous_response_id") || (v.n == prev_len && memcmp(v.p, prev, prev_len) == 0))
            continue;
        rc = dw_buf_append(out, at, (size_t)(v.p - at)) || dw_buf_append(out, prev, prev_len) ? -1 : 0;
        at = v.p + v.n;
    }
    if (rc == 0)
        rc = dw_buf_append(out, at, (size_t)(p + n - at));
    dw_members_free(&m);
    return rc;
}

int dw_event_response_body(dw_buf_t *out, dw_span_t response, const char *prev, size_t prev_len)
{
    return dw_event_rewrite_prev(out, response.p, response.n, response, prev, prev_len);
}
