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

/* What the proxy does with a request: item forms, resolved at their position, chain links. */
static void chain_request(dw_transcripts_t *t, const dw_digest_t *cred, const dw_spans_t *items, dw_digest_t *links)
{
    dw_digest_t link;
    dw_chain_seed(&link, cred);
    cr_assert_leq(items->n, MAX_ITEMS);
    for (size_t i = 0; i < items->n; i++) {
        dw_form_t f;
        dw_digest_t d;
        cr_assert_eq(dw_transcripts_item(t, items->v[i].p, items->v[i].n, &f), 0);
        dw_transcripts_resolve(t, &link, &f, &d);
        dw_chain_next(&link, &d);
        links[i] = link;
    }
}

static int stored(const char *resp)
{
    dw_span_t v;
    return dw_json_object_get((dw_span_t){resp, strlen(resp)}, "store", &v) && dw_json_is_true(v);
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
    cr_assert_eq(dw_transcripts_output_chain(t, &link, out.v, out.n, stored(resp)), 0);
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
    /* the reference resolves at its place in key-a's chain, never in key-b's */
    size_t ref = s.rec_len[1] - 2; /* turn 1's reasoning, echoed as a reference */
    cr_assert(strstr(raw[ref], "item_reference") != NULL);
    dw_spans_t head = {0};
    head.v = calloc(ref, sizeof *head.v);
    head.n = head.cap = ref;
    for (size_t i = 0; i < ref; i++)
        head.v[i] = (dw_span_t){raw[i], strlen(raw[i])};
    dw_digest_t own[MAX_ITEMS], theirs[MAX_ITEMS], d;
    chain_request(s.t, &s.cred, &head, own);
    chain_request(s.t, &other, &head, theirs);
    dw_spans_free(&head);
    dw_form_t f;
    cr_assert_eq(dw_transcripts_item(s.t, raw[ref], strlen(raw[ref]), &f), 0);
    dw_transcripts_resolve(s.t, &theirs[ref - 1], &f, &d);
    cr_assert(dw_digest_eq(&d, &f.digest));
    dw_transcripts_resolve(s.t, &own[ref - 1], &f, &d);
    cr_assert(!dw_digest_eq(&d, &f.digest));
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
    dw_form_t f;
    cr_assert_eq(dw_transcripts_item_digest(t, "{\"a\":", 5, &d), -1);
    const char *helper = "{\"type\":\"function_call\",\"call_id\":\"c\",\"name\":\"f\",\"arguments\":\"{}\",\"parsed_arguments\":{}}";
    for (int i = 0; i < 2; i++) { /* the second time from the raw cache */
        cr_assert_eq(dw_transcripts_item(t, helper, strlen(helper), &f), 0);
        cr_assert_eq(f.strip, 1);
    }
    cr_assert_eq(dw_transcripts_item_digest(t, helper, strlen(helper), &d), 0);
    cr_assert(dw_digest_eq(&d, &f.digest));
    dw_transcripts_free(t);
    cr_assert_null(dw_transcripts_new(0, 1, 1));
}

/* ---- echoes resolve at their place, references only to stored items ---- */

/* Chains raw items (a client's request) and returns the link after each. */
static void chain_raw(dw_transcripts_t *t, const dw_digest_t *cred, const char *const *raw, size_t n, dw_digest_t *links)
{
    dw_spans_t items = {0};
    items.v = calloc(n, sizeof *items.v);
    items.n = items.cap = n;
    for (size_t i = 0; i < n; i++)
        items.v[i] = (dw_span_t){raw[i], strlen(raw[i])};
    chain_request(t, cred, &items, links);
    dw_spans_free(&items);
}

/* Records a response to `input` whose output is `output`; returns the end link. */
static dw_digest_t respond(dw_transcripts_t *t, const dw_digest_t *cred, const char *const *input, size_t n_in,
                           const char *const *output, size_t n_out, int stored, const char *id)
{
    dw_digest_t links[MAX_ITEMS], link;
    chain_raw(t, cred, input, n_in, links);
    link = links[n_in - 1];
    dw_span_t out[MAX_ITEMS];
    for (size_t i = 0; i < n_out; i++)
        out[i] = (dw_span_t){output[i], strlen(output[i])};
    cr_assert_eq(dw_transcripts_output_chain(t, &link, out, n_out, stored), 0);
    cr_assert_not_null(dw_transcripts_record(t, &link, id, 1, stored));
    return link;
}

static size_t matched(dw_transcripts_t *t, const dw_digest_t *cred, const char *const *raw, size_t n)
{
    dw_digest_t links[MAX_ITEMS];
    dw_match_t m;
    chain_raw(t, cred, raw, n, links);
    dw_transcripts_match(t, links, n, &m);
    return m.matched;
}

