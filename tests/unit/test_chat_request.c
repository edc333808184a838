/* Chat Completions request → Responses request (translate/chat_request.c): every row of
 * the README's Chat Completions mapping and every fallback reason. Shapes from openai-node 7.57.0's types. */
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <criterion/criterion.h>

#include "translate/chat_request.h"

/* Test JSON is written with ' for " (no test text needs an apostrophe). */
static char *J(const char *s)
{
    char *o = strdup(s);
    for (char *p = o; *p; p++)
        if (*p == '\'')
            *p = '"';
    return o;
}

static int run(const char *body, dw_chat_request_t *r)
{
    char *b = J(body);
    memset(r, 0, sizeof *r);
    int rc = dw_chat_request(b, strlen(b), r);
    free(b);
    return rc;
}

/* Translates body (verbatim) and compares with the expected Responses body (as JSON values). */
static void expect_raw(const char *body, const char *w)
{
    dw_chat_request_t r = {0};
    int rc = dw_chat_request(body, strlen(body), &r);
    cr_assert_eq(rc, DW_CHAT_OK, "fell back: %s (for %s)", r.reason, body);
    json_error_t e;
    json_t *got = json_loadb(r.body.p, r.body.len, 0, &e), *exp = json_loads(w, 0, &e);
    cr_assert_not_null(got, "invalid output: %.*s", (int)r.body.len, r.body.p);
    cr_assert_not_null(exp, "bad expectation: %s", w);
    char *gs = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT), *es = json_dumps(exp, JSON_SORT_KEYS | JSON_COMPACT);
    cr_assert(json_equal(got, exp), "\n got: %s\nwant: %s", gs, es);
    free(gs);
    free(es);
    json_decref(got);
    json_decref(exp);
    dw_chat_request_free(&r);
}

static void expect(const char *body, const char *want)
{
    char *b = J(body), *w = J(want);
    expect_raw(b, w);
    free(b);
    free(w);
}

/* The input array expected for the given messages, with no other field. */
static void expect_input(const char *messages, const char *input)
{
    char body[4096], want[4096];
    snprintf(body, sizeof body, "{'model':'m','messages':%s}", messages);
    snprintf(want, sizeof want, "{'model':'m','input':%s,'store':false}", input);
    expect(body, want);
}

static void expect_fallback(const char *body, const char *why)
{
    dw_chat_request_t r;
    int rc = run(body, &r);
    cr_assert_eq(rc, DW_CHAT_FALLBACK, "translated: %s", body);
    cr_assert(strstr(r.reason, why) != NULL, "reason '%s' does not name '%s'", r.reason, why);
    cr_assert_eq(r.body.len, 0);
    dw_chat_request_free(&r);
}

#define USER "{'role':'user','content':'hi'}"
#define USER_ITEM "{'type':'message','role':'user','content':'hi'}"

Test(chat_request, system_and_developer_stay_messages_in_place)
{
    expect_input("[{'role':'system','content':'be terse'}," USER ",{'role':'developer','content':[{'type':'text','text':'d'}]}]",
                 "[{'type':'message','role':'system','content':'be terse'}," USER_ITEM
                 ",{'type':'message','role':'developer','content':[{'type':'input_text','text':'d'}]}]");
}

Test(chat_request, user_content_parts)
{
    expect_input("[{'role':'user','content':[{'type':'text','text':'look'},"
                 "{'type':'image_url','image_url':{'url':'https://x/i.png'}},"
                 "{'type':'image_url','image_url':{'url':'data:image/png;base64,AA','detail':'low'}},"
                 "{'type':'file','file':{'file_id':'file-1'}},"
                 "{'type':'file','file':{'file_data':'data:application/pdf;base64,AA','filename':'a.pdf'}},"
                 "{'type':'text','text':'t','prompt_cache_breakpoint':{'mode':'explicit'}}]}]",
                 "[{'type':'message','role':'user','content':[{'type':'input_text','text':'look'},"
                 "{'type':'input_image','image_url':'https://x/i.png','detail':'auto'},"
                 "{'type':'input_image','image_url':'data:image/png;base64,AA','detail':'low'},"
                 "{'type':'input_file','file_id':'file-1'},"
                 "{'type':'input_file','file_data':'data:application/pdf;base64,AA','filename':'a.pdf'},"
                 "{'type':'input_text','text':'t','prompt_cache_breakpoint':{'mode':'explicit'}}]}]");
}

