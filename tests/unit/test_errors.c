/* translate/errors: OpenAI's error shape, escaping, null fields, the status -> type table. */
#include <stdlib.h>
#include <string.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include "translate/errors.h"

static json_t *parse(const dw_buf_t *b)
{
    json_error_t e;
    json_t *v = json_loadb(b->p, b->len, 0, &e);
    cr_assert_not_null(v, "not JSON (%s): %.*s", e.text, (int)b->len, b->p);
    return v;
}

Test(errors, body_shape_exact)
{
    dw_buf_t b = {0};
    cr_assert_eq(dw_error_body(&b, "invalid_request_error", "bad_input", "input", "Bad input."), 0);
    const char want[] =
        "{\"error\":{\"message\":\"Bad input.\",\"type\":\"invalid_request_error\",\"param\":\"input\",\"code\":\"bad_input\"}}";
    cr_assert_eq(b.len, sizeof want - 1, "%.*s", (int)b.len, b.p);
    cr_assert(memcmp(b.p, want, b.len) == 0, "%.*s", (int)b.len, b.p);
    dw_buf_free(&b);
}

Test(errors, null_param_and_code)
{
    dw_buf_t b = {0};
    cr_assert_eq(dw_error_body(&b, "server_error", NULL, NULL, "Upstream failed."), 0);
    json_t *v = parse(&b);
    json_t *e = json_object_get(v, "error");
    cr_assert(json_is_object(e));
    cr_assert_eq(json_object_size(v), 1);
    cr_assert_eq(json_object_size(e), 4);
    cr_assert(json_is_null(json_object_get(e, "param")));
    cr_assert(json_is_null(json_object_get(e, "code")));
    cr_assert_str_eq(json_string_value(json_object_get(e, "type")), "server_error");
    cr_assert_str_eq(json_string_value(json_object_get(e, "message")), "Upstream failed.");
    json_decref(v);
    dw_buf_free(&b);
}

Test(errors, message_is_escaped)
{
    /* messages quote client input and upstream text: quotes, backslashes, controls, UTF-8 */
    const char msg[] = "bad \"x\" at C:\\tmp\n\ttab\x01 caf\xc3\xa9";
    dw_buf_t b = {0};
    cr_assert_eq(dw_error_body(&b, "invalid_request_error", "c\"ode", "p\\aram", msg), 0);
    json_t *v = parse(&b);
    json_t *e = json_object_get(v, "error");
    cr_assert_str_eq(json_string_value(json_object_get(e, "message")), msg);
    cr_assert_str_eq(json_string_value(json_object_get(e, "code")), "c\"ode");
    cr_assert_str_eq(json_string_value(json_object_get(e, "param")), "p\\aram");
    json_decref(v);
    dw_buf_free(&b);
}

Test(errors, object_is_the_inner_part_and_appends)
{
    dw_buf_t obj = {0}, body = {0};
    cr_assert_eq(dw_buf_append_str(&obj, "{\"type\":\"error\",\"error\":"), 0);
    cr_assert_eq(dw_error_object(&obj, "rate_limit_error", "rate_limited", NULL, "Slow down."), 0);
    cr_assert_eq(dw_buf_append_str(&obj, "}"), 0);
    json_t *v = parse(&obj);
    cr_assert_str_eq(json_string_value(json_object_get(v, "type")), "error");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(v, "error"), "code")), "rate_limited");
    /* the body is exactly {"error": <object>} */
    cr_assert_eq(dw_error_body(&body, "rate_limit_error", "rate_limited", NULL, "Slow down."), 0);
    json_t *bv = parse(&body);
    cr_assert(json_equal(json_object_get(bv, "error"), json_object_get(v, "error")));
    json_decref(v);
    json_decref(bv);
    dw_buf_free(&obj);
    dw_buf_free(&body);
}

Test(errors, empty_and_long_message)
{
    dw_buf_t b = {0};
    cr_assert_eq(dw_error_body(&b, "server_error", NULL, NULL, ""), 0);
    json_t *v = parse(&b);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(v, "error"), "message")), "");
    json_decref(v);
    dw_buf_reset(&b);
    size_t n = 1u << 20;
    char *big = malloc(n + 1);
    cr_assert_not_null(big);
    memset(big, '"', n);
    big[n] = '\0';
    cr_assert_eq(dw_error_body(&b, "server_error", NULL, NULL, big), 0);
    v = parse(&b);
    cr_assert_eq(json_string_length(json_object_get(json_object_get(v, "error"), "message")), n);
    json_decref(v);
    free(big);
    dw_buf_free(&b);
}

Test(errors, type_for_status)
{
    static const struct {
        int status;
        const char *type;
    } table[] = {
        {400, "invalid_request_error"}, {401, "authentication_error"}, {403, "permission_error"},
        {404, "not_found_error"},       {413, "invalid_request_error"}, {422, "invalid_request_error"},
        {429, "rate_limit_error"},      {409, "invalid_request_error"}, {431, "invalid_request_error"},
        {500, "server_error"},          {502, "server_error"},          {503, "server_error"},
        {504, "server_error"},          {599, "server_error"},
    };
    for (size_t i = 0; i < sizeof table / sizeof *table; i++)
        cr_assert_str_eq(dw_error_type_for_status(table[i].status), table[i].type, "status %d", table[i].status);
}

Test(errors, stream_event_is_flat_and_numbered)
{
    dw_buf_t b = {0};
    cr_assert_eq(dw_error_event(&b, "upstream_error", NULL, "no event for 300 s", 7), 0);
    json_t *v = parse(&b);
    cr_assert_eq(json_object_size(v), 5);
    cr_assert_str_eq(json_string_value(json_object_get(v, "type")), "error");
    cr_assert_str_eq(json_string_value(json_object_get(v, "code")), "upstream_error");
    cr_assert_str_eq(json_string_value(json_object_get(v, "message")), "no event for 300 s");
    cr_assert(json_is_null(json_object_get(v, "param")));
    cr_assert_eq(json_integer_value(json_object_get(v, "sequence_number")), 7);
    json_decref(v);
    dw_buf_free(&b);
}
