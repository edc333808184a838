/*
 * The recording decision over a terminal event and the streamed items (see
 * the header). Pure: spans in, spans out.
 */
#include <stdlib.h>
#include <string.h>
#include "translate/canon.h"
#include "translate/recordable.h"

/* 1 if the streamed copy and the response's copy are the same item. */
static int same_item(dw_span_t a, dw_span_t b)
{
    if (a.n == b.n && memcmp(a.p, b.p, a.n) == 0)
        return 1;
    dw_canon_t x, y;
    int same = 0;
    if (dw_canon_item(a.p, a.n, &x) == 0) {
        if (dw_canon_item(b.p, b.n, &y) == 0) {
            same = dw_digest_eq(&x.form.digest, &y.form.digest);
            dw_canon_clear(&y);
        }
        dw_canon_clear(&x);
    }
    return same;
}

static int is_true(dw_span_t response, const char *key)
{
    dw_span_t v;
    return dw_json_object_get(response, key, &v) && dw_json_is_true(v);
}

int dw_recordable(const dw_event_t *ev, const dw_buf_t *done, size_t n_done, dw_recordable_t *out)
{
    memset(out, 0, sizeof *out);
    if (ev->response.p == NULL || !(dw_event_is(ev, "response.completed") || dw_event_is(ev, "response.incomplete")))
        return 0;
    out->stored = is_true(ev->response, "store");

    dw_span_t output;
    int rc = 0;
    if (dw_json_object_get(ev->response, "output", &output) && dw_json_kind(output) == '[')
        rc = dw_json_array_elems(output, &out->items);
    if (rc == DW_JSON_ENOMEM) {
        dw_spans_free(&out->items);
        return -1;
    }
    int ok = rc == 0;
    if (ok && out->items.n > 0) {
        if (n_done > 0) {
            ok = n_done == out->items.n;
            for (size_t i = 0; ok && i < n_done; i++)
                ok = done[i].len > 0 && same_item((dw_span_t){done[i].p, done[i].len}, out->items.v[i]);
        }
    } else if (ok && n_done > 0) {
        /* no output in the response object: the streamed items, if none is missing */
        dw_spans_free(&out->items);
        for (size_t i = 0; ok && i < n_done; i++)
            ok = done[i].len > 0;
        if (ok && (out->items.v = malloc(n_done * sizeof *out->items.v)) == NULL)
            return -1;
        for (size_t i = 0; ok && i < n_done; i++)
            out->items.v[i] = (dw_span_t){done[i].p, done[i].len};
        if (ok)
            out->items.n = out->items.cap = n_done;
    }
    if (!ok) {
        dw_spans_free(&out->items);
        return 0;
    }
    return 1;
}
