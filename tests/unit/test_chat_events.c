/* Responses events → Chat Completions output (translate/chat_events.c): chunk sequences and the
 * chat.completion object, compared with the shapes of openai-node 7.57.0's ChatCompletionChunk and
 * ChatCompletion. */
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <criterion/criterion.h>

#include "translate/chat_events.h"

/* Test JSON is written with ' for ". */
static char *J(const char *s)
{
    char *o = strdup(s);
    for (char *p = o; *p; p++)
        if (*p == '\'')
            *p = '"';
    return o;
}

#define RESP(status, extra) "{'id':'resp_abc','object':'response','created_at':1700000000,'model':'gpt-x','status':'" status "'" extra "}"
#define CREATED "{'type':'response.created','sequence_number':0,'response':" RESP("in_progress", ",'output':[]") "}"
#define USAGE ",'usage':{'input_tokens':10,'input_tokens_details':{'cached_tokens':4},'output_tokens':7," \
              "'output_tokens_details':{'reasoning_tokens':3},'total_tokens':17}"

typedef struct {
    json_t *chunks; /* array of parsed data payloads; the string "[DONE]" for the terminator */
    int rc;         /* last return of dw_chat_stream_event */
    int emitted;
} run_t;

/* Feeds events (NULL-terminated) and parses what came out as SSE "data: ...\n\n" blocks. */
static run_t feed_mode(int include_usage, int legacy, const char *const *events)
{
    dw_chat_stream_t s;
    dw_buf_t out = {0};
    run_t r = {json_array(), 0, 0};
    dw_chat_stream_init(&s, include_usage, legacy);
    for (size_t i = 0; events[i]; i++) {
        char *e = J(events[i]);
        r.rc = dw_chat_stream_event(&s, e, strlen(e), &out);
        free(e);
        cr_assert_geq(r.rc, 0, "event %zu refused: %s", i, events[i]);
        if (r.rc != DW_CHAT_EV_MORE)
            cr_assert_null(events[i + 1], "stream went on after a terminal event");
    }
    r.emitted = s.emitted;
    dw_chat_stream_free(&s);
    const char *p = out.p, *end = out.p + out.len;
    while (p < end) {
        cr_assert(end - p > 6 && memcmp(p, "data: ", 6) == 0, "not an SSE data line: %.*s", (int)(end - p), p);
        p += 6;
        const char *blk = memmem(p, (size_t)(end - p), "\n\n", 2);
        cr_assert_not_null(blk, "unterminated SSE block");
        cr_assert_null(memchr(p, '\n', (size_t)(blk - p)), "a payload spans lines");
        json_error_t err;
        json_t *j = (blk - p == 6 && memcmp(p, "[DONE]", 6) == 0) ? json_string("[DONE]")
                                                                   : json_loadb(p, (size_t)(blk - p), 0, &err);
        cr_assert_not_null(j, "invalid chunk JSON: %.*s", (int)(blk - p), p);
        json_array_append_new(r.chunks, j);
        p = blk + 2;
    }
    dw_buf_free(&out);
    return r;
}

static run_t feed(int include_usage, const char *const *events)
{
    return feed_mode(include_usage, 0, events);
}

static void assert_json(const json_t *got, const char *want)
{
    char *w = J(want);
    json_t *exp = json_loads(w, 0, NULL);
    cr_assert_not_null(exp, "bad expectation %s", w);
    char *gs = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY), *es = json_dumps(exp, JSON_SORT_KEYS | JSON_COMPACT);
    cr_assert(json_equal(got, exp), "\n got: %s\nwant: %s", gs, es);
    free(gs);
    free(es);
    free(w);
    json_decref(exp);
}

/* Chunk i's choices[0].delta and finish_reason, after checking the envelope every chunk shares. */
static json_t *delta(const run_t *r, size_t i, const char *finish)
{
    json_t *c = json_array_get(r->chunks, i);
    cr_assert(json_is_object(c), "chunk %zu missing", i);
    cr_assert_str_eq(json_string_value(json_object_get(c, "id")), "chatcmpl-abc");
    cr_assert_str_eq(json_string_value(json_object_get(c, "object")), "chat.completion.chunk");
    cr_assert_eq(json_integer_value(json_object_get(c, "created")), 1700000000);
    cr_assert_str_eq(json_string_value(json_object_get(c, "model")), "gpt-x");
    json_t *choices = json_object_get(c, "choices");
    cr_assert_eq(json_array_size(choices), 1);
    json_t *ch = json_array_get(choices, 0);
    cr_assert_eq(json_integer_value(json_object_get(ch, "index")), 0);
    cr_assert(json_is_null(json_object_get(ch, "logprobs")));
    json_t *fr = json_object_get(ch, "finish_reason");
    if (finish)
        cr_assert_str_eq(json_string_value(fr), finish, "chunk %zu", i);
    else
        cr_assert(json_is_null(fr), "chunk %zu has a finish_reason", i);
    return json_object_get(ch, "delta");
}

