/*
 * A body read the way proxy/offload.c reads it, after an earlier body of the same credentials was
 * kept (state/bodies.c): the scan resumed from the kept body it continues (dw_bodies_continued,
 * dw_bodies_resume_at, dw_request_parse_from), the item keys copied where the bytes are the same
 * (dw_bodies_reuse).
 *
 * Invariants (fidelity: the model sees the client's items):
 *  - the resumed read gives what dw_request_parse gives: the same result, status and message (the
 *    message carries the byte offset of a JSON error), the same members and items;
 *  - the bytes said to be shared are shared, and the first byte after them differs;
 *  - every key copied from the kept body is the SHA-256 of the new item's own bytes, with the
 *    candidate known from the first byte and without it;
 *  - when the new body shares every item of the kept one from its first byte, offload.c takes the
 *    kept body's buffer over (dw_bodies_take: grown or shrunk, moved or not) and copies the rest
 *    in: the candidate offload.c compares (the first whose last item recurs) is the one
 *    dw_bodies_continued finds, with the same shared bytes; the body read in the taken buffer, the
 *    scan resumed from the taken body, is what dw_request_parse reads in a plain copy, resumed at
 *    the same offset; its keys are its items' own, and when it is a valid keyable request every
 *    item of the kept body recurs (it replaces the body it took: nothing is lost).
 *
 * Input: A, then optionally a NUL byte, two bytes c, and a tail T. A is kept (when it is a request
 * that can be); the new body is A's first (c mod (|A| + 1)) bytes followed by T, or A itself when
 * there is no NUL.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "state/bodies.h"
#include "state/transcripts.h"
#include "translate/request.h"

#define MAX_BODY (1 << 20)

#define FUZZ_NAME "fuzz_bodies"
#include "fuzz_check.h"

static const dw_digest_t cred = {{7}};

/* Keeps p[0..n) as offload.c keeps a body whose items were all keyed; 1 when kept. */
static int keep(dw_bodies_t *b, const char *p, size_t n)
{
    char *copy = malloc(n ? n : 1);
    CHECK(copy != NULL, "out of memory");
    memcpy(copy, p, n);
    dw_request_t rq;
    dw_request_err_t err;
    if (dw_request_parse(&rq, copy, n, MAX_BODY, &err) != 0 || rq.verbatim || rq.background || rq.items.n == 0) {
        dw_request_free(&rq);
        free(copy);
        return 0;
    }
    dw_digest_t *keys = malloc(rq.items.n * sizeof(*keys));
    CHECK(keys != NULL, "out of memory");
    for (size_t i = 0; i < rq.items.n; i++)
        dw_transcripts_item_key(rq.items.v[i].p, rq.items.v[i].n, &keys[i]);
    dw_body_t *e = dw_bodies_put(b, &cred, copy, n, &rq, keys, NULL, 0);
    size_t nitems = rq.items.n;
    dw_request_free(&rq);
    if (e == NULL) {
        free(copy);
        free(keys);
        return 0;
    }
    CHECK(e->nitems == nitems, "kept %zu of %zu items", e->nitems, nitems);
    dw_bodies_unref(e);
    return 1;
}

/* Keys the items of rq against the candidates and checks every copied key against the item. */
static void check_keys(dw_body_t *const *cand, size_t nc, dw_body_t *known, size_t same, const dw_request_t *rq)
{
    size_t n = rq->items.n ? rq->items.n : 1;
    dw_digest_t *keys = malloc(n * sizeof(*keys));
    uint8_t *have = calloc(n, 1);
    CHECK(keys != NULL && have != NULL, "out of memory");
    dw_body_t *chosen, *replaces;
    size_t keyed = dw_bodies_reuse(cand, nc, known, same, &rq->items, keys, have, &chosen, &replaces);
    size_t count = 0;
    for (size_t i = 0; i < rq->items.n; i++) {
        if (!have[i])
            continue;
        dw_digest_t d;
        dw_transcripts_item_key(rq->items.v[i].p, rq->items.v[i].n, &d);
        CHECK(dw_digest_eq(&d, &keys[i]), "item %zu got a key that is not its own (known %d)", i, known != NULL);
        count++;
    }
    CHECK(keyed == count, "%zu keyed, %zu marked", keyed, count);
    free(keys);
    free(have);
}

