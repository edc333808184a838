/* translate/sse: event blocks as an SSE parser reads them (issue 19, item 7: a lone CR in an
 * upstream event's JSON is whitespace to JSON but a line end to SSE). */
#include <stdio.h>
#include <string.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include "translate/sse.h"

typedef struct {
    char type[64];
    dw_buf_t data;
    int n_events;
} sse_event_t;

/* The WHATWG "Parsing an event stream" rules for the fields used here: a line ends at CRLF, LF or
 * CR; an empty line dispatches; "field: value" drops one leading space of the value; each data
 * line is appended with "\n" and the last "\n" is removed on dispatch; comments and unknown fields
 * are ignored. Parses the whole stream and keeps the last event dispatched. */
static void sse_parse(const char *p, size_t n, sse_event_t *ev)
{
    dw_buf_t data = {0};
    char type[64] = "";
    size_t i = 0;
    memset(ev, 0, sizeof(*ev));
    while (i < n) {
        size_t start = i;
        while (i < n && p[i] != '\r' && p[i] != '\n')
            i++;
        cr_assert(i < n, "stream ends inside a line");
        size_t end = i;
        i += p[i] == '\r' && i + 1 < n && p[i + 1] == '\n' ? 2 : 1;
        if (end == start) {
            if (data.len > 0) {
                dw_buf_reset(&ev->data);
                cr_assert_eq(dw_buf_append(&ev->data, data.p, data.len - 1), 0);
                strcpy(ev->type, type[0] ? type : "message");
                ev->n_events++;
            }
            dw_buf_reset(&data);
            type[0] = '\0';
            continue;
        }
        const char *colon = memchr(p + start, ':', end - start);
        size_t name_n = colon ? (size_t)(colon - (p + start)) : end - start;
        const char *val = colon ? colon + 1 : p + end;
        if (val < p + end && *val == ' ')
            val++;
        size_t val_n = (size_t)(p + end - val);
        if (name_n == 4 && memcmp(p + start, "data", 4) == 0) {
            cr_assert_eq(dw_buf_append(&data, val, val_n), 0);
            cr_assert_eq(dw_buf_append(&data, "\n", 1), 0);
        } else if (name_n == 5 && memcmp(p + start, "event", 5) == 0) {
            cr_assert_lt(val_n, sizeof type);
            memcpy(type, val, val_n);
            type[val_n] = '\0';
        } else {
            cr_assert(name_n == 0, "unknown field \"%.*s\" in the rendered stream", (int)name_n, p + start);
        }
    }
    dw_buf_free(&data);
}

/* Renders json as one event, parses it back and checks the JSON value survived. */
static void round_trip(const char *type, const char *json)
{
    dw_buf_t out = {0};
    cr_assert_eq(dw_sse_append(&out, type, strlen(type), json, strlen(json)), 0);
    sse_event_t ev;
    sse_parse(out.p, out.len, &ev);
    cr_assert_eq(ev.n_events, 1, "%d events from %s", ev.n_events, json);
    cr_assert_str_eq(ev.type, type);
    json_t *want = json_loads(json, 0, NULL);
    json_t *got = json_loadb(ev.data.p, ev.data.len, 0, NULL);
    cr_assert_not_null(want);
    cr_assert_not_null(got, "data is not JSON: %.*s", (int)ev.data.len, ev.data.p);
    cr_assert(json_equal(want, got), "data %.*s differs from %s", (int)ev.data.len, ev.data.p, json);
    json_decref(want);
    json_decref(got);
    dw_buf_free(&out);
    dw_buf_free(&ev.data);
}

Test(sse, one_line_block_shape)
{
    dw_buf_t out = {0};
    cr_assert_eq(dw_sse_append(&out, "response.created", 16, "{\"a\":1}", 7), 0);
    const char want[] = "event: response.created\ndata: {\"a\":1}\n\n";
    cr_assert_eq(out.len, sizeof want - 1);
    cr_assert(memcmp(out.p, want, out.len) == 0, "%.*s", (int)out.len, out.p);
    dw_buf_free(&out);
}