static void assert_done(const run_t *r, size_t i)
{
    cr_assert_eq(json_array_size(r->chunks), i + 1, "expected %zu blocks, got %zu", i + 1, json_array_size(r->chunks));
    cr_assert_str_eq(json_string_value(json_array_get(r->chunks, i)), "[DONE]");
    cr_assert_eq(r->rc, DW_CHAT_EV_DONE);
}

Test(chat_stream, text_answer)
{
    const char *ev[] = {
        CREATED,
        "{'type':'response.output_item.added','output_index':0,'item':{'id':'msg_1','type':'message','status':'in_progress','role':'assistant','content':[]}}",
        "{'type':'response.content_part.added','output_index':0,'content_index':0,'part':{'type':'output_text','text':'','annotations':[]}}",
        "{'type':'response.output_text.delta','output_index':0,'content_index':0,'delta':'Hel','item_id':'msg_1'}",
        "{'type':'response.output_text.delta','output_index':0,'content_index':0,'delta':'lo \\u00e9\\n','item_id':'msg_1'}",
        "{'type':'response.output_text.done','output_index':0,'content_index':0,'text':'Hello'}",
        "{'type':'response.output_item.done','output_index':0,'item':{'id':'msg_1','type':'message','role':'assistant','content':[]}}",
        "{'type':'response.completed','response':" RESP("completed", ",'output':[]" USAGE) "}",
        NULL,
    };
    run_t r = feed(0, ev);
    assert_json(delta(&r, 0, NULL), "{'role':'assistant','content':'','refusal':null}");
    assert_json(delta(&r, 1, NULL), "{'content':'Hel'}");
    assert_json(delta(&r, 2, NULL), "{'content':'lo \\u00e9\\n'}");
    assert_json(delta(&r, 3, "stop"), "{}");
    assert_done(&r, 4);
    cr_assert_null(json_object_get(json_array_get(r.chunks, 0), "usage"), "usage only with include_usage");
    json_decref(r.chunks);
}

Test(chat_stream, parallel_tool_calls_interleaved)
{
    const char *ev[] = {
        CREATED,
        "{'type':'response.output_item.added','output_index':0,'item':{'id':'rs_1','type':'reasoning','summary':[]}}",
        "{'type':'response.reasoning_summary_text.delta','output_index':0,'delta':'thinking'}",
        "{'type':'response.output_item.done','output_index':0,'item':{'id':'rs_1','type':'reasoning','summary':[]}}",
        "{'type':'response.output_item.added','output_index':1,'item':{'id':'fc_a','type':'function_call','call_id':'call_a','name':'f','arguments':''}}",
        "{'type':'response.output_item.added','output_index':2,'item':{'id':'fc_b','type':'function_call','call_id':'call_b','name':'g','arguments':''}}",
        "{'type':'response.function_call_arguments.delta','output_index':2,'item_id':'fc_b','delta':'{\\'x\\''}",
        "{'type':'response.function_call_arguments.delta','output_index':1,'item_id':'fc_a','delta':'{\\'y\\''}",
        "{'type':'response.function_call_arguments.delta','output_index':2,'item_id':'fc_b','delta':':1}'}",
        "{'type':'response.function_call_arguments.delta','output_index':1,'item_id':'fc_a','delta':':2}'}",
        "{'type':'response.function_call_arguments.done','output_index':1,'arguments':'{\\'y\\':2}'}",
        "{'type':'response.output_item.done','output_index':1,'item':{'type':'function_call','call_id':'call_a','name':'f','arguments':'{\\'y\\':2}'}}",
        "{'type':'response.output_item.done','output_index':2,'item':{'type':'function_call','call_id':'call_b','name':'g','arguments':'{\\'x\\':1}'}}",
        "{'type':'response.completed','response':" RESP("completed", ",'output':[]") "}",
        NULL,
    };
    run_t r = feed(0, ev);
    assert_json(delta(&r, 0, NULL), "{'role':'assistant','content':null,'tool_calls':[{'index':0,'id':'call_a','type':'function',"
                                    "'function':{'name':'f','arguments':''}}]}");
    assert_json(delta(&r, 1, NULL), "{'tool_calls':[{'index':1,'id':'call_b','type':'function','function':{'name':'g','arguments':''}}]}");
    assert_json(delta(&r, 2, NULL), "{'tool_calls':[{'index':1,'function':{'arguments':'{\\'x\\''}}]}");
    assert_json(delta(&r, 3, NULL), "{'tool_calls':[{'index':0,'function':{'arguments':'{\\'y\\''}}]}");
    assert_json(delta(&r, 4, NULL), "{'tool_calls':[{'index':1,'function':{'arguments':':1}'}}]}");
    assert_json(delta(&r, 5, NULL), "{'tool_calls':[{'index':0,'function':{'arguments':':2}'}}]}");
    assert_json(delta(&r, 6, "tool_calls"), "{}");
    assert_done(&r, 7);
    json_decref(r.chunks);
}