/* offload.c's take: kept body c's buffer taken over for new body b[0..bn), which shares its first
 * `same` bytes, and the rest copied in; then read as the worker reads it. Checks it against the
 * whole read of b (wrc, werr, whole) and the resumed offset of the read without a take. Returns the
 * buffer (the caller frees it after c's last reference). */
static char *taken_read(dw_bodies_t *store, dw_body_t *c, const char *b, size_t bn, size_t same, size_t resumed,
                        int wrc, const dw_request_err_t *werr, const dw_request_t *whole)
{
    size_t nitems = c->nitems;
    CHECK(dw_bodies_takeable(c), "the sole picker cannot take its body");
    char *p = dw_bodies_take(store, c, same, bn);
    if (p == NULL)
        return NULL; /* out of memory */
    size_t count, bytes;
    dw_bodies_counts(store, &count, &bytes);
    CHECK(count == 0 && bytes == 0, "a taken body is still counted: %zu, %zu bytes", count, bytes);
    memcpy(p + same, b + same, bn - same);
    dw_json_resume_t at;
    CHECK(dw_bodies_resume_at(c, same, &at) == 0, "no resume point in a taken body");
    CHECK(dw_json_resume_offset(&at) == resumed, "resumed at %zu after a take, %zu without", dw_json_resume_offset(&at),
          resumed);
    dw_request_t rq;
    dw_request_err_t err;
    int rc = dw_request_parse_from(&rq, p, bn, MAX_BODY, &at, same, &err);
    CHECK(rc == wrc, "taken %d, whole %d", rc, wrc);
    if (rc != 0) {
        CHECK(err.status == werr->status && strcmp(err.message, werr->message) == 0, "taken: %d %s; whole: %d %s",
              err.status, err.message, werr->status, werr->message);
    } else {
        CHECK(rq.items.n == whole->items.n && rq.members.n == whole->members.n, "taken: other counts");
        for (size_t i = 0; i < rq.items.n; i++)
            CHECK(rq.items.v[i].p - p == whole->items.v[i].p - b && rq.items.v[i].n == whole->items.v[i].n,
                  "taken: item %zu differs", i);
        for (size_t i = 0; i < rq.members.n; i++)
            CHECK(rq.members.v[i].key.p - p == whole->members.v[i].key.p - b &&
                      rq.members.v[i].key.n == whole->members.v[i].key.n &&
                      rq.members.v[i].value.p - p == whole->members.v[i].value.p - b &&
                      rq.members.v[i].value.n == whole->members.v[i].value.n,
                  "taken: member %zu differs", i);
        CHECK(rq.verbatim == whole->verbatim && rq.stream == whole->stream && rq.store == whole->store,
              "taken: fields differ");
        if (!rq.verbatim) {
            dw_body_t *cand[1] = {c};
            check_keys(cand, 1, c, same, &rq);
            size_t n = rq.items.n ? rq.items.n : 1;
            dw_digest_t *keys = malloc(n * sizeof(*keys));
            uint8_t *have = calloc(n, 1);
            CHECK(keys != NULL && have != NULL, "out of memory");
            dw_body_t *chosen, *replaces;
            size_t keyed = dw_bodies_reuse(cand, 1, c, same, &rq.items, keys, have, &chosen, &replaces);
            CHECK(keyed == nitems && replaces == c, "the body that took a buffer over keys %zu of its %zu items",
                  keyed, nitems);
            free(keys);
            free(have);
        }
    }
    dw_request_free(&rq);
    return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *a = (const char *)data;
    const char *nul = memchr(a, '\0', size);
    size_t an = nul != NULL ? (size_t)(nul - a) : size;
    size_t cut = an, tn = 0;
    const char *tail = NULL;
    if (nul != NULL && size - an >= 3) {
        cut = (((size_t)data[an + 1] << 8) | data[an + 2]) % (an + 1);
        tail = a + an + 3;
        tn = size - an - 3;
    }
    size_t bn = cut + tn;
    char *b = malloc(bn ? bn : 1);
    CHECK(b != NULL, "out of memory");
    memcpy(b, a, cut);
    if (tn)
        memcpy(b + cut, tail, tn);

    dw_bodies_t *store = dw_bodies_new(64u << 20, 1000);
    CHECK(store != NULL, "out of memory");
    keep(store, a, an);
    dw_body_t *cand[4];
    size_t nc = dw_bodies_pick(store, &cred, cand, 4);

    /* what offload.c compares on the loop, to take a buffer over: its first recurring candidate */
    size_t first = dw_bodies_recurring(cand, nc, 0, b, bn), taken_same = 0;
    dw_body_t *taker = NULL;
    if (first < nc) {
        dw_body_t *c = cand[first];
        taken_same = dw_bodies_common_prefix(b, c->p, bn < c->n ? bn : c->n);
        if (dw_json_ends_within(c->p, c->items[c->nitems - 1], taken_same))
            taker = c;
    }

    dw_request_t whole, rq;
    dw_request_err_t werr, err;
    int wrc = dw_request_parse(&whole, b, bn, MAX_BODY, &werr);
    size_t same = 0;
    dw_body_t *known = dw_bodies_continued(cand, nc, b, bn, &same);
    if (known != NULL) {
        size_t lim = bn < known->n ? bn : known->n;
        CHECK(same <= lim && memcmp(b, known->p, same) == 0 && (same == lim || b[same] != known->p[same]),
              "said to share %zu bytes", same);
    }
    if (taker != NULL)
        CHECK(known == taker && same == taken_same, "offload.c would take another body, or share other bytes");
    dw_json_resume_t at;
    size_t resumed = 0;
    int rc;
    if (known != NULL && dw_bodies_resume_at(known, same, &at) == 0) {
        rc = dw_request_parse_from(&rq, b, bn, MAX_BODY, &at, same, &err);
        resumed = dw_json_resume_offset(&at);
    } else {
        rc = dw_request_parse(&rq, b, bn, MAX_BODY, &err);
    }
    CHECK(rc == wrc, "resumed %d, whole %d", rc, wrc);
    if (rc != 0) {
        CHECK(err.status == werr.status && strcmp(err.message, werr.message) == 0, "resumed: %d %s; whole: %d %s",
              err.status, err.message, werr.status, werr.message);
    } else {
        CHECK(rq.items.n == whole.items.n && rq.members.n == whole.members.n, "resumed: %zu items %zu members, "
              "whole: %zu %zu", rq.items.n, rq.members.n, whole.items.n, whole.members.n);
        CHECK(rq.items.n == 0 || !memcmp(rq.items.v, whole.items.v, rq.items.n * sizeof(*rq.items.v)), "items differ");
        CHECK(rq.members.n == 0 || !memcmp(rq.members.v, whole.members.v, rq.members.n * sizeof(*rq.members.v)),
              "members differ");
        CHECK(rq.verbatim == whole.verbatim && rq.stream == whole.stream && rq.store == whole.store, "fields differ");
        if (!rq.verbatim) {
            check_keys(cand, nc, known, same, &rq);
            check_keys(cand, nc, NULL, 0, &rq);
        }
    }
    dw_request_free(&rq);
    char *buf = taker != NULL ? taken_read(store, taker, b, bn, same, resumed, wrc, &werr, &whole) : NULL;
    dw_request_free(&whole);
    for (size_t i = 0; i < nc; i++)
        dw_bodies_unref(cand[i]);
    free(buf); /* after the taken entry, which borrowed it */
    dw_bodies_free(store);
    free(b);
    return 0;
}
