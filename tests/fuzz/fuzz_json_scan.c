/*
 * The DOM-free JSON scanner against jansson, on any bytes.
 *
 * Accept/reject must agree (what the scanner accepts goes to jansson in
 * canon.c), except where jansson knowingly differs: numbers beyond its
 * 64-bit integers / doubles and object keys with \u0000 (RFC 8259 allows
 * both; found by this target, documented in json_scan.h), nesting
 * deeper than the scanner's DW_JSON_MAX_DEPTH, and a raw NUL byte, where
 * json_loadb stops reading as if the input ended ("4\0" is 4 to jansson;
 * found by this target): such input is never JSON, the scanner must refuse. Where both accept an object,
 * the scanner's members and "input" elements must be jansson's members and
 * array elements, and the span helpers must agree with jansson on each. A scan
 * resumed from the input's elements (dw_json_scan_object_from) must give what
 * a whole scan gives, on documents that share a prefix with the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "translate/json_scan.h"

#define LOAD_FLAGS (JSON_DECODE_ANY | JSON_ALLOW_NUL)

#define FUZZ_NAME "fuzz_json_scan"
#include "fuzz_check.h"

static int depth(const json_t *j)
{
    int d = 0;
    if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v) {
            int x = depth(v);
            d = x > d ? x : d;
        }
        return d + 1;
    }
    if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) {
            int x = depth(v);
            d = x > d ? x : d;
        }
        return d + 1;
    }
    return 0;
}

static json_t *load_span(dw_span_t s)
{
    return json_loadb(s.p, s.n, LOAD_FLAGS, NULL);
}

static char kind_of(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return '{';
    case JSON_ARRAY: return '[';
    case JSON_STRING: return '"';
    case JSON_TRUE: return 't';
    case JSON_FALSE: return 'f';
    case JSON_NULL: return 'n';
    default: return '0';
    }
}

/* The span of a raw key with its quotes, for dw_json_string_dup. */
static dw_span_t quoted(dw_span_t key)
{
    return (dw_span_t){key.p - 1, key.n + 2};
}

/* Checks one scanned value span against jansson's view of the same value. */
static void check_value(dw_span_t v, const json_t *want)
{
    json_t *got = load_span(v);
    CHECK(got != NULL, "a scanned value span does not parse: %.*s", (int)v.n, v.p);
    CHECK(json_equal(got, want), "a scanned value span differs from jansson's: %.*s", (int)v.n, v.p);
    json_decref(got);
    CHECK(dw_json_kind(v) == kind_of(want), "kind '%c' for %.*s", dw_json_kind(v), (int)v.n, v.p);
    CHECK(dw_json_is_null(v) == json_is_null(want), "is_null");
    CHECK(dw_json_is_true(v) == json_is_true(want), "is_true");
    CHECK(dw_json_is_false(v) == json_is_false(want), "is_false");
    if (json_is_string(want)) {
        char *s = dw_json_string_dup(v);
        size_t n = json_string_length(want);
        if (memchr(json_string_value(want), '\0', n) != NULL) {
            CHECK(s == NULL, "string_dup of a string with U+0000");
        } else {
            CHECK(s != NULL && strcmp(s, json_string_value(want)) == 0, "string_dup of %.*s", (int)v.n, v.p);
        }
        free(s);
    }
}

/* Members: each key's last occurrence holds the value jansson keeps; as many distinct keys as jansson's. */
static void check_members(const dw_members_t *m, const json_t *obj)
{
    char **keys = calloc(m->n ? m->n : 1, sizeof *keys);
    size_t distinct = 0, i;
    CHECK(keys != NULL, "out of memory");
    for (i = 0; i < m->n; i++) {
        keys[i] = dw_json_string_dup(quoted(m->v[i].key));
        if (keys[i] == NULL) /* a key with U+0000: jansson cannot look it up by C string either */
            goto out;
        CHECK(dw_json_key_eq(m->v[i].key, keys[i]), "key_eq(\"%s\")", keys[i]);
    }
    for (i = 0; i < m->n; i++) {
        const json_t *want = json_object_get(obj, keys[i]);
        CHECK(want != NULL, "member \"%s\" unknown to jansson", keys[i]);
        int first = 1, last = 1;
        for (size_t j = 0; j < m->n; j++) {
            if (j != i && strcmp(keys[j], keys[i]) == 0) {
                first &= j > i;
                last &= j < i;
            }
        }
        distinct += first;
        if (last)
            check_value(m->v[i].value, want);
    }
    CHECK(distinct == json_object_size(obj), "%zu distinct keys, jansson has %zu", distinct, json_object_size(obj));
out:
    for (i = 0; i < m->n; i++)
        free(keys[i]);
    free(keys);
}

/* b scanned whole and resumed from element k of a (scanned into m, elems): the same results. */
static void check_resume(const char *a, size_t an, const dw_members_t *m, const dw_spans_t *elems, size_t k,
                         const char *b, size_t bn)
{
    dw_json_resume_t at;
    if (dw_json_resume_at(a, m, elems, "input", k, &at) != 0)
        return;
    size_t same = 0;
    while (same < an && same < bn && a[same] == b[same])
        same++;
    dw_members_t wm = {0}, rm = {0};
    dw_spans_t we = {0}, re = {0};
    size_t woff = 0, roff = 0;
    int wrc = dw_json_scan_object(b, bn, "input", &wm, &we, &woff);
    int rrc = dw_json_scan_object_from(b, bn, "input", &at, same, &rm, &re, &roff);
    CHECK(wrc == rrc, "resumed at %zu (shared %zu): %d, whole: %d", k, same, rrc, wrc);
    if (wrc == DW_JSON_ESYNTAX)
        CHECK(woff == roff, "resumed: error at %zu, whole: at %zu", roff, woff);
    if (wrc == 0) {
        CHECK(wm.n == rm.n && we.n == re.n, "resumed: %zu members %zu elements, whole: %zu %zu", rm.n, re.n, wm.n, we.n);
        for (size_t i = 0; i < wm.n; i++)
            CHECK(!memcmp(&wm.v[i], &rm.v[i], sizeof(wm.v[i])), "member %zu differs", i);
        for (size_t i = 0; i < we.n; i++)
            CHECK(!memcmp(&we.v[i], &re.v[i], sizeof(we.v[i])), "element %zu differs", i);
    }
    dw_members_free(&wm);
    dw_members_free(&rm);
    dw_spans_free(&we);
    dw_spans_free(&re);
}

