#include "proxy/plan.h"

#include <stdlib.h>
#include <string.h>

#include "state/chain.h"

/* What lane conn_id caches, or NULL when it is not open. */
static const char *cached_on(const dw_lanes_view_t *lanes, uint64_t conn_id)
{
    return lanes != NULL ? lanes->cached_on(lanes, conn_id) : NULL;
}

/* Connection conn_id (open, caching cached) still holds resp_id. */
static int holds(uint64_t conn_id, const char *cached, uint64_t want_conn, const char *resp_id)
{
    return cached != NULL && conn_id == want_conn && resp_id[0] != '\0' && strcmp(cached, resp_id) == 0;
}

int dw_plan_fits(const dw_plan_t *pl, uint64_t conn_id, const char *cached_resp_id)
{
    return pl->kind != DW_PLAN_DELTA || pl->any_conn || holds(conn_id, cached_resp_id, pl->want_conn, pl->prev_id);
}

void dw_plan_settle(dw_plan_t *pl, uint64_t conn_id, const char *cached_resp_id)
{
    if (!dw_plan_fits(pl, conn_id, cached_resp_id))
        pl->kind = DW_PLAN_FULL; /* waited for another connection, or ours moved on meanwhile */
}

void dw_plan_full(dw_plan_t *pl)
{
    if (pl->kind == DW_PLAN_DELTA)
        pl->kind = DW_PLAN_FULL;
}

/* A string input is one user message: digest it as the item a client would echo next turn. */
static void chain_string_input(dw_plan_t *pl, dw_transcripts_t *t, const dw_digest_t *cred, dw_span_t input)
{
    dw_buf_t item = {0};
    dw_digest_t d;
    if (dw_buf_append_str(&item, "{\"role\":\"user\",\"content\":") == 0 &&
        dw_buf_append(&item, input.p, input.n) == 0 && dw_buf_append_str(&item, "}") == 0 &&
        dw_transcripts_item_digest(t, item.p, item.len, &d) == 0) {
        dw_chain_seed(&pl->input_end, cred);
        dw_chain_next(&pl->input_end, &d);
        pl->chained = 1;
    }
    dw_buf_free(&item);
}

size_t dw_forms_keys(dw_forms_t *f, const dw_spans_t *items, dw_body_t *const *cand, size_t nc, dw_body_t *known,
                     size_t known_same, dw_body_t **chosen, dw_body_t **replaces)
{
    size_t n = items->n ? items->n : 1;
    memset(f, 0, sizeof(*f));
    *chosen = *replaces = NULL;
    f->v = malloc(n * sizeof(*f->v));
    f->keys = malloc(n * sizeof(*f->keys));
    f->have = calloc(n, 1);
    if (f->v == NULL || f->keys == NULL || f->have == NULL)
        return 0;
    /* `have` marks the items keyed by comparison meanwhile; it means "form known" afterwards */
    size_t keyed = dw_bodies_reuse(cand, nc, known, known_same, items, f->keys, f->have, chosen, replaces);
    for (size_t i = 0; i < items->n; i++)
        if (!f->have[i])
            dw_transcripts_item_key(items->v[i].p, items->v[i].n, &f->keys[i]);
    memset(f->have, 0, n);
    f->n = items->n;
    f->ok = 1;
    return keyed;
}

size_t dw_forms_lookup(dw_forms_t *f, dw_transcripts_t *t, const dw_spans_t *items)
{
    size_t missing = 0;
    for (size_t i = 0; f->ok && i < f->n; i++) {
        if (dw_transcripts_item_cached(t, &f->keys[i], &f->v[i]))
            f->have[i] = 1;
        else
            missing += items->v[i].n;
    }
    return missing;
}

void dw_forms_fill(dw_forms_t *f, const dw_spans_t *items)
{
    for (size_t i = 0; f->ok && i < f->n; i++) {
        if (f->have[i])
            continue;
        dw_canon_t c;
        if (dw_canon_item(items->v[i].p, items->v[i].n, &c) != 0) {
            f->ok = 0;
            return;
        }
        f->v[i] = c.form;
        f->have[i] = 2;
        dw_canon_clear(&c);
    }
}

void dw_forms_remember(const dw_forms_t *f, dw_transcripts_t *t)
{
    for (size_t i = 0; f->ok && i < f->n; i++)
        if (f->have[i] == 2)
            (void)dw_transcripts_item_remember(t, &f->keys[i], &f->v[i]); /* uncached: canonicalised again */
}

