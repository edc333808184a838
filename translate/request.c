#include "translate/request.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int refuse(dw_request_err_t *err, int status, const char *code, const char *param, const char *fmt, ...)
{
    err->status = status;
    err->code = code;
    err->param = param;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return -1;
}

/* The member named key, or NULL; *dup is set when it occurs more than once. */
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

/* The JSON kind of a member's value ('n' for null), 0 when absent. */
static char kind_of(const dw_member_t *m)
{
    return m != NULL ? dw_json_kind(m->value) : 0;
}

/* The body is scanned (rc, off: dw_json_scan_object's) into rq: the rest of dw_request_parse. */
static int check(dw_request_t *rq, int rc, size_t off, dw_request_err_t *err)
{
    if (rc == DW_JSON_ENOMEM)
        return refuse(err, 500, NULL, NULL, "out of memory while reading the request body");
    if (rc == DW_JSON_ENOTOBJECT)
        return refuse(err, 400, "invalid_json", NULL, "The request body must be a JSON object.");
    if (rc != 0)
        return refuse(err, 400, "invalid_json", NULL,
                      "We could not parse the JSON body of your request (invalid JSON at byte %zu). The OpenAI API "
                      "expects a JSON payload.",
                      off);
    int dup = 0;
    const dw_member_t *input = member(&rq->members, "input", &dup);
    const dw_member_t *stream = member(&rq->members, "stream", &dup);
    const dw_member_t *store = member(&rq->members, "store", &dup);
    const dw_member_t *prev = member(&rq->members, "previous_response_id", &dup);
    const dw_member_t *conversation = member(&rq->members, "conversation", &dup);
    /* a prompt template or server-side context management shapes the context on the server: what
     * a previous response holds is then not provably the client's items, so no delta */
    const dw_member_t *prompt = member(&rq->members, "prompt", &dup);
    const dw_member_t *context_management = member(&rq->members, "context_management", &dup);
    const dw_member_t *background = member(&rq->members, "background", &dup);
    member(&rq->members, "model", &dup);
    if (dup)
        return refuse(err, 400, "duplicate_key", NULL,
                      "The request body repeats a top-level field; send each field once.");
    /* WebSocket-only fields: the HTTP API refuses them as unknown (upstream-protocol.md section
     * 2); they never reach the upstream frame */
    static const char *const ws_only[] = {"generate", "stream_id"};
    for (size_t i = 0; i < sizeof(ws_only) / sizeof(ws_only[0]); i++)
        if (member(&rq->members, ws_only[i], &dup) != NULL)
            return refuse(err, 400, "unknown_parameter", ws_only[i], "Unknown parameter: '%s'.", ws_only[i]);
    char kind = kind_of(input);
    if (input != NULL && kind != '[' && kind != '"')
        return refuse(err, 400, "invalid_type", "input",
                      "Invalid type for 'input': expected a string or an array of input items.");
    char sk = kind_of(stream);
    if (stream != NULL && sk != 't' && sk != 'f' && sk != 'n')
        return refuse(err, 400, "invalid_type", "stream", "Invalid type for 'stream': expected a boolean.");
    rq->stream = sk == 't';
    rq->store = kind_of(store) != 'f';
    rq->background = kind_of(background) == 't';
    int has_prev = prev != NULL && kind_of(prev) != 'n';
    if (has_prev)
        rq->prev = prev->value;
    rq->has_prev = kind_of(prev) == '"';
    int server_shaped = (prompt != NULL && kind_of(prompt) != 'n') ||
                        (context_management != NULL && kind_of(context_management) != 'n');
    rq->verbatim = has_prev || conversation != NULL || server_shaped || input == NULL || kind == '"';
    if (kind == '"') {
        rq->string_input = input->value;
        rq->string_chain = !has_prev && conversation == NULL && !server_shaped;
    }
    return 0;
}

/* Resets rq; 0 when the body may be scanned, else -1 with *err filled. */
static int begin(dw_request_t *rq, const char *body, size_t n, size_t max_body, dw_request_err_t *err)
{
    memset(rq, 0, sizeof(*rq));
    rq->prev = (dw_span_t){"null", 4};
    if (body == NULL)
        return refuse(err, 400, "missing_body", NULL, "The request needs a JSON body.");
    if (n > max_body)
        return refuse(err, 413, "request_too_large", NULL, "The request body exceeds the configured limit.");
    return 0;
}

int dw_request_parse(dw_request_t *rq, const char *body, size_t n, size_t max_body, dw_request_err_t *err)
{
    if (begin(rq, body, n, max_body, err) != 0)
        return -1;
    size_t off = 0;
    int rc = dw_json_scan_object(body, n, "input", &rq->members, &rq->items, &off);
    return check(rq, rc, off, err);
}

int dw_request_parse_from(dw_request_t *rq, const char *body, size_t n, size_t max_body, const dw_json_resume_t *at,
                          size_t same, dw_request_err_t *err)
{
    if (begin(rq, body, n, max_body, err) != 0)
        return -1;
    size_t off = 0;
    int rc = dw_json_scan_object_from(body, n, "input", at, same, &rq->members, &rq->items, &off);
    return check(rq, rc, off, err);
}

void dw_request_free(dw_request_t *rq)
{
    dw_members_free(&rq->members);
    dw_spans_free(&rq->items);
}
