/* The chat-visible projection (translate/chat_project.c) and the round trip it stands for: a Chat
 * client's messages → items, the model's recorded output → the chat message the client gets →
 * its echo's items, which must be the recorded output item for item (dw_canon_within), turn
 * after turn. The recorded outputs are the captured ones in tests/fixtures/clients (the same
 * shapes deltawire-mock's model writes: message with output_text/annotations/logprobs,
 * function_call with id/status/call_id). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <criterion/criterion.h>

#include "tests/unit/fixture.h"
#include "translate/canon.h"
#include "translate/chat_project.h"
#include "translate/chat_request.h"

static const char *const dirs[] = {"openai-node-7.57.0-stream", "openai-node-7.57.0-nonstream", "codex-0.169.0-gpt-5.5-http",
                                   "ai-sdk-6.0.326-generateText-store-false"};

/* 1 if echo is the recorded server item as an echo may carry it (translate/canon.h). */
static int echoes(dw_span_t echo, dw_span_t server)
{
    dw_canon_t c, s;
    cr_assert_eq(dw_canon_item(echo.p, echo.n, &c), 0, "undigestable: %.*s", (int)echo.n, echo.p);
    cr_assert_eq(dw_canon_item(server.p, server.n, &s), 0, "undigestable: %.*s", (int)server.n, server.p);
    int r = dw_canon_within(&c.form, &s.form);
    dw_canon_clear(&c);
    dw_canon_clear(&s);
    return r;
}

/* 1 if both items have the same canonical form. */
static int same(dw_span_t x, dw_span_t y)
{
    dw_canon_t a, b;
    cr_assert_eq(dw_canon_item(x.p, x.n, &a), 0);
    cr_assert_eq(dw_canon_item(y.p, y.n, &b), 0);
    int r = memcmp(&a.form.digest, &b.form.digest, sizeof a.form.digest) == 0;
    dw_canon_clear(&a);
    dw_canon_clear(&b);
    return r;
}

static int is_reasoning(dw_span_t item)
{
    dw_span_t t;
    return dw_json_object_get(item, "type", &t) && t.n == 11 && memcmp(t.p, "\"reasoning\"", 11) == 0;
}

/* The output with its reasoning items removed: what a model without reasoning items answers. */
static void without_reasoning(const dw_spans_t *items, dw_buf_t *out)
{
    size_t k = 0;
    dw_buf_append_str(out, "[");
    for (size_t i = 0; i < items->n; i++) {
        if (is_reasoning(items->v[i]))
            continue;
        if (k++ > 0)
            dw_buf_append_str(out, ",");
        dw_buf_append(out, items->v[i].p, items->v[i].n);
    }
    dw_buf_append_str(out, "]");
}

/* Translates {"model":"m","messages":[<msgs>]} and returns its input item spans (into req->body). */
static void translate(const dw_buf_t *msgs, dw_chat_request_t *req, dw_spans_t *items)
{
    dw_buf_t body = {0};
    dw_buf_append_str(&body, "{\"model\":\"m\",\"messages\":[");
    dw_buf_append(&body, msgs->p, msgs->len);
    dw_buf_append_str(&body, "]}");
    dw_chat_request_free(req);
    memset(req, 0, sizeof *req);
    int rc = dw_chat_request(body.p, body.len, req);
    cr_assert_eq(rc, DW_CHAT_OK, "fell back: %s", req->reason);
    dw_members_t m = {0};
    size_t off;
    items->n = 0;
    cr_assert_eq(dw_json_scan_object(req->body.p, req->body.len, "input", &m, items, &off), 0);
    dw_members_free(&m);
    dw_buf_free(&body);
}

