#include <stdlib.h>
#include <string.h>
#include <criterion/criterion.h>
#include "translate/canon.h"
#include "state/chain.h"
#include "tests/unit/fixture.h"

static dw_digest_t digest_of(const char *item)
{
    dw_canon_t c;
    cr_assert_eq(dw_canon_item(item, strlen(item), &c), 0, "cannot canonicalise %s", item);
    dw_digest_t d = c.digest;
    dw_canon_clear(&c);
    return d;
}

static void assert_same(const char *a, const char *b)
{
    dw_digest_t x = digest_of(a), y = digest_of(b);
    cr_assert(dw_digest_eq(&x, &y), "cosmetic difference changed the digest:\n  %s\n  %s", a, b);
}

static void assert_differs(const char *a, const char *b)
{
    dw_digest_t x = digest_of(a), y = digest_of(b);
    cr_assert(!dw_digest_eq(&x, &y), "semantic difference kept the digest:\n  %s\n  %s", a, b);
}

/* ---- cosmetic differences: the digest must not change ------------------ */

Test(canon_cosmetic, key_order_at_every_level)
{
    assert_same("{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"hi\"}]}",
                "{\"content\":[{\"text\":\"hi\",\"type\":\"output_text\"}],\"role\":\"assistant\",\"type\":\"message\"}");
    assert_same("{\"type\":\"x\",\"v\":{\"a\":1,\"b\":[{\"c\":2,\"d\":3}]}}",
                " {\"v\":{\"b\":[{\"d\":3,\"c\":2}],\"a\":1},\"type\":\"x\"} ");
}

Test(canon_cosmetic, role_without_type_is_a_message)
{
    assert_same("{\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"hi\"}]}",
                "{\"type\":\"message\",\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"hi\"}]}");
}

Test(canon_cosmetic, status_and_client_ids)
{
    assert_same("{\"type\":\"message\",\"id\":\"msg_1\",\"status\":\"completed\",\"role\":\"assistant\",\"content\":[]}",
                "{\"type\":\"message\",\"role\":\"assistant\",\"content\":[]}");
    assert_same("{\"type\":\"function_call\",\"id\":\"fc_1\",\"status\":\"completed\",\"call_id\":\"c\",\"name\":\"f\",\"arguments\":\"{}\"}",
                "{\"type\":\"function_call\",\"call_id\":\"c\",\"name\":\"f\",\"arguments\":\"{}\"}");
    assert_same("{\"type\":\"function_call_output\",\"id\":\"fco_1\",\"call_id\":\"c\",\"output\":\"x\"}",
                "{\"type\":\"function_call_output\",\"call_id\":\"c\",\"output\":\"x\"}");
    assert_same("{\"type\":\"custom_tool_call\",\"id\":\"ctc_1\",\"status\":\"completed\",\"call_id\":\"c\",\"name\":\"exec\",\"input\":\"x\"}",
                "{\"type\":\"custom_tool_call\",\"call_id\":\"c\",\"name\":\"exec\",\"input\":\"x\"}");
    assert_same("{\"type\":\"custom_tool_call_output\",\"id\":\"ctco_1\",\"call_id\":\"c\",\"output\":[]}",
                "{\"type\":\"custom_tool_call_output\",\"call_id\":\"c\",\"output\":[]}");
    assert_same("{\"type\":\"reasoning\",\"id\":\"rs_1\",\"status\":\"completed\",\"summary\":[]}",
                "{\"type\":\"reasoning\",\"id\":\"rs_1\",\"summary\":[]}");
}

Test(canon_cosmetic, reasoning_content_null)
{
    assert_same("{\"type\":\"reasoning\",\"id\":\"rs_1\",\"summary\":[],\"content\":null,\"encrypted_content\":\"e\"}",
                "{\"type\":\"reasoning\",\"id\":\"rs_1\",\"summary\":[],\"encrypted_content\":\"e\"}");
}