Test(chat_stream, arguments_given_only_whole_still_arrive)
{
    const char *ev[] = {
        CREATED,
        "{'type':'response.output_item.added','output_index':0,'item':{'type':'function_call','call_id':'c','name':'f','arguments':''}}",
        "{'type':'response.output_item.done','output_index':0,'item':{'type':'function_call','call_id':'c','name':'f','arguments':'{}'}}",
        "{'type':'response.completed','response':" RESP("completed", "") "}",
        NULL,
    };
    run_t r = feed(0, ev);
    delta(&r, 0, NULL);
    assert_json(delta(&r, 1, NULL), "{'tool_calls':[{'index':0,'function':{'arguments':'{}'}}]}");
    delta(&r, 2, "tool_calls");
    assert_done(&r, 3);
    json_decref(r.chunks);
}

Test(chat_stream, refusal)
{
    const char *ev[] = {
        CREATED,
        "{'type':'response.output_item.added','output_index':0,'item':{'type':'message','role':'assistant','content':[]}}",
        "{'type':'response.refusal.delta','output_index':0,'content_index':0,'delta':'No, '}",
        "{'type':'response.refusal.delta','output_index':0,'content_index':0,'delta':'sorry.'}",
        "{'type':'response.refusal.done','output_index':0,'content_index':0,'refusal':'No, sorry.'}",
        "{'type':'response.completed','response':" RESP("completed", "") "}",
        NULL,
    };
    run_t r = feed(0, ev);
    assert_json(delta(&r, 0, NULL), "{'role':'assistant','content':null,'refusal':''}");
    assert_json(delta(&r, 1, NULL), "{'refusal':'No, '}");
    assert_json(delta(&r, 2, NULL), "{'refusal':'sorry.'}");
    delta(&r, 3, "stop");
    assert_done(&r, 4);
    json_decref(r.chunks);
}

Test(chat_stream, incomplete_is_length_or_content_filter)
{
    const char *why[] = {"max_output_tokens", "content_filter"}, *finish[] = {"length", "content_filter"};
    for (int k = 0; k < 2; k++) {
        char term[512];
        snprintf(term, sizeof term, "{'type':'response.incomplete','response':" RESP("incomplete", ",'incomplete_details':{'reason':'%s'}") "}",
                 why[k]);
        const char *ev[] = {CREATED, "{'type':'response.output_text.delta','output_index':0,'content_index':0,'delta':'Hi'}", term, NULL};
        run_t r = feed(0, ev);
        delta(&r, 1, NULL);
        assert_json(delta(&r, 2, finish[k]), "{}");
        assert_done(&r, 3);
        json_decref(r.chunks);
    }
}

Test(chat_stream, usage_chunk)
{
    const char *ev[] = {
        CREATED,
        "{'type':'response.output_text.delta','output_index':0,'content_index':0,'delta':'Hi'}",
        "{'type':'response.completed','response':" RESP("completed", USAGE) "}",
        NULL,
    };
    run_t r = feed(1, ev);
    for (size_t i = 0; i < 3; i++) {
        json_t *u = json_object_get(json_array_get(r.chunks, i), "usage");
        cr_assert(u != NULL && json_is_null(u), "chunk %zu: usage must be null", i);
    }
    delta(&r, 2, "stop");
    json_t *last = json_array_get(r.chunks, 3);
    cr_assert_str_eq(json_string_value(json_object_get(last, "id")), "chatcmpl-abc");
    cr_assert_str_eq(json_string_value(json_object_get(last, "object")), "chat.completion.chunk");
    assert_json(json_object_get(last, "choices"), "[]");
    assert_json(json_object_get(last, "usage"), "{'prompt_tokens':10,'completion_tokens':7,'total_tokens':17,"
                                                "'prompt_tokens_details':{'cached_tokens':4},"
                                                "'completion_tokens_details':{'reasoning_tokens':3}}");
    assert_done(&r, 4);
    json_decref(r.chunks);
}

