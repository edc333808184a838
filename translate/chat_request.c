/*
 * Chat Completions request → Responses request. See chat_request.h and the README (Chat Completions) for the mapping;
 * every refusal below names the field so the log line says why the request went over HTTP.
 */
#include "translate/chat_request.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- small helpers ----------------------------------------------------------------------- */

static int fallback(char reason[DW_CHAT_REASON_MAX], const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, DW_CHAT_REASON_MAX, fmt, ap);
    va_end(ap);
    return DW_CHAT_FALLBACK;
}

/* 1 if the validated value v is a string whose decoded value equals lit. */
static int str_is(dw_span_t v, const char *lit)
{
    return v.n >= 2 && v.p[0] == '"' && dw_json_key_eq((dw_span_t){v.p + 1, v.n - 2}, lit);
}

static int is_str(dw_span_t v)
{
    return dw_json_kind(v) == '"';
}

static int present(dw_span_t v)
{
    return v.p != NULL && !dw_json_is_null(v);
}

static int put(dw_buf_t *b, const char *s)
{
    return dw_buf_append_str(b, s);
}

static int put_span(dw_buf_t *b, dw_span_t v)
{
    return dw_buf_append(b, v.p, v.n);
}

/* Appends ,"key":<raw value>. */
static int put_member(dw_buf_t *b, const char *key, dw_span_t v)
{
    return put(b, ",\"") || put(b, key) || put(b, "\":") || put_span(b, v);
}

/* The value is the integer 0, 0.0, -0... */
static int is_zero(dw_span_t v)
{
    if (dw_json_kind(v) != '0' || v.n > 31)
        return 0;
    char tmp[32];
    memcpy(tmp, v.p, v.n);
    tmp[v.n] = '\0';
    return strtod(tmp, NULL) == 0.0;
}

/* An integer value below lim (non-integers and huge values are not). */
static int int_below(dw_span_t v, long lim)
{
    if (dw_json_kind(v) != '0' || v.n > 20)
        return 0;
    char tmp[24], *end;
    memcpy(tmp, v.p, v.n);
    tmp[v.n] = '\0';
    long x = strtol(tmp, &end, 10);
    return *end == '\0' && x < lim;
}

/* Members of obj looked up by a fixed key table: vals[i] is the value of keys[i] or {NULL,0}.
 * An unknown or repeated key sets *bad (and *dup for a repeat) and gives DW_CHAT_FALLBACK. */
static int pick(dw_span_t obj, const char *const *keys, size_t nkeys, dw_span_t *vals, dw_span_t *bad, int *dup)
{
    dw_members_t m = {0};
    memset(vals, 0, nkeys * sizeof *vals);
    int rc = dw_json_object_members(obj, &m);
    if (rc != 0) {
        dw_members_free(&m);
        return rc == DW_JSON_ENOMEM ? DW_CHAT_ENOMEM : DW_CHAT_FALLBACK;
    }
    rc = DW_CHAT_OK;
    for (size_t i = 0; i < m.n && rc == DW_CHAT_OK; i++) {
        size_t k = 0;
        while (k < nkeys && !dw_json_key_eq(m.v[i].key, keys[k]))
            k++;
        if (k == nkeys || vals[k].p != NULL) {
            *bad = m.v[i].key;
            *dup = k < nkeys;
            rc = DW_CHAT_FALLBACK;
        } else {
            vals[k] = m.v[i].value;
        }
    }
    dw_members_free(&m);
    return rc;
}

/* A key for a reason: printable identifier bytes only (it goes into a log line). */
static const char *key_name(dw_span_t key, char *buf, size_t cap)
{
    size_t i = 0;
    for (; i < key.n && i + 1 < cap; i++) {
        char c = key.p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
            return "(unprintable)";
        buf[i] = c;
    }
    buf[i] = '\0';
    return i < key.n ? "(long name)" : buf;
}

