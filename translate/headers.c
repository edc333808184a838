#include "translate/headers.h"

#include <string.h>
#include <strings.h>

const char *const dw_hdr_credentials[DW_HDR_N_CREDENTIALS] = {"authorization", "api-key", "openai-organization",
                                                              "openai-project"};

const char *const dw_hdr_connection[DW_HDR_N_CONNECTION] = {"openai-beta", "session-id", "thread-id", "originator",
                                                            "x-codex-beta-features"};

/* Exact names, beyond the two lists above. */
static const struct {
    const char *name;
    dw_hdr_class_t cls;
} exact[] = {
    /* per request, into client_metadata (the Codex `-ws` fixtures carry it there) */
    {"x-openai-internal-codex-responses-lite", DW_HDR_METADATA},
    /* inert: content negotiation, agent identity, tracing */
    {"user-agent", DW_HDR_INERT},
    {"accept", DW_HDR_INERT},
    {"accept-language", DW_HDR_INERT},
    {"content-type", DW_HDR_INERT},
    {"origin", DW_HDR_INERT},
    {"referer", DW_HDR_INERT},
    {"pragma", DW_HDR_INERT},
    {"cache-control", DW_HDR_INERT},
    {"x-client-request-id", DW_HDR_INERT},
    {"x-request-id", DW_HDR_INERT},
    {"traceparent", DW_HDR_INERT},
    {"tracestate", DW_HDR_INERT},
    {"baggage", DW_HDR_INERT},
    {"sentry-trace", DW_HDR_INERT},
    {"x-amzn-trace-id", DW_HDR_INERT},
    {"x-cloud-trace-context", DW_HDR_INERT},
    {"x-forwarded-for", DW_HDR_INERT},
    {"x-forwarded-proto", DW_HDR_INERT},
    {"x-forwarded-host", DW_HDR_INERT},
    {"x-real-ip", DW_HDR_INERT},
    {"forwarded", DW_HDR_INERT},
    {"via", DW_HDR_INERT},
    {"dnt", DW_HDR_INERT},
    /* hop-by-hop (RFC 9110 section 7.6.1) and HTTP-only */
    {"connection", DW_HDR_HOP},
    {"keep-alive", DW_HDR_HOP},
    {"proxy-connection", DW_HDR_HOP},
    {"proxy-authorization", DW_HDR_HOP},
    {"proxy-authenticate", DW_HDR_HOP},
    {"te", DW_HDR_HOP},
    {"trailer", DW_HDR_HOP},
    {"transfer-encoding", DW_HDR_HOP},
    {"upgrade", DW_HDR_HOP},
    {"host", DW_HDR_HOP},
    {"content-length", DW_HDR_HOP},
    {"content-encoding", DW_HDR_HOP}, /* undone by deltawire before the body is read */
    {"accept-encoding", DW_HDR_HOP},
    {"expect", DW_HDR_HOP},
    {"cookie", DW_HDR_HOP},
    {"http2-settings", DW_HDR_HOP},
    {"priority", DW_HDR_HOP},
};

/* Families, by prefix. */
static const struct {
    const char *prefix;
    dw_hdr_class_t cls;
} prefixes[] = {
    {"x-stainless-", DW_HDR_INERT}, /* the OpenAI SDKs' telemetry */
    {"sec-", DW_HDR_INERT},         /* browsers' fetch metadata (the AI SDK from a browser) */
    {"x-datadog-", DW_HDR_INERT},
    {"x-b3-", DW_HDR_INERT},
    {"x-codex-", DW_HDR_METADATA}, /* after x-codex-beta-features, which is a connection header */
};

static int name_is(const char *name, size_t n, const char *lit)
{
    return strlen(lit) == n && strncasecmp(name, lit, n) == 0;
}

int dw_headers_index(const char *name, size_t n)
{
    for (int i = 0; i < DW_HDR_N_CREDENTIALS; i++)
        if (name_is(name, n, dw_hdr_credentials[i]))
            return i;
    for (int i = 0; i < DW_HDR_N_CONNECTION; i++)
        if (name_is(name, n, dw_hdr_connection[i]))
            return i;
    return -1;
}

dw_hdr_class_t dw_headers_class(const char *name, size_t n)
{
    for (int i = 0; i < DW_HDR_N_CREDENTIALS; i++)
        if (name_is(name, n, dw_hdr_credentials[i]))
            return DW_HDR_CREDENTIAL;
    for (int i = 0; i < DW_HDR_N_CONNECTION; i++)
        if (name_is(name, n, dw_hdr_connection[i]))
            return DW_HDR_CONNECTION;
    for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
        if (name_is(name, n, exact[i].name))
            return exact[i].cls;
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        size_t k = strlen(prefixes[i].prefix);
        if (n > k && strncasecmp(name, prefixes[i].prefix, k) == 0)
            return prefixes[i].cls;
    }
    if (n > 0 && name[0] == ':')
        return DW_HDR_HOP; /* an HTTP/2 pseudo-header */
    return DW_HDR_UNKNOWN;
}

int dw_headers_connection_lists(const char *conn, size_t conn_len, const char *name, size_t n)
{
    size_t i = 0;
    while (i < conn_len) {
        while (i < conn_len && (conn[i] == ' ' || conn[i] == '\t' || conn[i] == ','))
            i++;
        size_t start = i;
        while (i < conn_len && conn[i] != ',' && conn[i] != ' ' && conn[i] != '\t')
            i++;
        if (i > start && i - start == n && strncasecmp(conn + start, name, n) == 0)
            return 1;
    }
    return 0;
}

int dw_headers_metadata_key(dw_buf_t *out, const char *name, size_t n)
{
    int codex = n > 8 && strncasecmp(name, "x-codex-", 8) == 0;
    if (dw_buf_append_str(out, codex ? "\"" : "\"ws_request_header_") != 0 || dw_buf_reserve(out, n + 1) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        else if (c == '-' && !codex)
            c = '_';
        else if (c == '"' || c == '\\' || (unsigned char)c < 0x20)
            c = '_'; /* header names are tokens; never let one break the JSON */
        out->p[out->len++] = c;
    }
    out->p[out->len++] = '"';
    return 0;
}

/* 1 when the comma-separated list names `flag` (compared up to '=' as a whole token). */
static int lists_flag(const char *v, size_t n, const char *flag)
{
    size_t k = strlen(flag);
    for (size_t i = 0; i < n;) {
        while (i < n && (v[i] == ' ' || v[i] == ','))
            i++;
        size_t start = i;
        while (i < n && v[i] != ',')
            i++;
        size_t end = i;
        while (end > start && v[end - 1] == ' ')
            end--;
        if (end - start >= k && strncasecmp(v + start, flag, k) == 0 && (end - start == k || v[start + k] == '='))
            return 1;
    }
    return 0;
}

int dw_headers_merge_beta(dw_buf_t *out, const char *client, size_t n)
{
    if (n > 0 && lists_flag(client, n, "responses_websockets"))
        return dw_buf_append(out, client, n);
    if (n > 0 && (dw_buf_append(out, client, n) != 0 || dw_buf_append_str(out, ", ") != 0))
        return -1;
    return dw_buf_append_str(out, DW_HDR_WS_BETA);
}
