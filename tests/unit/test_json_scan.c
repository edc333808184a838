#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <criterion/criterion.h>
#include "translate/json_scan.h"

static int valid(const char *s)
{
    size_t off = 0;
    return dw_json_validate(s, strlen(s), &off) == 0;
}

static size_t err_at(const char *s)
{
    size_t off = 0;
    cr_assert_eq(dw_json_validate(s, strlen(s), &off), DW_JSON_ESYNTAX, "accepted: %s", s);
    return off;
}

static dw_span_t span(const char *s)
{
    return (dw_span_t){s, strlen(s)};
}

Test(json_validate, accepts_rfc8259)
{
    const char *ok[] = {
        "{}", "[]", " \t\r\n{} \n", "0", "-0", "1.5e10", "-1.25E-3", "1E+2", "\"\"", "true", "false", "null",
        "{\"a\":[1,2,{\"b\":null}],\"c\":\"d\"}", "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\uD83D\\uDE00\"]",
        "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf\"", "\"\\u0000\"", "[ 1 , 2 ]",
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        cr_assert(valid(ok[i]), "rejected: %s", ok[i]);
}

Test(json_validate, rejects_what_rfc8259_rejects)
{
    const char *bad[] = {
        "", " ", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "[1 2]", "01", "1.", ".5", "-", "+1", "1e",
        "1e+", "0x1", "NaN", "Infinity", "tru", "nul", "True", "'a'", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\u12G4\"",
        "\"a\tb\"", "\"a\nb\"", "\"\x01\"", "/* c */ 1", "1 // c", "[1] [2]", "{} x", "\"\xc0\x80\"", "\"\xc1\xbf\"",
        "\"\xed\xa0\x80\"", "\"\xf5\x80\x80\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xe0\x80\xaf\"", "\"\xf0\x80\x80\xaf\"",
        "\"\x80\"", "\"\xc3\"", "\"\xe2\x82\"", "\"\xff\"", "\"\\uD800\"", "\"\\uDC00\"", "\"\\uD800\\u0041\"",
        "\"\\uD800x\"", "[\"a\",]", "{\"a\":1 \"b\":2}", "{,}", "[,]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        err_at(bad[i]);
}

Test(json_validate, error_offsets)
{
    cr_assert_eq(err_at("[1,]"), 3);
    cr_assert_eq(err_at("{\"a\":tru}"), 8);
    cr_assert_eq(err_at("\"ab\x01\""), 3);
    cr_assert_eq(err_at("[1] x"), 4);
    cr_assert_eq(err_at("\"0123456789abcdefghij\x02\""), 21);
    cr_assert_eq(err_at("\"0123456789abcdefghij\xff\""), 21);
}

Test(json_validate, depth_limit)
{
    size_t n = DW_JSON_MAX_DEPTH + 1;
    char *s = malloc(2 * n + 1);
    memset(s, '[', n);
    memset(s + n, ']', n);
    s[2 * n] = '\0';
    size_t off;
    cr_assert_eq(dw_json_validate(s + 1, 2 * n - 2, &off), 0, "depth %d must pass", DW_JSON_MAX_DEPTH);
    cr_assert_eq(dw_json_validate(s, 2 * n, &off), DW_JSON_ESYNTAX);
    free(s);
}

/* Special bytes at every position around the 16-byte block boundaries. */
Test(json_validate, string_blocks_at_every_offset)
{
    const char *inserts[] = {"\\\"", "\\\\", "\\u00e9", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
    const char *bad_inserts[] = {"\x1f", "\xc3", "\xe2\x82", "\xf0\x9f\x98", "\x80", "\\q"};
    char buf[128];
    for (int pos = 0; pos < 40; pos++) {
        for (size_t k = 0; k < sizeof inserts / sizeof *inserts; k++) {
            int n = snprintf(buf, sizeof buf, "\"%.*s%s%.*s\"", pos, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                             inserts[k], 40 - pos, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
            size_t off;
            cr_assert_eq(dw_json_validate(buf, (size_t)n, &off), 0, "pos %d insert %zu", pos, k);
            cr_assert_eq(dw_json_validate(buf, (size_t)n - 1, &off), DW_JSON_ESYNTAX);

            /* the skipper finds the same end */
            char arr[160];
            int an = snprintf(arr, sizeof arr, "[%s,1]", buf);
            dw_spans_t e = {0};
            cr_assert_eq(dw_json_array_elems((dw_span_t){arr, (size_t)an}, &e), 0);
            cr_assert_eq(e.n, 2);
            cr_assert_eq(e.v[0].n, (size_t)n);
            dw_spans_free(&e);
        }
        for (size_t k = 0; k < sizeof bad_inserts / sizeof *bad_inserts; k++) {
            int n = snprintf(buf, sizeof buf, "\"%.*s%s%.*s\"", pos, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                             bad_inserts[k], 40 - pos, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
            size_t off;
            cr_assert_eq(dw_json_validate(buf, (size_t)n, &off), DW_JSON_ESYNTAX, "pos %d bad %zu", pos, k);
        }
    }
}

/* Single-byte mutations of a document, judged by jansson as well. */
Test(json_validate, agrees_with_jansson_on_mutations)
{
    const char *base = "{\"model\":\"gpt\",\"input\":[{\"type\":\"message\",\"role\":\"user\",\"content\":"
                       "[{\"type\":\"input_text\",\"text\":\"h\\u00e9llo \\\"w\\\" \xc3\xa9\"}]},12,-3.5e2,true,null],"
                       "\"x\":{\"y\":[false,{}]}}";
    const char alphabet[] = "{}[]\",:\\0123456789.eE+-tfnul \t\x01\x80\xc3\xa9x";
    size_t n = strlen(base);
    char *doc = malloc(n);
    unsigned seed = 12345;
    for (int round = 0; round < 20000; round++) {
        memcpy(doc, base, n);
        for (int m = 0; m < 1 + round % 3; m++) {
            seed = seed * 1103515245u + 12345u;
            doc[(seed >> 8) % n] = alphabet[(seed >> 20) % (sizeof alphabet - 1)];
        }
        size_t off;
        int ours = dw_json_validate(doc, n, &off) == 0;
        json_error_t err;
        json_t *j = json_loadb(doc, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
        int theirs = j != NULL;
        json_decref(j);
        cr_assert_eq(ours, theirs, "disagree on %.*s (jansson: %s)", (int)n, doc, err.text);
    }
    free(doc);
}

Test(json_scan, members_and_input_elements)
{
    const char *doc = " {\"model\" : \"m\", \"\\u0069nput\":[ {\"a\":1} , \"s\",[2] ,3 ], \"input\":\"str\","
                      " \"model\":null } ";
    dw_members_t m = {0};
    dw_spans_t e = {0};
    size_t off;
    cr_assert_eq(dw_json_scan_object(doc, strlen(doc), "input", &m, &e, &off), 0);
    cr_assert_eq(m.n, 4, "duplicate keys are all recorded");
    cr_assert(dw_json_key_eq(m.v[0].key, "model"));
    cr_assert_eq(m.v[0].value.n, 3);
    cr_assert(dw_json_key_eq(m.v[1].key, "input"));
    cr_assert(!dw_json_key_eq(m.v[1].key, "inpu"));
    cr_assert(!dw_json_key_eq(m.v[1].key, "inputs"));
    cr_assert(dw_json_is_null(m.v[3].value));
    cr_assert_eq(e.n, 4);
    cr_assert_eq(strncmp(e.v[0].p, "{\"a\":1}", e.v[0].n), 0);
    cr_assert_eq(e.v[0].n, 7);
    cr_assert_eq(dw_json_kind(e.v[1]), '"');
    cr_assert_eq(dw_json_kind(e.v[2]), '[');
    cr_assert_eq(dw_json_kind(e.v[3]), '0');
    dw_members_free(&m);
    dw_spans_free(&e);
    cr_assert_null(m.v);
}

Test(json_scan, not_object_and_syntax_errors)
{
    dw_members_t m = {0};
    dw_spans_t e = {0};
    size_t off = 0;
    cr_assert_eq(dw_json_scan_object("[1,2]", 5, "input", &m, &e, &off), DW_JSON_ENOTOBJECT);
    cr_assert_eq(dw_json_scan_object("\"x\"", 3, "input", &m, &e, &off), DW_JSON_ENOTOBJECT);
    cr_assert_eq(dw_json_scan_object("{\"input\":[1,]}", 14, "input", &m, &e, &off), DW_JSON_ESYNTAX);
    cr_assert_eq(off, 12);
    cr_assert_eq(dw_json_scan_object("{\"a\":1} {", 9, NULL, &m, &e, &off), DW_JSON_ESYNTAX);
    cr_assert_eq(off, 8);
    cr_assert_eq(dw_json_scan_object("{\"a\":1}", 7, NULL, NULL, NULL, &off), 0);
    dw_members_free(&m);
    dw_spans_free(&e);
}

/* Scans b whole and resumed after element k of a; asserts the two agree and returns the result. The
 * spans must point into b at the same places; shared: whether the resume point lies in the shared
 * bytes (else the resumed scan must have fallen back to a whole one, which gives the same). */
static int scan_resumed(const char *a, const char *b, size_t k, dw_members_t *rm, dw_spans_t *re, size_t *roff)
{
    size_t an = strlen(a), bn = strlen(b), off, same = 0;
    dw_members_t am = {0}, wm = {0};
    dw_spans_t ae = {0}, we = {0};
    cr_assert_eq(dw_json_scan_object(a, an, "input", &am, &ae, &off), 0);
    dw_json_resume_t at;
    cr_assert_eq(dw_json_resume_at(a, &am, &ae, "input", k, &at), 0);
    while (same < an && same < bn && a[same] == b[same])
        same++;
    size_t woff = 0;
    *roff = 0;
    int wrc = dw_json_scan_object(b, bn, "input", &wm, &we, &woff);
    int rrc = dw_json_scan_object_from(b, bn, "input", &at, same, rm, re, roff);
    cr_assert_eq(rrc, wrc, "%s: resumed %d, whole %d", b, rrc, wrc);
    cr_assert_eq(*roff, woff, "%s: error at %zu resumed, %zu whole", b, *roff, woff);
    cr_assert_eq(rm->n, wm.n);
    cr_assert_eq(re->n, we.n);
    for (size_t i = 0; rrc == 0 && i < wm.n; i++)
        cr_assert(!memcmp(&rm->v[i], &wm.v[i], sizeof(wm.v[i])), "%s: member %zu", b, i);
    for (size_t i = 0; rrc == 0 && i < we.n; i++)
        cr_assert(!memcmp(&re->v[i], &we.v[i], sizeof(we.v[i])), "%s: element %zu", b, i);
    dw_members_free(&am);
    dw_members_free(&wm);
    dw_spans_free(&ae);
    dw_spans_free(&we);
    return rrc;
}

Test(json_scan, resumed_after_an_element)
{
    const char *a = "{\"model\":\"m\",\"input\":[{\"a\":1}, {\"b\":\"x\"} ,{\"c\":[2]}],\"tools\":[1]}";
    const char *longer = "{\"model\":\"m\",\"input\":[{\"a\":1}, {\"b\":\"x\"} ,{\"c\":[2]},{\"d\":4}],\"tools\":[1]}";
    const char *bad = "{\"model\":\"m\",\"input\":[{\"a\":1}, {\"b\":\"x\"} ,{\"c\":[2]},{\"d\":}],\"tools\":[1]}";
    const char *twice = "{\"model\":\"m\",\"input\":[{\"a\":1}, {\"b\":\"x\"} ,{\"c\":[2]}],\"input\":[5]}";
    for (size_t k = 0; k < 3; k++) {
        dw_members_t m = {0};
        dw_spans_t e = {0};
        size_t off;
        cr_assert_eq(scan_resumed(a, longer, k, &m, &e, &off), 0);
        cr_assert_eq(m.n, 3);
        cr_assert_eq(e.n, 4);
        cr_assert_eq(e.v[3].p, strstr(longer, "{\"d\""));
        dw_members_free(&m);
        dw_spans_free(&e);
        cr_assert_eq(scan_resumed(a, bad, k, &m, &e, &off), DW_JSON_ESYNTAX);
        cr_assert_eq(off, (size_t)(strstr(bad, "}]") - bad));
        dw_members_free(&m);
        dw_spans_free(&e);
        cr_assert_eq(scan_resumed(a, twice, k, &m, &e, &off), 0);
        cr_assert_eq(e.n, 4, "a second input's elements follow, as in a whole scan");
        dw_members_free(&m);
        dw_spans_free(&e);
    }
}

Test(json_scan, resumed_only_past_the_byte_that_ends_a_number)
{
    /* "2" is followed by ']' in a and by '0' in b: the resume point must not be taken as the number's end */
    dw_members_t m = {0};
    dw_spans_t e = {0};
    size_t off;
    cr_assert_eq(scan_resumed("{\"input\":[1,2]}", "{\"input\":[1,20]}", 1, &m, &e, &off), 0);
    cr_assert_eq(e.v[1].n, 2);
    dw_members_free(&m);
    dw_spans_free(&e);
    /* and where the resume point is inside the shared bytes, a number after it is read whole */
    cr_assert_eq(scan_resumed("{\"input\":[1,2]}", "{\"input\":[1,23]}", 0, &m, &e, &off), 0);
    cr_assert_eq(e.v[1].n, 2);
    dw_members_free(&m);
    dw_spans_free(&e);
}

Test(json_scan, resume_point_needs_one_array_input)
{
    const char *docs[] = {"{\"input\":[1],\"input\":[2]}", "{\"input\":\"s\"}", "{\"input\":[]}", "{\"x\":[1]}"};
    for (size_t i = 0; i < sizeof docs / sizeof *docs; i++) {
        dw_members_t m = {0};
        dw_spans_t e = {0};
        size_t off;
        dw_json_resume_t at;
        cr_assert_eq(dw_json_scan_object(docs[i], strlen(docs[i]), "input", &m, &e, &off), 0);
        cr_assert_eq(dw_json_resume_at(docs[i], &m, &e, "input", 0, &at), -1, "%s", docs[i]);
        dw_members_free(&m);
        dw_spans_free(&e);
    }
}

Test(json_skip, members_elems_get_on_validated_spans)
{
    const char *obj = " { \"k\\\"1\" : \"v}\\\"]\" , \"n\":-1.5e3,\"o\":{\"x\":[1,{\"y\":\"]\"}]},\"t\":true } ";
    dw_members_t m = {0};
    cr_assert_eq(dw_json_object_members(span(obj), &m), 0);
    cr_assert_eq(m.n, 4);
    cr_assert_eq(m.v[0].key.n, 4);
    cr_assert(dw_json_key_eq(m.v[0].key, "k\"1"));
    cr_assert_eq(m.v[0].value.n, strlen("\"v}\\\"]\""));
    cr_assert_eq(strncmp(m.v[1].value.p, "-1.5e3,", m.v[1].value.n + 1), 0);
    cr_assert_eq(strncmp(m.v[2].value.p, "{\"x\":[1,{\"y\":\"]\"}]},", m.v[2].value.n + 1), 0);
    cr_assert(dw_json_is_true(m.v[3].value));
    dw_members_free(&m);

    dw_span_t v;
    cr_assert(dw_json_object_get(span(obj), "o", &v));
    dw_spans_t e = {0};
    dw_span_t x;
    cr_assert(dw_json_object_get(v, "x", &x));
    cr_assert_eq(dw_json_array_elems(x, &e), 0);
    cr_assert_eq(e.n, 2);
    cr_assert_eq(strncmp(e.v[1].p, "{\"y\":\"]\"}", e.v[1].n), 0);
    dw_spans_free(&e);
    cr_assert(!dw_json_object_get(span(obj), "missing", &v));
    cr_assert_eq(dw_json_array_elems(span("[ ]"), &e), 0);
    cr_assert_eq(e.n, 0);
    cr_assert_eq(dw_json_object_members(span("[1]"), &m), DW_JSON_ENOTOBJECT);
    cr_assert_eq(dw_json_array_elems(span("{}"), &e), DW_JSON_ENOTOBJECT);
    cr_assert_eq(dw_json_array_elems(span("[1,"), &e), DW_JSON_ESYNTAX);
    cr_assert_eq(dw_json_object_members(span("{\"a\":\"x"), &m), DW_JSON_ESYNTAX);
    dw_members_free(&m);
    dw_spans_free(&e);
}

Test(json_decode, string_dup_and_helpers)
{
    char *s = dw_json_string_dup(span("\"a\\\"b\\\\c\\/\\n\\u00e9\\u20ac\\uD83D\\uDE00\""));
    cr_assert_str_eq(s, "a\"b\\c/\n\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    free(s);
    cr_assert_null(dw_json_string_dup(span("12")));
    cr_assert_null(dw_json_string_dup(span("\"a\\u0000b\"")));
    s = dw_json_string_dup(span(" \"\" "));
    cr_assert_str_eq(s, "");
    free(s);
    cr_assert(dw_json_key_eq(span("caf\\u00e9"), "caf\xc3\xa9"));
    cr_assert(dw_json_key_eq(span(""), ""));
    cr_assert(!dw_json_key_eq(span(""), "a"));
    cr_assert_eq(dw_json_kind(span("-1")), '0');
    cr_assert_eq(dw_json_kind(span(" {}")), '{');
    cr_assert_eq(dw_json_kind(span("")), 0);
    cr_assert(dw_json_is_false(span("false")));
    cr_assert(!dw_json_is_null(span("nul")));
}

/* An absent member is the span {NULL, 0}: every helper takes it without offsetting NULL (clang's
 * UBSan, run by scripts/test.sh, reports NULL + 0). */
Test(json_decode, absent_member_span)
{
    const dw_span_t none = {NULL, 0};
    dw_span_t v = {"x", 1};
    cr_assert_eq(dw_json_kind(none), 0);
    cr_assert(!dw_json_is_null(none));
    cr_assert(!dw_json_is_true(none));
    cr_assert(!dw_json_is_false(none));
    cr_assert_null(dw_json_string_dup(none));
    cr_assert(dw_json_key_eq(none, ""));
    cr_assert(!dw_json_key_eq(none, "a"));
    cr_assert(!dw_json_object_get(none, "a", &v));
    dw_members_t m = {0};
    dw_spans_t e = {0};
    cr_assert_neq(dw_json_object_members(none, &m), 0);
    cr_assert_neq(dw_json_array_elems(none, &e), 0);
    cr_assert_eq(m.n + e.n, 0);
    dw_members_free(&m);
    dw_spans_free(&e);
    /* an empty request body may arrive as {NULL, 0} too */
    size_t off = 1;
    cr_assert_eq(dw_json_validate(NULL, 0, &off), DW_JSON_ESYNTAX);
    cr_assert_eq(off, 0);
    cr_assert_eq(dw_json_scan_object(NULL, 0, "input", &m, &e, &off), DW_JSON_ESYNTAX);
    dw_members_free(&m);
    dw_spans_free(&e);
}

/* A 4 MB history of string-heavy items, as a long conversation sends it. */
Test(json_scan, four_megabyte_body)
{
    const char *item = "{\"type\":\"message\",\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\""
                       "Lorem ipsum dolor sit amet, \\\"quoted\\\" caf\xc3\xa9 \\u20ac \\n consectetur adipiscing elit, "
                       "sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, "
                       "quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat.\"}]}";
    size_t itemn = strlen(item), count = (4u << 20) / (itemn + 1);
    size_t cap = count * (itemn + 1) + 64, n = 0;
    char *body = malloc(cap);
    n += (size_t)sprintf(body, "{\"model\":\"gpt-5.5\",\"input\":[");
    for (size_t i = 0; i < count; i++) {
        if (i)
            body[n++] = ',';
        memcpy(body + n, item, itemn);
        n += itemn;
    }
    n += (size_t)sprintf(body + n, "],\"stream\":true}");

    dw_members_t m = {0};
    dw_spans_t e = {0};
    size_t off;
    cr_assert_eq(dw_json_scan_object(body, n, "input", &m, &e, &off), 0);
    cr_assert_eq(m.n, 3);
    cr_assert_eq(e.n, count);
    for (size_t i = 0; i < e.n; i++)
        cr_assert(e.v[i].n == itemn && memcmp(e.v[i].p, item, itemn) == 0);
    body[n / 2] = '\x01';
    dw_members_free(&m);
    dw_spans_free(&e);
    cr_assert_neq(dw_json_scan_object(body, n, "input", &m, &e, &off), 0);
    dw_members_free(&m);
    dw_spans_free(&e);
    free(body);
}
