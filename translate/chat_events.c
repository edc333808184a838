/*
 * Responses events → Chat Completions chunks and objects. See chat_events.h for the mapping.
 * Strings move as their raw JSON bytes (escapes untouched); joining two JSON strings is joining
 * what lies between their quotes.
 */
#include "translate/chat_events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "translate/errors.h"
#include "translate/event.h"

static int put(dw_buf_t *b, const char *s)
{
    return dw_buf_append_str(b, s);
}

static int put_span(dw_buf_t *b, dw_span_t v)
{
    return dw_buf_append(b, v.p, v.n);
}

static int str_is(dw_span_t v, const char *lit)
{
    return v.n >= 2 && v.p[0] == '"' && dw_json_key_eq((dw_span_t){v.p + 1, v.n - 2}, lit);
}

static dw_span_t get(dw_span_t obj, const char *key)
{
    dw_span_t v = {NULL, 0};
    if (obj.p == NULL || !dw_json_object_get(obj, key, &v))
        return (dw_span_t){NULL, 0};
    return v;
}

static int is_str(dw_span_t v)
{
    return v.p != NULL && dw_json_kind(v) == '"';
}

/* The JSON string value, or the fallback literal. */
static int put_str_or(dw_buf_t *b, dw_span_t v, const char *dflt)
{
    return is_str(v) ? put_span(b, v) : put(b, dflt);
}

/* `{"id":"chatcmpl-…","object":<object>,"created":…,"model":…` from a response object. */
static int put_head(dw_buf_t *b, dw_span_t response, const char *object)
{
    dw_span_t id = get(response, "id"), created = get(response, "created_at"), model = get(response, "model");
    dw_span_t tier = get(response, "service_tier");
    if (!is_str(id))
        return -1;
    dw_span_t inner = {id.p + 1, id.n - 2};
    if (inner.n >= 5 && memcmp(inner.p, "resp_", 5) == 0) {
        inner.p += 5;
        inner.n -= 5;
    }
    if (put(b, "{\"id\":\"chatcmpl-") || put_span(b, inner) || put(b, "\",\"object\":\"") || put(b, object) ||
        put(b, "\",\"created\":") || (dw_json_kind(created) == '0' ? put_span(b, created) : put(b, "0")) ||
        put(b, ",\"model\":") || put_str_or(b, model, "\"\""))
        return -1;
    if (is_str(tier) && (put(b, ",\"service_tier\":") || put_span(b, tier)))
        return -1;
    return 0;
}

/* --- usage and errors ------------------------------------------------------------------------ */

int dw_chat_usage(dw_span_t usage, dw_buf_t *out)
{
    dw_span_t in = get(usage, "input_tokens"), outp = get(usage, "output_tokens"), total = get(usage, "total_tokens");
    dw_span_t cached = get(get(usage, "input_tokens_details"), "cached_tokens");
    dw_span_t reasoning = get(get(usage, "output_tokens_details"), "reasoning_tokens");
#define NUM(v) (dw_json_kind(v) == '0' ? put_span(out, v) : put(out, "0"))
    if (put(out, "{\"prompt_tokens\":") || NUM(in) || put(out, ",\"completion_tokens\":") || NUM(outp) ||
        put(out, ",\"total_tokens\":") || NUM(total) || put(out, ",\"prompt_tokens_details\":{\"cached_tokens\":") ||
        NUM(cached) || put(out, "},\"completion_tokens_details\":{\"reasoning_tokens\":") || NUM(reasoning) ||
        put(out, "}}"))
        return -1;
#undef NUM
    return 0;
}

static int status_for_code(dw_span_t code)
{
    if (str_is(code, "invalid_prompt"))
        return 400;
    if (str_is(code, "rate_limit_exceeded"))
        return 429;
    return 500;
}