Test(chat_request, assistant_text_tool_calls_and_outputs)
{
    expect_input("[" USER ",{'role':'assistant','content':'let me look','tool_calls':["
                 "{'id':'call_1','type':'function','function':{'name':'ls','arguments':'{}'}},"
                 "{'id':'call_2','type':'function','function':{'name':'cat','arguments':'{\\'f\\':1}'}}]},"
                 "{'role':'tool','tool_call_id':'call_1','content':'a b'},"
                 "{'role':'tool','tool_call_id':'call_2','content':[{'type':'text','text':'x'}]},"
                 "{'role':'assistant','content':'done'}]",
                 "[" USER_ITEM ",{'type':'message','role':'assistant','content':[{'type':'output_text','text':'let me look'}]},"
                 "{'type':'function_call','call_id':'call_1','name':'ls','arguments':'{}'},"
                 "{'type':'function_call','call_id':'call_2','name':'cat','arguments':'{\\'f\\':1}'},"
                 "{'type':'function_call_output','call_id':'call_1','output':'a b'},"
                 "{'type':'function_call_output','call_id':'call_2','output':[{'type':'input_text','text':'x'}]},"
                 "{'type':'message','role':'assistant','content':[{'type':'output_text','text':'done'}]}]");
}

/* null, "" and [] next to tool calls are all "no text"; the API's own echo fields are ignored */
Test(chat_request, assistant_without_text_is_calls_only)
{
    const char *contents[] = {"", "'content':null,", "'content':'',", "'content':[],"};
    for (size_t i = 0; i < 4; i++) {
        char m[512];
        snprintf(m, sizeof m, "[" USER ",{'role':'assistant',%s'refusal':null,'annotations':[],'tool_calls':["
                              "{'id':'c','type':'function','function':{'name':'f','arguments':'{}'},'index':0}]}]", contents[i]);
        expect_input(m, "[" USER_ITEM ",{'type':'function_call','call_id':'c','name':'f','arguments':'{}'}]");
    }
}

Test(chat_request, assistant_with_empty_tool_calls_is_text)
{
    expect_input("[" USER ",{'role':'assistant','content':'','tool_calls':[]}]",
                 "[" USER_ITEM ",{'type':'message','role':'assistant','content':[{'type':'output_text','text':''}]}]");
}

Test(chat_request, assistant_refusal)
{
    expect_input("[" USER ",{'role':'assistant','content':null,'refusal':'no'},"
                 "{'role':'assistant','content':[{'type':'text','text':'a'},{'type':'refusal','refusal':'b'}]}]",
                 "[" USER_ITEM ",{'type':'message','role':'assistant','content':[{'type':'refusal','refusal':'no'}]},"
                 "{'type':'message','role':'assistant','content':[{'type':'output_text','text':'a'},{'type':'refusal','refusal':'b'}]}]");
}

Test(chat_request, tools_are_flattened_strict_defaults_to_false)
{
    expect("{'model':'m','messages':[" USER "],'tools':["
           "{'type':'function','function':{'name':'a','description':'d','parameters':{'type':'object'}}},"
           "{'type':'function','function':{'name':'b','parameters':{},'strict':true}}],'tool_choice':'required',"
           "'parallel_tool_calls':false}",
           "{'model':'m','input':[" USER_ITEM "],'tools':["
           "{'type':'function','name':'a','description':'d','parameters':{'type':'object'},'strict':false},"
           "{'type':'function','name':'b','parameters':{},'strict':true}],'tool_choice':'required',"
           "'parallel_tool_calls':false,'store':false}");
}

/* Legacy functions: function tools (strict false, one call at a time), function_call as
 * tool_choice, and the history's calls paired with their results by an invented, stable call id. */
