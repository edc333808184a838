/* What the fuzz targets (tests/fuzz) found, each kept as a test next to its fix. */
#include <stdio.h>
#include <string.h>
#include <criterion/criterion.h>
#include "translate/canon.h"
#include "translate/event.h"
#include "translate/json_scan.h"

/* fuzz_sse: an upstream response with a duplicate "previous_response_id" had only the first one
 * rewritten; JSON.parse keeps the last, so the client saw the upstream's chained id. */
Test(fuzz_findings, rewrite_prev_rewrites_every_duplicate)
{
    const char *ev = "{\"type\":\"response.completed\",\"response\":{\"id\":\"resp_2\","
                     "\"previous_response_id\":\"resp_up\",\"x\":1,\"previous_response_id\":\"resp_up\"}}";
    dw_event_t e;
    cr_assert_eq(dw_event_scan(ev, strlen(ev), &e), 0);
    dw_buf_t out = {0};
    cr_assert_eq(dw_event_rewrite_prev(&out, ev, strlen(ev), e.response, "null", 4), 0);
    const char *want = "{\"type\":\"response.completed\",\"response\":{\"id\":\"resp_2\","
                       "\"previous_response_id\":null,\"x\":1,\"previous_response_id\":null}}";
    cr_assert_eq(out.len, strlen(want));
    cr_assert(memcmp(out.p, want, out.len) == 0, "%.*s", (int)out.len, out.p);

    dw_buf_reset(&out);
    cr_assert_eq(dw_event_response_body(&out, e.response, "\"resp_c\"", 8), 0);
    const char *body = "{\"id\":\"resp_2\",\"previous_response_id\":\"resp_c\",\"x\":1,\"previous_response_id\":\"resp_c\"}";
    cr_assert(out.len == strlen(body) && memcmp(out.p, body, out.len) == 0, "%.*s", (int)out.len, out.p);
    dw_buf_free(&out);
}

/* fuzz_json_scan: jansson's json_loadb reads "4\0" as 4 (it stops at a NUL byte); the scanner must
 * not follow it, since a raw NUL is never JSON. */
Test(fuzz_findings, raw_nul_after_a_value_is_not_json)
{
    size_t off = 0;
    cr_assert_eq(dw_json_validate("4\0", 2, &off), DW_JSON_ESYNTAX);
    cr_assert_eq(off, 1);
    cr_assert_eq(dw_json_validate("{}\0", 3, &off), DW_JSON_ESYNTAX);
    cr_assert_eq(off, 2);
}

/* fuzz_json_scan: an object key with \u0000 is JSON (RFC 8259) but jansson refuses it, so the scanner
 * accepts an item canon cannot read; canon must say so (-1: the request goes in full), not crash. */
Test(fuzz_findings, key_with_u0000_is_json_but_not_canonical)
{
    const char *item = "{\"role\":\"user\",\"content\":\"hi\",\"k\\u0000\":1}";
    size_t off = 0;
    cr_assert_eq(dw_json_validate(item, strlen(item), &off), 0);
    dw_canon_t c;
    cr_assert_eq(dw_canon_item(item, strlen(item), &c), -1);
    cr_assert_null(c.id);
}

/* fuzz_sse: dw_json_validate(NULL, 0) computed NULL + 0, undefined behaviour (clang's UBSan reports
 * it); an empty span may be {NULL, 0} everywhere (an empty body, an empty dw_buf_t). */
Test(fuzz_findings, empty_null_spans_are_defined)
{
    dw_span_t none = {NULL, 0};
    dw_members_t m = {0};
    dw_spans_t e = {0};
    size_t off = 7;
    cr_assert_eq(dw_json_validate(NULL, 0, &off), DW_JSON_ESYNTAX);
    cr_assert_eq(off, 0);
    cr_assert_eq(dw_json_scan_object(NULL, 0, "input", &m, &e, &off), DW_JSON_ESYNTAX);
    cr_assert_eq(dw_json_object_members(none, &m), DW_JSON_ENOTOBJECT);
    cr_assert_eq(dw_json_array_elems(none, &e), DW_JSON_ENOTOBJECT);
    cr_assert_eq(dw_json_object_get(none, "input", &none), 0);
    cr_assert(dw_json_key_eq(none, ""));
    cr_assert_null(dw_json_string_dup(none));
    cr_assert_eq(dw_json_kind(none), 0);
    cr_assert(!dw_json_is_null(none) && !dw_json_is_true(none) && !dw_json_is_false(none));
    dw_members_free(&m);
    dw_spans_free(&e);
}

/* fuzz_canon (the target's own expectation, not canon): an object whose only member is "id" is an
 * item_reference by rule 3, with the reference's core, so it echoes a stored item like the explicit
 * form does. Reproducer: tests/fuzz/corpus/canon/bare-id-is-item-reference. */
Test(fuzz_findings, bare_id_is_an_item_reference)
{
    const char *bare = "{\"id\":\"rs_e0beab4556c8\"}";
    const char *ref = "{\"type\":\"item_reference\",\"id\":\"rs_e0beab4556c8\"}";
    dw_canon_t a, b;
    cr_assert_eq(dw_canon_item(bare, strlen(bare), &a), 0);
    cr_assert_eq(dw_canon_item(ref, strlen(ref), &b), 0);
    cr_assert(a.form.is_reference);
    cr_assert(dw_digest_eq(&a.form.digest, &b.form.digest));
    dw_digest_t core;
    dw_canon_ref_core("rs_e0beab4556c8", &core);
    cr_assert(dw_digest_eq(&a.form.core, &core));
    dw_canon_clear(&a);
    dw_canon_clear(&b);
}

/* fuzz_canon: an "id" of 256 bytes or more was stood in for by its digest (translate/canon.c, long
 * strings) and so no longer exposed as the item's id, which references are resolved by. */
Test(fuzz_findings, a_long_id_is_still_the_id)
{
    char item[700], id[400];
    memset(id, 'a', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';
    snprintf(item, sizeof(item), "{\"type\":\"custom_tool_call_output\",\"id\":\"%s\",\"call_id\":\"c\",\"output\":\"x\"}", id);
    dw_canon_t c;
    cr_assert_eq(dw_canon_item(item, strlen(item), &c), 0);
    cr_assert_not_null(c.id);
    cr_assert_str_eq(c.id, id);
    dw_canon_clear(&c);
    /* with its key escaped too */
    snprintf(item, sizeof(item), "{\"type\":\"item_reference\",\"i\\u0064\" : \"%s\"}", id);
    cr_assert_eq(dw_canon_item(item, strlen(item), &c), 0);
    cr_assert_not_null(c.id);
    cr_assert_str_eq(c.id, id);
    dw_digest_t ref;
    dw_canon_ref_core(c.id, &ref);
    cr_assert(dw_digest_eq(&ref, &c.form.core), "a long reference's core is dw_canon_ref_core's");
    dw_canon_clear(&c);
}

/* fuzz_canon: a type with U+0000 in it was read as a C string, so "item_reference\u0000" counted as
 * an item_reference, whose core then differed from dw_canon_ref_core's. It is another type. */
Test(fuzz_findings, a_type_with_u0000_is_another_type)
{
    const char *item = "{\"type\":\"item_reference\\u0000\",\"id\":\"b\"}";
    dw_canon_t c;
    cr_assert_eq(dw_canon_item(item, strlen(item), &c), 0);
    cr_assert_not(c.form.is_reference);
    dw_canon_clear(&c);
}