int dw_chat_error_body(dw_span_t error, int envelope_status, dw_buf_t *out, int *status)
{
    dw_span_t message = get(error, "message"), type = get(error, "type"), param = get(error, "param"),
              code = get(error, "code");
    *status = envelope_status >= 400 && envelope_status < 600 ? envelope_status : status_for_code(code);
    if (put(out, "{\"error\":{\"message\":") || put_str_or(out, message, "\"upstream error\"") || put(out, ",\"type\":"))
        return -1;
    /* the flat SSE error event has type "error": not an error type */
    if (is_str(type) && !str_is(type, "error") ? put_span(out, type) : dw_buf_append_json_string(out, dw_error_type_for_status(*status),
                                                                        strlen(dw_error_type_for_status(*status))))
        return -1;
    return put(out, ",\"param\":") || put_str_or(out, param, "null") || put(out, ",\"code\":") ||
                   put_str_or(out, code, "null") || put(out, "}}")
               ? -1 : 0;
}

/* --- the assistant message of an output array ---------------------------------------------- */

/* Appends the bytes between the quotes of every part of type `kind` (field `field`) of every
 * message item, i.e. the joined string without its quotes. Returns the number of parts, -1 on
 * no memory. */
static int join_parts(const dw_spans_t *items, const char *kind, const char *field, dw_buf_t *out)
{
    int nparts = 0;
    dw_spans_t parts = {0};
    for (size_t i = 0; i < items->n; i++) {
        if (!str_is(get(items->v[i], "type"), "message"))
            continue;
        parts.n = 0;
        dw_span_t content = get(items->v[i], "content");
        if (content.p == NULL || dw_json_kind(content) != '[' || dw_json_array_elems(content, &parts) != 0)
            continue;
        for (size_t k = 0; k < parts.n; k++) {
            dw_span_t t = get(parts.v[k], field);
            if (!str_is(get(parts.v[k], "type"), kind) || !is_str(t))
                continue;
            if (dw_buf_append(out, t.p + 1, t.n - 2)) {
                dw_spans_free(&parts);
                return -1;
            }
            nparts++;
        }
    }
    dw_spans_free(&parts);
    return nparts;
}

int dw_chat_message(dw_span_t output, int legacy, dw_buf_t *out, int *hidden, int *tool_calls)
{
    dw_spans_t items = {0};
    int rc = -1, n;
    *hidden = 0;
    *tool_calls = 0;
    if (output.p != NULL && dw_json_kind(output) == '[' && dw_json_array_elems(output, &items) != 0)
        goto done;
    for (size_t i = 0; i < items.n; i++) {
        dw_span_t type = get(items.v[i], "type");
        if (str_is(type, "function_call"))
            (*tool_calls)++;
        else if (!str_is(type, "message"))
            *hidden = 1;
    }
    if (put(out, "{\"role\":\"assistant\",\"content\":\""))
        goto done;
    if ((n = join_parts(&items, "output_text", "text", out)) < 0)
        goto done;
    if (n == 0) { /* no text at all: null, as the API answers a pure tool call */
        out->len -= 1;
        if (put(out, "null"))
            goto done;
    } else if (put(out, "\"")) {
        goto done;
    }
    if (put(out, ",\"refusal\":\""))
        goto done;
    if ((n = join_parts(&items, "refusal", "refusal", out)) < 0)
        goto done;
    if (n == 0) {
        out->len -= 1;
        if (put(out, "null"))
            goto done;
    } else if (put(out, "\"")) {
        goto done;
    }
    if (put(out, ",\"annotations\":[]"))
        goto done;
    if (*tool_calls > 0 && legacy) {
        /* the legacy answer holds one call (the request set parallel_tool_calls false) */
        for (size_t i = 0; i < items.n; i++) {
            if (!str_is(get(items.v[i], "type"), "function_call"))
                continue;
            if (put(out, ",\"function_call\":{\"name\":") || put_str_or(out, get(items.v[i], "name"), "\"\"") ||
                put(out, ",\"arguments\":") || put_str_or(out, get(items.v[i], "arguments"), "\"\"") || put(out, "}"))
                goto done;
            break;
        }
    } else if (*tool_calls > 0) {
        int k = 0;
        if (put(out, ",\"tool_calls\":["))
            goto done;
        for (size_t i = 0; i < items.n; i++) {
            if (!str_is(get(items.v[i], "type"), "function_call"))
                continue;
            if ((k++ > 0 && put(out, ",")) || put(out, "{\"id\":") || put_str_or(out, get(items.v[i], "call_id"), "\"\"") ||
                put(out, ",\"type\":\"function\",\"function\":{\"name\":") ||
                put_str_or(out, get(items.v[i], "name"), "\"\"") || put(out, ",\"arguments\":") ||
                put_str_or(out, get(items.v[i], "arguments"), "\"\"") || put(out, "}}"))
                goto done;
        }
        if (put(out, "]"))
            goto done;
    }
    rc = put(out, "}");
done:
    dw_spans_free(&items);
    return rc;
}