Test(chat_request, legacy_functions)
{
    expect("{'model':'m','messages':[" USER ",{'role':'assistant','content':null,'function_call':{'name':'f','arguments':'{}'}},"
           "{'role':'function','name':'f','content':'out'},{'role':'assistant','content':'','function_call':{'name':'f','arguments':'{}'}},"
           "{'role':'function','name':'f','content':'out2'}],"
           "'functions':[{'name':'f','description':'d','parameters':{'type':'object'}}],'function_call':{'name':'f'}}",
           "{'model':'m','input':[" USER_ITEM ",{'type':'function_call','call_id':'call_legacy_1','name':'f','arguments':'{}'},"
           "{'type':'function_call_output','call_id':'call_legacy_1','output':'out'},"
           "{'type':'function_call','call_id':'call_legacy_3','name':'f','arguments':'{}'},"
           "{'type':'function_call_output','call_id':'call_legacy_3','output':'out2'}],"
           "'tools':[{'type':'function','name':'f','description':'d','parameters':{'type':'object'},'strict':false}],"
           "'parallel_tool_calls':false,'tool_choice':{'type':'function','name':'f'},'store':false}");
    const char *fc[] = {"'auto'", "'none'"};
    for (size_t i = 0; i < 2; i++) {
        char b[512], w[512];
        snprintf(b, sizeof b, "{'model':'m','messages':[" USER "],'function_call':%s}", fc[i]);
        snprintf(w, sizeof w, "{'model':'m','input':[" USER_ITEM "],'tool_choice':%s,'store':false}", fc[i]);
        expect(b, w);
    }
    dw_chat_request_t r;
    cr_assert_eq(run("{'model':'m','messages':[" USER "],'functions':[{'name':'f','parameters':{}}]}", &r), DW_CHAT_OK);
    cr_assert(r.legacy_functions);
    dw_chat_request_free(&r);
}

Test(chat_request, tool_choice_forms)
{
    const char *in[] = {"'auto'", "'none'", "'required'", "{'type':'function','function':{'name':'f'}}",
                        ("{'type':'allowed_tools','allowed_tools':{'mode':'required','tools':["
                         "{'type':'function','function':{'name':'a'}},{'type':'function','function':{'name':'b'}}]}}")};
    const char *out[] = {"'auto'", "'none'", "'required'", "{'type':'function','name':'f'}",
                         "{'type':'allowed_tools','mode':'required','tools':[{'type':'function','name':'a'},{'type':'function','name':'b'}]}"};
    for (size_t i = 0; i < 5; i++) {
        char b[512], w[512];
        snprintf(b, sizeof b, "{'model':'m','messages':[" USER "],'tool_choice':%s}", in[i]);
        snprintf(w, sizeof w, "{'model':'m','input':[" USER_ITEM "],'tool_choice':%s,'store':false}", out[i]);
        expect(b, w);
    }
}

Test(chat_request, response_format_and_verbosity_become_text)
{
    expect("{'model':'m','messages':[" USER "],'response_format':{'type':'json_schema','json_schema':"
           "{'name':'n','description':'d','schema':{'type':'object'},'strict':true}},'verbosity':'low'}",
           "{'model':'m','input':[" USER_ITEM "],'text':{'format':{'type':'json_schema','name':'n','description':'d',"
           "'schema':{'type':'object'},'strict':true},'verbosity':'low'},'store':false}");
    expect("{'model':'m','messages':[" USER "],'response_format':{'type':'json_schema','json_schema':{'name':'n','schema':{}}}}",
           "{'model':'m','input':[" USER_ITEM "],'text':{'format':{'type':'json_schema','name':'n','schema':{},'strict':false}},"
           "'store':false}");
    expect("{'model':'m','messages':[" USER "],'response_format':{'type':'json_object'}}",
           "{'model':'m','input':[" USER_ITEM "],'text':{'format':{'type':'json_object'}},'store':false}");
    expect("{'model':'m','messages':[" USER "],'response_format':{'type':'text'}}",
           "{'model':'m','input':[" USER_ITEM "],'text':{'format':{'type':'text'}},'store':false}");
    expect("{'model':'m','messages':[" USER "],'verbosity':'high'}",
           "{'model':'m','input':[" USER_ITEM "],'text':{'verbosity':'high'},'store':false}");
}

Test(chat_request, token_limits_and_reasoning)
{
    expect("{'model':'m','messages':[" USER "],'max_tokens':100,'reasoning_effort':'low'}",
           "{'model':'m','input':[" USER_ITEM "],'max_output_tokens':100,'reasoning':{'effort':'low'},'store':false}");
    expect("{'model':'m','messages':[" USER "],'max_completion_tokens':16,'max_tokens':null}",
           "{'model':'m','input':[" USER_ITEM "],'max_output_tokens':16,'store':false}");
}

