#include <criterion/criterion.h>
#include "proxy/attempt.h"
#include "proxy/metrics.h"

/* Tries the way the exchange does: count, fail with f, return the decision. */
static enum dw_next fail_once(dw_attempt_t *a, enum dw_failure f, int fresh, int http, uint64_t *delay)
{
    a->attempts++;
    return dw_attempt_next(a, f, fresh, http, delay);
}

Test(attempt, unreachable_backs_off_then_falls_back)
{
    dw_attempt_t a;
    uint64_t delay;
    dw_attempt_init(&a);
    cr_assert_eq(fail_once(&a, DW_FAIL_UNREACHABLE, 1, 1, &delay), DW_NEXT_BACKOFF);
    cr_assert_eq(delay, 100);
    cr_assert_eq(fail_once(&a, DW_FAIL_UNREACHABLE, 1, 1, &delay), DW_NEXT_BACKOFF);
    cr_assert_eq(delay, 200);
    cr_assert_eq(fail_once(&a, DW_FAIL_UNREACHABLE, 1, 1, &delay), DW_NEXT_HTTP);
    cr_assert_eq(a.recovery, DW_REC_HTTP_FALLBACK, "one recovery: the one that was taken last");
}

Test(attempt, unreachable_without_http_fails)
{
    dw_attempt_t a;
    uint64_t delay;
    dw_attempt_init(&a);
    a.attempts = DW_MAX_ATTEMPTS - 1;
    cr_assert_eq(fail_once(&a, DW_FAIL_UNREACHABLE, 1, 0, &delay), DW_NEXT_FAIL);
}

Test(attempt, refused_goes_over_http_at_once)
{
    dw_attempt_t a;
    uint64_t delay;
    dw_attempt_init(&a);
    cr_assert_eq(fail_once(&a, DW_FAIL_REFUSED, 1, 1, &delay), DW_NEXT_HTTP);
    dw_attempt_init(&a);
    cr_assert_eq(fail_once(&a, DW_FAIL_REFUSED, 1, 0, &delay), DW_NEXT_FAIL, "--transport ws");
    cr_assert_eq(a.recovery, -1);
}

Test(attempt, nothing_is_retried_once_the_client_has_part_of_the_answer)
{
    static const enum dw_failure all[] = {DW_FAIL_REFUSED, DW_FAIL_UNREACHABLE, DW_FAIL_LOST, DW_FAIL_STALE, DW_FAIL_AGED};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        dw_attempt_t a;
        uint64_t delay;
        dw_attempt_init(&a);
        cr_assert_eq(fail_once(&a, all[i], 0, 1, &delay), DW_NEXT_FAIL, "failure %zu", i);
    }
}

Test(attempt, lost_stale_aged_retry_up_to_the_bound)
{
    static const enum dw_failure all[] = {DW_FAIL_LOST, DW_FAIL_STALE, DW_FAIL_AGED};
    static const int rec[] = {DW_REC_CONN_LOST, DW_REC_PREV_NOT_FOUND, DW_REC_CONN_LIMIT};
    for (size_t i = 0; i < 3; i++) {
        dw_attempt_t a;
        uint64_t delay;
        dw_attempt_init(&a);
        cr_assert_eq(fail_once(&a, all[i], 1, 1, &delay), DW_NEXT_RETRY);
        cr_assert_eq(a.recovery, rec[i]);
        cr_assert_eq(fail_once(&a, all[i], 1, 1, &delay), DW_NEXT_RETRY);
        cr_assert_eq(fail_once(&a, all[i], 1, 1, &delay), DW_NEXT_FAIL, "three tries in all");
    }
}

Test(attempt, a_refused_message_goes_over_http_once_never_again_upstream)
{
    dw_attempt_t a;
    uint64_t delay;
    dw_attempt_init(&a);
    cr_assert_eq(fail_once(&a, DW_FAIL_TOO_BIG, 1, 1, &delay), DW_NEXT_HTTP);
    cr_assert_eq(a.recovery, DW_REC_MESSAGE_REFUSED);
    dw_attempt_init(&a);
    cr_assert_eq(fail_once(&a, DW_FAIL_TOO_BIG, 1, 0, &delay), DW_NEXT_FAIL, "--transport ws: no HTTP");
    dw_attempt_init(&a);
    cr_assert_eq(fail_once(&a, DW_FAIL_TOO_BIG, 0, 1, &delay), DW_NEXT_FAIL, "the client has bytes already");
}

Test(attempt, which_closes_say_the_message_was_refused)
{
    cr_assert(dw_attempt_close_refused(1009, ""));
    cr_assert(dw_attempt_close_refused(1009, NULL));
    cr_assert(dw_attempt_close_refused(1008, "Message Too Big"));
    cr_assert(dw_attempt_close_refused(1011, "payload too large"));
    cr_assert_not(dw_attempt_close_refused(1000, "bye"));
    cr_assert_not(dw_attempt_close_refused(1011, NULL));
    cr_assert_not(dw_attempt_close_refused(0, ""));
}
