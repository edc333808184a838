#include "translate/envelope.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "translate/errors.h"

static int status_of(dw_span_t v)
{
    if (dw_json_kind(v) != '0' || v.n == 0 || v.n > 3)
        return 0;
    int x = 0;
    for (size_t i = 0; i < v.n; i++) {
        if (v.p[i] < '0' || v.p[i] > '9')
            return 0;
        x = x * 10 + (v.p[i] - '0');
    }
    return x >= 100 && x <= 599 ? x : 0;
}

/* Reads message/type/code/param/headers of one object into env (only those still unset). */
static void read_detail(dw_span_t obj, dw_envelope_t *env, int top)
{
    dw_span_t v;
    if (env->code.p == NULL && dw_json_object_get(obj, "code", &v))
        env->code = v;
    if (env->message.p == NULL && dw_json_object_get(obj, "message", &v))
        env->message = v;
    if (env->param.p == NULL && dw_json_object_get(obj, "param", &v))
        env->param = v;
    /* at the top level "type" is the event's own ("error") */
    if (!top && env->type.p == NULL && dw_json_object_get(obj, "type", &v))
        env->type = v;
    if (env->headers.p == NULL && dw_json_object_get(obj, "headers", &v) && dw_json_kind(v) == '{')
        env->headers = v;
}

int dw_envelope_scan(const char *p, size_t n, dw_envelope_t *env)
{
    dw_span_t top = {p, n}, v;
    memset(env, 0, sizeof(*env));
    if (dw_json_kind(top) != '{')
        return -1;
    if (dw_json_object_get(top, "status", &v))
        env->status = status_of(v);
    if (env->status == 0 && dw_json_object_get(top, "status_code", &v))
        env->status = status_of(v);
    if (dw_json_object_get(top, "stream_id", &v) && dw_json_kind(v) == '"')
        env->stream_id = v;
    if (dw_json_object_get(top, "error", &v) && dw_json_kind(v) == '{') {
        env->detail = v;
        read_detail(v, env, 0);
    } else {
        env->detail = top;
    }
    read_detail(top, env, 1); /* the flat form, and a top-level headers map */
    return 0;
}

int dw_envelope_code_is(const dw_envelope_t *env, const char *code)
{
    size_t n = strlen(code);
    return env->code.p != NULL && env->code.n == n + 2 && env->code.p[0] == '"' && memcmp(env->code.p + 1, code, n) == 0;
}

int dw_envelope_http_status(const dw_envelope_t *env)
{
    return env->status >= 400 ? env->status : 500;
}

static int append_raw_or_null(dw_buf_t *out, dw_span_t v)
{
    return v.p != NULL ? dw_buf_append(out, v.p, v.n) : dw_buf_append_str(out, "null");
}

static int append_fields(dw_buf_t *out, const dw_envelope_t *env, int with_type)
{
    if (dw_buf_append_str(out, "\"message\":") || append_raw_or_null(out, env->message))
        return -1;
    if (with_type) {
        if (dw_buf_append_str(out, ",\"type\":"))
            return -1;
        if (env->type.p != NULL ? dw_buf_append(out, env->type.p, env->type.n)
                                : dw_buf_append_json_string(out, dw_error_type_for_status(dw_envelope_http_status(env)),
                                                            strlen(dw_error_type_for_status(dw_envelope_http_status(env)))))
            return -1;
    }
    return dw_buf_append_str(out, ",\"param\":") || append_raw_or_null(out, env->param) ||
                   dw_buf_append_str(out, ",\"code\":") || append_raw_or_null(out, env->code)
               ? -1
               : 0;
}

int dw_envelope_http_body(dw_buf_t *out, const dw_envelope_t *env)
{
    return dw_buf_append_str(out, "{\"error\":{") || append_fields(out, env, 1) || dw_buf_append_str(out, "}}") ? -1
                                                                                                                 : 0;
}

int dw_envelope_sse_error(dw_buf_t *out, const dw_envelope_t *env, long seq)
{
    char tail[48];
    snprintf(tail, sizeof(tail), ",\"sequence_number\":%ld}", seq);
    /* the HTTP event names the code, message and param at the top level, as the service does */
    if (dw_buf_append_str(out, "{\"type\":\"error\",\"code\":") || append_raw_or_null(out, env->code) ||
        dw_buf_append_str(out, ",\"message\":") || append_raw_or_null(out, env->message) ||
        dw_buf_append_str(out, ",\"param\":") || append_raw_or_null(out, env->param) || dw_buf_append_str(out, tail))
        return -1;
    return 0;
}

int dw_envelope_header_allowed(const char *name, size_t n)
{
    static const char *const exact[] = {"retry-after", "retry-after-ms", "x-request-id"};
    static const char *const prefix[] = {"x-ratelimit-", "openai-"};
    for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
        if (strlen(exact[i]) == n && strncasecmp(name, exact[i], n) == 0)
            return 1;
    for (size_t i = 0; i < sizeof(prefix) / sizeof(prefix[0]); i++) {
        size_t k = strlen(prefix[i]);
        if (n > k && strncasecmp(name, prefix[i], k) == 0)
            return 1;
    }
    return 0;
}

int dw_envelope_headers(const dw_envelope_t *env, dw_members_t *out)
{
    if (env->headers.p == NULL)
        return 0;
    dw_members_t all = {0};
    int rc = dw_json_object_members(env->headers, &all);
    for (size_t i = 0; rc == 0 && i < all.n; i++) {
        dw_member_t *m = &all.v[i];
        /* header names are tokens: a key with escapes is no header we give back */
        if (memchr(m->key.p, '\\', m->key.n) != NULL || dw_json_kind(m->value) != '"' ||
            !dw_envelope_header_allowed(m->key.p, m->key.n))
            continue;
        if (out->n == out->cap) {
            size_t cap = out->cap ? out->cap * 2 : 8;
            dw_member_t *v = realloc(out->v, cap * sizeof(*v));
            if (v == NULL) {
                rc = DW_JSON_ENOMEM;
                break;
            }
            out->v = v;
            out->cap = cap;
        }
        out->v[out->n++] = *m;
    }
    dw_members_free(&all);
    return rc;
}
