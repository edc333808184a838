#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <criterion/criterion.h>
#include "state/chain.h"
#include "state/transcripts.h"
#include "tests/unit/fixture.h"

#define MAX_TURNS 8
#define MAX_ITEMS 64

static dw_digest_t cred_of(const char *key)
{
    dw_digest_t d;
    dw_digest_bytes(&d, key, strlen(key));
    return d;
}

/* What the proxy does with a request: item digests, aliases, chain links. */
static void chain_request(dw_transcripts_t *t, const dw_digest_t *cred, const dw_spans_t *items, dw_digest_t *links)
{
    dw_digest_t link;
    dw_chain_seed(&link, cred);
    cr_assert_leq(items->n, MAX_ITEMS);
    for (size_t i = 0; i < items->n; i++) {
        dw_digest_t d;
        cr_assert_eq(dw_transcripts_item_digest(t, items->v[i].p, items->v[i].n, &d, NULL), 0);
        dw_transcripts_resolve(t, cred, &d);
        dw_chain_next(&link, &d);
        links[i] = link;
    }
}

/* What the proxy does with a completed response: chain its output items
 * after the request's and record the end link. Returns the item count. */
static size_t record_response(dw_transcripts_t *t, const dw_digest_t *cred, const dw_digest_t *links, size_t n,
                              const char *dir, int turn, char *id_out)
{
    char *resp;
    dw_spans_t out = {0};
    dw_digest_t link;
    cr_assert_eq(fx_response(dir, turn, &resp, &out), 0);
    if (n > 0)
        link = links[n - 1];
    else
        dw_chain_seed(&link, cred);
    for (size_t j = 0; j < out.n; j++) {
        dw_digest_t identity;
        cr_assert_eq(dw_transcripts_output_item(t, cred, out.v[j].p, out.v[j].n, &identity), 0);
        dw_chain_next(&link, &identity);
    }
    strcpy(id_out, fx_response_id(resp));
    cr_assert_not_null(dw_transcripts_record(t, &link, id_out, 7, 0));
    size_t total = n + out.n;
    dw_spans_free(&out);
    free(resp);
    return total;
}

static int type_or_role_is(dw_span_t item, const char *key, const char *want)
{
    dw_span_t v;
    if (!dw_json_object_get(item, key, &v))
        return 0;
    char *s = dw_json_string_dup(v);
    int eq = s != NULL && strcmp(s, want) == 0;
    free(s);
    return eq;
}

/* Items a client adds itself: tool results and user prompts. */
static int is_new_client_item(dw_span_t item)
{
    return type_or_role_is(item, "type", "function_call_output") ||
           type_or_role_is(item, "type", "custom_tool_call_output") || type_or_role_is(item, "role", "user");
}

static int has(const char *s, const char *sub)
{
    return strstr(s, sub) != NULL;
}

/* Plays every turn of a fixture through the index and checks each decision. */
static void play(const char *dir)
{
    dw_transcripts_t *t = dw_transcripts_new(64, 4096, 4096);
    dw_digest_t cred = cred_of(dir);
    size_t rec_len[MAX_TURNS + 1] = {0};
    char rec_id[MAX_TURNS + 1][DW_RESPONSE_ID_MAX + 1];
    int turns = fx_turns(dir);
    /* Codex echoes output_item.done and the AI SDK the deltas; the recorded
     * copy is response.completed's, so after a message they must not match. */
    int echoes_other_copy = has(dir, "mismatch") && !has(dir, "openai-node");

    cr_assert_geq(turns, 3, "%s: fixture missing", dir);
    cr_assert_leq(turns, MAX_TURNS);
    for (int turn = 1; turn <= turns; turn++) {
        char *req;
        dw_spans_t in = {0};
        dw_digest_t links[MAX_ITEMS];
        dw_match_t m;
        cr_assert_eq(fx_request(dir, turn, &req, &in), 0);
        chain_request(t, &cred, &in, links);

        int found = dw_transcripts_match(t, links, in.n, &m);
        if (turn == 1) {
            cr_assert_eq(found, 0);
        } else {
            int expect = echoes_other_copy && turn >= 3 ? 1 : turn - 1;
            cr_assert_eq(found, 1, "%s turn %d: no match", dir, turn);
            cr_assert_eq(m.matched, rec_len[expect], "%s turn %d: matched %zu, want %zu (response of turn %d)", dir, turn,
                         m.matched, rec_len[expect], expect);
            cr_assert_str_eq(m.rec->id, rec_id[expect]);
            cr_assert_eq(m.rec->conn_id, 7);
            if (expect == turn - 1) {
                cr_assert_gt(in.n, m.matched, "%s turn %d: no new items", dir, turn);
                for (size_t i = m.matched; i < in.n; i++)
                    cr_assert(is_new_client_item(in.v[i]), "%s turn %d: item %zu is not new: %.*s", dir, turn, i,
                              (int)in.v[i].n, in.v[i].p);
            } else {
                cr_assert_lt(m.matched, rec_len[turn - 1]);
            }
        }
        rec_len[turn] = record_response(t, &cred, links, in.n, dir, turn, rec_id[turn]);
        dw_spans_free(&in);
        free(req);
    }
    dw_transcripts_free(t);
}