Test(canon_cosmetic, string_content_is_one_text_part)
{
    assert_same("{\"role\":\"user\",\"content\":\"hi\"}",
                "{\"type\":\"message\",\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"hi\"}]}");
    assert_same("{\"role\":\"developer\",\"content\":\"be brief\"}",
                "{\"role\":\"developer\",\"content\":[{\"type\":\"input_text\",\"text\":\"be brief\"}]}");
    assert_same("{\"role\":\"assistant\",\"content\":\"hi\"}",
                "{\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"hi\"}]}");
    assert_differs("{\"role\":\"assistant\",\"content\":\"hi\"}",
                   "{\"role\":\"assistant\",\"content\":[{\"type\":\"input_text\",\"text\":\"hi\"}]}");
}

Test(canon_cosmetic, content_part_extras)
{
    const char *plain = "{\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"hi\"}]}";
    assert_same(plain, "{\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"hi\",\"annotations\":[],\"logprobs\":[]}]}");
    assert_same(plain, "{\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"hi\",\"parsed\":null}]}");
    assert_same(plain, "{\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"hi\",\"parsed\":{\"a\":1}}]}");
    assert_differs(plain, "{\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"hi\",\"annotations\":[{\"type\":\"url_citation\"}]}]}");
    assert_differs(plain, "{\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"hi\",\"logprobs\":[{\"token\":\"hi\"}]}]}");
}

Test(canon_cosmetic, parsed_arguments_and_strip)
{
    const char *with = "{\"type\":\"function_call\",\"arguments\":\"{\\\"a\\\":1}\",\"parsed_arguments\":{\"a\":1},\"call_id\":\"c\",\"name\":\"f\"}";
    const char *without = "{\"type\":\"function_call\",\"arguments\":\"{\\\"a\\\":1}\",\"call_id\":\"c\",\"name\":\"f\"}";
    assert_same(with, without);

    dw_canon_t c;
    cr_assert_eq(dw_canon_item(with, strlen(with), &c), 0);
    cr_assert(c.strip);
    dw_canon_clear(&c);
    cr_assert_eq(dw_canon_item(without, strlen(without), &c), 0);
    cr_assert(!c.strip);
    dw_canon_clear(&c);

    char *out;
    size_t outn;
    cr_assert_eq(dw_canon_strip(with, strlen(with), &out, &outn), 0);
    cr_assert_str_eq(out, without, "strip keeps the order of the other fields");
    cr_assert_eq(outn, strlen(without));
    free(out);

    const char *msg = "{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"\xc3\xa9\",\"parsed\":null}]}";
    cr_assert_eq(dw_canon_item(msg, strlen(msg), &c), 0);
    cr_assert(c.strip);
    dw_canon_clear(&c);
    cr_assert_eq(dw_canon_strip(msg, strlen(msg), &out, &outn), 0);
    cr_assert_str_eq(out, "{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"\xc3\xa9\"}]}");
    free(out);
}

/* ---- semantic differences: the digest must change ---------------------- */

