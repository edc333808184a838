#include "translate/frame.h"

#include <stdlib.h>
#include <string.h>

#include "translate/canon.h"

static int is_dropped(const dw_member_t *m, const dw_frame_spec_t *spec)
{
    if (dw_json_key_eq(m->key, "stream") || dw_json_key_eq(m->key, "type"))
        return 1;
    if (dw_json_key_eq(m->key, "input"))
        return !spec->input_verbatim;
    if (dw_json_key_eq(m->key, "previous_response_id"))
        return spec->prev_id != NULL;
    return 0;
}

static int append_item(dw_buf_t *out, dw_span_t item, int strip)
{
    if (!strip)
        return dw_buf_append(out, item.p, item.n);
    char *copy;
    size_t n;
    if (dw_canon_strip(item.p, item.n, &copy, &n) != 0)
        return -1;
    int rc = dw_buf_append(out, copy, n);
    free(copy);
    return rc;
}

/* Appends the members of spec->metadata that `obj` (an object, or {NULL,0}) lacks, each after a
 * comma unless it comes first. *first: nothing is in the object yet. */
static int append_metadata(dw_buf_t *out, dw_span_t obj, const dw_frame_spec_t *spec, int first)
{
    for (size_t i = 0; i < spec->n_metadata; i++) {
        const dw_member_t *m = &spec->metadata[i];
        char key[128];
        dw_span_t had;
        if (m->key.n >= sizeof(key))
            continue; /* no header table name is this long */
        memcpy(key, m->key.p, m->key.n);
        key[m->key.n] = '\0';
        if (obj.p != NULL && dw_json_object_get(obj, key, &had))
            continue; /* the body's own value wins */
        if ((!first && dw_buf_append(out, ",", 1)) || dw_buf_append(out, "\"", 1) ||
            dw_buf_append(out, m->key.p, m->key.n) || dw_buf_append(out, "\":", 2) ||
            dw_buf_append(out, m->value.p, m->value.n))
            return -1;
        first = 0;
    }
    return 0;
}

/* The body's client_metadata value with the metadata members merged in (an object), or made
 * (null); any other value as it is. */
static int append_client_metadata(dw_buf_t *out, dw_span_t v, const dw_frame_spec_t *spec)
{
    if (spec->n_metadata == 0 || (dw_json_kind(v) != '{' && !dw_json_is_null(v)))
        return dw_buf_append(out, v.p, v.n);
    if (dw_json_kind(v) != '{')
        return dw_buf_append(out, "{", 1) || append_metadata(out, (dw_span_t){NULL, 0}, spec, 1) ||
               dw_buf_append(out, "}", 1);
    size_t close = v.n - 1; /* the scanner's spans are trimmed: v.p[v.n - 1] is '}' */
    size_t inner = 1;
    while (inner < close && (v.p[inner] == ' ' || v.p[inner] == '\t' || v.p[inner] == '\n' || v.p[inner] == '\r'))
        inner++;
    return dw_buf_append(out, v.p, close) || append_metadata(out, v, spec, inner == close) ||
           dw_buf_append(out, "}", 1);
}

int dw_frame_build(dw_buf_t *out, size_t headroom, const dw_frame_spec_t *spec)
{
    int has_metadata = 0;
    size_t need = headroom + 64;
    for (size_t i = 0; i < spec->members->n; i++)
        need += spec->members->v[i].key.n + spec->members->v[i].value.n + 4;
    if (dw_buf_reserve(out, need) != 0)
        return -1;
    memset(out->p + out->len, 0, headroom);
    out->len += headroom;
    if (dw_buf_append_str(out, "{\"type\":\"response.create\""))
        return -1;
    for (size_t i = 0; i < spec->members->n; i++) {
        const dw_member_t *m = &spec->members->v[i];
        if (is_dropped(m, spec))
            continue;
        if (dw_buf_append(out, ",\"", 2) || dw_buf_append(out, m->key.p, m->key.n) || dw_buf_append(out, "\":", 2))
            return -1;
        if (dw_json_key_eq(m->key, "client_metadata")) {
            has_metadata = 1;
            if (append_client_metadata(out, m->value, spec))
                return -1;
        } else if (dw_buf_append(out, m->value.p, m->value.n)) {
            return -1;
        }
    }
    if (!has_metadata && spec->n_metadata > 0 &&
        (dw_buf_append_str(out, ",\"client_metadata\":{") || append_metadata(out, (dw_span_t){NULL, 0}, spec, 1) ||
         dw_buf_append(out, "}", 1)))
        return -1;
    if (spec->prev_id != NULL) {
        if (dw_buf_append_str(out, ",\"previous_response_id\":") ||
            dw_buf_append_json_string(out, spec->prev_id, strlen(spec->prev_id)))
            return -1;
    }
    if (!spec->input_verbatim) {
        if (dw_buf_append_str(out, ",\"input\":["))
            return -1;
        for (size_t i = spec->first; i < spec->n_items; i++) {
            if ((i > spec->first && dw_buf_append(out, ",", 1)) ||
                append_item(out, spec->items[i], spec->strip && spec->strip[i]))
                return -1;
        }
        if (dw_buf_append(out, "]", 1))
            return -1;
    }
    return dw_buf_append(out, "}", 1);
}
