/* translate/frame: the response.create frame built from a client body (field copying, the input
 * array, previous_response_id, headroom, strip), including "input": [] (issue 19, item 8). */
#include <stdint.h>
#include <string.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include "translate/frame.h"

/* Under ASan, a failed huge allocation returns NULL (as glibc does) instead of aborting. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}

typedef struct {
    dw_members_t members;
    dw_spans_t items;
    dw_buf_t out;
} frame_t;

static void scan_body(frame_t *f, const char *body)
{
    memset(f, 0, sizeof(*f));
    size_t off;
    cr_assert_eq(dw_json_scan_object(body, strlen(body), "input", &f->members, &f->items, &off), 0, "%s", body);
}

static void frame_free(frame_t *f)
{
    dw_members_free(&f->members);
    dw_spans_free(&f->items);
    dw_buf_free(&f->out);
}

/* Builds with headroom 16 and checks the headroom is zeroed and the frame is exactly want. */
static void build_expect(frame_t *f, dw_frame_spec_t spec, const char *want)
{
    spec.members = &f->members;
    cr_assert_eq(dw_frame_build(&f->out, 16, &spec), 0);
    cr_assert_geq(f->out.len, 16);
    for (size_t i = 0; i < 16; i++)
        cr_assert_eq(f->out.p[i], 0, "headroom byte %zu", i);
    const char *p = f->out.p + 16;
    size_t n = f->out.len - 16;
    cr_assert_eq(n, strlen(want), "got %.*s\nwant %s", (int)n, p, want);
    cr_assert(memcmp(p, want, n) == 0, "got %.*s\nwant %s", (int)n, p, want);
    json_t *v = json_loadb(p, n, 0, NULL);
    cr_assert_not_null(v, "the frame is not JSON");
    json_decref(v);
}

Test(frame, copies_fields_drops_stream_and_type)
{
    frame_t f;
    scan_body(&f, "{\"model\":\"gpt-5.5\",\"stream\":true,\"type\":\"x\",\"input\":[{\"a\":1},{\"b\":2}],"
                  "\"tools\":[ {\"type\" : \"function\"} ],\"store\":false}");
    build_expect(&f, (dw_frame_spec_t){.items = f.items.v, .n_items = f.items.n},
                 "{\"type\":\"response.create\",\"model\":\"gpt-5.5\",\"tools\":[ {\"type\" : \"function\"} ],"
                 "\"store\":false,\"input\":[{\"a\":1},{\"b\":2}]}");
    frame_free(&f);
}

Test(frame, delta_sends_items_after_first_and_the_prev_id)
{
    frame_t f;
    scan_body(&f, "{\"model\":\"m\",\"previous_response_id\":\"old\",\"input\":[{\"a\":1},{\"b\":2},{\"c\":3}]}");
    build_expect(&f, (dw_frame_spec_t){.items = f.items.v, .n_items = f.items.n, .first = 2, .prev_id = "resp_2"},
                 "{\"type\":\"response.create\",\"model\":\"m\",\"previous_response_id\":\"resp_2\",\"input\":[{\"c\":3}]}");
    frame_free(&f);
}

Test(frame, client_prev_id_kept_when_none_is_supplied)
{
    frame_t f;
    scan_body(&f, "{\"previous_response_id\":\"resp_c\",\"input\":[1]}");
    build_expect(&f, (dw_frame_spec_t){.items = f.items.v, .n_items = f.items.n},
                 "{\"type\":\"response.create\",\"previous_response_id\":\"resp_c\",\"input\":[1]}");
    frame_free(&f);
}

Test(frame, prev_id_is_escaped)
{
    frame_t f;
    scan_body(&f, "{\"input\":[]}");
    build_expect(&f, (dw_frame_spec_t){.prev_id = "a\"b\\c"},
                 "{\"type\":\"response.create\",\"previous_response_id\":\"a\\\"b\\\\c\",\"input\":[]}");
    frame_free(&f);
}

Test(frame, empty_input_array)
{
    /* the scanner leaves items NULL for "input": []; the builder must not offset it */
    frame_t f;
    scan_body(&f, "{\"model\":\"m\",\"input\":[]}");
    cr_assert_null(f.items.v);
    build_expect(&f, (dw_frame_spec_t){.items = f.items.v, .n_items = f.items.n},
                 "{\"type\":\"response.create\",\"model\":\"m\",\"input\":[]}");
    frame_free(&f);
}

Test(frame, delta_of_nothing)
{
    /* every item elided (first == n_items): an empty input with the previous response */
    frame_t f;
    scan_body(&f, "{\"input\":[{\"a\":1}]}");
    build_expect(&f, (dw_frame_spec_t){.items = f.items.v, .n_items = f.items.n, .first = 1, .prev_id = "r"},
                 "{\"type\":\"response.create\",\"previous_response_id\":\"r\",\"input\":[]}");
    frame_free(&f);
}

Test(frame, string_input_verbatim)
{
    frame_t f;
    scan_body(&f, "{\"input\":\"hello \\\"you\\\"\",\"model\":\"m\"}");
    build_expect(&f, (dw_frame_spec_t){.input_verbatim = 1},
                 "{\"type\":\"response.create\",\"input\":\"hello \\\"you\\\"\",\"model\":\"m\"}");
    frame_free(&f);
}