Test(canon_semantic, every_meaningful_field_counts)
{
    const char *fc = "{\"type\":\"function_call\",\"call_id\":\"c1\",\"name\":\"f\",\"arguments\":\"{\\\"x\\\":1}\"}";
    assert_differs(fc, "{\"type\":\"function_call\",\"call_id\":\"c1\",\"name\":\"f\",\"arguments\":\"{\\\"x\\\":2}\"}");
    assert_differs(fc, "{\"type\":\"function_call\",\"call_id\":\"c1\",\"name\":\"f\",\"arguments\":\"{\\\"x\\\": 1}\"}");
    assert_differs(fc, "{\"type\":\"function_call\",\"call_id\":\"c2\",\"name\":\"f\",\"arguments\":\"{\\\"x\\\":1}\"}");
    assert_differs(fc, "{\"type\":\"function_call\",\"call_id\":\"c1\",\"name\":\"g\",\"arguments\":\"{\\\"x\\\":1}\"}");
    assert_differs(fc, "{\"type\":\"function_call\",\"call_id\":\"c1\",\"name\":\"f\",\"arguments\":\"{\\\"x\\\":1}\",\"namespace\":\"n\"}");
    assert_differs(fc, "{\"type\":\"custom_tool_call\",\"call_id\":\"c1\",\"name\":\"f\",\"arguments\":\"{\\\"x\\\":1}\"}");

    const char *ctc = "{\"type\":\"custom_tool_call\",\"call_id\":\"c1\",\"name\":\"exec\",\"input\":\"ls\"}";
    assert_differs(ctc, "{\"type\":\"custom_tool_call\",\"call_id\":\"c1\",\"name\":\"exec\",\"input\":\"ls -l\"}");

    const char *msg = "{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"hi\"}],\"phase\":\"commentary\"}";
    assert_differs(msg, "{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"hi!\"}],\"phase\":\"commentary\"}");
    assert_differs(msg, "{\"type\":\"message\",\"role\":\"user\",\"content\":[{\"type\":\"output_text\",\"text\":\"hi\"}],\"phase\":\"commentary\"}");
    assert_differs(msg, "{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"hi\"}],\"phase\":\"final_answer\"}");
    assert_differs(msg, "{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"hi\"}]}");
    assert_differs(msg, "{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"hi\"}],\"phase\":\"commentary\",\"x_probe\":1}");

    const char *rs = "{\"type\":\"reasoning\",\"id\":\"rs_1\",\"summary\":[{\"type\":\"summary_text\",\"text\":\"plan\"}],\"encrypted_content\":\"E1\"}";
    assert_differs(rs, "{\"type\":\"reasoning\",\"id\":\"rs_2\",\"summary\":[{\"type\":\"summary_text\",\"text\":\"plan\"}],\"encrypted_content\":\"E1\"}");
    assert_differs(rs, "{\"type\":\"reasoning\",\"id\":\"rs_1\",\"summary\":[{\"type\":\"summary_text\",\"text\":\"plan!\"}],\"encrypted_content\":\"E1\"}");
    assert_differs(rs, "{\"type\":\"reasoning\",\"id\":\"rs_1\",\"summary\":[{\"type\":\"summary_text\",\"text\":\"plan\"}],\"encrypted_content\":\"E2\"}");
    assert_differs(rs, "{\"type\":\"reasoning\",\"id\":\"rs_1\",\"summary\":[],\"encrypted_content\":\"E1\"}");
    assert_differs(rs, "{\"type\":\"reasoning\",\"id\":\"rs_1\",\"summary\":[{\"type\":\"summary_text\",\"text\":\"plan\"}],\"encrypted_content\":\"E1\",\"content\":[]}");

    const char *out = "{\"type\":\"function_call_output\",\"call_id\":\"c1\",\"output\":\"hello\\n\"}";
    assert_differs(out, "{\"type\":\"function_call_output\",\"call_id\":\"c1\",\"output\":\"hello\"}");
    assert_differs(out, "{\"type\":\"function_call_output\",\"call_id\":\"c2\",\"output\":\"hello\\n\"}");

    /* unknown types keep their ids and everything else */
    assert_differs("{\"type\":\"additional_tools\",\"id\":\"at_1\",\"tools\":[]}", "{\"type\":\"additional_tools\",\"id\":\"at_2\",\"tools\":[]}");
    assert_differs("{\"type\":\"item_reference\",\"id\":\"a\"}", "{\"type\":\"item_reference\",\"id\":\"b\"}");
    assert_differs("[1,2]", "[2,1]");
    assert_same("[1, {\"b\":1,\"a\":2}]", "[1,{\"a\":2,\"b\":1}]");
}

static void chain_items(const char *const *items, size_t n, dw_digest_t *link)
{
    dw_digest_t cred;
    dw_digest_bytes(&cred, "cred", 4);
    dw_chain_seed(link, &cred);
    for (size_t i = 0; i < n; i++) {
        dw_digest_t d = digest_of(items[i]);
        dw_chain_next(link, &d);
    }
}

