/* Error envelopes in every shape (upstream-protocol.md section 2, "Error envelope variants") give
 * the same HTTP answer and the same flat SSE event. */
#include <criterion/criterion.h>
#include <string.h>

#include "translate/envelope.h"

static dw_envelope_t scan(const char *s)
{
    dw_envelope_t e;
    cr_assert_eq(dw_envelope_scan(s, strlen(s), &e), 0);
    return e;
}

static void body_is(const char *env, const char *want)
{
    dw_envelope_t e = scan(env);
    dw_buf_t b = {0};
    cr_assert_eq(dw_envelope_http_body(&b, &e), 0);
    cr_assert_eq(b.len, strlen(want), "%s\n -> %.*s", env, (int)b.len, b.p);
    cr_assert(memcmp(b.p, want, b.len) == 0, "%s\n -> %.*s", env, (int)b.len, b.p);
    dw_buf_free(&b);
}

#define NESTED                                                                                                         \
    "{\"type\":\"error\",\"status\":400,\"error\":{\"type\":\"invalid_request_error\",\"code\":"                      \
    "\"previous_response_not_found\",\"message\":\"gone\",\"param\":\"previous_response_id\"}}"
#define WANT                                                                                                           \
    "{\"error\":{\"message\":\"gone\",\"type\":\"invalid_request_error\",\"param\":\"previous_response_id\",\"code\":" \
    "\"previous_response_not_found\"}}"

Test(envelope, every_shape_gives_the_same_http_answer)
{
    body_is(NESTED, WANT);
    /* status_code instead of status */
    const char *sc = "{\"type\":\"error\",\"status_code\":400,\"error\":{\"type\":\"invalid_request_error\",\"code\":"
                     "\"previous_response_not_found\",\"message\":\"gone\",\"param\":\"previous_response_id\"}}";
    body_is(sc, WANT);
    cr_assert_eq(scan(sc).status, 400);
    /* flat: the detail at the top level; the type comes from the status */
    const char *flat = "{\"type\":\"error\",\"status\":400,\"code\":\"previous_response_not_found\",\"message\":\"gone\","
                       "\"param\":\"previous_response_id\"}";
    body_is(flat, WANT);
    dw_envelope_t e = scan(flat);
    cr_assert(dw_envelope_code_is(&e, "previous_response_not_found"));
    cr_assert(!dw_envelope_code_is(&e, "previous_response"));
    cr_assert_eq(dw_envelope_http_status(&e), 400);
}

Test(envelope, missing_status_is_a_server_error)
{
    dw_envelope_t e = scan("{\"type\":\"error\",\"error\":{\"message\":\"boom\"}}");
    cr_assert_eq(e.status, 0);
    cr_assert_eq(dw_envelope_http_status(&e), 500);
    body_is("{\"type\":\"error\",\"error\":{\"message\":\"boom\"}}",
            "{\"error\":{\"message\":\"boom\",\"type\":\"server_error\",\"param\":null,\"code\":null}}");
    cr_assert_eq(scan("{\"type\":\"error\",\"status\":\"429\"}").status, 0);
    cr_assert_eq(scan("{\"type\":\"error\",\"status\":4290}").status, 0);
    cr_assert_eq(scan("{\"type\":\"error\",\"status\":429.5}").status, 0);
}

static void headers_are(const char *env, const char *const *want, size_t n)
{
    dw_envelope_t e = scan(env);
    dw_members_t m = {0};
    cr_assert_eq(dw_envelope_headers(&e, &m), 0);
    cr_assert_eq(m.n, n, "%s: %zu headers", env, m.n);
    for (size_t i = 0; i < n; i++)
        cr_assert(m.v[i].key.n == strlen(want[i]) && memcmp(m.v[i].key.p, want[i], m.v[i].key.n) == 0);
    dw_members_free(&m);
}

Test(envelope, allowed_headers_under_error_or_at_the_top)
{
    static const char *const want[] = {"retry-after", "x-ratelimit-reset-requests", "x-request-id", "openai-processing-ms"};
    headers_are("{\"type\":\"error\",\"status\":429,\"error\":{\"code\":\"rate_limit_exceeded\",\"headers\":{"
                "\"retry-after\":\"7\",\"set-cookie\":\"x=1\",\"x-ratelimit-reset-requests\":\"1s\",\"x-request-id\":\"r\","
                "\"openai-processing-ms\":\"5\",\"content-length\":\"9\",\"retry-after-ms\":7000}}}",
                want, 4);
    static const char *const top[] = {"retry-after-ms"};
    headers_are("{\"type\":\"error\",\"status_code\":429,\"code\":\"rate_limit_exceeded\",\"headers\":{\"Retry-After-Ms\":"
                "\"7000\"}}",
                (const char *const[]){"Retry-After-Ms"}, 1);
    (void)top;
    headers_are(NESTED, NULL, 0);
    cr_assert(dw_envelope_header_allowed("X-RateLimit-Limit-Tokens", 24));
    cr_assert(!dw_envelope_header_allowed("x-ratelimit-", 12));
    cr_assert(!dw_envelope_header_allowed("set-cookie", 10));
}

Test(envelope, sse_error_event_is_flat)
{
    dw_envelope_t e = scan(NESTED);
    dw_buf_t b = {0};
    cr_assert_eq(dw_envelope_sse_error(&b, &e, 17), 0);
    const char *want = "{\"type\":\"error\",\"code\":\"previous_response_not_found\",\"message\":\"gone\",\"param\":"
                       "\"previous_response_id\",\"sequence_number\":17}";
    cr_assert_eq(b.len, strlen(want), "%.*s", (int)b.len, b.p);
    cr_assert(memcmp(b.p, want, b.len) == 0, "%.*s", (int)b.len, b.p);
    dw_buf_free(&b);
}

Test(envelope, lane_scoped_errors_name_their_lane)
{
    dw_envelope_t e = scan("{\"type\":\"error\",\"status\":400,\"stream_id\":\"lane-3\",\"error\":{\"code\":"
                           "\"websocket_stream_limit_reached\"}}");
    cr_assert_eq(e.stream_id.n, 8);
    cr_assert(memcmp(e.stream_id.p, "\"lane-3\"", 8) == 0);
    cr_assert(dw_envelope_code_is(&e, "websocket_stream_limit_reached"));
}