/* Documents that share a's bytes up to a point past element k: a itself, a with the elements after
 * k cut out (valid), a with its tail reversed (mostly not), and a with a digit right after element k
 * (a number there goes on: the resumed scan must not take the element as ended). */
static void check_resumes(const char *a, size_t an, const dw_members_t *m, const dw_spans_t *elems)
{
    if (elems->n == 0)
        return;
    size_t k = an % elems->n, last = elems->n - 1;
    size_t after_k = (size_t)(elems->v[k].p + elems->v[k].n - a);
    size_t after_last = (size_t)(elems->v[last].p + elems->v[last].n - a);
    char *b = malloc(an + 1);
    CHECK(b != NULL, "out of memory");
    check_resume(a, an, m, elems, k, a, an);
    /* cut right after element j >= k: resumed at k, the scan reads the new end of the array */
    size_t j = k + (an / 7) % (elems->n - k);
    size_t after_j = (size_t)(elems->v[j].p + elems->v[j].n - a);
    memcpy(b, a, after_j);
    memcpy(b + after_j, a + after_last, an - after_last);
    check_resume(a, an, m, elems, k, b, after_j + an - after_last);
    size_t cut = after_k + (an / 3) % (an - after_k + 1);
    memcpy(b, a, cut);
    for (size_t i = cut; i < an; i++)
        b[i] = a[an - 1 - (i - cut)];
    check_resume(a, an, m, elems, k, b, an);
    memcpy(b, a, after_k);
    b[after_k] = '0';
    memcpy(b + after_k + 1, a + after_k, an - after_k);
    check_resume(a, an, m, elems, k, b, an + 1);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    size_t off = 0;
    json_error_t err;
    json_t *j = json_loadb(p, size, LOAD_FLAGS, &err);
    int valid = dw_json_validate(p, size, &off) == 0;

    if (memchr(p, '\0', size) != NULL) {
        CHECK(!valid, "scanner accepts a raw NUL byte");
        json_decref(j);
        return 0;
    }
    if (j == NULL) {
        enum json_error_code code = json_error_code(&err);
        CHECK(!valid || code == json_error_numeric_overflow || code == json_error_null_byte_in_key,
              "scanner accepts what jansson rejects (%s)", err.text);
        return 0;
    }
    if (!valid) {
        CHECK(off <= size, "error offset %zu past %zu", off, size);
        CHECK(depth(j) >= DW_JSON_MAX_DEPTH, "scanner rejects at %zu what jansson accepts", off);
        json_decref(j);
        return 0;
    }

    dw_members_t m = {0};
    dw_spans_t elems = {0};
    int rc = dw_json_scan_object(p, size, "input", &m, &elems, &off);
    CHECK(rc == (json_is_object(j) ? 0 : DW_JSON_ENOTOBJECT), "scan_object returned %d", rc);
    check_value((dw_span_t){p, size}, j);
    if (rc == 0) {
        check_members(&m, j);
        /* the spans of a validated object again, through the skip-only helpers */
        dw_members_t again = {0};
        CHECK(dw_json_object_members((dw_span_t){p, size}, &again) == 0 && again.n == m.n, "object_members");
        for (size_t i = 0; i < m.n; i++)
            CHECK(again.v[i].key.p == m.v[i].key.p && again.v[i].key.n == m.v[i].key.n &&
                      again.v[i].value.p == m.v[i].value.p && again.v[i].value.n == m.v[i].value.n,
                  "object_members differs at %zu", i);
        dw_members_free(&again);

        size_t n_input = 0;
        dw_span_t first_input = {0};
        for (size_t i = 0; i < m.n; i++) {
            if (dw_json_key_eq(m.v[i].key, "input")) {
                if (n_input++ == 0)
                    first_input = m.v[i].value;
            }
        }
        dw_span_t got;
        CHECK(dw_json_object_get((dw_span_t){p, size}, "input", &got) == (n_input > 0), "object_get(input)");
        if (n_input > 0)
            CHECK(got.p == first_input.p && got.n == first_input.n, "object_get(input) is not the first input");
        json_t *input = json_object_get(j, "input");
        if (n_input == 1 && json_is_array(input)) {
            CHECK(elems.n == json_array_size(input), "%zu input elements, jansson has %zu", elems.n,
                  json_array_size(input));
            for (size_t i = 0; i < elems.n; i++)
                check_value(elems.v[i], json_array_get(input, i));
            dw_spans_t again_e = {0};
            CHECK(dw_json_array_elems(first_input, &again_e) == 0 && again_e.n == elems.n, "array_elems");
            dw_spans_free(&again_e);
            check_resumes(p, size, &m, &elems);
        } else if (n_input == 1) {
            CHECK(elems.n == 0, "elements recorded for a non-array input");
            CHECK(dw_json_array_elems(first_input, &elems) == DW_JSON_ENOTOBJECT, "array_elems on a non-array");
        }
    }
    dw_members_free(&m);
    dw_spans_free(&elems);
    json_decref(j);
    return 0;
}