Test(canon_semantic, chain_order_drop_insert)
{
    const char *a = "{\"role\":\"user\",\"content\":\"run it\"}";
    const char *b = "{\"type\":\"function_call\",\"call_id\":\"c1\",\"name\":\"f\",\"arguments\":\"{}\"}";
    const char *c = "{\"type\":\"function_call_output\",\"call_id\":\"c1\",\"output\":\"ok\"}";
    const char *b_echo = "{\"arguments\":\"{}\",\"name\":\"f\",\"call_id\":\"c1\",\"status\":\"completed\",\"type\":\"function_call\"}";
    const char *base[] = {a, b, c}, *echo[] = {a, b_echo, c}, *swapped[] = {a, c, b}, *dropped[] = {a, c},
               *inserted[] = {a, b, a, c};
    dw_digest_t l0, l;
    chain_items(base, 3, &l0);
    chain_items(echo, 3, &l);
    cr_assert(dw_digest_eq(&l0, &l));
    chain_items(swapped, 3, &l);
    cr_assert(!dw_digest_eq(&l0, &l));
    chain_items(dropped, 2, &l);
    cr_assert(!dw_digest_eq(&l0, &l));
    chain_items(inserted, 4, &l);
    cr_assert(!dw_digest_eq(&l0, &l));
}

Test(canon, ids_references_projection_and_failures)
{
    dw_canon_t c;
    const char *ref = "{\"id\":\"msg_9\",\"type\":\"item_reference\"}";
    cr_assert_eq(dw_canon_item(ref, strlen(ref), &c), 0);
    cr_assert(c.is_reference);
    cr_assert_str_eq(c.id, "msg_9");
    dw_digest_t r;
    dw_canon_ref_digest("msg_9", &r);
    cr_assert(dw_digest_eq(&r, &c.digest));
    dw_canon_clear(&c);

    const char *s = "{\"type\":\"message\",\"id\":\"msg_1\",\"role\":\"assistant\",\"content\":[],\"x_probe\":\"p\"}";
    cr_assert_eq(dw_canon_item(s, strlen(s), &c), 0);
    cr_assert_str_eq(c.id, "msg_1");
    cr_assert(!c.is_reference);
    dw_digest_t echo = digest_of("{\"role\":\"assistant\",\"content\":[]}");
    cr_assert(dw_digest_eq(&c.proj_digest, &echo));
    cr_assert(!dw_digest_eq(&c.digest, &echo));
    dw_canon_clear(&c);

    const char *known = "{\"type\":\"message\",\"role\":\"assistant\",\"content\":[]}";
    cr_assert_eq(dw_canon_item(known, strlen(known), &c), 0);
    cr_assert(dw_digest_eq(&c.proj_digest, &c.digest));
    cr_assert_null(c.id);
    dw_canon_clear(&c);

    cr_assert_eq(dw_canon_item("{\"a\":", 5, &c), -1);
    cr_assert_eq(dw_canon_item("{\"a\":1,\"a\":2}", 13, &c), -1, "duplicate keys cannot be diffed");
    cr_assert_eq(dw_canon_item("[123456789012345678901234567890]", 32, &c), -1);
}

/* ---- real client echoes ------------------------------------------------- */

