#include <string.h>
#include <criterion/criterion.h>
#include "proxy/plan.h"
#include "state/chain.h"

/* Three items; a recorded response "resp_1" on connection 7 covers the first two. */
static const char body[] = "{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":\"a\"},"
                           "{\"role\":\"assistant\",\"content\":\"b\"},{\"role\":\"user\",\"content\":\"c\"}]}";

static dw_transcripts_t *t;
static dw_digest_t cred;
static dw_request_t rq;
static dw_body_t *unused; /* dw_forms_keys' replaces, without kept bodies */

/* Records resp_id on conn_id as the response after the first n items of rq. */
static void record_after(size_t n, const char *resp_id, uint64_t conn_id, int store)
{
    dw_digest_t link;
    dw_chain_seed(&link, &cred);
    for (size_t i = 0; i < n; i++) {
        dw_form_t f;
        dw_digest_t d;
        cr_assert_eq(dw_transcripts_item(t, rq.items.v[i].p, rq.items.v[i].n, &f), 0);
        dw_transcripts_resolve(t, &link, &f, &d);
        dw_chain_next(&link, &d);
    }
    cr_assert_not_null(dw_transcripts_record(t, &link, resp_id, conn_id, store));
}

/* What lanes cache, as a table: the pool's view (proxy/pool.c) stood in for. */
typedef struct {
    uint64_t lane_id;
    const char *resp_id; /* "" when nothing */
} lane_cache_t;

typedef struct {
    dw_lanes_view_t view;
    const lane_cache_t *v;
    size_t n;
} table_t;

static const char *table_cached_on(const dw_lanes_view_t *view, uint64_t lane_id)
{
    const table_t *tb = (const table_t *)view;
    for (size_t i = 0; i < tb->n; i++)
        if (tb->v[i].lane_id == lane_id)
            return tb->v[i].resp_id;
    return NULL;
}

static uint64_t table_caching(const dw_lanes_view_t *view, const char *resp_id)
{
    const table_t *tb = (const table_t *)view;
    for (size_t i = 0; i < tb->n; i++)
        if (strcmp(tb->v[i].resp_id, resp_id) == 0)
            return tb->v[i].lane_id;
    return 0;
}

#define TABLE(a) (&(table_t){{table_cached_on, table_caching}, a, sizeof(a) / sizeof(a[0])}.view)

static void setup(void)
{
    t = dw_transcripts_new(16, 64, 64);
    dw_digest_bytes(&cred, "sk-plan", 7);
    dw_request_err_t err;
    cr_assert_eq(dw_request_parse(&rq, body, strlen(body), 1 << 20, &err), 0);
}

static void teardown(void)
{
    dw_request_free(&rq);
    dw_transcripts_free(t);
}

TestSuite(plan, .init = setup, .fini = teardown);

Test(plan, nothing_recorded_is_full_and_chained)
{
    dw_plan_t pl;
    dw_plan_make(&pl, t, &cred, &rq, NULL, NULL);
    cr_assert_eq(pl.kind, DW_PLAN_FULL);
    cr_assert_eq(pl.chained, 1, "recorded on completion");
    cr_assert_eq(dw_plan_items_sent(&pl, &rq), 3);
    dw_plan_free(&pl);
}

Test(plan, a_cached_prefix_is_a_delta_on_its_connection)
{
    record_after(2, "resp_1", 7, 0);
    lane_cache_t lanes[] = {{3, ""}, {7, "resp_1"}};
    dw_plan_t pl;
    dw_plan_make(&pl, t, &cred, &rq, NULL, TABLE(lanes));
    cr_assert_eq(pl.kind, DW_PLAN_DELTA);
    cr_assert_eq(pl.want_conn, 7);
    cr_assert_eq(pl.delta_from, 2);
    cr_assert_str_eq(pl.prev_id, "resp_1");
    cr_assert_eq(dw_plan_items_sent(&pl, &rq), 1);
    dw_frame_spec_t spec;
    dw_plan_frame_spec(&pl, &rq, &spec);
    cr_assert_eq(spec.n_items - spec.first, 1);
    cr_assert_eq(spec.items + spec.first, rq.items.v + 2);
    cr_assert_str_eq(spec.prev_id, "resp_1");
    dw_plan_free(&pl);
}

