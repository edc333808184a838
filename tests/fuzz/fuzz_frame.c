/*
 * The response.create frame (translate/frame.c) from any client body, the
 * way the proxy builds it: scan the body, send items k.. of "input" (the
 * delta) or all of them, with or without a previous_response_id, stripping
 * the items canon marks. The frame must be one valid JSON object after the
 * zeroed headroom and, where jansson can read the body, equal the body
 * without "stream" and "type", with type "response.create", the chosen
 * previous_response_id and exactly the chosen items.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "translate/canon.h"
#include "translate/frame.h"

#define LOAD_FLAGS (JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES)
#define HEADROOM 16

#define FUZZ_NAME "fuzz_frame"
#include "fuzz_check.h"

/* What the frame must hold, from jansson's reading of the body. */
static json_t *expected(json_t *body, const dw_spans_t *elems, size_t first, const uint8_t *strip,
                        const char *prev_id, int verbatim)
{
    json_t *want = json_deep_copy(body);
    json_object_del(want, "stream");
    json_object_set_new(want, "type", json_string("response.create"));
    if (prev_id != NULL)
        json_object_set_new(want, "previous_response_id", json_string(prev_id));
    if (!verbatim) {
        json_t *input = json_array();
        for (size_t i = first; i < elems->n; i++) {
            json_t *item = json_loadb(elems->v[i].p, elems->v[i].n, LOAD_FLAGS, NULL);
            if (item == NULL) { /* a duplicate key inside an item */
                json_decref(input);
                json_decref(want);
                return NULL;
            }
            if (strip[i] && json_is_object(item)) {
                json_object_del(item, "parsed_arguments");
                json_t *part;
                size_t k;
                json_array_foreach(json_object_get(item, "content"), k, part)
                    json_object_del(part, "parsed");
            }
            json_array_append_new(input, item);
        }
        json_object_set_new(want, "input", input);
    }
    return want;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* byte 0: bit 0 prev id or none, bits 1-7 where the delta starts */
    if (size < 1)
        return 0;
    const char *p = (const char *)data + 1;
    size_t n = size - 1, off;
    dw_members_t m = {0};
    dw_spans_t elems = {0};
    if (dw_json_scan_object(p, n, "input", &m, &elems, &off) != 0) {
        dw_members_free(&m);
        dw_spans_free(&elems);
        return 0;
    }
    size_t n_input = 0;
    int verbatim = 0;
    for (size_t i = 0; i < m.n; i++) {
        if (dw_json_key_eq(m.v[i].key, "input")) {
            n_input++;
            verbatim = dw_json_kind(m.v[i].value) == '"';
        }
    }
    if (n_input > 1) /* the proxy refuses to diff such a body */
        goto out;

    const char *prev_id = data[0] & 1 ? "resp_\"prev\"\\\x01\xc3\xa9" : NULL;
    size_t first = elems.n ? (size_t)(data[0] >> 1) % (elems.n + 1) : 0;
    uint8_t *strip = calloc(elems.n + 1, 1);
    CHECK(strip != NULL, "oom");
    int can_strip = 1;
    for (size_t i = first; i < elems.n; i++) {
        dw_canon_t c;
        if (dw_canon_item(elems.v[i].p, elems.v[i].n, &c) == 0)
            strip[i] = c.form.strip;
        else
            can_strip = 0; /* the proxy then sends everything verbatim, strip all zero */
        dw_canon_clear(&c);
    }
    if (!can_strip)
        memset(strip, 0, elems.n + 1);

    dw_frame_spec_t spec = {
        .members = &m,
        .items = elems.v, /* NULL for "input": [] */
        .n_items = elems.n,
        .first = first,
        .strip = strip,
        .prev_id = prev_id,
        .input_verbatim = verbatim,
    };
    dw_buf_t frame = {0};
    CHECK(dw_frame_build(&frame, HEADROOM, &spec) == 0, "frame_build failed");
    CHECK(frame.len > HEADROOM, "empty frame");
    for (size_t i = 0; i < HEADROOM; i++)
        CHECK(frame.p[i] == 0, "headroom byte %zu not zero", i);
    const char *f = frame.p + HEADROOM;
    size_t fn = frame.len - HEADROOM;
    dw_members_t fm = {0};
    CHECK(dw_json_scan_object(f, fn, NULL, &fm, NULL, &off) == 0, "frame is not a JSON object: %.*s", (int)fn, f);
    dw_members_free(&fm);

    json_t *body = json_loadb(p, n, LOAD_FLAGS, NULL);
    if (body != NULL && json_is_object(body)) {
        json_t *want = expected(body, &elems, first, strip, prev_id, verbatim);
        if (want != NULL) {
            json_t *got = json_loadb(f, fn, LOAD_FLAGS, NULL);
            CHECK(got != NULL && json_equal(got, want), "frame differs from the body: %.*s", (int)fn, f);
            json_decref(got);
        }
        json_decref(want);
    }
    json_decref(body);
    dw_buf_free(&frame);
    free(strip);
out:
    dw_members_free(&m);
    dw_spans_free(&elems);
    return 0;
}
