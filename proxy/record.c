#include "proxy/record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "translate/recordable.h"

/* Output indexes beyond this are not kept (a broken peer). */
#define DW_MAX_OUTPUT_INDEX 100000

void dw_outputs_note(dw_outputs_t *o, const dw_event_t *ev)
{
    long index = ev->output_index;
    if (!dw_event_is(ev, "response.output_item.done") || ev->item.p == NULL || index < 0 ||
        index > DW_MAX_OUTPUT_INDEX)
        return;
    if ((size_t)index >= o->n) {
        dw_buf_t *v = realloc(o->v, ((size_t)index + 1) * sizeof(*v));
        if (v == NULL)
            return;
        memset(v + o->n, 0, ((size_t)index + 1 - o->n) * sizeof(*v));
        o->v = v;
        o->n = (size_t)index + 1;
    }
    dw_buf_reset(&o->v[index]);
    dw_buf_append(&o->v[index], ev->item.p, ev->item.n);
}

void dw_outputs_free(dw_outputs_t *o)
{
    for (size_t i = 0; i < o->n; i++)
        dw_buf_free(&o->v[i]);
    free(o->v);
    o->v = NULL;
    o->n = 0;
}

/* Sets what c caches: resp_id ("" for nothing) and its record key (NULL when not recorded). The
 * previous store=false record is forgotten: the upstream caches one response per lane. */
static void set_cached(dw_transcripts_t *t, dw_lane_t *c, const char *resp_id, const dw_digest_t *key, int store)
{
    dw_upconn_cache_t *k = &c->cached;
    if (k->keyed && !k->store && (key == NULL || !dw_digest_eq(key, &k->key)))
        dw_transcripts_forget(t, &k->key);
    snprintf(k->resp_id, sizeof(k->resp_id), "%s", resp_id);
    k->keyed = key != NULL;
    if (key != NULL)
        k->key = *key;
    k->store = store;
}

void dw_record_evict(dw_transcripts_t *t, dw_lane_t *c)
{
    set_cached(t, c, "", NULL, 0);
}

static void response_id(dw_span_t response, char *out, size_t cap)
{
    dw_span_t v;
    out[0] = '\0';
    if (dw_json_object_get(response, "id", &v) && dw_json_kind(v) == '"') {
        char *s = dw_json_string_dup(v);
        if (s != NULL && strlen(s) < cap)
            memcpy(out, s, strlen(s) + 1);
        free(s);
    }
}

/* items: what to chain in place of the output (as_output 0), NULL with as_output 0 for nothing. */
static void record(dw_transcripts_t *t, const dw_plan_t *pl, const dw_outputs_t *o, const dw_event_t *ev,
                   dw_lane_t *c, int as_output, const dw_spans_t *items)
{
    char id[DW_RESPONSE_ID_MAX + 1];
    response_id(ev->response, id, sizeof(id));
    dw_recordable_t out;
    if (!as_output && items == NULL) {
        /* nothing a delta could chain from: c is as good as empty for the next conversation */
        set_cached(t, c, "", NULL, 0);
        return;
    }
    if (!pl->chained || id[0] == '\0' || dw_recordable(ev, o->v, o->n, &out) != 1) {
        /* a failed turn evicts; an unrecorded one still replaces the cached response */
        set_cached(t, c, dw_event_is(ev, "response.failed") ? "" : id, NULL, 0);
        return;
    }
    const dw_spans_t *chain = as_output ? &out.items : items;
    dw_digest_t link = pl->input_end;
    int ok = dw_transcripts_output_chain(t, &link, chain->v, chain->n, out.stored) == 0 &&
             dw_transcripts_record(t, &link, id, c->id, out.stored) != NULL;
    set_cached(t, c, id, ok ? &link : NULL, out.stored);
    dw_spans_free(&out.items);
}

void dw_record_response(dw_transcripts_t *t, const dw_plan_t *pl, const dw_outputs_t *o, const dw_event_t *ev,
                        dw_lane_t *c)
{
    record(t, pl, o, ev, c, 1, NULL);
}

void dw_record_response_as(dw_transcripts_t *t, const dw_plan_t *pl, const dw_outputs_t *o, const dw_event_t *ev,
                           dw_lane_t *c, const dw_spans_t *items)
{
    record(t, pl, o, ev, c, 0, items);
}