/* finish_reason for a final response object with `ntools` function calls. */
static const char *finish_reason(dw_span_t response, int ntools, int legacy)
{
    if (str_is(get(response, "status"), "incomplete")) {
        dw_span_t why = get(get(response, "incomplete_details"), "reason");
        if (str_is(why, "max_output_tokens"))
            return "\"length\"";
        if (str_is(why, "content_filter"))
            return "\"content_filter\"";
    }
    if (ntools > 0)
        return legacy ? "\"function_call\"" : "\"tool_calls\"";
    return "\"stop\"";
}

int dw_chat_completion(dw_span_t response, int legacy, dw_buf_t *out)
{
    int hidden, ntools;
    dw_span_t usage = get(response, "usage");
    if (put_head(out, response, "chat.completion") || put(out, ",\"choices\":[{\"index\":0,\"message\":") ||
        dw_chat_message(get(response, "output"), legacy, out, &hidden, &ntools) || put(out, ",\"logprobs\":null,\"finish_reason\":") ||
        put(out, finish_reason(response, ntools, legacy)) || put(out, "}]"))
        return -1;
    if (usage.p != NULL && dw_json_kind(usage) == '{' && (put(out, ",\"usage\":") || dw_chat_usage(usage, out)))
        return -1;
    return put(out, "}");
}

/* --- streaming ------------------------------------------------------------------------------- */

void dw_chat_stream_init(dw_chat_stream_t *s, int include_usage, int legacy_functions)
{
    memset(s, 0, sizeof *s);
    s->include_usage = include_usage != 0;
    s->legacy = legacy_functions != 0;
}

void dw_chat_stream_free(dw_chat_stream_t *s)
{
    dw_buf_free(&s->head);
    free(s->slots);
    memset(s, 0, sizeof *s);
}

/* Output indexes above this are refused as malformed (the slots array is indexed by them). */
#define MAX_OUTPUT_INDEX 65535

/* The slot of a valid output index, created on first use; NULL when out of memory. */
static dw_chat_slot_t *slot(dw_chat_stream_t *s, long index)
{
    size_t i = (size_t)index;
    if (i >= s->nslots) {
        size_t n = s->nslots ? s->nslots : 8;
        while (n <= i)
            n *= 2;
        dw_chat_slot_t *v = realloc(s->slots, n * sizeof *v);
        if (v == NULL)
            return NULL;
        for (size_t k = s->nslots; k < n; k++)
            v[k] = (dw_chat_slot_t){-1, 0};
        s->slots = v;
        s->nslots = n;
    }
    return &s->slots[i];
}

static int head_from(dw_chat_stream_t *s, dw_span_t response)
{
    if (s->head.len > 0 || response.p == NULL)
        return 0;
    return put_head(&s->head, response, "chat.completion.chunk");
}

/* `data: <head>,"choices":[{"index":0,"delta":{` */
static int open_chunk(dw_chat_stream_t *s, dw_buf_t *out)
{
    if (s->head.len == 0 && put(&s->head, "{\"id\":\"chatcmpl-\",\"object\":\"chat.completion.chunk\",\"created\":0,\"model\":\"\""))
        return -1;
    s->emitted = 1;
    return put(out, "data: ") || dw_buf_append(out, s->head.p, s->head.len) ||
           put(out, ",\"choices\":[{\"index\":0,\"delta\":{");
}

