/* The delta decision: what goes upstream for one request, and on which connection. A pure
 * function of the scanned request, the transcript index and what each upstream lane caches now
 * (asked through a dw_lanes_view_t, which the pool answers); no I/O.
 *
 * FULL: every input item, no previous_response_id. DELTA: the items from delta_from on, chained to
 * prev_id, which the upstream holds on connection want_conn (or anywhere when it stored it).
 * VERBATIM: `input` and previous_response_id as the client sent them (the upstream holds or shapes
 * the context itself), preferably on the connection that caches the response it names. */
#ifndef DW_PLAN_H
#define DW_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "state/bodies.h"
#include "state/transcripts.h"
#include "translate/frame.h"
#include "translate/request.h"

/* What the upstream lanes of the request's pool key cache: the response a delta on each may chain
 * from. Asked per lane, so that the plan costs what its matches cost, not a pass over every lane
 * (16 connections of 33 lanes each under many short conversations). Implementations embed it as
 * their first member (proxy/pool.h: dw_pool_view_t). Strings are borrowed until the caller's next
 * return to the loop. */
typedef struct dw_lanes_view {
    /* what lane lane_id caches ("" nothing), or NULL when it is not an open lane of the key */
    const char *(*cached_on)(const struct dw_lanes_view *v, uint64_t lane_id);
    /* an open lane of the key that caches resp_id (NUL-terminated, not ""), or 0 for none */
    uint64_t (*caching)(const struct dw_lanes_view *v, const char *resp_id);
} dw_lanes_view_t;

enum dw_plan_kind { DW_PLAN_FULL, DW_PLAN_DELTA, DW_PLAN_VERBATIM };

typedef struct {
    enum dw_plan_kind kind;
    uint64_t want_conn; /* connection to ask the pool for, 0 for any */
    int any_conn;       /* DELTA from a stored response: any connection can load it */
    size_t delta_from;  /* DELTA: items before this index are elided */
    char prev_id[DW_RESPONSE_ID_MAX + 1];
    /* the chain of the whole input is known (input_end): the response can be recorded */
    int chained;
    dw_digest_t input_end;
    uint8_t *strip; /* per input item: forward a stripped copy (owned; NULL when unknown) */
} dw_plan_t;

/* The canonical forms of a request's input items, computed ahead of the plan for a large body, so
 * that per turn only the items the item cache does not know yet are canonicalised (work scales
 * with the new bytes), and that on a worker thread when they are many:
 *   dw_forms_keys    any thread: every item's cache key (a hash of its raw bytes), copied from a
 *                    kept earlier body of the same credentials for the items it has byte for byte
 *                    (state/bodies.h), hashed for the others
 *   dw_forms_lookup  the loop: the forms the cache knows; returns the bytes of the others
 *   dw_forms_fill    any thread: canonicalises the others (translate/canon only)
 *   dw_forms_remember the loop: caches what dw_forms_fill computed
 * v[i] is item i's form once have[i]; ok is 0 when an item cannot be canonicalised or memory ran
 * out (the request then goes in full, unchained). Arrays owned; free with dw_forms_free. */
typedef struct {
    dw_form_t *v;
    dw_digest_t *keys;
    uint8_t *have; /* 0 unknown, 1 from the cache, 2 computed by dw_forms_fill */
    size_t n;
    int ok;
} dw_forms_t;

/* cand[0..nc): kept bodies (borrowed; may be none); known, known_same, *chosen and *replaces as
 * dw_bodies_reuse. Returns the items keyed by comparison. */
size_t dw_forms_keys(dw_forms_t *f, const dw_spans_t *items, dw_body_t *const *cand, size_t nc, dw_body_t *known,
                     size_t known_same, dw_body_t **chosen, dw_body_t **replaces);
size_t dw_forms_lookup(dw_forms_t *f, dw_transcripts_t *t, const dw_spans_t *items);
void dw_forms_fill(dw_forms_t *f, const dw_spans_t *items);
void dw_forms_remember(const dw_forms_t *f, dw_transcripts_t *t);
void dw_forms_free(dw_forms_t *f);

/* Plans rq (items digested and chained under cred in t) given what the open lanes of its pool key
 * cache now (lanes, borrowed; NULL when none is open). forms: the items' forms, all known
 * (dw_forms_fill; borrowed), or NULL to canonicalise them here through t's item cache. The longest recorded prefix whose response is
 * still cached (or stored) gives a DELTA; anything not provably equal gives FULL. Never fails:
 * without memory it plans FULL, unchained. Free with dw_plan_free. */
void dw_plan_make(dw_plan_t *pl, dw_transcripts_t *t, const dw_digest_t *cred, const dw_request_t *rq,
                  const dw_forms_t *forms, const dw_lanes_view_t *lanes);

/* 1 if pl can go as it is on the connection conn_id that caches cached_resp_id ("" for nothing).
 * The one place that asks "is the response to chain from still there?". */
int dw_plan_fits(const dw_plan_t *pl, uint64_t conn_id, const char *cached_resp_id);

/* The plan meets its connection: a DELTA that does not fit it becomes FULL. */
void dw_plan_settle(dw_plan_t *pl, uint64_t conn_id, const char *cached_resp_id);

/* A retry after an error: a DELTA becomes FULL (VERBATIM stays). */
void dw_plan_full(dw_plan_t *pl);

/* The frame of this plan for rq (spans borrowed from both). */
void dw_plan_frame_spec(const dw_plan_t *pl, const dw_request_t *rq, dw_frame_spec_t *spec);

/* Input items that go upstream under this plan. */
size_t dw_plan_items_sent(const dw_plan_t *pl, const dw_request_t *rq);

void dw_plan_free(dw_plan_t *pl);

#endif
