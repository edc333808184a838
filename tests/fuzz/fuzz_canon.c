/*
 * Canonical item digests (translate/canon.c) on any bytes: no crash, the
 * same answer twice, and the cosmetic differences canon.h promises to erase
 * erased: the item re-serialised by jansson with every object's keys in
 * reverse order, indented and without ASCII escapes, with a "status" added,
 * or stripped by dw_canon_strip, has the same digests. An item_reference is
 * the digest dw_canon_ref_digest gives its id.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "translate/canon.h"

#define LOAD_FLAGS (JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)

#define CHECK(cond, ...)                                                                                   \
    do {                                                                                               \
        if (!(cond)) {                                                                                 \
            fprintf(stderr, "fuzz_canon: %s: ", #cond);                                              \
            fprintf(stderr, __VA_ARGS__);                                                              \
            fputc('\n', stderr);                                                                       \
            abort();                                                                                   \
        }                                                                                              \
    } while (0)

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

static void same_as(const dw_canon_t *want, const char *text, size_t n, const char *what)
{
    dw_canon_t got;
    CHECK(dw_canon_item(text, n, &got) == 0, "%s fails: %.*s", what, (int)n, text);
    CHECK(dw_digest_eq(&got.digest, &want->digest), "%s changes the digest: %.*s", what, (int)n, text);
    CHECK(dw_digest_eq(&got.proj_digest, &want->proj_digest), "%s changes the projection: %.*s", what, (int)n, text);
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
    int rc = dw_canon_item(raw, size, &a);
    CHECK(dw_canon_item(raw, size, &b) == rc, "two answers");
    if (rc != 0)
        return 0;
    CHECK(dw_digest_eq(&a.digest, &b.digest) && dw_digest_eq(&a.proj_digest, &b.proj_digest) &&
              a.strip == b.strip && a.is_reference == b.is_reference &&
              (a.id == NULL) == (b.id == NULL) && (a.id == NULL || strcmp(a.id, b.id) == 0),
          "two different results");
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
    CHECK(dw_canon_item(stripped, sn, &b) == 0 && !b.strip, "a stripped item still needs stripping: %s", stripped);
    dw_canon_clear(&b);
    free(stripped);

    if (json_is_object(j)) {
        json_t *with_status = json_deep_copy(j);
        json_object_set_new(with_status, "status", json_string("in_progress"));
        same_as_json(&a, with_status, JSON_COMPACT, "adding a status");
        json_decref(with_status);

        const char *type = json_string_value(json_object_get(j, "type"));
        json_t *id = json_object_get(j, "id");
        CHECK(a.is_reference == (type != NULL && strcmp(type, "item_reference") == 0), "is_reference");
        CHECK((a.id != NULL) == (json_is_string(id) && strlen(json_string_value(id)) == json_string_length(id)),
              "id exposed wrongly");
        if (a.is_reference && a.id != NULL && json_object_size(j) == 2) {
            dw_digest_t ref;
            dw_canon_ref_digest(a.id, &ref);
            CHECK(dw_digest_eq(&ref, &a.digest), "item_reference digest differs from dw_canon_ref_digest");
        }
    } else {
        CHECK(dw_digest_eq(&a.digest, &a.proj_digest) && a.id == NULL && !a.strip, "non-object item");
    }
    json_decref(j);
    dw_canon_clear(&a);
    return 0;
}