static int close_chunk(dw_chat_stream_t *s, dw_buf_t *out, const char *finish)
{
    return put(out, "},\"logprobs\":null,\"finish_reason\":") || put(out, finish ? finish : "null") || put(out, "}]") ||
           (s->include_usage && put(out, ",\"usage\":null")) || put(out, "}\n\n");
}

static int chunk(dw_chat_stream_t *s, dw_buf_t *out, const char *a, dw_span_t v, const char *b)
{
    return open_chunk(s, out) || put(out, a) || put_span(out, v) || put(out, b) || close_chunk(s, out, NULL);
}

/* The role chunk the API sends first; `first` is what follows the role in it. */
static int role_chunk(dw_chat_stream_t *s, dw_buf_t *out, const char *first)
{
    if (s->emitted)
        return 0;
    return open_chunk(s, out) || put(out, "\"role\":\"assistant\",") || put(out, first) || close_chunk(s, out, NULL);
}

/* Returns 0, -1 (no memory) or 1 (a function call without a usable output_index). */
static int on_item_added(dw_chat_stream_t *s, const dw_event_t *ev, dw_buf_t *out)
{
    if (!str_is(get(ev->item, "type"), "function_call"))
        return 0;
    if (ev->output_index < 0 || ev->output_index > MAX_OUTPUT_INDEX)
        return 1;
    dw_chat_slot_t *sl = slot(s, ev->output_index);
    if (sl == NULL)
        return -1;
    if (s->legacy && s->ntools > 0)
        return 0; /* one call per legacy answer; parallel_tool_calls was false */
    sl->tool = s->ntools++;
    char idx[24];
    snprintf(idx, sizeof idx, "%d", sl->tool);
    /* arguments are "" here; a server that sends them whole is passed through */
    dw_span_t args = get(ev->item, "arguments");
    sl->args = is_str(args) && args.n > 2;
    int first = !s->emitted;
    if (s->legacy)
        return open_chunk(s, out) || (first && put(out, "\"role\":\"assistant\",\"content\":null,")) ||
               put(out, "\"function_call\":{\"name\":") || put_str_or(out, get(ev->item, "name"), "\"\"") ||
               put(out, ",\"arguments\":") || put_str_or(out, args, "\"\"") || put(out, "}") || close_chunk(s, out, NULL);
    return open_chunk(s, out) || (first && put(out, "\"role\":\"assistant\",\"content\":null,")) ||
           put(out, "\"tool_calls\":[{\"index\":") || put(out, idx) || put(out, ",\"id\":") ||
           put_str_or(out, get(ev->item, "call_id"), "\"\"") || put(out, ",\"type\":\"function\",\"function\":{\"name\":") ||
           put_str_or(out, get(ev->item, "name"), "\"\"") || put(out, ",\"arguments\":") || put_str_or(out, args, "\"\"") ||
           put(out, "}}]") || close_chunk(s, out, NULL);
}

static int tool_args_chunk(dw_chat_stream_t *s, const dw_chat_slot_t *sl, dw_span_t args, dw_buf_t *out)
{
    char idx[24];
    snprintf(idx, sizeof idx, "%d", sl->tool);
    if (s->legacy)
        return open_chunk(s, out) || put(out, "\"function_call\":{\"arguments\":") || put_span(out, args) || put(out, "}") ||
               close_chunk(s, out, NULL);
    return open_chunk(s, out) || put(out, "\"tool_calls\":[{\"index\":") || put(out, idx) ||
           put(out, ",\"function\":{\"arguments\":") || put_span(out, args) || put(out, "}}]") || close_chunk(s, out, NULL);
}

/* A function call whose arguments came only with output_item.done still reaches the client. */
static int on_item_done(dw_chat_stream_t *s, const dw_event_t *ev, dw_buf_t *out)
{
    if (!str_is(get(ev->item, "type"), "function_call") || ev->output_index < 0 || (size_t)ev->output_index >= s->nslots)
        return 0;
    dw_chat_slot_t *sl = &s->slots[ev->output_index];
    dw_span_t args = get(ev->item, "arguments");
    if (sl->tool < 0 || sl->args || !is_str(args) || args.n <= 2)
        return 0;
    sl->args = 1;
    return tool_args_chunk(s, sl, args, out);
}

