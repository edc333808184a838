/*
 * Recent large request bodies, kept per credential digest, so that the next turn of a conversation
 * keys its repeated items by comparing bytes instead of hashing them again (issue 16: history CPU
 * per turn scales with the new bytes).
 *
 * An item's key in the item cache is the SHA-256 of its raw bytes (dw_transcripts_item_key). An
 * item of a new body whose bytes are, byte for byte, those of an item of a kept body (same offset
 * from the first item, same length, inside the two bodies' common prefix from their first items)
 * has that item's key: equal bytes, equal hash. Nothing else is inferred, so any kept body of the
 * same credentials is a safe candidate; choosing well only saves work.
 *
 * A new body that shares its first bytes with a kept one past some of its items also skips the scan
 * of those bytes (dw_bodies_continued, dw_bodies_resume_at): they were scanned when it was kept.
 *
 * Budget: the bytes of the bodies plus 48 per item and 32 per member; least recently used out, and a body unused for
 * ttl is dropped by dw_bodies_sweep. A kept body is immutable, until its only picker takes it over
 * (dw_bodies_take). Entries are reference counted: a worker thread may read the ones picked for it
 * (dw_bodies_reuse) while the loop evicts them. Every other call: the loop thread only.
 */
#ifndef DW_STATE_BODIES_H
#define DW_STATE_BODIES_H

#include <stddef.h>
#include <stdint.h>

#include "translate/digest.h"
#include "translate/json_scan.h"
#include "translate/request.h"

typedef struct dw_bodies dw_bodies_t;
typedef struct dw_body dw_body_t;

struct dw_body {
    /* read-only */
    char *p;                   /* the body (owned) */
    size_t n;
    dw_member_t *members;      /* its top-level members, spans into p (owned array) */
    size_t nmembers;
    dw_span_t *items;          /* the input items, spans into p (owned array) */
    dw_digest_t *keys;         /* keys[i]: item i's item-cache key (owned array) */
    size_t nitems;
    /* private */
    dw_digest_t cred;
    uint64_t used_ms;
    unsigned refs;             /* the store's (while listed) and each picker's */
    int listed;
    int lent;                  /* p is its taker's (dw_bodies_take): not freed with the entry */
    dw_body_t *prev, *next;    /* most recently used first */
    dw_body_t *cprev, *cnext;  /* the same, among the bodies of its credentials */
};

/* budget: bytes (0 keeps nothing); ttl_ms: an unused body's life. NULL without memory. */
dw_bodies_t *dw_bodies_new(size_t budget, uint64_t ttl_ms);
/* Frees the store; bodies still referenced by pickers are freed by their last dw_bodies_unref. */
void dw_bodies_free(dw_bodies_t *b);

/* Up to max bodies kept for cred, most recently used first, each with a reference the caller gives
 * back with dw_bodies_unref. Returns how many. */
size_t dw_bodies_pick(dw_bodies_t *b, const dw_digest_t *cred, dw_body_t **out, size_t max);
/* Gives back a reference; the body is freed with its last one. Loop thread only. */
void dw_bodies_unref(dw_body_t *e);

/* Keeps body p[0..n) with its top-level members and items (rq: what dw_request_parse read from p,
 * borrowed; the arrays are copied) and the items' keys (keys[i]: item i's), for cred, as the most
 * recently used; on success takes p and keys (malloc'd) and returns the entry with a reference for
 * the caller (dw_bodies_unref). `replaces`: a kept body this one makes useless (every item of it
 * recurs here), dropped now; may be NULL. Returns NULL, taking nothing, when the body alone is over
 * the budget or memory ran out. Evicts least recently used bodies to stay within the budget. */
dw_body_t *dw_bodies_put(dw_bodies_t *b, const dw_digest_t *cred, char *p, size_t n, const dw_request_t *rq,
                         dw_digest_t *keys, dw_body_t *replaces, uint64_t now_ms);

/* 1 when no one but the store and one picker (the caller) holds e: dw_bodies_take would take it. */
int dw_bodies_takeable(const dw_body_t *e);