Test(plan, a_connection_that_moved_on_gives_full)
{
    record_after(2, "resp_1", 7, 0);
    lane_cache_t lanes[] = {{7, "resp_2"}};
    dw_plan_t pl;
    dw_plan_make(&pl, t, &cred, &rq, NULL, TABLE(lanes));
    cr_assert_eq(pl.kind, DW_PLAN_FULL);
    dw_plan_free(&pl);
}

Test(plan, a_closed_connection_gives_full)
{
    record_after(2, "resp_1", 7, 0);
    lane_cache_t lanes[] = {{8, "resp_1"}};
    dw_plan_t pl;
    dw_plan_make(&pl, t, &cred, &rq, NULL, TABLE(lanes));
    cr_assert_eq(pl.kind, DW_PLAN_FULL, "the same id on another connection is not the cache");
    dw_plan_free(&pl);
}

Test(plan, a_stored_response_chains_from_any_connection)
{
    record_after(2, "resp_1", 7, 1);
    dw_plan_t pl;
    dw_plan_make(&pl, t, &cred, &rq, NULL, NULL);
    cr_assert_eq(pl.kind, DW_PLAN_DELTA);
    cr_assert_eq(pl.any_conn, 1);
    cr_assert_eq(pl.want_conn, 0);
    cr_assert(dw_plan_fits(&pl, 9, ""));
    dw_plan_free(&pl);
}

Test(plan, a_shorter_cached_prefix_when_the_longer_is_gone)
{
    record_after(1, "resp_0", 5, 0);
    record_after(2, "resp_1", 7, 0);
    lane_cache_t lanes[] = {{5, "resp_0"}};
    dw_plan_t pl;
    dw_plan_make(&pl, t, &cred, &rq, NULL, TABLE(lanes));
    cr_assert_eq(pl.kind, DW_PLAN_DELTA);
    cr_assert_eq(pl.delta_from, 1);
    cr_assert_str_eq(pl.prev_id, "resp_0");
    dw_plan_free(&pl);
}

/* The one test of "is the response to chain from still there", at the moment a connection is had. */
Test(plan, fits_and_settle)
{
    record_after(2, "resp_1", 7, 0);
    lane_cache_t lanes[] = {{7, "resp_1"}};
    dw_plan_t pl;
    dw_plan_make(&pl, t, &cred, &rq, NULL, TABLE(lanes));
    cr_assert(dw_plan_fits(&pl, 7, "resp_1"));
    cr_assert_not(dw_plan_fits(&pl, 8, "resp_1"), "another connection");
    cr_assert_not(dw_plan_fits(&pl, 7, "resp_9"), "ours moved on while we waited");
    cr_assert_not(dw_plan_fits(&pl, 7, ""), "ours was evicted");
    dw_plan_settle(&pl, 7, "resp_1");
    cr_assert_eq(pl.kind, DW_PLAN_DELTA);
    dw_plan_settle(&pl, 8, "");
    cr_assert_eq(pl.kind, DW_PLAN_FULL);
    dw_frame_spec_t spec;
    dw_plan_frame_spec(&pl, &rq, &spec);
    cr_assert_eq(spec.n_items - spec.first, 3);
    cr_assert_null(spec.prev_id);
    dw_plan_free(&pl);
}

Test(plan, a_retry_is_full)
{
    record_after(2, "resp_1", 7, 1);
    dw_plan_t pl;
    dw_plan_make(&pl, t, &cred, &rq, NULL, NULL);
    dw_plan_full(&pl);
    cr_assert_eq(pl.kind, DW_PLAN_FULL);
    dw_plan_free(&pl);
}

