/*
 * Canonical item forms (translate/canon.c) on any bytes: no crash, the same
 * answer twice, and the fidelity rules of canon.h (issue 11):
 *  - cosmetic differences are erased: the item re-serialised with every
 *    object's keys in reverse order, indented, with ASCII escapes, with a
 *    member set to null added (null is absent), or stripped by
 *    dw_canon_strip, has the same form;
 *  - values count: changing the value of any top-level member ("id" and
 *    "status" included) gives another identity, and neither item is within
 *    the other (an echo never matches a changed item);
 *  - an echo may omit what is optional: without one of its members the
 *    item either has another core (the member was required) or is within
 *    the item (it was optional), never the reverse;
 *  - an item_reference's core is what dw_canon_ref_core gives its id;
 *  - the scan path and jansson's DOM path agree: whatever dw_canon_item_scan
 *    takes, dw_canon_item_dom gives the same answer, form and id.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "translate/canon.h"

#define LOAD_FLAGS (JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)

#define FUZZ_NAME "fuzz_canon"
#include "fuzz_check.h"

/* A deep copy with every object's keys inserted in reverse iteration order. */
static json_t *reversed(const json_t *j)
{
    if (json_is_array(j)) {
        json_t *a = json_array(), *v;
        size_t i;
        json_array_foreach(j, i, v)
            json_array_append_new(a, reversed(v));
        return a;
    }
    if (!json_is_object(j))
        return json_deep_copy(j);
    size_t n = json_object_size(j), i = 0;
    const char **keys = malloc((n ? n : 1) * sizeof *keys);
    json_t *o = json_object(), *v;
    const char *k;
    json_object_foreach((json_t *)j, k, v)
        keys[i++] = k;
    while (i-- > 0)
        json_object_set_new(o, keys[i], reversed(json_object_get(j, keys[i])));
    free(keys);
    return o;
}

/* Everything but strip, which only says how the bytes are forwarded. */
static int same_form(const dw_form_t *a, const dw_form_t *b)
{
    return dw_digest_eq(&a->digest, &b->digest) && dw_digest_eq(&a->core, &b->core) && a->n_opt == b->n_opt &&
           a->opt_overflow == b->opt_overflow && a->is_reference == b->is_reference &&
           memcmp(a->opt, b->opt, sizeof a->opt) == 0;
}

static int form_of_json(const json_t *j, dw_canon_t *out)
{
    char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
    CHECK(text != NULL, "dump");
    int rc = dw_canon_item(text, strlen(text), out);
    free(text);
    return rc;
}

/* Changing a top-level member's value: a new identity, and no echo relation either way. */
static void changed_value_differs(const dw_canon_t *a, const json_t *j, const char *key, const json_t *v)
{
    json_t *c = json_deep_copy(j);
    /* a number becomes a string, anything else a number: never equal after normalisation */
    json_object_set_new(c, key, json_is_number(v) ? json_string("fuzz-changed") : json_integer(1234567));
    dw_canon_t got;
    CHECK(form_of_json(c, &got) == 0, "changing %s fails", key);
    CHECK(!dw_digest_eq(&got.form.digest, &a->form.digest), "changing the value of %s keeps the identity", key);
    CHECK(!dw_canon_within(&got.form, &a->form) && !dw_canon_within(&a->form, &got.form),
          "changing the value of %s still matches as an echo", key);
    dw_canon_clear(&got);
    json_decref(c);
}

/* Omitting a top-level member: required (core changes) or optional (the rest is within the item). */
static void omitted_member_is_echo(const dw_canon_t *a, const json_t *j, const char *key)
{
    json_t *c = json_deep_copy(j);
    json_object_del(c, key);
    dw_canon_t got;
    CHECK(form_of_json(c, &got) == 0, "omitting %s fails", key);
    CHECK(!dw_digest_eq(&got.form.digest, &a->form.digest), "omitting %s keeps the identity", key);
    CHECK(!dw_canon_within(&a->form, &got.form), "the item is within itself without %s", key);
    if (dw_digest_eq(&got.form.core, &a->form.core))
        CHECK(a->form.opt_overflow || dw_canon_within(&got.form, &a->form),
              "without the optional %s, the item is no echo of itself", key);
    dw_canon_clear(&got);
    json_decref(c);
}

static void same_as(const dw_canon_t *want, const char *text, size_t n, const char *what)
{
    dw_canon_t got;
    CHECK(dw_canon_item(text, n, &got) == 0, "%s fails: %.*s", what, (int)n, text);
    CHECK(same_form(&got.form, &want->form), "%s changes the form: %.*s", what, (int)n, text);
    dw_canon_clear(&got);
}