/* Appends a tool message answering every tool call of the projected assistant message. */
static void answer_calls(dw_buf_t *msgs, const dw_chat_projection_t *pj)
{
    dw_span_t calls, id;
    dw_spans_t el = {0};
    if (!dw_json_object_get((dw_span_t){pj->message.p, pj->message.len}, "tool_calls", &calls))
        return;
    cr_assert_eq(dw_json_array_elems(calls, &el), 0);
    for (size_t i = 0; i < el.n; i++) {
        cr_assert(dw_json_object_get(el.v[i], "id", &id));
        dw_buf_append_str(msgs, ",{\"role\":\"tool\",\"tool_call_id\":");
        dw_buf_append(msgs, id.p, id.n);
        dw_buf_append_str(msgs, ",\"content\":\"hello\\n\"}");
    }
    dw_spans_free(&el);
}

Test(chat_project, conversation_round_trips_for_a_model_without_reasoning)
{
    for (size_t d = 0; d < sizeof dirs / sizeof *dirs; d++) {
        dw_buf_t msgs = {0};
        dw_chat_request_t req = {0};
        dw_spans_t items = {0}, prev = {0};
        dw_chat_request_t prev_req = {0};
        dw_buf_append_str(&msgs, "{\"role\":\"system\",\"content\":\"You are a terse shell assistant.\"},"
                                 "{\"role\":\"user\",\"content\":\"Run `echo hello` twice, then tell me.\"}");
        int turns = fx_turns(dirs[d]);
        cr_assert_geq(turns, 3, "%s: fixture missing", dirs[d]);
        for (int t = 1; t <= turns; t++) {
            char *body;
            dw_spans_t out = {0};
            cr_assert_eq(fx_response(dirs[d], t, &body, &out), 0);
            dw_buf_t plain = {0};
            without_reasoning(&out, &plain);
            dw_spans_t recorded = {0};
            cr_assert_eq(dw_json_array_elems((dw_span_t){plain.p, plain.len}, &recorded), 0);

            dw_chat_projection_t pj;
            cr_assert_eq(dw_chat_project((dw_span_t){plain.p, plain.len}, 0, &pj), DW_CHAT_OK);
            cr_assert(!pj.hidden && pj.exact, "%s turn %d: projection differs from the output", dirs[d], t);

            /* the client's next turn: its history, the message it was given, its tool answers */
            translate(&msgs, &req, &items);
            size_t before = items.n;
            dw_buf_append_str(&msgs, ",");
            dw_buf_append(&msgs, pj.message.p, pj.message.len);
            answer_calls(&msgs, &pj);
            translate(&msgs, &req, &items);

            cr_assert_geq(items.n, before + recorded.n);
            for (size_t i = 0; i < recorded.n; i++) {
                cr_assert(echoes(items.v[before + i], recorded.v[i]), "%s turn %d: echoed item %zu is not the recorded output",
                          dirs[d], t, i);
                cr_assert(same(pj.spans.v[i], items.v[before + i]), "%s turn %d: projection item %zu differs", dirs[d], t, i);
            }
            /* each turn's input starts with the previous turn's: a delta can chain */
            for (size_t i = 0; i < prev.n; i++)
                cr_assert(same(items.v[i], prev.v[i]), "%s turn %d: history item %zu changed", dirs[d], t, i);
            dw_chat_request_free(&prev_req);
            prev_req = req;
            memset(&req, 0, sizeof req);
            dw_spans_free(&prev);
            prev = items;
            memset(&items, 0, sizeof items);

            dw_chat_projection_free(&pj);
            dw_spans_free(&recorded);
            dw_buf_free(&plain);
            dw_spans_free(&out);
            free(body);
        }
        dw_chat_request_free(&prev_req);
        dw_spans_free(&prev);
        dw_buf_free(&msgs);
    }
}

