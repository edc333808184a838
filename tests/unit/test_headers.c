/* The header table: every header the captured clients send has a class, and the mapping into
 * client_metadata is Codex's own (tests/fixtures/clients/codex-0.169.0-default-model-ws). */
#include <criterion/criterion.h>
#include <string.h>

#include "translate/headers.h"

#define CLS(s) dw_headers_class(s, strlen(s))

Test(headers, classes)
{
    cr_assert_eq(CLS("Authorization"), DW_HDR_CREDENTIAL);
    cr_assert_eq(CLS("api-key"), DW_HDR_CREDENTIAL);
    cr_assert_eq(CLS("OpenAI-Organization"), DW_HDR_CREDENTIAL);
    cr_assert_eq(CLS("openai-project"), DW_HDR_CREDENTIAL);
    cr_assert_eq(CLS("OpenAI-Beta"), DW_HDR_CONNECTION);
    cr_assert_eq(CLS("session-id"), DW_HDR_CONNECTION);
    cr_assert_eq(CLS("thread-id"), DW_HDR_CONNECTION);
    cr_assert_eq(CLS("originator"), DW_HDR_CONNECTION);
    cr_assert_eq(CLS("x-codex-beta-features"), DW_HDR_CONNECTION);
    cr_assert_eq(CLS("x-codex-turn-metadata"), DW_HDR_METADATA);
    cr_assert_eq(CLS("x-codex-window-id"), DW_HDR_METADATA);
    cr_assert_eq(CLS("x-openai-internal-codex-responses-lite"), DW_HDR_METADATA);
    cr_assert_eq(CLS("user-agent"), DW_HDR_INERT);
    cr_assert_eq(CLS("x-stainless-retry-count"), DW_HDR_INERT);
    cr_assert_eq(CLS("sec-fetch-mode"), DW_HDR_INERT);
    cr_assert_eq(CLS("traceparent"), DW_HDR_INERT);
    cr_assert_eq(CLS("host"), DW_HDR_HOP);
    cr_assert_eq(CLS("Connection"), DW_HDR_HOP);
    cr_assert_eq(CLS("cookie"), DW_HDR_HOP);
    cr_assert_eq(CLS("content-encoding"), DW_HDR_HOP);
    cr_assert_eq(CLS(":authority"), DW_HDR_HOP);
    cr_assert_eq(CLS("x-stainless-"), DW_HDR_UNKNOWN); /* a prefix alone is no header of the family */
    cr_assert_eq(CLS("x-openai-something-new"), DW_HDR_UNKNOWN);
    cr_assert_eq(CLS("openai-beta-extra"), DW_HDR_UNKNOWN);
    cr_assert_eq(CLS(""), DW_HDR_UNKNOWN);
}

/* Every header name in the captured HTTP traffic of the three clients is known: none of them
 * would push a real client's request off the WebSocket path. */
Test(headers, captured_clients_send_nothing_unknown)
{
    static const char *const seen[] = {
        "user-agent", "host", "authorization", "content-type", "content-length", "accept", "connection",
        "sec-fetch-mode", "accept-language", "accept-encoding", "x-codex-window-id", "x-codex-turn-metadata",
        "x-codex-beta-features", "x-client-request-id", "thread-id", "session-id", "originator",
        "x-stainless-runtime-version", "x-stainless-runtime", "x-stainless-retry-count", "x-stainless-package-version",
        "x-stainless-os", "x-stainless-lang", "x-stainless-arch", "x-stainless-helper-method",
        "x-openai-internal-codex-responses-lite", "openai-beta"};
    for (size_t i = 0; i < sizeof(seen) / sizeof(seen[0]); i++)
        cr_assert_neq(CLS(seen[i]), DW_HDR_UNKNOWN, "%s", seen[i]);
}

Test(headers, index_in_its_list)
{
    cr_assert_eq(dw_headers_index("api-key", 7), 1);
    cr_assert_eq(dw_headers_index("THREAD-ID", 9), 2);
    cr_assert_eq(dw_headers_index("user-agent", 10), -1);
    for (int i = 0; i < DW_HDR_N_CREDENTIALS; i++)
        cr_assert_eq(dw_headers_index(dw_hdr_credentials[i], strlen(dw_hdr_credentials[i])), i);
}

Test(headers, connection_lists)
{
    const char *v = "keep-alive, X-Secret ,close";
    cr_assert(dw_headers_connection_lists(v, strlen(v), "x-secret", 8));
    cr_assert(dw_headers_connection_lists(v, strlen(v), "close", 5));
    cr_assert(!dw_headers_connection_lists(v, strlen(v), "x-secre", 7));
    cr_assert(!dw_headers_connection_lists(v, strlen(v), "alive", 5));
    cr_assert(!dw_headers_connection_lists("", 0, "x", 1));
}

static void key_is(const char *name, const char *want)
{
    dw_buf_t b = {0};
    cr_assert_eq(dw_headers_metadata_key(&b, name, strlen(name)), 0);
    cr_assert_eq(b.len, strlen(want), "%s -> %.*s", name, (int)b.len, b.p);
    cr_assert(memcmp(b.p, want, b.len) == 0, "%s -> %.*s", name, (int)b.len, b.p);
    dw_buf_free(&b);
}

Test(headers, metadata_keys_as_codex_writes_them)
{
    key_is("x-openai-internal-codex-responses-lite", "\"ws_request_header_x_openai_internal_codex_responses_lite\"");
    key_is("X-Codex-Turn-Metadata", "\"x-codex-turn-metadata\"");
    key_is("x-codex-window-id", "\"x-codex-window-id\"");
    key_is("x-bad\"name", "\"ws_request_header_x_bad_name\"");
}

static void beta_is(const char *client, const char *want)
{
    dw_buf_t b = {0};
    cr_assert_eq(dw_headers_merge_beta(&b, client, strlen(client)), 0);
    cr_assert_eq(b.len, strlen(want), "%s -> %.*s", client, (int)b.len, b.p);
    cr_assert(memcmp(b.p, want, b.len) == 0, "%s -> %.*s", client, (int)b.len, b.p);
    dw_buf_free(&b);
}

Test(headers, beta_merge)
{
    beta_is("", DW_HDR_WS_BETA);
    beta_is("responses_multi_agent=v1", "responses_multi_agent=v1, " DW_HDR_WS_BETA);
    beta_is("responses_websockets=2026-02-06", "responses_websockets=2026-02-06");
    beta_is("a=1, responses_websockets=2027-01-01", "a=1, responses_websockets=2027-01-01");
    beta_is("responses_websockets_x=1", "responses_websockets_x=1, " DW_HDR_WS_BETA);
}