void dw_forms_free(dw_forms_t *f)
{
    free(f->v);
    free(f->keys);
    free(f->have);
    memset(f, 0, sizeof(*f));
}

/* Digests every input item (or takes forms, when given) and chains them; links[i] is the chain
 * after item i. Returns 0, or -1 when an item cannot be canonicalised (send in full, record
 * nothing). */
static int chain_items(dw_plan_t *pl, dw_transcripts_t *t, const dw_digest_t *cred, const dw_spans_t *items,
                       const dw_forms_t *forms, dw_digest_t *links)
{
    dw_digest_t link;
    dw_chain_seed(&link, cred);
    if (forms != NULL && !forms->ok)
        return -1;
    for (size_t i = 0; i < items->n; i++) {
        dw_form_t f;
        dw_digest_t d;
        if (forms != NULL)
            f = forms->v[i];
        else if (dw_transcripts_item(t, items->v[i].p, items->v[i].n, &f) != 0)
            return -1;
        pl->strip[i] = (uint8_t)f.strip;
        /* an echo resolves only where the server put the item it echoes */
        dw_transcripts_resolve(t, &link, &f, &d);
        dw_chain_next(&link, &d);
        links[i] = link;
    }
    pl->input_end = link;
    pl->chained = 1;
    return 0;
}

void dw_plan_make(dw_plan_t *pl, dw_transcripts_t *t, const dw_digest_t *cred, const dw_request_t *rq,
                  const dw_forms_t *forms, const dw_lanes_view_t *lanes)
{
    memset(pl, 0, sizeof(*pl));
    if (rq->verbatim) {
        pl->kind = DW_PLAN_VERBATIM;
        if (rq->has_prev && lanes != NULL) {
            /* the connection that caches the named response, if one does */
            char *id = dw_json_string_dup(rq->prev);
            if (id != NULL && id[0] != '\0')
                pl->want_conn = lanes->caching(lanes, id);
            free(id);
        }
        if (rq->string_chain)
            chain_string_input(pl, t, cred, rq->string_input);
        return;
    }
    pl->kind = DW_PLAN_FULL;
    size_t items = rq->items.n;
    dw_digest_t *links = malloc((items ? items : 1) * sizeof(*links));
    pl->strip = calloc(items ? items : 1, 1);
    if (links == NULL || pl->strip == NULL || chain_items(pl, t, cred, &rq->items, forms, links) != 0) {
        free(links);
        return;
    }
    size_t upto = items;
    dw_match_t m;
    while (upto > 0 && dw_transcripts_match(t, links, upto, &m)) {
        const char *cached = cached_on(lanes, m.rec->conn_id);
        int still = holds(m.rec->conn_id, cached, m.rec->conn_id, m.rec->id);
        if (still || m.rec->store) {
            /* cached on its connection; or stored upstream, which any connection can load */
            pl->kind = DW_PLAN_DELTA;
            pl->want_conn = still ? m.rec->conn_id : 0;
            pl->any_conn = m.rec->store;
            pl->delta_from = m.matched;
            memcpy(pl->prev_id, m.rec->id, sizeof(pl->prev_id));
            break;
        }
        upto = m.matched - 1;
    }
    free(links);
}

void dw_plan_frame_spec(const dw_plan_t *pl, const dw_request_t *rq, dw_frame_spec_t *spec)
{
    size_t from = pl->kind == DW_PLAN_DELTA ? pl->delta_from : 0;
    memset(spec, 0, sizeof(*spec));
    spec->members = &rq->members;
    spec->items = rq->items.v; /* whole array and the first index: v is NULL for "input": [] */
    spec->n_items = rq->items.n;
    spec->first = from;
    spec->strip = pl->strip;
    spec->prev_id = pl->kind == DW_PLAN_DELTA ? pl->prev_id : NULL;
    spec->input_verbatim = pl->kind == DW_PLAN_VERBATIM;
}

size_t dw_plan_items_sent(const dw_plan_t *pl, const dw_request_t *rq)
{
    return rq->items.n - (pl->kind == DW_PLAN_DELTA ? pl->delta_from : 0);
}

void dw_plan_free(dw_plan_t *pl)
{
    free(pl->strip);
    pl->strip = NULL;
}