/* pick() with the reason naming the object (printf-style where, e.g. "messages[%zu]"). */
static int pick_at(dw_span_t obj, const char *const *keys, size_t nkeys, dw_span_t *vals, char reason[DW_CHAT_REASON_MAX],
                   const char *fmt, ...)
{
    char where[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(where, sizeof where, fmt, ap);
    va_end(ap);
    dw_span_t bad = {NULL, 0};
    int dup = 0;
    if (dw_json_kind(obj) != '{')
        return fallback(reason, "%s is not an object", where);
    int rc = pick(obj, keys, nkeys, vals, &bad, &dup);
    if (rc == DW_CHAT_FALLBACK) {
        char name[40];
        if (bad.p == NULL)
            return fallback(reason, "%s is malformed", where);
        return fallback(reason, "%s.%s %s", where, key_name(bad, name, sizeof name), dup ? "given twice" : "is not supported");
    }
    return rc;
}

/* Iterates the elements of a validated array: *elems is (re)filled. */
static int elems_of(dw_span_t arr, dw_spans_t *elems)
{
    elems->n = 0;
    int rc = dw_json_array_elems(arr, elems);
    return rc == 0 ? DW_CHAT_OK : rc == DW_JSON_ENOMEM ? DW_CHAT_ENOMEM : DW_CHAT_FALLBACK;
}

/* --- content parts ------------------------------------------------------------------------ */

enum { P_TYPE, P_TEXT, P_IMAGE_URL, P_FILE, P_INPUT_AUDIO, P_REFUSAL, P_BREAKPOINT, P_N };
static const char *const part_keys[P_N] = {"type", "text", "image_url", "file", "input_audio", "refusal", "prompt_cache_breakpoint"};

enum { ROLE_SYSTEM, ROLE_USER, ROLE_ASSISTANT, ROLE_TOOL, ROLE_FUNCTION };

/* One content part of a message with the given role, translated. */
static int put_part(dw_buf_t *out, dw_span_t part, int role, size_t mi, char reason[DW_CHAT_REASON_MAX])
{
    dw_span_t v[P_N];
    int rc = pick_at(part, part_keys, P_N, v, reason, "messages[%zu].content[]", mi);
    if (rc != DW_CHAT_OK)
        return rc;
    unsigned have = 0;
    for (int k = 0; k < P_N; k++)
        have |= v[k].p ? 1u << k : 0;
#define ONLY(mask) ((have & ~(1u << P_TYPE | (mask))) == 0)
    const unsigned brk = role == ROLE_ASSISTANT ? 0 : 1u << P_BREAKPOINT; /* output_text has no breakpoint */
    if (str_is(v[P_TYPE], "text") && is_str(v[P_TEXT]) && ONLY(1u << P_TEXT | brk)) {
        if (put(out, role == ROLE_ASSISTANT ? "{\"type\":\"output_text\",\"text\":" : "{\"type\":\"input_text\",\"text\":") ||
            put_span(out, v[P_TEXT]))
            return DW_CHAT_ENOMEM;
    } else if (role == ROLE_ASSISTANT && str_is(v[P_TYPE], "refusal") && is_str(v[P_REFUSAL]) && ONLY(1u << P_REFUSAL)) {
        if (put(out, "{\"type\":\"refusal\",\"refusal\":") || put_span(out, v[P_REFUSAL]))
            return DW_CHAT_ENOMEM;
    } else if (role == ROLE_USER && str_is(v[P_TYPE], "image_url") && ONLY(1u << P_IMAGE_URL | brk)) {
        static const char *const keys[] = {"url", "detail"};
        dw_span_t iv[2];
        if ((rc = pick_at(v[P_IMAGE_URL], keys, 2, iv, reason, "messages[%zu].content[].image_url", mi)) != DW_CHAT_OK)
            return rc;
        if (!is_str(iv[0]))
            return fallback(reason, "messages[%zu].content[]: image_url without url", mi);
        /* detail defaults to auto in both APIs; Responses requires it */
        if (put(out, "{\"type\":\"input_image\",\"image_url\":") || put_span(out, iv[0]) || put(out, ",\"detail\":") ||
            (present(iv[1]) ? put_span(out, iv[1]) : put(out, "\"auto\"")))
            return DW_CHAT_ENOMEM;
    } else if (role == ROLE_USER && str_is(v[P_TYPE], "file") && ONLY(1u << P_FILE | brk)) {
        static const char *const keys[] = {"file_data", "file_id", "filename"};
        dw_span_t fv[3];
        if ((rc = pick_at(v[P_FILE], keys, 3, fv, reason, "messages[%zu].content[].file", mi)) != DW_CHAT_OK)
            return rc;
        if (put(out, "{\"type\":\"input_file\""))
            return DW_CHAT_ENOMEM;
        for (size_t k = 0; k < 3; k++)
            if (present(fv[k]) && put_member(out, keys[k], fv[k]))
                return DW_CHAT_ENOMEM;
    } else if (str_is(v[P_TYPE], "input_audio")) {
        return fallback(reason, "messages[%zu]: input_audio content (audio)", mi);
    } else {
        return fallback(reason, "messages[%zu]: a content part of this type or shape is not carried for this role", mi);
    }
#undef ONLY
    if (v[P_BREAKPOINT].p && put_member(out, "prompt_cache_breakpoint", v[P_BREAKPOINT]))
        return DW_CHAT_ENOMEM;
    return put(out, "}") ? DW_CHAT_ENOMEM : DW_CHAT_OK;
}

/* Appends the content parts of an array, comma-separated; *nparts counts them. */
static int put_parts(dw_buf_t *out, dw_span_t arr, int role, size_t mi, size_t *nparts, char reason[DW_CHAT_REASON_MAX])
{
    dw_spans_t parts = {0};
    int rc = elems_of(arr, &parts);
    for (size_t i = 0; i < parts.n && rc == DW_CHAT_OK; i++) {
        if (*nparts > 0 && put(out, ","))
            rc = DW_CHAT_ENOMEM;
        else
            rc = put_part(out, parts.v[i], role, mi, reason);
        (*nparts)++;
    }
    dw_spans_free(&parts);
    return rc;
}

/* --- messages ------------------------------------------------------------------------------ */

enum { M_ROLE, M_CONTENT, M_NAME, M_REFUSAL, M_TOOL_CALLS, M_FUNCTION_CALL, M_AUDIO, M_TOOL_CALL_ID, M_ANNOTATIONS, M_PARSED, M_N };
static const char *const msg_keys[M_N] = {"role", "content", "name", "refusal", "tool_calls", "function_call",
                                          "audio", "tool_call_id", "annotations", "parsed"};

static int sep(dw_buf_t *out, dw_chat_items_t *st)
{
    return st->count++ > 0 && put(out, ",");
}

/* The call id a legacy function_call (which has none) gets: stable, from its message's index, so
 * the translation of a growing history keeps its prefix. */
static int put_legacy_call_id(dw_buf_t *out, size_t mi)
{
    char id[48];
    snprintf(id, sizeof id, "\"call_legacy_%zu\"", mi);
    return put(out, id);
}

/* assistant {"function_call":{"name","arguments"}} → a function_call item; its result (the next
 * role "function" message) pairs with it through st. */
static int legacy_call_item(dw_buf_t *out, dw_span_t fc, size_t mi, dw_chat_items_t *st, char reason[DW_CHAT_REASON_MAX])
{
    static const char *const keys[] = {"name", "arguments"};
    dw_span_t v[2];
    int rc = pick_at(fc, keys, 2, v, reason, "messages[%zu].function_call", mi);
    if (rc != DW_CHAT_OK)
        return rc;
    if (!is_str(v[0]) || !is_str(v[1]))
        return fallback(reason, "messages[%zu].function_call lacks name or arguments", mi);
    if (st->open_fn)
        return fallback(reason, "messages[%zu].function_call while another awaits its result", mi);
    st->open_fn = mi + 1;
    st->open_name = v[0];
    return sep(out, st) || put(out, "{\"type\":\"function_call\",\"call_id\":") || put_legacy_call_id(out, mi) ||
                   put(out, ",\"name\":") || put_span(out, v[0]) || put(out, ",\"arguments\":") || put_span(out, v[1]) ||
                   put(out, "}")
               ? DW_CHAT_ENOMEM : DW_CHAT_OK;
}

/* role "function" {name, content} → the function_call_output of the open legacy call. */
static int legacy_result_item(dw_buf_t *out, const dw_span_t *v, size_t mi, dw_chat_items_t *st,
                              char reason[DW_CHAT_REASON_MAX])
{
    if (!st->open_fn || !is_str(v[M_NAME]) || v[M_NAME].n != st->open_name.n ||
        memcmp(v[M_NAME].p, st->open_name.p, v[M_NAME].n) != 0)
        return fallback(reason, "messages[%zu]: function result without its function_call", mi);
    if (!is_str(v[M_CONTENT]))
        return fallback(reason, "messages[%zu].content is not a string", mi);
    size_t call = st->open_fn - 1;
    st->open_fn = 0;
    return sep(out, st) || put(out, "{\"type\":\"function_call_output\",\"call_id\":") || put_legacy_call_id(out, call) ||
                   put(out, ",\"output\":") || put_span(out, v[M_CONTENT]) || put(out, "}")
               ? DW_CHAT_ENOMEM : DW_CHAT_OK;
}

/* Content that is a string or an array: the "content" value of an input message. */
static int put_input_content(dw_buf_t *out, dw_span_t content, int role, size_t mi, char reason[DW_CHAT_REASON_MAX])
{
    if (is_str(content))
        return put_span(out, content) ? DW_CHAT_ENOMEM : DW_CHAT_OK;
    if (dw_json_kind(content) != '[')
        return fallback(reason, "messages[%zu].content is neither a string nor an array", mi);
    size_t np = 0;
    int rc;
    if (put(out, "["))
        return DW_CHAT_ENOMEM;
    if ((rc = put_parts(out, content, role, mi, &np, reason)) != DW_CHAT_OK)
        return rc;
    return put(out, "]") ? DW_CHAT_ENOMEM : DW_CHAT_OK;
}

/* The message item of an assistant message (text and refusal), and its legacy call if any. */
static int assistant_message(dw_buf_t *out, const dw_span_t *v, int has_calls, size_t mi, dw_chat_items_t *st,
                             char reason[DW_CHAT_REASON_MAX])
{
    if (present(v[M_REFUSAL]) && !is_str(v[M_REFUSAL]))
        return fallback(reason, "messages[%zu].refusal is not a string", mi);
    dw_span_t content = v[M_CONTENT];
    int has_content = present(content);
    if (has_content && !is_str(content) && dw_json_kind(content) != '[')
        return fallback(reason, "messages[%zu].content is neither a string nor an array", mi);
    int has_refusal = present(v[M_REFUSAL]);
    int has_legacy = present(v[M_FUNCTION_CALL]);
    if (has_legacy && has_calls)
        return fallback(reason, "messages[%zu] has both function_call and tool_calls", mi);
    /* An empty text next to calls is how several clients write "no text" (content: null in the
     * API's own answer); the Chat API renders both as one assistant turn with calls. */
    if ((has_calls || has_legacy) && has_content && content.n == 2)
        has_content = 0;
    if (!has_content && !has_refusal && !has_calls && !has_legacy)
        return fallback(reason, "messages[%zu]: assistant message without content or tool_calls", mi);

    int rc;
    if (has_content || has_refusal) {
        size_t np = 0;
        if (sep(out, st) || put(out, "{\"type\":\"message\",\"role\":\"assistant\",\"content\":["))
            return DW_CHAT_ENOMEM;
        if (has_content && is_str(content)) {
            if (put(out, "{\"type\":\"output_text\",\"text\":") || put_span(out, content) || put(out, "}"))
                return DW_CHAT_ENOMEM;
            np++;
        } else if (has_content && (rc = put_parts(out, content, ROLE_ASSISTANT, mi, &np, reason)) != DW_CHAT_OK) {
            return rc;
        }
        if (has_refusal && ((np > 0 && put(out, ",")) || put(out, "{\"type\":\"refusal\",\"refusal\":") ||
                            put_span(out, v[M_REFUSAL]) || put(out, "}")))
            return DW_CHAT_ENOMEM;
        if (put(out, "]}"))
            return DW_CHAT_ENOMEM;
    }
    return has_legacy ? legacy_call_item(out, v[M_FUNCTION_CALL], mi, st, reason) : DW_CHAT_OK;
}

/* {"id","type":"function","function":{"name","arguments"}} → a function_call item. */
static int call_item(dw_buf_t *out, dw_span_t call, size_t mi, size_t i, dw_chat_items_t *st, char reason[DW_CHAT_REASON_MAX])
{
    static const char *const call_keys[] = {"id", "type", "function", "index"};
    static const char *const fn_keys[] = {"name", "arguments", "parsed_arguments"};
    dw_span_t cv[4], fv[3];
    int rc = pick_at(call, call_keys, 4, cv, reason, "messages[%zu].tool_calls[%zu]", mi, i);
    if (rc != DW_CHAT_OK)
        return rc;
    if (!str_is(cv[1], "function"))
        return fallback(reason, "messages[%zu].tool_calls[%zu] is not a function call", mi, i);
    if ((rc = pick_at(cv[2], fn_keys, 3, fv, reason, "messages[%zu].tool_calls[%zu].function", mi, i)) != DW_CHAT_OK)
        return rc;
    if (!is_str(cv[0]) || !is_str(fv[0]) || !is_str(fv[1]))
        return fallback(reason, "messages[%zu].tool_calls[%zu] lacks id, name or arguments", mi, i);
    return sep(out, st) || put(out, "{\"type\":\"function_call\",\"call_id\":") || put_span(out, cv[0]) ||
                   put(out, ",\"name\":") || put_span(out, fv[0]) || put(out, ",\"arguments\":") || put_span(out, fv[1]) ||
                   put(out, "}")
               ? DW_CHAT_ENOMEM : DW_CHAT_OK;
}

/* An assistant message: its text/refusal message item, then its calls. */
static int assistant_items(dw_buf_t *out, const dw_span_t *v, size_t mi, dw_chat_items_t *st, char reason[DW_CHAT_REASON_MAX])
{
    if (present(v[M_AUDIO]))
        return fallback(reason, "messages[%zu].audio", mi);
    if (present(v[M_TOOL_CALLS]) && dw_json_kind(v[M_TOOL_CALLS]) != '[')
        return fallback(reason, "messages[%zu].tool_calls is not an array", mi);
    dw_spans_t calls = {0};
    int rc = present(v[M_TOOL_CALLS]) ? elems_of(v[M_TOOL_CALLS], &calls) : DW_CHAT_OK;
    if (rc == DW_CHAT_OK)
        rc = assistant_message(out, v, calls.n > 0, mi, st, reason);
    for (size_t i = 0; i < calls.n && rc == DW_CHAT_OK; i++)
        rc = call_item(out, calls.v[i], mi, i, st, reason);
    dw_spans_free(&calls);
    return rc;
}

int dw_chat_message_items(dw_buf_t *out, dw_span_t msg, size_t mi, dw_chat_items_t *st, char reason[DW_CHAT_REASON_MAX])
{
    dw_span_t v[M_N];
    int rc = pick_at(msg, msg_keys, M_N, v, reason, "messages[%zu]", mi);
    if (rc != DW_CHAT_OK)
        return rc;
    dw_span_t role = v[M_ROLE];
    int r;
    if (str_is(role, "system") || str_is(role, "developer"))
        r = ROLE_SYSTEM;
    else if (str_is(role, "user"))
        r = ROLE_USER;
    else if (str_is(role, "assistant"))
        r = ROLE_ASSISTANT;
    else if (str_is(role, "tool"))
        r = ROLE_TOOL;
    else if (str_is(role, "function"))
        r = ROLE_FUNCTION;
    else
        return fallback(reason, "messages[%zu].role is not supported", mi);
    if (v[M_NAME].p && r != ROLE_FUNCTION)
        return fallback(reason, "messages[%zu].name (Responses messages have no name)", mi);

    /* which fields each role may carry; annotations/parsed are echoes of the API's own answer */
    static const unsigned allowed[] = {
        [ROLE_SYSTEM] = 1u << M_ROLE | 1u << M_CONTENT,
        [ROLE_USER] = 1u << M_ROLE | 1u << M_CONTENT,
        [ROLE_ASSISTANT] = 1u << M_ROLE | 1u << M_CONTENT | 1u << M_REFUSAL | 1u << M_TOOL_CALLS |
                           1u << M_FUNCTION_CALL | 1u << M_AUDIO | 1u << M_ANNOTATIONS | 1u << M_PARSED,
        [ROLE_TOOL] = 1u << M_ROLE | 1u << M_CONTENT | 1u << M_TOOL_CALL_ID,
        [ROLE_FUNCTION] = 1u << M_ROLE | 1u << M_CONTENT | 1u << M_NAME,
    };
    for (int k = 0; k < M_N; k++)
        if (v[k].p && !(allowed[r] >> k & 1u))
            return fallback(reason, "messages[%zu].%s is not supported on this role", mi, msg_keys[k]);

    if (r == ROLE_ASSISTANT)
        return assistant_items(out, v, mi, st, reason);
    if (r == ROLE_FUNCTION)
        return legacy_result_item(out, v, mi, st, reason);
    if (!present(v[M_CONTENT]))
        return fallback(reason, "messages[%zu] has no content", mi);
    if (r == ROLE_TOOL) {
        if (!is_str(v[M_TOOL_CALL_ID]))
            return fallback(reason, "messages[%zu] has no tool_call_id", mi);
        if (sep(out, st) || put(out, "{\"type\":\"function_call_output\",\"call_id\":") || put_span(out, v[M_TOOL_CALL_ID]) ||
            put(out, ",\"output\":"))
            return DW_CHAT_ENOMEM;
        /* text parts become input_text parts of the output array */
        if ((rc = put_input_content(out, v[M_CONTENT], ROLE_TOOL, mi, reason)) != DW_CHAT_OK)
            return rc;
        return put(out, "}") ? DW_CHAT_ENOMEM : DW_CHAT_OK;
    }
    if (sep(out, st) || put(out, "{\"type\":\"message\",\"role\":") || put_span(out, role) || put(out, ",\"content\":"))
        return DW_CHAT_ENOMEM;
    if ((rc = put_input_content(out, v[M_CONTENT], r, mi, reason)) != DW_CHAT_OK)
        return rc;
    return put(out, "}") ? DW_CHAT_ENOMEM : DW_CHAT_OK;
}

/* --- tools, tool_choice, response_format ----------------------------------------------------- */

static int put_tools(dw_buf_t *out, dw_span_t tools, char reason[DW_CHAT_REASON_MAX])
{
    if (dw_json_kind(tools) != '[')
        return fallback(reason, "tools is not an array");
    dw_spans_t el = {0};
    int rc = elems_of(tools, &el);
    if (rc == DW_CHAT_OK && put(out, ",\"tools\":["))
        rc = DW_CHAT_ENOMEM;
    for (size_t i = 0; i < el.n && rc == DW_CHAT_OK; i++) {
        static const char *const tkeys[] = {"type", "function"};
        static const char *const fkeys[] = {"name", "description", "parameters", "strict"};
        dw_span_t tv[2], fv[4];
        if ((rc = pick_at(el.v[i], tkeys, 2, tv, reason, "tools[%zu]", i)) != DW_CHAT_OK)
            break;
        if (!str_is(tv[0], "function")) {
            rc = fallback(reason, "tools[%zu] is not a function tool", i);
            break;
        }
        if ((rc = pick_at(tv[1], fkeys, 4, fv, reason, "tools[%zu].function", i)) != DW_CHAT_OK)
            break;
        if (!is_str(fv[0])) {
            rc = fallback(reason, "tools[%zu].function.name missing", i);
            break;
        }
        /* Chat: omitted parameters mean "no parameters"; Responses needs a schema. */
        if (!present(fv[2])) {
            rc = fallback(reason, "tools[%zu].function.parameters omitted", i);
            break;
        }
        if ((i > 0 && put(out, ",")) || put(out, "{\"type\":\"function\",\"name\":") || put_span(out, fv[0]) ||
            (present(fv[1]) && put_member(out, "description", fv[1])) || put_member(out, "parameters", fv[2]) ||
            /* Chat's strict defaults to false; Responses would try strict when omitted */
            (present(fv[3]) ? put_member(out, "strict", fv[3]) : put(out, ",\"strict\":false")) || put(out, "}"))
            rc = DW_CHAT_ENOMEM;
    }
    if (rc == DW_CHAT_OK && put(out, "]"))
        rc = DW_CHAT_ENOMEM;
    dw_spans_free(&el);
    return rc;
}

/* {"type":"function","function":{"name":N}} → {"type":"function","name":N} (a named choice, or
 * an entry of allowed_tools.tools). */
static int put_named_function(dw_buf_t *out, dw_span_t v, const char *where, char reason[DW_CHAT_REASON_MAX])
{
    static const char *const keys[] = {"type", "function"};
    static const char *const fkeys[] = {"name"};
    dw_span_t tv[2], fv[1];
    int rc = pick_at(v, keys, 2, tv, reason, "%s", where);
    if (rc != DW_CHAT_OK)
        return rc;
    if (!str_is(tv[0], "function"))
        return fallback(reason, "%s is not a function", where);
    if ((rc = pick_at(tv[1], fkeys, 1, fv, reason, "%s.function", where)) != DW_CHAT_OK)
        return rc;
    if (!is_str(fv[0]))
        return fallback(reason, "%s.function.name missing", where);
    return put(out, "{\"type\":\"function\",\"name\":") || put_span(out, fv[0]) || put(out, "}") ? DW_CHAT_ENOMEM : DW_CHAT_OK;
}

static int put_tool_choice(dw_buf_t *out, dw_span_t tc, char reason[DW_CHAT_REASON_MAX])
{
    if (str_is(tc, "auto") || str_is(tc, "none") || str_is(tc, "required"))
        return put_member(out, "tool_choice", tc) ? DW_CHAT_ENOMEM : DW_CHAT_OK;
    dw_span_t type;
    if (dw_json_kind(tc) != '{' || !dw_json_object_get(tc, "type", &type))
        return fallback(reason, "tool_choice of this form is not carried");
    if (put(out, ",\"tool_choice\":"))
        return DW_CHAT_ENOMEM;
    if (str_is(type, "function"))
        return put_named_function(out, tc, "tool_choice", reason);
    if (!str_is(type, "allowed_tools"))
        return fallback(reason, "tool_choice of this form is not carried");
    /* {"type":"allowed_tools","allowed_tools":{"mode","tools":[named]}} → flat {"type","mode","tools":[{type,name}]} */
    static const char *const keys[] = {"type", "allowed_tools"};
    static const char *const akeys[] = {"mode", "tools"};
    dw_span_t v[2], av[2];
    int rc = pick_at(tc, keys, 2, v, reason, "tool_choice");
    if (rc == DW_CHAT_OK)
        rc = pick_at(v[1], akeys, 2, av, reason, "tool_choice.allowed_tools");
    if (rc != DW_CHAT_OK)
        return rc;
    if (!is_str(av[0]) || dw_json_kind(av[1]) != '[')
        return fallback(reason, "tool_choice.allowed_tools without mode or tools");
    if (put(out, "{\"type\":\"allowed_tools\",\"mode\":") || put_span(out, av[0]) || put(out, ",\"tools\":["))
        return DW_CHAT_ENOMEM;
    dw_spans_t el = {0};
    rc = elems_of(av[1], &el);
    for (size_t i = 0; i < el.n && rc == DW_CHAT_OK; i++)
        rc = i > 0 && put(out, ",") ? DW_CHAT_ENOMEM : put_named_function(out, el.v[i], "tool_choice.allowed_tools.tools[]", reason);
    dw_spans_free(&el);
    if (rc != DW_CHAT_OK)
        return rc;
    return put(out, "]}") ? DW_CHAT_ENOMEM : DW_CHAT_OK;
}

/* legacy functions: [{name, description?, parameters}] → function tools, strict false (the legacy
 * API has no strict mode), and parallel_tool_calls false: a legacy answer holds one call. */
static int put_functions(dw_buf_t *out, dw_span_t fns, char reason[DW_CHAT_REASON_MAX])
{
    if (dw_json_kind(fns) != '[')
        return fallback(reason, "functions is not an array");
    dw_spans_t el = {0};
    int rc = elems_of(fns, &el);
    if (rc == DW_CHAT_OK && put(out, ",\"tools\":["))
        rc = DW_CHAT_ENOMEM;
    for (size_t i = 0; i < el.n && rc == DW_CHAT_OK; i++) {
        static const char *const fkeys[] = {"name", "description", "parameters"};
        dw_span_t fv[3];
        if ((rc = pick_at(el.v[i], fkeys, 3, fv, reason, "functions[%zu]", i)) != DW_CHAT_OK)
            break;
        if (!is_str(fv[0]) || !present(fv[2])) {
            rc = fallback(reason, "functions[%zu] without name or parameters", i);
            break;
        }
        if ((i > 0 && put(out, ",")) || put(out, "{\"type\":\"function\",\"name\":") || put_span(out, fv[0]) ||
            (present(fv[1]) && put_member(out, "description", fv[1])) || put_member(out, "parameters", fv[2]) ||
            put(out, ",\"strict\":false}"))
            rc = DW_CHAT_ENOMEM;
    }
    if (rc == DW_CHAT_OK && put(out, "],\"parallel_tool_calls\":false"))
        rc = DW_CHAT_ENOMEM;
    dw_spans_free(&el);
    return rc;
}

/* legacy function_call: "none" / "auto" / {"name"} → tool_choice. */
static int put_function_call(dw_buf_t *out, dw_span_t fc, char reason[DW_CHAT_REASON_MAX])
{
    if (str_is(fc, "auto") || str_is(fc, "none"))
        return put_member(out, "tool_choice", fc) ? DW_CHAT_ENOMEM : DW_CHAT_OK;
    static const char *const keys[] = {"name"};
    dw_span_t v[1];
    int rc = pick_at(fc, keys, 1, v, reason, "function_call");
    if (rc != DW_CHAT_OK)
        return rc;
    if (!is_str(v[0]))
        return fallback(reason, "function_call without name");
    return put(out, ",\"tool_choice\":{\"type\":\"function\",\"name\":") || put_span(out, v[0]) || put(out, "}")
               ? DW_CHAT_ENOMEM : DW_CHAT_OK;
}

/* response_format → the text.format value. */
static int put_format(dw_buf_t *out, dw_span_t rf, char reason[DW_CHAT_REASON_MAX])
{
    static const char *const keys[] = {"type", "json_schema"};
    dw_span_t v[2];
    int rc = pick_at(rf, keys, 2, v, reason, "response_format");
    if (rc != DW_CHAT_OK)
        return rc;
    if ((str_is(v[0], "text") || str_is(v[0], "json_object")) && !v[1].p)
        return put(out, "{\"type\":") || put_span(out, v[0]) || put(out, "}") ? DW_CHAT_ENOMEM : DW_CHAT_OK;
    if (!str_is(v[0], "json_schema"))
        return fallback(reason, "response_format type is not carried");
    static const char *const skeys[] = {"name", "description", "schema", "strict"};
    dw_span_t sv[4];
    if ((rc = pick_at(v[1], skeys, 4, sv, reason, "response_format.json_schema")) != DW_CHAT_OK)
        return rc;
    if (!is_str(sv[0]) || !present(sv[2]))
        return fallback(reason, "response_format.json_schema without name or schema");
    return put(out, "{\"type\":\"json_schema\",\"name\":") || put_span(out, sv[0]) ||
                   (present(sv[1]) && put_member(out, "description", sv[1])) || put_member(out, "schema", sv[2]) ||
                   (present(sv[3]) ? put_member(out, "strict", sv[3]) : put(out, ",\"strict\":false")) || put(out, "}")
               ? DW_CHAT_ENOMEM : DW_CHAT_OK;
}

/* --- the request ----------------------------------------------------------------------------- */

enum {
    T_MODEL, T_MESSAGES, T_TEMPERATURE, T_TOP_P, T_USER, T_METADATA, T_SERVICE_TIER, T_PROMPT_CACHE_KEY,
    T_PROMPT_CACHE_RETENTION, T_PROMPT_CACHE_OPTIONS, T_SAFETY_IDENTIFIER, T_PARALLEL_TOOL_CALLS, T_STREAM,
    T_STORE, T_MAX_TOKENS, T_MAX_COMPLETION_TOKENS, T_REASONING_EFFORT, T_VERBOSITY, T_RESPONSE_FORMAT, T_TOOLS,
    T_TOOL_CHOICE, T_STREAM_OPTIONS, T_N, T_LOGPROBS, T_TOP_LOGPROBS, T_AUDIO, T_MODALITIES, T_PREDICTION,
    T_LOGIT_BIAS, T_SEED, T_FREQUENCY_PENALTY, T_PRESENCE_PENALTY, T_STOP, T_WEB_SEARCH_OPTIONS, T_MODERATION,
    T_FUNCTIONS, T_FUNCTION_CALL, T_COUNT
};
static const char *const top_keys[T_COUNT] = {
    "model", "messages", "temperature", "top_p", "user", "metadata", "service_tier", "prompt_cache_key",
    "prompt_cache_retention", "prompt_cache_options", "safety_identifier", "parallel_tool_calls", "stream",
    "store", "max_tokens", "max_completion_tokens", "reasoning_effort", "verbosity", "response_format", "tools",
    "tool_choice", "stream_options", "n", "logprobs", "top_logprobs", "audio", "modalities", "prediction",
    "logit_bias", "seed", "frequency_penalty", "presence_penalty", "stop", "web_search_options", "moderation",
    "functions", "function_call",
};

/* Fields with no Responses equivalent: carried only when they ask for the default. */
static int unsupported(const dw_span_t *v, char reason[DW_CHAT_REASON_MAX])
{
    if (present(v[T_N]) && !(v[T_N].n == 1 && v[T_N].p[0] == '1'))
        return fallback(reason, "n > 1 (Responses has one generation)");
    if (present(v[T_LOGPROBS]) && !dw_json_is_false(v[T_LOGPROBS]))
        return fallback(reason, "logprobs");
    if (present(v[T_TOP_LOGPROBS]))
        return fallback(reason, "top_logprobs");
    if (present(v[T_AUDIO]))
        return fallback(reason, "audio (audio output)");
    if (present(v[T_MODALITIES]) && memmem(v[T_MODALITIES].p, v[T_MODALITIES].n, "audio", 5) != NULL)
        return fallback(reason, "modalities with audio");
    if (present(v[T_PREDICTION]))
        return fallback(reason, "prediction (Responses has no predicted outputs)");
    if (present(v[T_LOGIT_BIAS]) && !(dw_json_kind(v[T_LOGIT_BIAS]) == '{' && v[T_LOGIT_BIAS].n == 2))
        return fallback(reason, "logit_bias (Responses has none)");
    if (present(v[T_SEED]))
        return fallback(reason, "seed (Responses has none)");
    if (present(v[T_FREQUENCY_PENALTY]) && !is_zero(v[T_FREQUENCY_PENALTY]))
        return fallback(reason, "frequency_penalty (Responses has none)");
    if (present(v[T_PRESENCE_PENALTY]) && !is_zero(v[T_PRESENCE_PENALTY]))
        return fallback(reason, "presence_penalty (Responses has none)");
    if (present(v[T_STOP]))
        return fallback(reason, "stop (Responses has no stop sequences)");
    if (present(v[T_WEB_SEARCH_OPTIONS]))
        return fallback(reason, "web_search_options");
    if (present(v[T_MODERATION]))
        return fallback(reason, "moderation (its results have no Chat Completions rendering here)");
    if ((present(v[T_FUNCTIONS]) || present(v[T_FUNCTION_CALL])) && (present(v[T_TOOLS]) || present(v[T_TOOL_CHOICE])))
        return fallback(reason, "functions mixed with tools");
    return DW_CHAT_OK;
}

static int translate(const dw_span_t *v, const dw_spans_t *msgs, dw_chat_request_t *req)
{
    dw_buf_t *out = &req->body;
    char *reason = req->reason;
    int rc;

    if ((rc = unsupported(v, reason)) != DW_CHAT_OK)
        return rc;
    if (!is_str(v[T_MODEL]))
        return fallback(reason, "model missing");
    if (dw_json_kind(v[T_MESSAGES]) != '[' || msgs->n == 0)
        return fallback(reason, "messages missing or empty");
    if (present(v[T_MAX_TOKENS]) && present(v[T_MAX_COMPLETION_TOKENS]))
        return fallback(reason, "both max_tokens and max_completion_tokens");
    dw_span_t max = present(v[T_MAX_TOKENS]) ? v[T_MAX_TOKENS] : v[T_MAX_COMPLETION_TOKENS];
    if (present(max) && int_below(max, 16))
        return fallback(reason, "max_tokens below 16 (the Responses minimum)");

    req->stream = dw_json_is_true(v[T_STREAM]);
    if (present(v[T_STREAM_OPTIONS])) {
        static const char *const keys[] = {"include_usage", "include_obfuscation"};
        dw_span_t so[2];
        if ((rc = pick_at(v[T_STREAM_OPTIONS], keys, 2, so, reason, "stream_options")) != DW_CHAT_OK)
            return rc;
        /* obfuscation pads the upstream's events; the chunks deltawire writes carry none */
        req->include_usage = dw_json_is_true(so[0]);
    }

    if (put(out, "{\"model\":") || put_span(out, v[T_MODEL]) || put(out, ",\"input\":["))
        return DW_CHAT_ENOMEM;
    dw_chat_items_t st = {0};
    for (size_t i = 0; i < msgs->n; i++)
        if ((rc = dw_chat_message_items(out, msgs->v[i], i, &st, reason)) != DW_CHAT_OK)
            return rc;
    if (put(out, "]"))
        return DW_CHAT_ENOMEM;

    /* copied unchanged; null means "the default" in Chat Completions, so it is left out */
    if (present(v[T_PARALLEL_TOOL_CALLS]) && (present(v[T_FUNCTIONS]) || present(v[T_FUNCTION_CALL])))
        return fallback(reason, "parallel_tool_calls with legacy functions");
    static const int same[] = {T_TEMPERATURE, T_TOP_P, T_USER, T_METADATA, T_SERVICE_TIER, T_PROMPT_CACHE_KEY,
                               T_PROMPT_CACHE_RETENTION, T_PROMPT_CACHE_OPTIONS, T_SAFETY_IDENTIFIER,
                               T_PARALLEL_TOOL_CALLS, T_STREAM};
    for (size_t k = 0; k < sizeof same / sizeof *same; k++)
        if (present(v[same[k]]) && put_member(out, top_keys[same[k]], v[same[k]]))
            return DW_CHAT_ENOMEM;
    if (present(max) && put_member(out, "max_output_tokens", max))
        return DW_CHAT_ENOMEM;
    if (present(v[T_REASONING_EFFORT]) &&
        (put(out, ",\"reasoning\":{\"effort\":") || put_span(out, v[T_REASONING_EFFORT]) || put(out, "}")))
        return DW_CHAT_ENOMEM;
    if (present(v[T_RESPONSE_FORMAT]) || present(v[T_VERBOSITY])) {
        if (put(out, ",\"text\":{"))
            return DW_CHAT_ENOMEM;
        if (present(v[T_RESPONSE_FORMAT])) {
            if (put(out, "\"format\":"))
                return DW_CHAT_ENOMEM;
            if ((rc = put_format(out, v[T_RESPONSE_FORMAT], reason)) != DW_CHAT_OK)
                return rc;
        }
        if (present(v[T_VERBOSITY]) && ((present(v[T_RESPONSE_FORMAT]) && put(out, ",")) || put(out, "\"verbosity\":") ||
                                        put_span(out, v[T_VERBOSITY])))
            return DW_CHAT_ENOMEM;
        if (put(out, "}"))
            return DW_CHAT_ENOMEM;
    }
    if (present(v[T_TOOLS]) && (rc = put_tools(out, v[T_TOOLS], reason)) != DW_CHAT_OK)
        return rc;
    if (present(v[T_TOOL_CHOICE]) && (rc = put_tool_choice(out, v[T_TOOL_CHOICE], reason)) != DW_CHAT_OK)
        return rc;
    if (present(v[T_FUNCTIONS]) && (rc = put_functions(out, v[T_FUNCTIONS], reason)) != DW_CHAT_OK)
        return rc;
    if (present(v[T_FUNCTION_CALL]) && (rc = put_function_call(out, v[T_FUNCTION_CALL], reason)) != DW_CHAT_OK)
        return rc;
    req->legacy_functions = present(v[T_FUNCTIONS]) || present(v[T_FUNCTION_CALL]);
    /* Chat's store (keep for distillation/evals) is opt-in; Responses stores unless told not to */
    if (put(out, dw_json_is_true(v[T_STORE]) ? ",\"store\":true}" : ",\"store\":false}"))
        return DW_CHAT_ENOMEM;
    return DW_CHAT_OK;
}

int dw_chat_request(const char *p, size_t n, dw_chat_request_t *req)
{
    dw_members_t m = {0};
    dw_spans_t msgs = {0};
    size_t off;
    dw_span_t v[T_COUNT];
    int rc;

    req->reason[0] = '\0';
    req->stream = req->include_usage = req->legacy_functions = 0;
    dw_buf_reset(&req->body);
    memset(v, 0, sizeof v);

    int src = dw_json_scan_object(p, n, "messages", &m, &msgs, &off);
    if (src != 0) {
        rc = src == DW_JSON_ENOMEM ? DW_CHAT_ENOMEM : fallback(req->reason, "body is not a JSON object");
        goto done;
    }
    rc = DW_CHAT_OK;
    for (size_t i = 0; i < m.n && rc == DW_CHAT_OK; i++) {
        size_t k = 0;
        while (k < T_COUNT && !dw_json_key_eq(m.v[i].key, top_keys[k]))
            k++;
        char name[40];
        if (k == T_COUNT)
            rc = fallback(req->reason, "unknown field %s", key_name(m.v[i].key, name, sizeof name));
        else if (v[k].p != NULL)
            rc = fallback(req->reason, "field %s given twice", top_keys[k]);
        else
            v[k] = m.v[i].value;
    }
    if (rc == DW_CHAT_OK)
        rc = translate(v, &msgs, req);
done:
    if (rc != DW_CHAT_OK)
        dw_buf_reset(&req->body);
    dw_members_free(&m);
    dw_spans_free(&msgs);
    return rc;
}

void dw_chat_request_free(dw_chat_request_t *req)
{
    dw_buf_free(&req->body);
}
