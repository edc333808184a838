#include <stdio.h>
#include <string.h>
#include <criterion/criterion.h>
#include "translate/recordable.h"

#define A "{\"type\":\"message\",\"id\":\"msg_a\",\"status\":\"completed\",\"role\":\"assistant\",\"content\":[]}"
#define A_REORDERED "{\"role\":\"assistant\",\"content\":[],\"status\":\"completed\",\"id\":\"msg_a\",\"type\":\"message\"}"
#define B "{\"type\":\"function_call\",\"id\":\"fc_b\",\"call_id\":\"c\",\"name\":\"f\",\"arguments\":\"{}\"}"
#define OLD "{\"type\":\"function_call\",\"id\":\"fc_old\",\"call_id\":\"c0\",\"name\":\"f\",\"arguments\":\"{}\"}"

/* Runs the decision over a terminal event with the given response body and streamed items. The
 * spans it returns stay valid until the next call. */
static int decide(const char *type, const char *response, const char *const *done, size_t n_done, dw_recordable_t *out)
{
    static char frame[4096];
    static dw_buf_t bufs[4];
    snprintf(frame, sizeof frame, "{\"type\":\"%s\",\"response\":%s}", type, response);
    dw_event_t ev;
    cr_assert_eq(dw_event_scan(frame, strlen(frame), &ev), 0, "%s", frame);
    cr_assert_leq(n_done, 4);
    for (size_t i = 0; i < 4; i++) {
        dw_buf_reset(&bufs[i]);
        if (i < n_done)
            dw_buf_append_str(&bufs[i], done[i]);
    }
    return dw_recordable(&ev, bufs, n_done, out);
}

static void expect_items(const dw_recordable_t *r, const char *const *want, size_t n)
{
    cr_assert_eq(r->items.n, n);
    for (size_t i = 0; i < n; i++)
        cr_assert(r->items.v[i].n == strlen(want[i]) && memcmp(r->items.v[i].p, want[i], r->items.v[i].n) == 0,
                  "item %zu: %.*s", i, (int)r->items.v[i].n, r->items.v[i].p);
}

Test(recordable, completed_with_matching_streamed_items)
{
    dw_recordable_t r;
    const char *done[] = {A, B}, *want[] = {A, B};
    cr_assert_eq(decide("response.completed", "{\"id\":\"resp_1\",\"store\":true,\"output\":[" A "," B "]}", done, 2, &r), 1);
    expect_items(&r, want, 2);
    cr_assert_eq(r.stored, 1);
    dw_spans_free(&r.items);

    const char *cosmetic[] = {A_REORDERED, B};
    cr_assert_eq(decide("response.completed", "{\"id\":\"resp_1\",\"output\":[" A "," B "]}", cosmetic, 2, &r), 1);
    expect_items(&r, want, 2);
    cr_assert_eq(r.stored, 0, "no store field: not known to be stored");
    dw_spans_free(&r.items);

    cr_assert_eq(decide("response.completed", "{\"id\":\"resp_1\",\"store\":false,\"output\":[" A "]}", NULL, 0, &r), 1);
    expect_items(&r, want, 1);
    cr_assert_eq(r.stored, 0);
    dw_spans_free(&r.items);
}

Test(recordable, incomplete_responses_are_cached_upstream_too)
{
    dw_recordable_t r;
    const char *done[] = {A}, *want[] = {A};
    cr_assert_eq(decide("response.incomplete", "{\"id\":\"resp_1\",\"status\":\"incomplete\",\"store\":true,\"output\":[" A "]}",
                        done, 1, &r), 1);
    expect_items(&r, want, 1);
    cr_assert_eq(r.stored, 1);
    dw_spans_free(&r.items);
}

Test(recordable, never_a_failed_or_other_event)
{
    dw_recordable_t r;
    cr_assert_eq(decide("response.failed", "{\"id\":\"resp_1\",\"output\":[" A "]}", NULL, 0, &r), 0);
    cr_assert_eq(decide("response.created", "{\"id\":\"resp_1\",\"output\":[]}", NULL, 0, &r), 0);
    cr_assert_eq(r.items.n, 0);
}

Test(recordable, streamed_and_listed_items_must_agree)
{
    dw_recordable_t r;
    const char *more[] = {A, B};
    cr_assert_eq(decide("response.completed", "{\"id\":\"resp_1\",\"output\":[" A "]}", more, 2, &r), 0,
                 "completed lists fewer items than were streamed");
    const char *fewer[] = {A};
    cr_assert_eq(decide("response.completed", "{\"id\":\"resp_1\",\"output\":[" A "," B "]}", fewer, 1, &r), 0);
    const char *leftover[] = {A, OLD};
    cr_assert_eq(decide("response.completed", "{\"id\":\"resp_1\",\"output\":[" A "," B "]}", leftover, 2, &r), 0,
                 "an item of an earlier attempt");
    const char *gap[] = {A, ""};
    cr_assert_eq(decide("response.completed", "{\"id\":\"resp_1\",\"output\":[" A "," B "]}", gap, 2, &r), 0);
    cr_assert_eq(r.items.n, 0);
}

Test(recordable, without_output_the_streamed_items_count)
{
    dw_recordable_t r;
    const char *done[] = {A, B}, *want[] = {A, B};
    cr_assert_eq(decide("response.completed", "{\"id\":\"resp_1\",\"store\":true,\"output\":[]}", done, 2, &r), 1);
    expect_items(&r, want, 2);
    dw_spans_free(&r.items);
    cr_assert_eq(decide("response.completed", "{\"id\":\"resp_1\"}", done, 2, &r), 1);
    expect_items(&r, want, 2);
    dw_spans_free(&r.items);
    const char *gap[] = {A, "", B};
    cr_assert_eq(decide("response.completed", "{\"id\":\"resp_1\",\"output\":[]}", gap, 3, &r), 0);
    cr_assert_eq(decide("response.completed", "{\"id\":\"resp_1\",\"output\":[]}", NULL, 0, &r), 1, "a warm-up: no output");
    cr_assert_eq(r.items.n, 0);
    dw_spans_free(&r.items);
}