#define USER "{\"role\":\"user\",\"content\":\"hi\"}"
#define MSG "{\"type\":\"message\",\"id\":\"msg_1\",\"status\":\"completed\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"ok\",\"annotations\":[]}]}"
#define NEXT "{\"role\":\"user\",\"content\":\"more\"}"

Test(transcripts_echoes, omitted_fields_resolve_changed_ones_never)
{
    dw_transcripts_t *t = dw_transcripts_new(64, 64, 64);
    dw_digest_t cred = cred_of("k");
    const char *in[] = {USER}, *out[] = {MSG};
    respond(t, &cred, in, 1, out, 1, 0, "resp_1");

    const char *exact[] = {USER, MSG, NEXT};
    cr_assert_eq(matched(t, &cred, exact, 3), 2);
    const char *bare[] = {USER, "{\"role\":\"assistant\",\"content\":\"ok\"}", NEXT};
    cr_assert_eq(matched(t, &cred, bare, 3), 2, "id, status, type and the empty annotations left out");
    const char *nulls[] = {USER, "{\"role\":\"assistant\",\"content\":\"ok\",\"id\":\"msg_1\",\"phase\":null,\"status\":null}", NEXT};
    cr_assert_eq(matched(t, &cred, nulls, 3), 2);
    const char *status[] = {USER, "{\"role\":\"assistant\",\"content\":\"ok\",\"status\":\"incomplete\"}", NEXT};
    cr_assert_eq(matched(t, &cred, status, 3), 0, "a changed status is a different item");
    const char *id[] = {USER, "{\"role\":\"assistant\",\"content\":\"ok\",\"id\":\"msg_2\"}", NEXT};
    cr_assert_eq(matched(t, &cred, id, 3), 0);
    const char *added[] = {USER, "{\"role\":\"assistant\",\"content\":\"ok\",\"phase\":\"commentary\"}", NEXT};
    cr_assert_eq(matched(t, &cred, added, 3), 0, "a field the server did not set");
    const char *moved[] = {NEXT, "{\"role\":\"assistant\",\"content\":\"ok\"}"};
    dw_digest_t links[2];
    chain_raw(t, &cred, moved, 2, links); /* only where the server put it */
    dw_match_t m;
    cr_assert_eq(dw_transcripts_match(t, links, 2, &m), 0);
    dw_transcripts_free(t);
}

Test(transcripts_echoes, the_same_text_twice_resolves_at_each_place)
{
    dw_transcripts_t *t = dw_transcripts_new(64, 64, 64);
    dw_digest_t cred = cred_of("k");
    const char *in1[] = {USER}, *out1[] = {MSG};
    respond(t, &cred, in1, 1, out1, 1, 0, "resp_1");
    const char *msg2 = "{\"type\":\"message\",\"id\":\"msg_2\",\"status\":\"completed\",\"role\":\"assistant\",\"content\":\"ok\"}";
    const char *in2[] = {USER, "{\"role\":\"assistant\",\"content\":\"ok\"}", NEXT}, *out2[] = {msg2};
    respond(t, &cred, in2, 3, out2, 1, 0, "resp_2");
    const char *in3[] = {USER, "{\"role\":\"assistant\",\"content\":\"ok\"}", NEXT, "{\"role\":\"assistant\",\"content\":\"ok\"}",
                         NEXT};
    cr_assert_eq(matched(t, &cred, in3, 5), 4);
    dw_transcripts_free(t);
}

Test(transcripts_echoes, references_resolve_only_to_stored_items)
{
    const char *in[] = {USER}, *out[] = {MSG};
    const char *ref[] = {USER, "{\"type\":\"item_reference\",\"id\":\"msg_1\"}", NEXT};
    const char *bare_ref[] = {USER, "{\"id\":\"msg_1\"}", NEXT};
    const char *other_ref[] = {USER, "{\"type\":\"item_reference\",\"id\":\"msg_9\"}", NEXT};
    for (int stored = 0; stored <= 1; stored++) {
        dw_transcripts_t *t = dw_transcripts_new(64, 64, 64);
        dw_digest_t cred = cred_of("k");
        respond(t, &cred, in, 1, out, 1, stored, "resp_1");
        cr_assert_eq(matched(t, &cred, ref, 3), stored ? 2 : 0, "store=%d", stored);
        cr_assert_eq(matched(t, &cred, bare_ref, 3), stored ? 2 : 0, "store=%d", stored);
        cr_assert_eq(matched(t, &cred, other_ref, 3), 0);
        dw_transcripts_free(t);
    }
}
