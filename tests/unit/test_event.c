/* translate/event: what the proxy reads from an upstream event, and the previous_response_id
 * rewrite. Frame shapes are those of tests/fixtures/clients and docs/upstream-protocol.md. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <criterion/criterion.h>
#include "translate/event.h"

static int span_is(dw_span_t s, const char *want)
{
    return s.p != NULL && s.n == strlen(want) && memcmp(s.p, want, s.n) == 0;
}

static int scan(const char *frame, dw_event_t *ev)
{
    return dw_event_scan(frame, strlen(frame), ev);
}

Test(event, scan_response_event)
{
    const char *f = "{\"type\":\"response.completed\",\"sequence_number\":9,"
                    "\"response\":{\"id\":\"resp_1\",\"previous_response_id\":null,\"output\":[]}}";
    dw_event_t ev;
    cr_assert_eq(scan(f, &ev), 0);
    cr_assert(span_is(ev.type, "\"response.completed\""));
    cr_assert(span_is(ev.response, "{\"id\":\"resp_1\",\"previous_response_id\":null,\"output\":[]}"));
    cr_assert_null(ev.item.p);
    cr_assert_null(ev.error.p);
    cr_assert_eq(ev.output_index, -1, "absent output_index is -1");
    cr_assert_eq(ev.status, 0, "absent status is 0");
    cr_assert(dw_event_is(&ev, "response.completed"));
    cr_assert_not(dw_event_is(&ev, "response.complete"));
    cr_assert_not(dw_event_is(&ev, "response.completed2"));
    cr_assert_not(dw_event_is(&ev, "response"));
}

Test(event, scan_output_item)
{
    const char *f = " { \"type\" : \"response.output_item.done\" , \"output_index\" : 3 ,"
                    " \"item\" : {\"type\":\"message\",\"content\":[]} } ";
    dw_event_t ev;
    cr_assert_eq(scan(f, &ev), 0);
    cr_assert(dw_event_is(&ev, "response.output_item.done"));
    cr_assert(span_is(ev.item, "{\"type\":\"message\",\"content\":[]}"));
    cr_assert_eq(ev.output_index, 3);
    cr_assert_null(ev.response.p);
}

Test(event, scan_error_envelope)
{
    const char *f = "{\"type\":\"error\",\"status\":429,\"error\":{\"type\":\"rate_limit_error\",\"code\":\"x\"}}";
    dw_event_t ev;
    cr_assert_eq(scan(f, &ev), 0);
    cr_assert(dw_event_is(&ev, "error"));
    cr_assert_eq(ev.status, 429);
    cr_assert(span_is(ev.error, "{\"type\":\"rate_limit_error\",\"code\":\"x\"}"));
}

Test(event, members_of_the_wrong_kind_are_ignored)
{
    const char *f = "{\"type\":\"e\",\"response\":\"resp_1\",\"item\":[1],\"error\":\"boom\",\"output_index\":\"2\","
                    "\"status\":true}";
    dw_event_t ev;
    cr_assert_eq(scan(f, &ev), 0);
    cr_assert_null(ev.response.p);
    cr_assert_null(ev.item.p);
    cr_assert_null(ev.error.p);
    cr_assert_eq(ev.output_index, -1);
    cr_assert_eq(ev.status, 0);
}

Test(event, numbers_that_are_not_small_integers)
{
    /* fractions, exponents, negatives and values beyond long/int are not an index or a status */
    static const struct {
        const char *num;
        long index;
        int status;
    } cases[] = {
        {"0", 0, 0},
        {"1.5", -1, 0},
        {"1e3", -1, 0},
        {"-4", -1, 0},
        {"-0", -1, 0},
        {"2147483647", 2147483647L, INT_MAX},
        {"2147483648", 2147483648L, 0},
        {"4294967696", 4294967696L, 0}, /* 2^32 + 400: must not wrap to 400 */
        {"9223372036854775807", LONG_MAX, 0},
        {"9223372036854775808", -1, 0},
        {"99999999999999999999999999999999999999", -1, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char f[200];
        snprintf(f, sizeof f, "{\"type\":\"t\",\"output_index\":%s,\"status\":%s}", cases[i].num, cases[i].num);
        dw_event_t ev;
        cr_assert_eq(scan(f, &ev), 0, "%s", f);
        cr_assert_eq(ev.output_index, cases[i].index, "output_index %s: %ld", cases[i].num, ev.output_index);
        cr_assert_eq(ev.status, cases[i].status, "status %s: %d", cases[i].num, ev.status);
    }
}

/* Keys are read decoded: an escape that spells a member's name is that member, and a raw key one
 * byte off is not (the scan compares raw bytes unless the key holds an escape). */