Test(transcripts_fixtures, codex_http)
{
    play("codex-0.169.0-custom-model-http");
    play("codex-0.169.0-default-model-http");
    play("codex-0.169.0-gpt-5.5-http");
    play("codex-0.169.0-gpt-5.5-http-empty-summary");
    play("codex-0.169.0-gpt-5.5-http-multipart-summary");
    play("codex-0.169.0-gpt-5.5-ws-404-fallback");
    play("codex-0.169.0-gpt-5.5-ws-426-fallback");
}

Test(transcripts_fixtures, codex_extra_fields_match_via_projection)
{
    play("codex-0.169.0-default-model-http-extra-fields");
    play("codex-0.169.0-gpt-5.5-http-extra-fields");
}

Test(transcripts_fixtures, openai_node)
{
    play("openai-node-7.57.0-nonstream");
    play("openai-node-7.57.0-nonstream-extra-fields");
    play("openai-node-7.57.0-stream");
    play("openai-node-7.57.0-stream-helper");
}

Test(transcripts_fixtures, ai_sdk_store_false)
{
    play("ai-sdk-6.0.326-generateText-store-false");
    play("ai-sdk-6.0.326-generateText-store-false-extra-fields");
    play("ai-sdk-6.0.326-generateText-store-false-multipart-summary");
    play("ai-sdk-6.0.326-streamText-store-false");
    play("ai-sdk-6.0.326-streamText-store-false-empty-summary");
}

Test(transcripts_fixtures, ai_sdk_item_references_match_via_id_aliases)
{
    play("ai-sdk-6.0.326-generateText-store-default");
    play("ai-sdk-6.0.326-generateText-store-default-extra-fields");
    play("ai-sdk-6.0.326-streamText-store-default");
}

Test(transcripts_fixtures, mismatched_echo_copies)
{
    play("openai-node-7.57.0-stream-mismatch");        /* echoes response.completed: matches */
    play("openai-node-7.57.0-stream-helper-mismatch"); /* likewise */
    play("codex-0.169.0-gpt-5.5-http-mismatch");       /* output_item.done copy: must not match */
    play("ai-sdk-6.0.326-streamText-store-false-mismatch"); /* delta text: must not match */
}

/* ---- isolation and tampering -------------------------------------------- */

struct session {
    dw_transcripts_t *t;
    dw_digest_t cred;
    size_t rec_len[3];
    char rec_id[3][DW_RESPONSE_ID_MAX + 1];
};

/* Records turns 1 and 2 of dir. */
static void two_turns(struct session *s, const char *dir, const char *key)
{
    s->t = dw_transcripts_new(64, 4096, 4096);
    s->cred = cred_of(key);
    for (int turn = 1; turn <= 2; turn++) {
        char *req;
        dw_spans_t in = {0};
        dw_digest_t links[MAX_ITEMS];
        cr_assert_eq(fx_request(dir, turn, &req, &in), 0);
        chain_request(s->t, &s->cred, &in, links);
        s->rec_len[turn] = record_response(s->t, &s->cred, links, in.n, dir, turn, s->rec_id[turn]);
        dw_spans_free(&in);
        free(req);
    }
}