static void same_as_json(const dw_canon_t *want, const json_t *j, size_t flags, const char *what)
{
    char *text = json_dumps(j, flags | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
    CHECK(text != NULL, "dump for %s", what);
    same_as(want, text, strlen(text), what);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *raw = (const char *)data;
    dw_canon_t a, b;
    int rs = dw_canon_item_scan(raw, size, &a), rd = dw_canon_item_dom(raw, size, &b);
    if (rs != 1) {
        CHECK(rs == rd, "scan path %d, DOM path %d", rs, rd);
        CHECK(rs != 0 || (memcmp(&a.form, &b.form, sizeof a.form) == 0 && (a.id == NULL) == (b.id == NULL) &&
                          (a.id == NULL || strcmp(a.id, b.id) == 0)),
              "the scan path's form is not the DOM path's");
    }
    dw_canon_clear(&a);
    dw_canon_clear(&b);
    int rc = dw_canon_item(raw, size, &a);
    CHECK(dw_canon_item(raw, size, &b) == rc, "two answers");
    if (rc != 0)
        return 0;
    CHECK(same_form(&a.form, &b.form) && a.form.strip == b.form.strip && (a.id == NULL) == (b.id == NULL) &&
              (a.id == NULL || strcmp(a.id, b.id) == 0),
          "two different results");
    CHECK(dw_canon_within(&a.form, &b.form) || a.form.opt_overflow, "an item is not within itself");
    CHECK(a.form.n_opt <= DW_CANON_OPT_MAX && (!a.form.opt_overflow || a.form.n_opt == 0), "opt list shape");
    dw_canon_clear(&b);

    json_t *j = json_loadb(raw, size, LOAD_FLAGS, NULL);
    CHECK(j != NULL, "canonicalised what jansson rejects");

    json_t *rev = reversed(j);
    same_as_json(&a, rev, JSON_COMPACT, "reversing key order");
    same_as_json(&a, rev, JSON_INDENT(2), "indenting");
    same_as_json(&a, j, JSON_ENSURE_ASCII, "escaping to ASCII");
    json_decref(rev);

    char *stripped;
    size_t sn;
    CHECK(dw_canon_strip(raw, size, &stripped, &sn) == 0, "strip fails where canon succeeds");
    same_as(&a, stripped, sn, "stripping");
    CHECK(dw_canon_item(stripped, sn, &b) == 0 && !b.form.strip, "a stripped item still needs stripping: %s", stripped);
    dw_canon_clear(&b);
    free(stripped);

    if (json_is_object(j)) {
        if (json_object_get(j, "fuzz_null") == NULL) {
            json_t *with_null = json_deep_copy(j);
            json_object_set_new(with_null, "fuzz_null", json_null());
            same_as_json(&a, with_null, JSON_COMPACT, "adding a null member");
            json_decref(with_null);
        }
        const char *key;
        json_t *v;
        size_t seen = 0;
        json_object_foreach(j, key, v) {
            /* null is absence; parse results never count; "type" has defaults (rule 3) */
            if (json_is_null(v) || strcmp(key, "parsed_arguments") == 0 || strcmp(key, "parsed") == 0 ||
                strcmp(key, "type") == 0 || seen++ == 8)
                continue;
            changed_value_differs(&a, j, key, v);
            omitted_member_is_echo(&a, j, key);
        }

        const char *type = json_string_value(json_object_get(j, "type"));
        if (type != NULL && strlen(type) != json_string_length(json_object_get(j, "type")))
            type = NULL; /* "item_reference\u0000" is another type */
        json_t *id = json_object_get(j, "id");
        size_t present = 0; /* members that are not null */
        json_object_foreach(j, key, v)
            present += !json_is_null(v);
        int only_id = present == 1 && !json_is_null(id) && id != NULL; /* rule 3 */
        CHECK(a.form.is_reference == ((type != NULL && strcmp(type, "item_reference") == 0) || only_id),
              "is_reference");
        CHECK((a.id != NULL) == (json_is_string(id) && strlen(json_string_value(id)) == json_string_length(id)),
              "id exposed wrongly");
        if (a.form.is_reference && a.id != NULL && json_object_size(j) == 2) {
            dw_digest_t ref;
            dw_canon_ref_core(a.id, &ref);
            CHECK(dw_digest_eq(&ref, &a.form.core), "item_reference core differs from dw_canon_ref_core");
        }
    } else {
        CHECK(a.form.n_opt == 0 && !a.form.opt_overflow && a.id == NULL && !a.form.strip && !a.form.is_reference,
              "non-object item");
    }
    json_decref(j);
    dw_canon_clear(&a);
    return 0;
}