Test(plan, verbatim_prefers_the_connection_that_caches_the_named_response)
{
    static const char vb[] = "{\"input\":[{\"role\":\"user\",\"content\":\"c\"}],\"previous_response_id\":\"resp_1\"}";
    dw_request_t v;
    dw_request_err_t err;
    cr_assert_eq(dw_request_parse(&v, vb, strlen(vb), 1 << 20, &err), 0);
    lane_cache_t lanes[] = {{4, "resp_0"}, {6, "resp_1"}};
    dw_plan_t pl;
    dw_plan_make(&pl, t, &cred, &v, NULL, TABLE(lanes));
    cr_assert_eq(pl.kind, DW_PLAN_VERBATIM);
    cr_assert_eq(pl.want_conn, 6);
    cr_assert_eq(pl.chained, 0, "the upstream holds the context: nothing to record");
    dw_plan_full(&pl);
    cr_assert_eq(pl.kind, DW_PLAN_VERBATIM, "a retry forwards it as it is again");
    dw_frame_spec_t spec;
    dw_plan_frame_spec(&pl, &v, &spec);
    cr_assert_eq(spec.input_verbatim, 1);
    dw_plan_free(&pl);
    dw_request_free(&v);
}

Test(plan, a_string_input_is_chained_as_one_user_item)
{
    static const char sb[] = "{\"input\":\"hello\"}";
    dw_request_t s;
    dw_request_err_t err;
    cr_assert_eq(dw_request_parse(&s, sb, strlen(sb), 1 << 20, &err), 0);
    dw_plan_t pl;
    dw_plan_make(&pl, t, &cred, &s, NULL, NULL);
    cr_assert_eq(pl.kind, DW_PLAN_VERBATIM);
    cr_assert_eq(pl.chained, 1);
    dw_plan_free(&pl);
    dw_request_free(&s);
}

/* "input": [] leaves the scanned items NULL: the frame spec must not offset that pointer (clang's
 * UBSan reports NULL + 0), and the frame carries an empty input (issue 19, item 8). */
Test(plan, an_empty_input_array)
{
    static const char eb[] = "{\"model\":\"m\",\"input\":[]}";
    dw_request_t e;
    dw_request_err_t err;
    cr_assert_eq(dw_request_parse(&e, eb, strlen(eb), 1 << 20, &err), 0);
    cr_assert_null(e.items.v);
    dw_plan_t pl;
    dw_plan_make(&pl, t, &cred, &e, NULL, NULL);
    cr_assert_eq(pl.kind, DW_PLAN_FULL);
    cr_assert_eq(dw_plan_items_sent(&pl, &e), 0);
    dw_frame_spec_t spec;
    dw_plan_frame_spec(&pl, &e, &spec);
    dw_buf_t out = {0};
    cr_assert_eq(dw_frame_build(&out, 0, &spec), 0);
    const char want[] = "{\"type\":\"response.create\",\"model\":\"m\",\"input\":[]}";
    cr_assert_eq(out.len, sizeof want - 1, "%.*s", (int)out.len, out.p);
    cr_assert(memcmp(out.p, want, out.len) == 0, "%.*s", (int)out.len, out.p);
    dw_buf_free(&out);
    dw_plan_free(&pl);
    dw_request_free(&e);
}

/* A delta's frame sends the items after the recorded prefix, with the strip flags of those items. */
Test(plan, a_delta_frame_sends_the_items_after_the_prefix)
{
    record_after(2, "resp_1", 7, 0);
    lane_cache_t lanes[] = {{7, "resp_1"}};
    dw_plan_t pl;
    dw_plan_make(&pl, t, &cred, &rq, NULL, TABLE(lanes));
    cr_assert_eq(pl.kind, DW_PLAN_DELTA);
    dw_frame_spec_t spec;
    dw_plan_frame_spec(&pl, &rq, &spec);
    dw_buf_t out = {0};
    cr_assert_eq(dw_frame_build(&out, 0, &spec), 0);
    const char want[] = "{\"type\":\"response.create\",\"model\":\"m\",\"previous_response_id\":\"resp_1\","
                        "\"input\":[{\"role\":\"user\",\"content\":\"c\"}]}";
    cr_assert_eq(out.len, sizeof want - 1, "%.*s", (int)out.len, out.p);
    cr_assert(memcmp(out.p, want, out.len) == 0, "%.*s", (int)out.len, out.p);
    dw_buf_free(&out);
    dw_plan_free(&pl);
}