Test(frame, escaped_member_keys_are_matched_decoded)
{
    /* "\u0073tream" is "stream": dropped like the plain spelling; other keys are copied raw */
    frame_t f;
    scan_body(&f, "{\"\\u0073tream\":true,\"k\\u00e9y\":1,\"input\":[]}");
    build_expect(&f, (dw_frame_spec_t){0},
                 "{\"type\":\"response.create\",\"k\\u00e9y\":1,\"input\":[]}");
    frame_free(&f);
}

Test(frame, strip_is_indexed_like_items)
{
    frame_t f;
    scan_body(&f, "{\"input\":[{\"type\":\"function_call\",\"parsed_arguments\":{},\"name\":\"f\"},"
                  "{\"type\":\"function_call\",\"parsed_arguments\":{},\"name\":\"g\"},"
                  "{\"type\":\"function_call\",\"parsed_arguments\":{},\"name\":\"h\"}]}");
    const uint8_t strip[] = {0, 0, 1};
    build_expect(&f, (dw_frame_spec_t){.items = f.items.v, .n_items = f.items.n, .first = 1, .strip = strip},
                 "{\"type\":\"response.create\",\"input\":[{\"type\":\"function_call\",\"parsed_arguments\":{},"
                 "\"name\":\"g\"},{\"type\":\"function_call\",\"name\":\"h\"}]}");
    frame_free(&f);
}

Test(frame, item_to_strip_that_is_not_json_fails)
{
    frame_t f;
    scan_body(&f, "{\"input\":[]}");
    const dw_span_t items[] = {{"{\"a\":", 5}};
    const uint8_t strip[] = {1};
    dw_frame_spec_t spec = {.members = &f.members, .items = items, .n_items = 1, .strip = strip};
    cr_assert_eq(dw_frame_build(&f.out, 0, &spec), -1);
    frame_free(&f);
}

Test(frame, out_of_memory)
{
    frame_t f;
    scan_body(&f, "{\"input\":[]}");
    dw_frame_spec_t spec = {.members = &f.members};
    cr_assert_eq(dw_frame_build(&f.out, SIZE_MAX / 4, &spec), -1);
    cr_assert_eq(f.out.len, 0);
    frame_free(&f);
}

Test(frame, appends_after_existing_content)
{
    frame_t f;
    scan_body(&f, "{\"input\":[1]}");
    cr_assert_eq(dw_buf_append_str(&f.out, "XY"), 0);
    dw_frame_spec_t spec = {.members = &f.members, .items = f.items.v, .n_items = f.items.n};
    cr_assert_eq(dw_frame_build(&f.out, 2, &spec), 0);
    const char want[] = "XY\0\0{\"type\":\"response.create\",\"input\":[1]}";
    cr_assert_eq(f.out.len, sizeof want - 1);
    cr_assert(memcmp(f.out.p, want, f.out.len) == 0);
    frame_free(&f);
}

/* The metadata headers Codex's HTTP client sends, as its WebSocket client carries them
 * (tests/fixtures/clients/codex-0.169.0-default-model-ws, turn-1.json's client_metadata). */
static const dw_member_t lite[] = {
    {{"ws_request_header_x_openai_internal_codex_responses_lite", 56}, {"\"true\"", 6}},
    {{"x-codex-window-id", 17}, {"\"w:0\"", 5}},
};

Test(frame, metadata_merges_into_the_bodys_client_metadata_whose_keys_win)
{
    frame_t f;
    scan_body(&f, "{\"client_metadata\": {\"x-codex-window-id\":\"body\" ,\"a\":1 },\"input\":[]}");
    build_expect(&f, (dw_frame_spec_t){.metadata = lite, .n_metadata = 2},
                 "{\"type\":\"response.create\",\"client_metadata\":{\"x-codex-window-id\":\"body\" ,\"a\":1 ,"
                 "\"ws_request_header_x_openai_internal_codex_responses_lite\":\"true\"},\"input\":[]}");
    frame_free(&f);
}

Test(frame, metadata_makes_client_metadata_when_absent_empty_or_null)
{
    static const char *const bodies[] = {"{\"input\":[]}", "{\"client_metadata\":{ },\"input\":[]}",
                                         "{\"client_metadata\":null,\"input\":[]}"};
    static const char *const wants[] = {
        "{\"type\":\"response.create\",\"client_metadata\":{"
        "\"ws_request_header_x_openai_internal_codex_responses_lite\":\"true\",\"x-codex-window-id\":\"w:0\"},\"input\":[]}",
        "{\"type\":\"response.create\",\"client_metadata\":{ "
        "\"ws_request_header_x_openai_internal_codex_responses_lite\":\"true\",\"x-codex-window-id\":\"w:0\"},\"input\":[]}",
        "{\"type\":\"response.create\",\"client_metadata\":{"
        "\"ws_request_header_x_openai_internal_codex_responses_lite\":\"true\",\"x-codex-window-id\":\"w:0\"},\"input\":[]}",
    };
    for (size_t i = 0; i < 3; i++) {
        frame_t f;
        scan_body(&f, bodies[i]);
        build_expect(&f, (dw_frame_spec_t){.metadata = lite, .n_metadata = 2}, wants[i]);
        frame_free(&f);
    }
}

Test(frame, a_client_metadata_that_is_not_an_object_is_forwarded_as_it_is)
{
    frame_t f;
    scan_body(&f, "{\"client_metadata\":\"x\",\"input\":[]}");
    build_expect(&f, (dw_frame_spec_t){.metadata = lite, .n_metadata = 2},
                 "{\"type\":\"response.create\",\"client_metadata\":\"x\",\"input\":[]}");
    frame_free(&f);
}