static int on_args_delta(dw_chat_stream_t *s, const dw_event_t *ev, dw_span_t delta, dw_buf_t *out)
{
    if (ev->output_index < 0 || (size_t)ev->output_index >= s->nslots || s->slots[ev->output_index].tool < 0 ||
        !is_str(delta))
        return 0;
    dw_chat_slot_t *sl = &s->slots[ev->output_index];
    sl->args = 1;
    return tool_args_chunk(s, sl, delta, out);
}

static int on_terminal(dw_chat_stream_t *s, dw_span_t response, dw_buf_t *out)
{
    if (role_chunk(s, out, "\"content\":\"\",\"refusal\":null") || open_chunk(s, out) ||
        close_chunk(s, out, finish_reason(response, s->ntools, s->legacy)))
        return -1;
    dw_span_t usage = get(response, "usage");
    if (s->include_usage) {
        if (put(out, "data: ") || dw_buf_append(out, s->head.p, s->head.len) || put(out, ",\"choices\":[],\"usage\":") ||
            (dw_json_kind(usage) == '{' ? dw_chat_usage(usage, out) : put(out, "null")) || put(out, "}\n\n"))
            return -1;
    }
    return put(out, "data: [DONE]\n\n");
}

static int on_error(dw_span_t error, int status, dw_buf_t *out)
{
    int st;
    return put(out, "data: ") || dw_chat_error_body(error, status, out, &st) || put(out, "\n\n");
}

int dw_chat_stream_event(dw_chat_stream_t *s, const char *p, size_t n, dw_buf_t *out)
{
    dw_event_t ev;
    if (dw_event_scan(p, n, &ev) != 0)
        return DW_CHAT_EV_EBADEVENT;
    if (head_from(s, ev.response) != 0)
        return DW_CHAT_EV_ENOMEM;
    dw_span_t whole = {p, n};
    int rc = 0;

    if (dw_event_is(&ev, "response.output_text.delta")) {
        dw_span_t d = get(whole, "delta");
        if (is_str(d))
            rc = role_chunk(s, out, "\"content\":\"\",\"refusal\":null") || chunk(s, out, "\"content\":", d, "");
    } else if (dw_event_is(&ev, "response.refusal.delta")) {
        dw_span_t d = get(whole, "delta");
        if (is_str(d))
            rc = role_chunk(s, out, "\"content\":null,\"refusal\":\"\"") || chunk(s, out, "\"refusal\":", d, "");
    } else if (dw_event_is(&ev, "response.output_item.added")) {
        if ((rc = on_item_added(s, &ev, out)) > 0)
            return DW_CHAT_EV_EBADEVENT;
    } else if (dw_event_is(&ev, "response.function_call_arguments.delta")) {
        rc = on_args_delta(s, &ev, get(whole, "delta"), out);
    } else if (dw_event_is(&ev, "response.output_item.done")) {
        rc = on_item_done(s, &ev, out);
    } else if (dw_event_is(&ev, "error")) {
        /* the WebSocket envelope nests the error; the flat SSE form is the event itself */
        return on_error(ev.error.p ? ev.error : whole, ev.status, out) ? DW_CHAT_EV_ENOMEM : DW_CHAT_EV_FAILED;
    } else if (dw_event_is(&ev, "response.completed") || dw_event_is(&ev, "response.incomplete") ||
               dw_event_is(&ev, "response.failed") || dw_event_is(&ev, "response.done")) {
        dw_span_t status = get(ev.response, "status");
        if (dw_event_is(&ev, "response.failed") || str_is(status, "failed") || str_is(status, "cancelled"))
            return on_error(get(ev.response, "error"), 0, out) ? DW_CHAT_EV_ENOMEM : DW_CHAT_EV_FAILED;
        return on_terminal(s, ev.response, out) ? DW_CHAT_EV_ENOMEM : DW_CHAT_EV_DONE;
    }
    return rc ? DW_CHAT_EV_ENOMEM : DW_CHAT_EV_MORE;
}