Test(chat_stream, answer_without_output_still_has_a_role)
{
    const char *ev[] = {CREATED, "{'type':'response.completed','response':" RESP("completed", "") "}", NULL};
    run_t r = feed(0, ev);
    assert_json(delta(&r, 0, NULL), "{'role':'assistant','content':'','refusal':null}");
    delta(&r, 1, "stop");
    assert_done(&r, 2);
    json_decref(r.chunks);
}

Test(chat_stream, failure_before_output_writes_only_the_error)
{
    const char *ev[] = {
        CREATED,
        "{'type':'response.failed','response':" RESP("failed", ",'error':{'code':'server_error','message':'boom'}") "}",
        NULL,
    };
    run_t r = feed(0, ev);
    cr_assert_eq(r.rc, DW_CHAT_EV_FAILED);
    cr_assert_eq(r.emitted, 0, "nothing reached the client: the caller may still answer with a status");
    cr_assert_eq(json_array_size(r.chunks), 1);
    assert_json(json_array_get(r.chunks, 0), "{'error':{'message':'boom','type':'server_error','param':null,'code':'server_error'}}");
    json_decref(r.chunks);
}

Test(chat_stream, error_envelope_mid_stream)
{
    const char *ev[] = {
        CREATED,
        "{'type':'response.output_text.delta','output_index':0,'content_index':0,'delta':'Hi'}",
        "{'type':'error','status':429,'error':{'type':'rate_limit_error','code':'rate_limit_exceeded','message':'slow','param':null}}",
        NULL,
    };
    run_t r = feed(0, ev);
    cr_assert_eq(r.rc, DW_CHAT_EV_FAILED);
    cr_assert_eq(r.emitted, 1);
    assert_json(json_array_get(r.chunks, 2), "{'error':{'message':'slow','type':'rate_limit_error','param':null,'code':'rate_limit_exceeded'}}");
    cr_assert_eq(json_array_size(r.chunks), 3);
    json_decref(r.chunks);
}

Test(chat_errors, error_body_status)
{
    struct {
        const char *err;
        int envelope, status;
        const char *want;
    } c[] = {
        {"{'type':'invalid_request_error','code':'model_not_found','message':'m','param':'model'}", 404, 404,
         "{'error':{'message':'m','type':'invalid_request_error','param':'model','code':'model_not_found'}}"},
        {"{'code':'rate_limit_exceeded','message':'r'}", 0, 429,
         "{'error':{'message':'r','type':'rate_limit_error','param':null,'code':'rate_limit_exceeded'}}"},
        {"{'code':'invalid_prompt','message':'p'}", 0, 400,
         "{'error':{'message':'p','type':'invalid_request_error','param':null,'code':'invalid_prompt'}}"},
        /* the flat SSE error event: its type "error" is not an error type */
        {"{'type':'error','code':'server_error','message':'x','param':null,'sequence_number':3}", 0, 500,
         "{'error':{'message':'x','type':'server_error','param':null,'code':'server_error'}}"},
    };
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        char *e = J(c[i].err);
        dw_buf_t out = {0};
        int status = 0;
        cr_assert_eq(dw_chat_error_body((dw_span_t){e, strlen(e)}, c[i].envelope, &out, &status), 0);
        cr_assert_eq(status, c[i].status, "case %zu", i);
        json_t *got = json_loadb(out.p, out.len, 0, NULL);
        assert_json(got, c[i].want);
        json_decref(got);
        dw_buf_free(&out);
        free(e);
    }
}