Test(sse, appends_after_existing_content)
{
    dw_buf_t out = {0};
    cr_assert_eq(dw_sse_append(&out, "a", 1, "1", 1), 0);
    cr_assert_eq(dw_sse_append(&out, "b", 1, "2", 1), 0);
    const char want[] = "event: a\ndata: 1\n\nevent: b\ndata: 2\n\n";
    cr_assert_eq(out.len, sizeof want - 1);
    cr_assert(memcmp(out.p, want, out.len) == 0, "%.*s", (int)out.len, out.p);
    dw_buf_free(&out);
}

Test(sse, line_breaks_become_data_lines)
{
    dw_buf_t out = {0};
    const char json[] = "{\r\"a\":\r\n1,\n\"b\"\r\r\n:2}";
    cr_assert_eq(dw_sse_append(&out, "x", 1, json, sizeof json - 1), 0);
    const char want[] = "event: x\ndata: {\ndata: \"a\":\ndata: 1,\ndata: \"b\"\ndata: \ndata: :2}\n\n";
    cr_assert_eq(out.len, sizeof want - 1, "%.*s", (int)out.len, out.p);
    cr_assert(memcmp(out.p, want, out.len) == 0, "%.*s", (int)out.len, out.p);
    cr_assert_null(memchr(out.p, '\r', out.len), "no CR reaches the stream");
    dw_buf_free(&out);
}

Test(sse, lone_cr_round_trips)
{
    round_trip("response.output_text.delta", "{\"type\":\"response.output_text.delta\",\r\"delta\":\"hi\"}");
    round_trip("t", "{\"a\":[1,\r2,\r\r3]}\r");
    round_trip("t", "\r{\"a\":1}");
}

Test(sse, lf_and_crlf_round_trip)
{
    round_trip("t", "{\n  \"a\": [\n    1\n  ]\n}\n");
    round_trip("t", "{\r\n\"a\":\r\n\"b\"}\r\n");
    round_trip("t", "{\r\n\r\n\n\r\r\"a\":1}");
}

Test(sse, escaped_line_breaks_in_strings_stay_escaped)
{
    /* inside a JSON string a line break is always an escape, two bytes that SSE leaves alone */
    round_trip("t", "{\"text\":\"line1\\r\\nline2\\rline3\\n\"}");
    dw_buf_t out = {0};
    const char json[] = "\"a\\rb\"";
    cr_assert_eq(dw_sse_append(&out, "t", 1, json, sizeof json - 1), 0);
    cr_assert_not_null(memmem(out.p, out.len, "data: \"a\\rb\"\n\n", 14));
    dw_buf_free(&out);
}

Test(sse, empty_payload)
{
    dw_buf_t out = {0};
    cr_assert_eq(dw_sse_append(&out, "t", 1, NULL, 0), 0);
    const char want[] = "event: t\ndata: \n\n";
    cr_assert_eq(out.len, sizeof want - 1);
    cr_assert(memcmp(out.p, want, out.len) == 0);
    dw_buf_free(&out);
}

Test(sse, large_payload)
{
    /* a 1 MiB array with whitespace of every kind between its elements */
    dw_buf_t json = {0};
    const char *sep[] = {",", ",\r", ",\n", ",\r\n", "\r,"};
    cr_assert_eq(dw_buf_append_str(&json, "[0"), 0);
    for (int i = 1; json.len < (1u << 20); i++) {
        char num[32];
        snprintf(num, sizeof num, "%d", i);
        cr_assert_eq(dw_buf_append_str(&json, sep[i % 5]), 0);
        cr_assert_eq(dw_buf_append_str(&json, num), 0);
    }
    cr_assert_eq(dw_buf_append(&json, "]", 2), 0); /* with the NUL, for round_trip */
    round_trip("big", json.p);
    dw_buf_free(&json);
}