static const char *const http_dirs[] = {
    "ai-sdk-6.0.326-generateText-store-default",
    "ai-sdk-6.0.326-generateText-store-default-extra-fields",
    "ai-sdk-6.0.326-generateText-store-false",
    "ai-sdk-6.0.326-generateText-store-false-extra-fields",
    "ai-sdk-6.0.326-generateText-store-false-multipart-summary",
    "ai-sdk-6.0.326-streamText-store-default",
    "ai-sdk-6.0.326-streamText-store-false",
    "ai-sdk-6.0.326-streamText-store-false-empty-summary",
    "ai-sdk-6.0.326-streamText-store-false-mismatch",
    "codex-0.169.0-custom-model-http",
    "codex-0.169.0-default-model-http",
    "codex-0.169.0-default-model-http-extra-fields",
    "codex-0.169.0-gpt-5.5-http",
    "codex-0.169.0-gpt-5.5-http-empty-summary",
    "codex-0.169.0-gpt-5.5-http-extra-fields",
    "codex-0.169.0-gpt-5.5-http-mismatch",
    "codex-0.169.0-gpt-5.5-http-multipart-summary",
    "codex-0.169.0-gpt-5.5-ws-404-fallback",
    "codex-0.169.0-gpt-5.5-ws-426-fallback",
    "openai-node-7.57.0-nonstream",
    "openai-node-7.57.0-nonstream-extra-fields",
    "openai-node-7.57.0-stream",
    "openai-node-7.57.0-stream-helper",
    "openai-node-7.57.0-stream-helper-mismatch",
    "openai-node-7.57.0-stream-mismatch",
};

static int has(const char *s, const char *sub)
{
    return strstr(s, sub) != NULL;
}

static dw_canon_t canon_span(dw_span_t s)
{
    dw_canon_t c;
    cr_assert_eq(dw_canon_item(s.p, s.n, &c), 0, "cannot canonicalise %.*s", (int)s.n, s.p);
    return c;
}

/* 1 if the item's "type" is the given string. */
static int type_is(dw_span_t item, const char *type)
{
    dw_span_t v;
    if (!dw_json_object_get(item, "type", &v))
        return 0;
    char *t = dw_json_string_dup(v);
    int eq = t != NULL && strcmp(t, type) == 0;
    free(t);
    return eq;
}

struct echo_counts {
    int equal, projected, referenced, mismatched, stripped;
};

/* Server output item S vs the client's echo C on the next turn. */
static void check_echo(const char *dir, dw_span_t s, dw_span_t c, struct echo_counts *k)
{
    dw_canon_t cs = canon_span(s), cc = canon_span(c);
    int client_drops_unknown = !has(dir, "openai-node");
    int mismatched = type_is(s, "message") && has(dir, "mismatch") && !has(dir, "openai-node");

    if (cc.is_reference) {
        dw_digest_t r;
        cr_assert_not_null(cs.id);
        dw_canon_ref_digest(cs.id, &r);
        cr_assert(dw_digest_eq(&r, &cc.digest), "%s: reference does not name the item", dir);
        k->referenced++;
    } else if (mismatched) {
        cr_assert(!dw_digest_eq(&cs.digest, &cc.digest) && !dw_digest_eq(&cs.proj_digest, &cc.digest),
                  "%s: a different text must not match: %.*s", dir, (int)c.n, c.p);
        k->mismatched++;
    } else if (has(dir, "extra-fields") && client_drops_unknown) {
        cr_assert(dw_digest_eq(&cs.proj_digest, &cc.digest), "%s: echo without x_probe must equal the projection:\n%.*s\n%.*s",
                  dir, (int)s.n, s.p, (int)c.n, c.p);
        cr_assert(!dw_digest_eq(&cs.digest, &cc.digest), "%s: x_probe must count in the full digest", dir);
        k->projected++;
    } else {
        cr_assert(dw_digest_eq(&cs.digest, &cc.digest), "%s: cosmetic echo changed the digest:\n%.*s\n%.*s", dir,
                  (int)s.n, s.p, (int)c.n, c.p);
        k->equal++;
    }
    if (cc.strip) {
        char *out;
        size_t outn;
        cr_assert_eq(dw_canon_strip(c.p, c.n, &out, &outn), 0);
        cr_assert(!has(out, "\"parsed"), "%s: strip left %s", dir, out);
        dw_canon_t st = canon_span((dw_span_t){out, outn});
        cr_assert(dw_digest_eq(&st.digest, &cc.digest));
        cr_assert(!st.strip);
        dw_canon_clear(&st);
        free(out);
        k->stripped++;
    }
    dw_canon_clear(&cs);
    dw_canon_clear(&cc);
}