Test(chat_completion, non_streaming_object)
{
    char *resp = J(RESP("completed", ",'service_tier':'default','output':["
                       "{'id':'rs_1','type':'reasoning','summary':[]},"
                       "{'id':'msg_1','type':'message','status':'completed','role':'assistant','content':["
                       "{'type':'output_text','text':'Two ','annotations':[],'logprobs':[]},{'type':'output_text','text':'calls\\n','annotations':[]}]},"
                       "{'id':'fc_1','type':'function_call','status':'completed','call_id':'call_1','name':'f','arguments':'{}'},"
                       "{'id':'fc_2','type':'function_call','status':'completed','call_id':'call_2','name':'g','arguments':'{\\'a\\':1}'}]" USAGE));
    dw_buf_t out = {0};
    cr_assert_eq(dw_chat_completion((dw_span_t){resp, strlen(resp)}, 0, &out), 0);
    json_t *got = json_loadb(out.p, out.len, 0, NULL);
    cr_assert_not_null(got, "%.*s", (int)out.len, out.p);
    assert_json(got, "{'id':'chatcmpl-abc','object':'chat.completion','created':1700000000,'model':'gpt-x','service_tier':'default',"
                     "'choices':[{'index':0,'message':{'role':'assistant','content':'Two calls\\n','refusal':null,'annotations':[],"
                     "'tool_calls':[{'id':'call_1','type':'function','function':{'name':'f','arguments':'{}'}},"
                     "{'id':'call_2','type':'function','function':{'name':'g','arguments':'{\\'a\\':1}'}}]},"
                     "'logprobs':null,'finish_reason':'tool_calls'}],"
                     "'usage':{'prompt_tokens':10,'completion_tokens':7,'total_tokens':17,'prompt_tokens_details':{'cached_tokens':4},"
                     "'completion_tokens_details':{'reasoning_tokens':3}}}");
    json_decref(got);
    dw_buf_free(&out);
    free(resp);
}

Test(chat_completion, refusal_and_length)
{
    char *resp = J(RESP("incomplete", ",'incomplete_details':{'reason':'max_output_tokens'},'output':["
                       "{'type':'message','role':'assistant','content':[{'type':'refusal','refusal':'no'}]}]"));
    dw_buf_t out = {0};
    cr_assert_eq(dw_chat_completion((dw_span_t){resp, strlen(resp)}, 0, &out), 0);
    json_t *got = json_loadb(out.p, out.len, 0, NULL);
    assert_json(json_object_get(got, "choices"), "[{'index':0,'message':{'role':'assistant','content':null,'refusal':'no','annotations':[]},"
                                                 "'logprobs':null,'finish_reason':'length'}]");
    cr_assert_null(json_object_get(got, "usage"));
    cr_assert_null(json_object_get(got, "system_fingerprint"));
    json_decref(got);
    dw_buf_free(&out);
    free(resp);
}

/* Legacy functions: the call is delta.function_call / message.function_call, finish function_call. */
Test(chat_stream, legacy_function_call)
{
    const char *ev[] = {
        CREATED,
        "{'type':'response.output_item.added','output_index':0,'item':{'type':'function_call','call_id':'call_a','name':'f','arguments':''}}",
        "{'type':'response.function_call_arguments.delta','output_index':0,'delta':'{\\'y\\''}",
        "{'type':'response.function_call_arguments.delta','output_index':0,'delta':':2}'}",
        "{'type':'response.completed','response':" RESP("completed", "") "}",
        NULL,
    };
    run_t r = feed_mode(0, 1, ev);
    assert_json(delta(&r, 0, NULL), "{'role':'assistant','content':null,'function_call':{'name':'f','arguments':''}}");
    assert_json(delta(&r, 1, NULL), "{'function_call':{'arguments':'{\\'y\\''}}");
    assert_json(delta(&r, 2, NULL), "{'function_call':{'arguments':':2}'}}");
    delta(&r, 3, "function_call");
    assert_done(&r, 4);
    json_decref(r.chunks);

    char *resp = J(RESP("completed", ",'output':[{'type':'function_call','call_id':'call_a','name':'f','arguments':'{}'}]"));
    dw_buf_t out = {0};
    cr_assert_eq(dw_chat_completion((dw_span_t){resp, strlen(resp)}, 1, &out), 0);
    json_t *got = json_loadb(out.p, out.len, 0, NULL);
    assert_json(json_object_get(got, "choices"), "[{'index':0,'message':{'role':'assistant','content':null,'refusal':null,'annotations':[],"
                                                 "'function_call':{'name':'f','arguments':'{}'}},'logprobs':null,'finish_reason':'function_call'}]");
    json_decref(got);
    dw_buf_free(&out);
    free(resp);
}

Test(chat_stream, malformed_events_are_refused)
{
    const char *bad[] = {"[1]", "{\"no\":\"type\"}", "{\"type\":\"response.output_item.added\",\"item\":{\"type\":\"function_call\"}}",
                         "{\"type\":\"response.output_item.added\",\"output_index\":70000,\"item\":{\"type\":\"function_call\"}}"};
    for (size_t i = 0; i < 4; i++) {
        dw_chat_stream_t s;
        dw_buf_t out = {0};
        dw_chat_stream_init(&s, 0, 0);
        cr_assert_eq(dw_chat_stream_event(&s, bad[i], strlen(bad[i]), &out), DW_CHAT_EV_EBADEVENT, "%s", bad[i]);
        cr_assert_eq(out.len, 0);
        dw_chat_stream_free(&s);
    }
}
