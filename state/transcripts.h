/*
 * The shadow-transcript index: everything the proxy needs to decide, without
 * I/O, whether a full-history request can go upstream as a delta.
 *
 * A conversation is a chain (state/chain.h) seeded with the credential
 * digest and fed with the identity digest of every item. Three bounded LRU
 * tables:
 *
 *  - item cache (global; a pure function of the bytes): SHA-256 of an item's
 *    raw bytes -> its canonical form (translate/canon.h), so items seen
 *    before (most of a history) never go through a DOM again;
 *  - echoes: H("dw-alias-v2\0" || link || core) -> the form of the server
 *    output item S recorded right after that chain link. Recording S
 *    registers its core, and, when the response was stored, the core of
 *    item_reference(S.id). A client item at the same position whose core
 *    matches and whose optional fields are all S's (dw_canon_within)
 *    resolves to S's identity: echoes that left out what the server added,
 *    or that refer to S by id, chain like S itself. Keying by the link ties
 *    each alias to its place in one conversation of one credential set;
 *  - responses: the chain link after a response's input items followed by
 *    its output items -> the response record. A request whose link after k
 *    items equals a record's key can be sent as previous_response_id = that
 *    record's id plus items k.. of the request.
 *
 * Not thread-safe: one index per worker thread, or the caller locks.
 */
#ifndef DW_STATE_TRANSCRIPTS_H
#define DW_STATE_TRANSCRIPTS_H

#include <stddef.h>
#include <stdint.h>
#include "translate/canon.h"
#include "translate/digest.h"
#include "translate/json_scan.h"

#define DW_RESPONSE_ID_MAX 127

typedef struct {
    char id[DW_RESPONSE_ID_MAX + 1]; /* NUL-terminated response id */
    uint64_t conn_id;                /* the upstream connection that holds it */
    uint8_t store;                   /* 1: the upstream persisted it (store=true) */
} dw_response_rec_t;

typedef struct dw_transcripts dw_transcripts_t;

/* Table bounds in entries (each >= 1). NULL on bad arguments or no memory. */
dw_transcripts_t *dw_transcripts_new(size_t max_responses, size_t max_items_cached, size_t max_aliases);
void dw_transcripts_free(dw_transcripts_t *t);

/* Canonical form of a client item: from the raw-bytes cache, else
 * canonicalised (jansson) and cached. form->strip tells whether the copy
 * forwarded upstream must come from dw_canon_strip. Returns 0, or -1 if the
 * item cannot be canonicalised (invalid JSON, huge integer, duplicate keys,
 * no memory): the request must then be sent in full. */
int dw_transcripts_item(dw_transcripts_t *t, const char *raw, size_t n, dw_form_t *form);

/* The item cache's key for raw item bytes (pure: any thread). */
void dw_transcripts_item_key(const char *raw, size_t n, dw_digest_t *key);
/* The cached form under key: 1 and *form filled, else 0. */
int dw_transcripts_item_cached(dw_transcripts_t *t, const dw_digest_t *key, dw_form_t *form);
/* Caches form under key (computed elsewhere, e.g. off the loop) and counts it canonicalised.
 * Returns 0, or -1 when memory ran out (not cached). */
int dw_transcripts_item_remember(dw_transcripts_t *t, const dw_digest_t *key, const dw_form_t *form);

/* Just the identity digest of dw_transcripts_item. */
int dw_transcripts_item_digest(dw_transcripts_t *t, const char *raw, size_t n, dw_digest_t *out);

/* The identity a client item stands for at the chain position `link` (the
 * link after the items before it): the recorded server item it echoes
 * there, if any, else its own digest. */
void dw_transcripts_resolve(dw_transcripts_t *t, const dw_digest_t *link, const dw_form_t *item,
                            dw_digest_t *identity);

typedef struct {
    size_t matched;               /* items covered by the record (0 if none) */
    const dw_response_rec_t *rec; /* valid until the next call that changes the responses table */
} dw_match_t;

/* links[i] is the chain link after item i (links[0] after the first item).
 * Finds the largest k <= n such that links[k-1] keys a record (k == n: no
 * new items) and marks that record used. Returns 1 if found, else 0 with
 * out->matched = 0 and out->rec = NULL. A caller that rejects the record
 * (e.g. its connection is gone) may call again with n = matched - 1. */
int dw_transcripts_match(dw_transcripts_t *t, const dw_digest_t *links, size_t n, dw_match_t *out);

/* Records (or replaces) the response whose input + output items end at
 * end_link. Returns the record (valid like dw_match_t.rec), or NULL if
 * resp_id is longer than DW_RESPONSE_ID_MAX or memory ran out. */
dw_response_rec_t *dw_transcripts_record(dw_transcripts_t *t, const dw_digest_t *end_link,
                                         const char *resp_id, uint64_t conn_id, int store);

/* Drops the record at end_link, e.g. a connection's previous store=false
 * response once it records a newer one (the upstream caches only the most
 * recent response per connection). Records of closed connections are not
 * swept: the caller checks rec->conn_id on match. Returns 1 if dropped. */
int dw_transcripts_forget(dw_transcripts_t *t, const dw_digest_t *end_link);

/* Chains a response's output items (raw JSON, as in response.completed)
 * after *link, registering each item's echo alias at its position (and its
 * item_reference alias when `stored`: references resolve only to items the
 * upstream keeps). *link ends after the last item. Returns 0, or -1 (an
 * item cannot be canonicalised, no memory; *link is then meaningless). */
int dw_transcripts_output_chain(dw_transcripts_t *t, dw_digest_t *link, const dw_span_t *items, size_t n,
                                int stored);

typedef struct {
    size_t responses, items_cached, aliases;
    size_t bytes; /* allocated by the three tables (they grow up to their bounds, then stay) */
    uint64_t canonicalised; /* client items canonicalised so far: what the item cache did not know */
} dw_transcripts_counts_t;

/* Entries in each table, for observability. */
void dw_transcripts_counts(const dw_transcripts_t *t, dw_transcripts_counts_t *out);

#endif
