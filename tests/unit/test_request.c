#include <string.h>
#include <criterion/criterion.h>
#include "translate/request.h"

#define LIMIT 1000

static int parse(dw_request_t *rq, const char *body, dw_request_err_t *err)
{
    return dw_request_parse(rq, body, body ? strlen(body) : 0, LIMIT, err);
}

/* The body is refused with this status, code and param. */
static void refused(const char *body, size_t limit, int status, const char *code, const char *param)
{
    dw_request_t rq;
    dw_request_err_t err;
    cr_assert_eq(dw_request_parse(&rq, body, body ? strlen(body) : 0, limit, &err), -1, "%s", body ? body : "NULL");
    cr_assert_eq(err.status, status, "%s", body ? body : "NULL");
    cr_assert_str_eq(err.code, code);
    if (param == NULL)
        cr_assert_null(err.param);
    else
        cr_assert_str_eq(err.param, param);
    cr_assert_gt(strlen(err.message), 0, "every refusal says why");
    dw_request_free(&rq);
}

Test(request, refusals)
{
    refused(NULL, LIMIT, 400, "missing_body", NULL);
    refused("{\"input\":[]}", 5, 413, "request_too_large", NULL);
    refused("[1,2]", LIMIT, 400, "invalid_json", NULL);
    refused("{\"input\":[", LIMIT, 400, "invalid_json", NULL);
    refused("{\"model\":\"a\",\"model\":\"b\"}", LIMIT, 400, "duplicate_key", NULL);
    refused("{\"input\":[],\"input\":[]}", LIMIT, 400, "duplicate_key", NULL);
    refused("{\"input\":3}", LIMIT, 400, "invalid_type", "input");
    refused("{\"input\":[],\"stream\":\"yes\"}", LIMIT, 400, "invalid_type", "stream");
}

Test(request, invalid_json_names_the_byte)
{
    dw_request_t rq;
    dw_request_err_t err;
    cr_assert_eq(parse(&rq, "{\"input\":[1,]}", &err), -1);
    cr_assert(strstr(err.message, "byte 12") != NULL, "%s", err.message);
    dw_request_free(&rq);
}

Test(request, an_item_array_is_planned)
{
    dw_request_t rq;
    dw_request_err_t err;
    cr_assert_eq(parse(&rq, "{\"model\":\"m\",\"input\":[{\"a\":1},{\"b\":2}],\"stream\":true,\"store\":false}", &err), 0);
    cr_assert_eq(rq.items.n, 2);
    cr_assert_eq(rq.stream, 1);
    cr_assert_eq(rq.store, 0);
    cr_assert_eq(rq.verbatim, 0);
    cr_assert_eq(rq.background, 0);
    cr_assert_eq(rq.prev.n, 4, "no previous_response_id reads as null");
    cr_assert_eq(memcmp(rq.prev.p, "null", 4), 0);
    dw_request_free(&rq);
}

Test(request, defaults)
{
    dw_request_t rq;
    dw_request_err_t err;
    cr_assert_eq(parse(&rq, "{\"input\":[],\"stream\":null}", &err), 0);
    cr_assert_eq(rq.stream, 0);
    cr_assert_eq(rq.store, 1, "store defaults to true");
    dw_request_free(&rq);
}

/* The upstream holds or shapes the context: forwarded verbatim. */
Test(request, verbatim)
{
    static const char *const bodies[] = {
        "{\"input\":[],\"previous_response_id\":\"resp_1\"}",
        "{\"input\":[],\"conversation\":\"conv_1\"}",
        "{\"input\":[],\"prompt\":{\"id\":\"p\"}}",
        "{\"input\":[],\"context_management\":[{\"type\":\"compaction\"}]}",
        "{\"model\":\"m\"}",
        "{\"input\":\"hello\"}",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        dw_request_t rq;
        dw_request_err_t err;
        cr_assert_eq(parse(&rq, bodies[i], &err), 0, "%s", bodies[i]);
        cr_assert_eq(rq.verbatim, 1, "%s", bodies[i]);
        dw_request_free(&rq);
    }
    dw_request_t rq;
    dw_request_err_t err;
    cr_assert_eq(parse(&rq, "{\"input\":[],\"prompt\":null,\"context_management\":null,\"previous_response_id\":null}", &err), 0);
    cr_assert_eq(rq.verbatim, 0, "null fields shape nothing");
    dw_request_free(&rq);
}

Test(request, string_input)
{
    dw_request_t rq;
    dw_request_err_t err;
    cr_assert_eq(parse(&rq, "{\"input\":\"hello\"}", &err), 0);
    cr_assert_eq(rq.string_chain, 1, "a string input starts a conversation");
    cr_assert_eq(rq.string_input.n, 7);
    dw_request_free(&rq);
    cr_assert_eq(parse(&rq, "{\"input\":\"hello\",\"previous_response_id\":\"resp_1\"}", &err), 0);
    cr_assert_eq(rq.string_chain, 0, "it continues one upstream: nothing to chain");
    cr_assert_eq(rq.has_prev, 1);
    cr_assert_eq(rq.prev.n, 8);
    dw_request_free(&rq);
}

Test(request, background)
{
    dw_request_t rq;
    dw_request_err_t err;
    cr_assert_eq(parse(&rq, "{\"input\":[],\"background\":true}", &err), 0);
    cr_assert_eq(rq.background, 1);
    dw_request_free(&rq);
    cr_assert_eq(parse(&rq, "{\"input\":[],\"background\":false}", &err), 0);
    cr_assert_eq(rq.background, 0);
    dw_request_free(&rq);
}

Test(request, websocket_only_fields_get_the_http_apis_400)
{
    /* the HTTP API's answer (mock/turn.c): 400 unknown_parameter, param the field */
    refused("{\"input\":[],\"generate\":false}", LIMIT, 400, "unknown_parameter", "generate");
    refused("{\"stream_id\":\"s1\",\"input\":[]}", LIMIT, 400, "unknown_parameter", "stream_id");
    refused("{\"generate\":null}", LIMIT, 400, "unknown_parameter", "generate");
    dw_request_t rq;
    dw_request_err_t err;
    cr_assert_eq(dw_request_parse(&rq, "{\"input\":[]}", 12, LIMIT, &err), 0);
    dw_request_free(&rq);
    const char *body = "{\"generate\":false}";
    cr_assert_eq(dw_request_parse(&rq, body, strlen(body), LIMIT, &err), -1);
    cr_assert_str_eq(err.message, "Unknown parameter: 'generate'.");
    dw_request_free(&rq);
}