/* Matches an item list (raw strings) and returns the matched count. */
static size_t match_raw(struct session *s, const dw_digest_t *cred, char **raw, size_t n)
{
    dw_spans_t items = {0};
    items.v = calloc(n, sizeof *items.v);
    items.n = items.cap = n;
    for (size_t i = 0; i < n; i++)
        items.v[i] = (dw_span_t){raw[i], strlen(raw[i])};
    dw_digest_t links[MAX_ITEMS];
    dw_match_t m;
    chain_request(s->t, cred, &items, links);
    dw_transcripts_match(s->t, links, n, &m);
    dw_spans_free(&items);
    return m.matched;
}

/* Turn 3's items as strings the test may edit. */
static size_t turn3_items(const char *dir, char **raw)
{
    char *req;
    dw_spans_t in = {0};
    cr_assert_eq(fx_request(dir, 3, &req, &in), 0);
    size_t n = in.n;
    for (size_t i = 0; i < n; i++)
        raw[i] = strndup(in.v[i].p, in.v[i].n);
    dw_spans_free(&in);
    free(req);
    return n;
}

static void free_items(char **raw, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(raw[i]);
}

/* Rewrites one string field of the item. */
static void edit(char **raw, const char *field, const char *value)
{
    json_t *j = json_loads(*raw, 0, NULL);
    cr_assert_not_null(json_object_get(j, field), "no %s in %s", field, *raw);
    json_object_set_new(j, field, json_string(value));
    free(*raw);
    *raw = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
}

static const char *const codex = "codex-0.169.0-gpt-5.5-http";

Test(transcripts, unmodified_turn3_matches_turn2)
{
    struct session s;
    char *raw[MAX_ITEMS];
    two_turns(&s, codex, "key-a");
    size_t n = turn3_items(codex, raw);
    cr_assert_eq(match_raw(&s, &s.cred, raw, n), s.rec_len[2]);
    free_items(raw, n);
    dw_transcripts_free(s.t);
}

Test(transcripts, other_credentials_never_match)
{
    struct session s;
    char *raw[MAX_ITEMS];
    two_turns(&s, codex, "key-a");
    size_t n = turn3_items(codex, raw);
    dw_digest_t other = cred_of("key-b");
    cr_assert_eq(match_raw(&s, &other, raw, n), 0);
    free_items(raw, n);
    dw_transcripts_free(s.t);

    /* aliases are per credential too: item_references resolve only for the owner */
    const char *dir = "ai-sdk-6.0.326-generateText-store-default";
    two_turns(&s, dir, "key-a");
    n = turn3_items(dir, raw);
    cr_assert_eq(match_raw(&s, &s.cred, raw, n), s.rec_len[2]);
    dw_digest_t d, before;
    int strip;
    size_t ref = s.rec_len[1] - 2; /* turn 1's reasoning, echoed as a reference */
    cr_assert(strstr(raw[ref], "item_reference") != NULL);
    cr_assert_eq(dw_transcripts_item_digest(s.t, raw[ref], strlen(raw[ref]), &d, &strip), 0);
    before = d;
    dw_transcripts_resolve(s.t, &other, &d);
    cr_assert(dw_digest_eq(&d, &before));
    dw_transcripts_resolve(s.t, &s.cred, &d);
    cr_assert(!dw_digest_eq(&d, &before));
    free_items(raw, n);
    dw_transcripts_free(s.t);
}

Test(transcripts, edited_old_arguments_never_match)
{
    struct session s;
    char *raw[MAX_ITEMS];
    two_turns(&s, codex, "key-a");
    size_t n = turn3_items(codex, raw);
    size_t fc = s.rec_len[1] - 1; /* turn 1's function_call echo */
    cr_assert(strstr(raw[fc], "\"function_call\"") != NULL);
    edit(&raw[fc], "arguments", "{\"cmd\":\"rm -rf /\"}");
    cr_assert_eq(match_raw(&s, &s.cred, raw, n), 0);
    free_items(raw, n);
    dw_transcripts_free(s.t);
}