Test(plan, forms_computed_ahead_plan_as_the_item_cache_does)
{
    record_after(2, "resp_1", 7, 0);
    lane_cache_t lanes[] = {{7, "resp_1"}};
    dw_forms_t forms;
    dw_forms_keys(&forms, &rq.items, NULL, 0, NULL, 0, &unused, &unused);
    dw_forms_fill(&forms, &rq.items);
    cr_assert_eq(forms.ok, 1);
    dw_plan_t a, b;
    dw_plan_make(&a, t, &cred, &rq, &forms, TABLE(lanes));
    dw_plan_make(&b, t, &cred, &rq, NULL, TABLE(lanes));
    cr_assert_eq(a.kind, DW_PLAN_DELTA);
    cr_assert_eq(a.delta_from, b.delta_from);
    cr_assert_str_eq(a.prev_id, b.prev_id);
    cr_assert_eq(memcmp(&a.input_end, &b.input_end, sizeof(a.input_end)), 0, "the same chain");
    dw_plan_free(&a);
    dw_plan_free(&b);
    dw_forms_free(&forms);
}

Test(plan, an_item_that_cannot_be_canonicalised_ahead_gives_full_unchained)
{
    const char *bad = "{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":\"hi\"},"
                      "{\"role\":\"user\",\"content\":1e999999}]}";
    dw_request_t r;
    dw_request_err_t err;
    cr_assert_eq(dw_request_parse(&r, bad, strlen(bad), 1 << 20, &err), 0);
    dw_forms_t forms;
    dw_forms_keys(&forms, &r.items, NULL, 0, NULL, 0, &unused, &unused);
    dw_forms_fill(&forms, &r.items);
    cr_assert_eq(forms.ok, 0);
    dw_plan_t pl;
    dw_plan_make(&pl, t, &cred, &r, &forms, NULL);
    cr_assert_eq(pl.kind, DW_PLAN_FULL);
    cr_assert_eq(pl.chained, 0, "nothing is recorded");
    dw_plan_free(&pl);
    dw_forms_free(&forms);
    dw_request_free(&r);
}

/* Per turn only the items the cache does not know are canonicalised (issue 16: work scales with
 * the new bytes): after the first turn's forms are remembered, the same items are found by key. */
Test(plan, forms_ahead_canonicalise_only_what_the_cache_lacks)
{
    dw_forms_t first;
    dw_forms_keys(&first, &rq.items, NULL, 0, NULL, 0, &unused, &unused);
    size_t all = 0;
    for (size_t i = 0; i < rq.items.n; i++)
        all += rq.items.v[i].n;
    cr_assert_eq(dw_forms_lookup(&first, t, &rq.items), all, "a new conversation: every item is new");
    dw_forms_fill(&first, &rq.items);
    for (size_t i = 0; i < rq.items.n; i++)
        cr_assert_eq(first.have[i], 2);
    dw_forms_remember(&first, t);

    dw_forms_t again;
    dw_forms_keys(&again, &rq.items, NULL, 0, NULL, 0, &unused, &unused);
    cr_assert_eq(dw_forms_lookup(&again, t, &rq.items), 0, "the next turn finds them all");
    for (size_t i = 0; i < rq.items.n; i++) {
        cr_assert_eq(again.have[i], 1);
        cr_assert_eq(memcmp(&again.v[i], &first.v[i], sizeof(dw_form_t)), 0);
    }
    dw_forms_fill(&again, &rq.items); /* nothing left to do */
    for (size_t i = 0; i < rq.items.n; i++)
        cr_assert_eq(again.have[i], 1);
    dw_forms_free(&first);
    dw_forms_free(&again);
}