Test(canon_fixtures, every_echo_of_every_client)
{
    struct echo_counts total = {0};
    for (size_t d = 0; d < sizeof http_dirs / sizeof *http_dirs; d++) {
        const char *dir = http_dirs[d];
        int turns = fx_turns(dir);
        cr_assert_geq(turns, 3, "%s: fixture missing", dir);
        for (int t = 1; t < turns; t++) {
            char *req, *resp, *next;
            dw_spans_t in = {0}, out = {0}, in2 = {0};
            cr_assert_eq(fx_request(dir, t, &req, &in), 0);
            cr_assert_eq(fx_response(dir, t, &resp, &out), 0);
            cr_assert_eq(fx_request(dir, t + 1, &next, &in2), 0);
            cr_assert_geq(in2.n, in.n + out.n);
            for (size_t i = 0; i < in.n; i++) {
                dw_canon_t a = canon_span(in.v[i]), b = canon_span(in2.v[i]);
                cr_assert(dw_digest_eq(&a.digest, &b.digest), "%s turn %d: history item %zu changed", dir, t + 1, i);
                dw_canon_clear(&a);
                dw_canon_clear(&b);
            }
            for (size_t j = 0; j < out.n; j++)
                check_echo(dir, out.v[j], in2.v[in.n + j], &total);
            dw_spans_free(&in);
            dw_spans_free(&out);
            dw_spans_free(&in2);
            free(req);
            free(resp);
            free(next);
        }
    }
    cr_assert_gt(total.equal, 0);
    cr_assert_gt(total.projected, 0);
    cr_assert_gt(total.referenced, 0);
    cr_assert_gt(total.mismatched, 0);
    cr_assert_gt(total.stripped, 0);
}

/* The named cases from the issue, one fixture pair each. */
static void pair(const char *dir, int t, size_t out_idx, const char *expect_type, int use_proj)
{
    char *req, *resp, *next;
    dw_spans_t in = {0}, out = {0}, in2 = {0};
    cr_assert_eq(fx_request(dir, t, &req, &in), 0);
    cr_assert_eq(fx_response(dir, t, &resp, &out), 0);
    cr_assert_eq(fx_request(dir, t + 1, &next, &in2), 0);
    dw_span_t s = out.v[out_idx], c = in2.v[in.n + out_idx];
    cr_assert(type_is(s, expect_type), "%s: output %zu is not a %s", dir, out_idx, expect_type);
    dw_canon_t cs = canon_span(s), cc = canon_span(c);
    cr_assert(dw_digest_eq(use_proj ? &cs.proj_digest : &cs.digest, &cc.digest), "%s: %.*s\nvs\n%.*s", dir, (int)s.n,
              s.p, (int)c.n, c.p);
    dw_canon_clear(&cs);
    dw_canon_clear(&cc);
    dw_spans_free(&in);
    dw_spans_free(&out);
    dw_spans_free(&in2);
    free(req);
    free(resp);
    free(next);
}

Test(canon_fixtures, named_pairs)
{
    pair("codex-0.169.0-gpt-5.5-http", 1, 0, "reasoning", 0);          /* content:null, key order */
    pair("codex-0.169.0-gpt-5.5-http", 2, 1, "message", 0);            /* key order */
    pair("ai-sdk-6.0.326-generateText-store-false", 2, 1, "message", 0); /* no type/status/annotations/logprobs */
    pair("ai-sdk-6.0.326-generateText-store-false", 1, 1, "function_call", 0); /* no id/status */
    pair("openai-node-7.57.0-stream-helper", 1, 1, "function_call", 0); /* parsed_arguments */
    pair("openai-node-7.57.0-stream-helper", 2, 1, "message", 0);       /* parsed */
    pair("codex-0.169.0-gpt-5.5-http-extra-fields", 1, 0, "reasoning", 1);
    pair("codex-0.169.0-default-model-http-extra-fields", 1, 1, "custom_tool_call", 1);
}