Test(chat_request, same_named_fields_are_copied_and_nulls_dropped)
{
    expect("{'model':'m','messages':[" USER "],'temperature':0.2,'top_p':0.9,'user':'u','metadata':{'k':'v'},"
           "'service_tier':'flex','prompt_cache_key':'p','prompt_cache_retention':'24h','prompt_cache_options':{'ttl':'30m'},"
           "'safety_identifier':'s','stream':true,'stream_options':{'include_usage':true},'store':true,"
           "'n':1,'logprobs':false,'frequency_penalty':0,'presence_penalty':0.0,'logit_bias':{},'seed':null,'stop':null,"
           "'audio':null,'modalities':['text'],'prediction':null,'top_logprobs':null,'functions':null,'moderation':null}",
           "{'model':'m','input':[" USER_ITEM "],'temperature':0.2,'top_p':0.9,'user':'u','metadata':{'k':'v'},"
           "'service_tier':'flex','prompt_cache_key':'p','prompt_cache_retention':'24h','prompt_cache_options':{'ttl':'30m'},"
           "'safety_identifier':'s','stream':true,'store':true}");
    expect("{'model':'m','messages':[" USER "],'temperature':null,'tools':null,'tool_choice':null,'store':false,"
           "'reasoning_effort':null}",
           "{'model':'m','input':[" USER_ITEM "],'store':false}");
}

Test(chat_request, stream_flags_for_the_output_side)
{
    dw_chat_request_t r;
    cr_assert_eq(run("{'model':'m','messages':[" USER "],'stream':true,'stream_options':{'include_usage':true,"
                     "'include_obfuscation':false}}", &r), DW_CHAT_OK);
    cr_assert(r.stream && r.include_usage);
    dw_chat_request_free(&r);
    cr_assert_eq(run("{'model':'m','messages':[" USER "]}", &r), DW_CHAT_OK);
    cr_assert(!r.stream && !r.include_usage);
    dw_chat_request_free(&r);
}

Test(chat_request, escapes_pass_through_untouched)
{
    expect_input("[{'role':'\\u0075ser','content':'a\\nb \\u00e9 \\ud83d\\ude00 \\\\'}]",
                 "[{'type':'message','role':'user','content':'a\\nb \\u00e9 \\ud83d\\ude00 \\\\'}]");
}