Test(transcripts, edit_after_first_response_falls_back_to_it)
{
    struct session s;
    char *raw[MAX_ITEMS];
    two_turns(&s, codex, "key-a");
    size_t n = turn3_items(codex, raw);
    size_t fc = s.rec_len[2] - 1; /* turn 2's function_call echo */
    edit(&raw[fc], "call_id", "call_other");
    cr_assert_eq(match_raw(&s, &s.cred, raw, n), s.rec_len[1]);
    free_items(raw, n);
    dw_transcripts_free(s.t);
}

Test(transcripts, dropped_or_swapped_items_never_match)
{
    struct session s;
    char *raw[MAX_ITEMS];
    two_turns(&s, codex, "key-a");
    size_t n = turn3_items(codex, raw);

    char *dropped[MAX_ITEMS];
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (i != 2)
            dropped[k++] = raw[i];
    cr_assert_eq(match_raw(&s, &s.cred, dropped, k), 0);

    char *tmp = raw[s.rec_len[1] - 1];
    raw[s.rec_len[1] - 1] = raw[s.rec_len[1] - 2];
    raw[s.rec_len[1] - 2] = tmp;
    cr_assert_eq(match_raw(&s, &s.cred, raw, n), 0);
    free_items(raw, n);
    dw_transcripts_free(s.t);
}

Test(transcripts, records_forget_retry_and_bounds)
{
    dw_transcripts_t *t = dw_transcripts_new(2, 16, 16);
    dw_digest_t links[3], cred = cred_of("k");
    dw_chain_seed(&links[0], &cred);
    for (int i = 0; i < 3; i++) {
        dw_digest_t item = cred_of(i == 0 ? "a" : i == 1 ? "b" : "c");
        if (i > 0)
            links[i] = links[i - 1];
        dw_chain_next(&links[i], &item);
    }
    dw_match_t m;
    cr_assert_not_null(dw_transcripts_record(t, &links[0], "resp_1", 1, 1));
    cr_assert_not_null(dw_transcripts_record(t, &links[1], "resp_2", 2, 0));
    cr_assert_eq(dw_transcripts_match(t, links, 3, &m), 1);
    cr_assert_eq(m.matched, 2);
    cr_assert_str_eq(m.rec->id, "resp_2");
    cr_assert_eq(m.rec->store, 0);
    /* the proxy rejects it (connection gone) and looks further back */
    cr_assert_eq(dw_transcripts_match(t, links, m.matched - 1, &m), 1);
    cr_assert_eq(m.matched, 1);
    cr_assert_str_eq(m.rec->id, "resp_1");
    cr_assert_eq(m.rec->store, 1);
    cr_assert_eq(m.rec->conn_id, 1);

    cr_assert_eq(dw_transcripts_forget(t, &links[1]), 1);
    cr_assert_eq(dw_transcripts_forget(t, &links[1]), 0);
    cr_assert_eq(dw_transcripts_match(t, links, 3, &m), 1);
    cr_assert_eq(m.matched, 1);

    cr_assert_not_null(dw_transcripts_record(t, &links[2], "resp_3", 3, 0));
    cr_assert_not_null(dw_transcripts_record(t, &links[1], "resp_2b", 3, 0)); /* bound 2: evicts resp_1 */
    cr_assert_eq(dw_transcripts_match(t, links, 1, &m), 0);
    cr_assert_null(m.rec);

    char long_id[DW_RESPONSE_ID_MAX + 2];
    memset(long_id, 'x', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    cr_assert_null(dw_transcripts_record(t, &links[0], long_id, 1, 0));
    long_id[DW_RESPONSE_ID_MAX] = '\0';
    cr_assert_not_null(dw_transcripts_record(t, &links[0], long_id, 1, 0));

    dw_digest_t d;
    int strip = 0;
    cr_assert_eq(dw_transcripts_item_digest(t, "{\"a\":", 5, &d, &strip), -1);
    const char *helper = "{\"type\":\"function_call\",\"call_id\":\"c\",\"name\":\"f\",\"arguments\":\"{}\",\"parsed_arguments\":{}}";
    for (int i = 0; i < 2; i++) { /* the second time from the raw cache */
        cr_assert_eq(dw_transcripts_item_digest(t, helper, strlen(helper), &d, &strip), 0);
        cr_assert_eq(strip, 1);
    }
    dw_transcripts_free(t);
    cr_assert_null(dw_transcripts_new(0, 1, 1));
}