/* Takes kept body e's buffer over for a new body of n bytes whose first `same` bytes are e's (the
 * caller compared them), past e's last item (dw_json_ends_within), when no one but the store and
 * the caller (one reference, from dw_bodies_pick) holds e: e leaves the store (its cost leaves the
 * budget; picks no longer find it) and its buffer, grown or shrunk to n bytes by realloc (moved or
 * not: glibc remaps an mmapped buffer, and grows a heap one in place where it can), is returned: the caller's from then on, to
 * write bytes [same, n) into, and to keep (dw_bodies_put) or free. e stays the caller's reference
 * (dw_bodies_unref frees it, not the buffer) and stays readable, as the body of its first `same`
 * bytes, for dw_bodies_resume_at and dw_bodies_reuse while the buffer lives: p is the buffer
 * (borrowed), n is same, its items and keys are as they were, its members those whose value starts
 * within `same`, cut there (the later ones' bytes are the new body's). Returns NULL, changing
 * nothing, when someone else holds e, an item of e ends past `same`, same > n, or memory ran out.
 * Saves copying e's bytes into a fresh buffer for the body that replaces it (issue 16). */
char *dw_bodies_take(dw_bodies_t *b, dw_body_t *e, size_t same, size_t n);

/* Drops the bodies unused for longer than ttl. */
void dw_bodies_sweep(dw_bodies_t *b, uint64_t now_ms);

/* Bodies and bytes (as budgeted) kept now; b may be NULL (none). */
void dw_bodies_counts(const dw_bodies_t *b, size_t *bodies, size_t *bytes);
/* Bytes the per-key index holds allocated (outside the budget); b may be NULL. */
size_t dw_bodies_index_bytes(const dw_bodies_t *b);

/* The calls below are pure (any thread; they read the picked bodies only). */

/* Length of the common prefix of a[0..n) and b[0..n). */
size_t dw_bodies_common_prefix(const char *a, const char *b, size_t n);

/* The first of cand[from..nc) whose last item recurs, byte for byte, at its offset in new body
 * p[0..n): the candidates dw_bodies_continued considers, in its order. Returns its index, or nc.
 * Work: each candidate's last item. */
size_t dw_bodies_recurring(dw_body_t *const *cand, size_t nc, size_t from, const char *p, size_t n);

/* The kept body of cand[0..nc) that new body p[0..n) continues from its first byte: of those whose last
 * item recurs at its offset in p, the first that p shares every item of, else the one p shares the
 * most bytes with from the start. *same: those bytes (0 when none). Returns it, or NULL. Work: each
 * candidate's last item, and the shared bytes of those whose last item recurs. */
dw_body_t *dw_bodies_continued(dw_body_t *const *cand, size_t nc, const char *p, size_t n, size_t *same);

/* Where the scan of a body that shares its first `same` bytes with c may resume (json_scan.h): past
 * the last item of c that ends within them (an object, array or string: its last byte ends it; a
 * number or literal: the byte after it, which must be shared too). *at borrows c. Returns 0, or -1
 * when no item does. */
int dw_bodies_resume_at(const dw_body_t *c, size_t same, dw_json_resume_t *at);

/* For the items of a new body (spans into it, in order), copies keys[i] from one candidate and sets
 * have[i] = 1 for every item i equal to that candidate's item i byte for byte, as described above.
 * The candidate is `known` when not NULL (dw_bodies_continued's, which shares known_same bytes with
 * the new body from the start: not compared again), else the first of cand[0..nc) whose last item
 * recurs at its offset from the first item (a continuation), else cand[0]; *chosen: it (NULL when
 * none). *replaces: it when every item of it recurs, else NULL. Returns the items keyed. */
size_t dw_bodies_reuse(dw_body_t *const *cand, size_t nc, dw_body_t *known, size_t known_same,
                       const dw_spans_t *items, dw_digest_t *keys, uint8_t *have, dw_body_t **chosen,
                       dw_body_t **replaces);

/* A kept body was compared with (loop thread): most recently used now. */
void dw_bodies_touch(dw_bodies_t *b, dw_body_t *e, uint64_t now_ms);

#endif