/* With reasoning, the client's echo is the output minus the reasoning: hidden, never exact. */
Test(chat_project, reasoning_is_hidden)
{
    for (size_t d = 0; d < sizeof dirs / sizeof *dirs; d++) {
        for (int t = 1; t <= fx_turns(dirs[d]); t++) {
            char *body;
            dw_spans_t out = {0};
            cr_assert_eq(fx_response(dirs[d], t, &body, &out), 0);
            dw_span_t output;
            cr_assert(dw_json_object_get((dw_span_t){body, strlen(body)}, "output", &output));
            dw_chat_projection_t pj;
            cr_assert_eq(dw_chat_project(output, 0, &pj), DW_CHAT_OK);
            int has_reasoning = 0;
            size_t k = 0;
            for (size_t i = 0; i < out.n; i++) {
                if (is_reasoning(out.v[i])) {
                    has_reasoning = 1;
                    continue;
                }
                cr_assert_lt(k, pj.spans.n);
                cr_assert(echoes(pj.spans.v[k++], out.v[i]), "%s turn %d: projected item differs", dirs[d], t);
            }
            cr_assert_eq(k, pj.spans.n);
            cr_assert(has_reasoning, "%s turn %d: the captured outputs all reason", dirs[d], t);
            cr_assert(pj.hidden && !pj.exact);
            dw_chat_projection_free(&pj);
            dw_spans_free(&out);
            free(body);
        }
    }
}

static void project(const char *output, dw_chat_projection_t *pj, int want_rc)
{
    cr_assert_eq(dw_chat_project((dw_span_t){output, strlen(output)}, 0, pj), want_rc, "%s", output);
}

/* Two messages become one chat message: not hidden, yet the echo is not the output. */
Test(chat_project, merged_messages_are_not_exact)
{
    dw_chat_projection_t pj;
    project("[{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"a\"}]},"
            "{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"b\"}]}]",
            &pj, DW_CHAT_OK);
    cr_assert(!pj.hidden && !pj.exact);
    cr_assert_eq(pj.spans.n, 1);
    dw_chat_projection_free(&pj);

    /* a call before the text comes back after it: the order is not the output's */
    project("[{\"type\":\"function_call\",\"call_id\":\"c\",\"name\":\"f\",\"arguments\":\"{}\"},"
            "{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"a\"}]}]",
            &pj, DW_CHAT_OK);
    cr_assert(!pj.hidden && !pj.exact);
    dw_chat_projection_free(&pj);
}

Test(chat_project, refusal_round_trips)
{
    dw_chat_projection_t pj;
    project("[{\"id\":\"msg_1\",\"type\":\"message\",\"status\":\"completed\",\"role\":\"assistant\",\"content\":"
            "[{\"type\":\"refusal\",\"refusal\":\"no\"}]}]",
            &pj, DW_CHAT_OK);
    cr_assert(!pj.hidden && pj.exact);
    dw_chat_projection_free(&pj);
}

/* Nothing the client could echo: its next request goes over HTTP, nothing is recorded. */
Test(chat_project, reasoning_only_output_cannot_be_echoed)
{
    dw_chat_projection_t pj;
    project("[{\"id\":\"rs_1\",\"type\":\"reasoning\",\"summary\":[]}]", &pj, DW_CHAT_FALLBACK);
    dw_chat_projection_free(&pj);
}

/* A legacy echo carries an invented call id: translatable, never exact. */
Test(chat_project, legacy_function_call_is_never_exact)
{
    dw_chat_projection_t pj;
    const char *out = "[{\"type\":\"function_call\",\"call_id\":\"call_a\",\"name\":\"f\",\"arguments\":\"{}\"}]";
    cr_assert_eq(dw_chat_project((dw_span_t){out, strlen(out)}, 1, &pj), DW_CHAT_OK);
    cr_assert(!pj.hidden && !pj.exact);
    cr_assert_eq(pj.spans.n, 1);
    dw_chat_projection_free(&pj);
    cr_assert_eq(dw_chat_project((dw_span_t){out, strlen(out)}, 0, &pj), DW_CHAT_OK);
    cr_assert(!pj.hidden && pj.exact);
    dw_chat_projection_free(&pj);
}