Test(chat_request, fallbacks_name_the_field)
{
    static const struct {
        const char *body, *why;
    } cases[] = {
        {"{'model':'m','messages':[" USER "],'n':2}", "n > 1"},
        {"{'model':'m','messages':[" USER "],'logprobs':true}", "logprobs"},
        {"{'model':'m','messages':[" USER "],'top_logprobs':2}", "top_logprobs"},
        {"{'model':'m','messages':[" USER "],'audio':{'voice':'alloy','format':'wav'}}", "audio"},
        {"{'model':'m','messages':[" USER "],'modalities':['text','audio']}", "modalities"},
        {"{'model':'m','messages':[" USER "],'prediction':{'type':'content','content':'x'}}", "prediction"},
        {"{'model':'m','messages':[" USER "],'logit_bias':{'50256':-100}}", "logit_bias"},
        {"{'model':'m','messages':[" USER "],'seed':7}", "seed"},
        {"{'model':'m','messages':[" USER "],'frequency_penalty':0.5}", "frequency_penalty"},
        {"{'model':'m','messages':[" USER "],'presence_penalty':-1}", "presence_penalty"},
        {"{'model':'m','messages':[" USER "],'stop':['x']}", "stop"},
        {"{'model':'m','messages':[" USER "],'stop':'x'}", "stop"},
        {"{'model':'m','messages':[" USER "],'web_search_options':{}}", "web_search_options"},
        {"{'model':'m','messages':[" USER "],'moderation':{'model':'omni-moderation-latest'}}", "moderation"},
        {"{'model':'m','messages':[" USER "],'functions':[{'name':'f'}]}", "functions[0] without name or parameters"},
        {"{'model':'m','messages':[" USER "],'functions':[{'name':'f','parameters':{}}],'tools':[]}", "functions mixed with tools"},
        {"{'model':'m','messages':[" USER "],'function_call':'auto','tool_choice':'auto'}", "functions mixed with tools"},
        {"{'model':'m','messages':[" USER "],'functions':[{'name':'f','parameters':{}}],'parallel_tool_calls':true}",
         "parallel_tool_calls with legacy functions"},
        {"{'model':'m','messages':[" USER ",{'role':'function','name':'f','content':'x'}]}", "function result without its function_call"},
        {"{'model':'m','messages':[" USER ",{'role':'assistant','function_call':{'name':'f','arguments':'{}'}},"
         "{'role':'function','name':'g','content':'x'}]}", "function result without its function_call"},
        {"{'model':'m','messages':[" USER ",{'role':'assistant','function_call':{'name':'f','arguments':'{}'}},"
         "{'role':'assistant','function_call':{'name':'f','arguments':'{}'}}]}", "while another awaits its result"},
        {"{'model':'m','messages':[{'role':'assistant','function_call':{'name':'f','arguments':'{}'},"
         "'tool_calls':[{'id':'c','type':'function','function':{'name':'f','arguments':'{}'}}]}]}", "both function_call and tool_calls"},
        {"{'model':'m','messages':[" USER "],'frobnicate':1}", "unknown field frobnicate"},
        {"{'model':'m','messages':[" USER "],'model':'n'}", "model given twice"},
        {"{'model':'m','messages':[" USER "],'max_tokens':5}", "below 16"},
        {"{'model':'m','messages':[" USER "],'max_tokens':50,'max_completion_tokens':50}", "both max_tokens"},
        {"{'model':'m','messages':[" USER "],'stream_options':{'chunked':true}}", "stream_options.chunked"},
        {"{'model':'m','messages':[]}", "messages missing or empty"},
        {"{'messages':[" USER "]}", "model missing"},
        {"[1]", "not a JSON object"},
        {"{'model':'m','messages':[" USER "]", "not a JSON object"},
        {"{'model':'m','messages':[{'role':'user','content':'x','name':'bob'}]}", "messages[0].name"},
        {"{'model':'m','messages':[{'role':'user','content':[{'type':'input_audio','input_audio':{'data':'','format':'wav'}}]}]}",
         "input_audio"},
        {"{'model':'m','messages':[{'role':'wizard','content':'x'}]}", "messages[0].role"},
        {"{'model':'m','messages':[{'role':'user','content':'x','extra':1}]}", "messages[0].extra"},
        {"{'model':'m','messages':[{'role':'user','content':'x','content':'y'}]}", "given twice"},
        {"{'model':'m','messages':[{'role':'user','content':'x','tool_call_id':'c'}]}", "tool_call_id is not supported"},
        {"{'model':'m','messages':[{'role':'assistant','content':null,'audio':{'id':'a'}}]}", "messages[0].audio"},
        {"{'model':'m','messages':[{'role':'assistant','content':null}]}", "without content"},
        {"{'model':'m','messages':[{'role':'assistant','content':null,'tool_calls':[ ]}]}", "without content"},
        {"{'model':'m','messages':[{'role':'assistant','tool_calls':[{'id':'c','type':'custom','custom':{}}]}]}",
         "messages[0].tool_calls[0]"},
        {"{'model':'m','messages':[{'role':'tool','content':'x'}]}", "tool_call_id"},
        {"{'model':'m','messages':[{'role':'system','content':[{'type':'image_url','image_url':{'url':'u'}}]}]}",
         "not carried for this role"},
        {"{'model':'m','messages':[{'role':'assistant','content':[{'type':'text','text':'a','prompt_cache_breakpoint':{'mode':'explicit'}}]}]}",
         "not carried for this role"},
        {"{'model':'m','messages':[{'role':'user','content':[{'type':'text','text':'a','refusal':'b'}]}]}", "not carried for this role"},
        {"{'model':'m','messages':[" USER "],'tools':[{'type':'custom','custom':{'name':'c'}}]}", "tools[0].custom is not supported"},
        {"{'model':'m','messages':[" USER "],'tools':[{'type':'function','function':{'name':'f'}}]}", "parameters omitted"},
        {"{'model':'m','messages':[" USER "],'tool_choice':{'type':'allowed_tools','allowed_tools':{}}}",
         "allowed_tools without mode or tools"},
        {"{'model':'m','messages':[" USER "],'tool_choice':{'type':'custom','custom':{'name':'c'}}}", "tool_choice of this form"},
        {"{'model':'m','messages':[" USER "],'tool_choice':{'type':'allowed_tools','allowed_tools':{'mode':'auto','tools':"
         "[{'type':'custom','custom':{'name':'c'}}]}}}", "tool_choice.allowed_tools.tools[].custom"},
        {"{'model':'m','messages':[" USER "],'response_format':{'type':'json_schema','json_schema':{'name':'n'}}}",
         "without name or schema"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        expect_fallback(cases[i].body, cases[i].why);
}

/* Key names in reasons are printable identifiers only (they go into a log line). */
Test(chat_request, reason_never_carries_raw_bytes)
{
    dw_chat_request_t r;
    cr_assert_eq(run("{'model':'m','messages':[" USER "],'a\\n\\u0007':1}", &r), DW_CHAT_FALLBACK);
    cr_assert_str_eq(r.reason, "unknown field (unprintable)");
    dw_chat_request_free(&r);
}

/* Second-turn bodies captured from real clients (custom fetch, no network): the Vercel AI SDK
 * 6.0.326 (@ai-sdk/openai 3.0.141) `generateText` with `openai.chat()`, and openai-node 7.57.0's
 * streaming `runTools` helper after two parallel calls. Both are carried, echoes included. */
Test(chat_request, real_client_bodies)
{
    expect_raw("{\"model\":\"gpt-5.5\",\"messages\":[{\"role\":\"developer\",\"content\":\"You are terse.\"},{\"role\":\"user\",\"content\":\"run echo hello\"},{\"role\":\"assistant\",\"content\":\"The first run printed hello. Running it once more to confirm.\",\"tool_calls\":[{\"id\":\"call_tGplLo0CSindLCtQ\",\"type\":\"function\",\"function\":{\"name\":\"run_shell\",\"arguments\":\"{\\\"command\\\":\\\"echo hello\\\"}\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"call_tGplLo0CSindLCtQ\",\"content\":\"hello\\n\"}],\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"run_shell\",\"description\":\"Run\",\"parameters\":{\"type\":\"object\",\"properties\":{\"command\":{\"type\":\"string\"}},\"required\":[\"command\"]}}}],\"tool_choice\":\"auto\"}",
               "{\"model\":\"gpt-5.5\",\"input\":[{\"type\":\"message\",\"role\":\"developer\",\"content\":\"You are terse.\"},{\"type\":\"message\",\"role\":\"user\",\"content\":\"run echo hello\"},{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"The first run printed hello. Running it once more to confirm.\"}]},{\"type\":\"function_call\",\"call_id\":\"call_tGplLo0CSindLCtQ\",\"name\":\"run_shell\",\"arguments\":\"{\\\"command\\\":\\\"echo hello\\\"}\"},{\"type\":\"function_call_output\",\"call_id\":\"call_tGplLo0CSindLCtQ\",\"output\":\"hello\\n\"}],\"tools\":[{\"type\":\"function\",\"name\":\"run_shell\",\"description\":\"Run\",\"parameters\":{\"type\":\"object\",\"properties\":{\"command\":{\"type\":\"string\"}},\"required\":[\"command\"]},\"strict\":false}],\"tool_choice\":\"auto\",\"store\":false}");
    expect_raw("{\"model\":\"gpt-5.5\",\"stream_options\":{\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":\"go\"},{\"role\":\"assistant\",\"content\":\"Let me check.\",\"tool_calls\":[{\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"arguments\":\"{\\\"y\\\":2}\",\"name\":\"f\"}},{\"id\":\"call_b\",\"type\":\"function\",\"function\":{\"arguments\":\"{\\\"x\\\":1}\",\"name\":\"g\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"call_a\",\"content\":\"done\"},{\"role\":\"tool\",\"tool_call_id\":\"call_b\",\"content\":\"done\"}],\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":{\"type\":\"object\",\"properties\":{}}}},{\"type\":\"function\",\"function\":{\"name\":\"g\",\"parameters\":{\"type\":\"object\",\"properties\":{}}}}],\"tool_choice\":\"auto\",\"stream\":true}",
               "{\"model\":\"gpt-5.5\",\"input\":[{\"type\":\"message\",\"role\":\"user\",\"content\":\"go\"},{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"Let me check.\"}]},{\"type\":\"function_call\",\"call_id\":\"call_a\",\"name\":\"f\",\"arguments\":\"{\\\"y\\\":2}\"},{\"type\":\"function_call\",\"call_id\":\"call_b\",\"name\":\"g\",\"arguments\":\"{\\\"x\\\":1}\"},{\"type\":\"function_call_output\",\"call_id\":\"call_a\",\"output\":\"done\"},{\"type\":\"function_call_output\",\"call_id\":\"call_b\",\"output\":\"done\"}],\"stream\":true,\"tools\":[{\"type\":\"function\",\"name\":\"f\",\"parameters\":{\"type\":\"object\",\"properties\":{}},\"strict\":false},{\"type\":\"function\",\"name\":\"g\",\"parameters\":{\"type\":\"object\",\"properties\":{}},\"strict\":false}],\"tool_choice\":\"auto\",\"store\":false}");
}
