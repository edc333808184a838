/* stream_id lanes (upstream-protocol.md section 2, "Lanes"): the name goes into a frame and comes
 * out of every event that echoes it, wherever the member sits, leaving valid JSON. */
#include <criterion/criterion.h>
#include <string.h>

#include "translate/stream_id.h"

/* The spans a scan of the result finds: where the moved ones must point. */
static void spans_match(const dw_event_t *moved, const char *m, size_t n)
{
    dw_event_t again;
    dw_event_scan(m, n, &again); /* without "type" the spans are filled all the same */
    const dw_span_t *a[] = {&moved->type, &moved->response, &moved->item, &moved->error};
    const dw_span_t *b[] = {&again.type, &again.response, &again.item, &again.error};
    for (size_t i = 0; i < 4; i++)
        cr_assert(a[i]->p == b[i]->p && a[i]->n == b[i]->n, "span %zu of %.*s", i, (int)n, m);
}

/* Takes stream_id out of the scanned msg; the rest must be want, the lane named must be lane, and
 * the event's spans must still point at their values. */
static void take_is(const char *msg, int lane, const char *want)
{
    char m[512];
    size_t n = strlen(msg);
    memcpy(m, msg, n);
    dw_event_t ev;
    dw_event_scan(m, n, &ev);
    cr_assert_eq(dw_stream_id_take_event(m, &n, &ev), lane, "%s", msg);
    cr_assert_eq(n, strlen(want), "%s -> %.*s", msg, (int)n, m);
    cr_assert(memcmp(m, want, n) == 0, "%s -> %.*s", msg, (int)n, m);
    size_t off;
    cr_assert_eq(dw_json_validate(m, n, &off), 0, "valid JSON: %.*s", (int)n, m);
    cr_assert_null(ev.stream_id.p);
    spans_match(&ev, m, n);
}

Test(stream_id, taken_out_wherever_it_sits)
{
    take_is("{\"stream_id\":\"dw3\",\"type\":\"response.created\"}", 3, "{\"type\":\"response.created\"}");
    take_is("{\"type\":\"response.created\",\"stream_id\":\"dw12\"}", 12, "{\"type\":\"response.created\"}");
    take_is("{\"type\":\"x\",\"stream_id\":\"dw1\",\"sequence_number\":2}", 1, "{\"type\":\"x\",\"sequence_number\":2}");
    take_is("{\"stream_id\":\"dw32\"}", 32, "{}");
    take_is("{ \"type\" : \"x\" , \"stream_id\" : \"dw2\" }", 2, "{ \"type\" : \"x\" }");
    take_is("{\"type\":\"x\", \"stream_id\": \"dw7\", \"n\":1}", 7, "{\"type\":\"x\", \"n\":1}");
}

Test(stream_id, the_event_spans_follow_the_cut)
{
    take_is("{\"stream_id\":\"dw3\",\"type\":\"response.completed\",\"response\":{\"id\":\"r\"}}", 3,
            "{\"type\":\"response.completed\",\"response\":{\"id\":\"r\"}}");
    take_is("{\"type\":\"error\",\"stream_id\":\"dw4\",\"error\":{\"code\":\"x\"}}", 4,
            "{\"type\":\"error\",\"error\":{\"code\":\"x\"}}");
    take_is("{\"item\":{\"id\":\"i\"},\"type\":\"response.output_item.done\",\"stream_id\":\"dw5\"}", 5,
            "{\"item\":{\"id\":\"i\"},\"type\":\"response.output_item.done\"}");
}

Test(stream_id, events_without_one_are_unchanged)
{
    take_is("{\"type\":\"response.created\",\"response\":{\"stream_id\":\"dw1\"}}", 0,
            "{\"type\":\"response.created\",\"response\":{\"stream_id\":\"dw1\"}}");
}

Test(stream_id, names_deltawire_never_gives_are_taken_out_too)
{
    take_is("{\"type\":\"x\",\"stream_id\":\"a\"}", -1, "{\"type\":\"x\"}");
    take_is("{\"type\":\"x\",\"stream_id\":\"dw0\"}", -1, "{\"type\":\"x\"}");
    take_is("{\"type\":\"x\",\"stream_id\":\"dw01\"}", -1, "{\"type\":\"x\"}");
    take_is("{\"type\":\"x\",\"stream_id\":\"dw1x\"}", -1, "{\"type\":\"x\"}");
    take_is("{\"type\":\"x\",\"stream_id\":null}", -1, "{\"type\":\"x\"}");
}

Test(stream_id, put_first_after_the_headroom)
{
    dw_buf_t b = {0};
    cr_assert_eq(dw_buf_append(&b, "HHHH{\"type\":\"response.create\"}", 30), 0);
    cr_assert_eq(dw_stream_id_put(&b, 4, 5), 0);
    const char *want = "HHHH{\"stream_id\":\"dw5\",\"type\":\"response.create\"}";
    cr_assert_eq(b.len, strlen(want));
    cr_assert(memcmp(b.p, want, b.len) == 0, "%.*s", (int)b.len, b.p);
    cr_assert_eq(dw_stream_id_size(5), strlen("\"stream_id\":\"dw5\","));
    cr_assert_eq(dw_stream_id_size(0), 0);
    cr_assert_eq(dw_stream_id_put(&b, 4, 0), 0, "the default lane has no name");
    cr_assert_eq(b.len, strlen(want));
    cr_assert_eq(dw_stream_id_put(&b, 3, 1), -1, "no object there");
    dw_buf_free(&b);
}

static int about(const char *s)
{
    return dw_stream_id_error_about((dw_span_t){s, strlen(s)});
}

Test(stream_id, errors_about_the_field)
{
    cr_assert(about("{\"type\":\"error\",\"status\":400,\"error\":{\"type\":\"invalid_request_error\",\"code\":"
                    "\"unsupported_parameter\",\"message\":\"Unsupported parameter: stream_id\",\"param\":\"stream_id\"}}"));
    cr_assert(about("{\"type\":\"error\",\"status\":400,\"code\":\"invalid_stream_id\",\"param\":\"stream_id\"}"), "flat");
    cr_assert_not(about("{\"type\":\"error\",\"status\":400,\"error\":{\"param\":\"input\"}}"));
    cr_assert_not(about("{\"type\":\"response.created\",\"param\":\"stream_id\"}"));
    cr_assert_not(about("{\"type\":\"error\",\"status\":429,\"error\":{\"code\":\"rate_limit_exceeded\"}}"));
}