Test(event, escaped_keys_are_decoded)
{
    const char *f = "{\"\\u0074ype\":\"response.output_item.done\",\"output_\\u0069ndex\":2,"
                    "\"st\\u0072eam_id\":\"dw3\",\"itemx\":{},\"sequence_number\":4}";
    dw_event_t ev;
    cr_assert_eq(scan(f, &ev), 0);
    cr_assert(span_is(ev.type, "\"response.output_item.done\""));
    cr_assert_eq(ev.output_index, 2);
    cr_assert(span_is(ev.stream_id, "\"dw3\""));
    cr_assert_null(ev.item.p, "\"itemx\" is not \"item\"");
    const char *g = "{\"type\":\"x\",\"\\u0069tem\\u0078\":{},\"\\u0069tem\":{\"a\":1}}";
    cr_assert_eq(scan(g, &ev), 0);
    cr_assert(span_is(ev.item, "{\"a\":1}"));
}

Test(event, rejects_what_is_not_an_event)
{
    const char *bad[] = {
        "", "   ", "[]", "\"response.created\"", "null", "{}", "{\"type\":1}", "{\"type\":null}",
        "{\"type\":\"x\"", "{\"type\":\"x\",}", "{\"type\":\"x\"} {}", "{\"kind\":\"x\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        dw_event_t ev;
        cr_assert_eq(scan(bad[i], &ev), -1, "accepted: %s", bad[i]);
    }
}

Test(event, empty_frame_without_buffer)
{
    dw_event_t ev;
    cr_assert_eq(dw_event_scan(NULL, 0, &ev), -1);
}

Test(event, duplicate_type_last_wins)
{
    /* the scanner records duplicates in order; the event keeps the last, as JSON parsers do */
    dw_event_t ev;
    cr_assert_eq(scan("{\"type\":\"a\",\"type\":\"b\"}", &ev), 0);
    cr_assert(dw_event_is(&ev, "b"));
}

static void rewrite(const char *frame, const char *prev, const char *want)
{
    dw_event_t ev;
    cr_assert_eq(scan(frame, &ev), 0);
    dw_buf_t out = {0};
    cr_assert_eq(dw_event_rewrite_prev(&out, frame, strlen(frame), ev.response, prev, strlen(prev)), 0);
    cr_assert_eq(out.len, strlen(want), "got %.*s", (int)out.len, out.p);
    cr_assert(memcmp(out.p, want, out.len) == 0, "got %.*s, want %s", (int)out.len, out.p, want);
    dw_buf_free(&out);
}

Test(event, rewrite_prev_in_response)
{
    rewrite("{\"type\":\"response.created\",\"response\":{\"id\":\"r2\",\"previous_response_id\":\"r1\",\"x\":1}}",
            "null", "{\"type\":\"response.created\",\"response\":{\"id\":\"r2\",\"previous_response_id\":null,\"x\":1}}");
    rewrite("{\"type\":\"t\",\"response\":{\"previous_response_id\" : null }}", "\"resp_9\"",
            "{\"type\":\"t\",\"response\":{\"previous_response_id\" : \"resp_9\" }}");
}

Test(event, rewrite_copies_when_nothing_to_change)
{
    /* no response object, no such member, or already the wanted value: copied unchanged */
    rewrite("{\"type\":\"response.output_text.delta\",\"delta\":\"previous_response_id\"}", "null",
            "{\"type\":\"response.output_text.delta\",\"delta\":\"previous_response_id\"}");
    rewrite("{\"type\":\"t\",\"response\":{\"id\":\"r\"}}", "null", "{\"type\":\"t\",\"response\":{\"id\":\"r\"}}");
    rewrite("{\"type\":\"t\",\"response\":{\"previous_response_id\":null}}", "null",
            "{\"type\":\"t\",\"response\":{\"previous_response_id\":null}}");
}

Test(event, rewrite_only_the_top_level_member)
{
    /* a nested previous_response_id (e.g. in metadata) is the client's data, never rewritten */
    rewrite("{\"type\":\"t\",\"response\":{\"metadata\":{\"previous_response_id\":\"a\"},\"previous_response_id\":\"b\"}}",
            "null", "{\"type\":\"t\",\"response\":{\"metadata\":{\"previous_response_id\":\"a\"},\"previous_response_id\":null}}");
}

Test(event, response_body_is_the_rewritten_object)
{
    const char *f = "{\"type\":\"response.completed\",\"response\":{\"id\":\"r2\",\"previous_response_id\":\"r1\"}}";
    dw_event_t ev;
    cr_assert_eq(scan(f, &ev), 0);
    dw_buf_t out = {0};
    cr_assert_eq(dw_event_response_body(&out, ev.response, "\"r0\"", 4), 0);
    const char want[] = "{\"id\":\"r2\",\"previous_response_id\":\"r0\"}";
    cr_assert_eq(out.len, sizeof want - 1, "%.*s", (int)out.len, out.p);
    cr_assert(memcmp(out.p, want, out.len) == 0, "%.*s", (int)out.len, out.p);
    dw_buf_free(&out);
}
