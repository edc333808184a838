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
 *    candidate known from the first byte and without it.
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
    dw_json_resume_t at;
    int rc = known != NULL && dw_bodies_resume_at(known, same, &at) == 0
                 ? dw_request_parse_from(&rq, b, bn, MAX_BODY, &at, same, &err)
                 : dw_request_parse(&rq, b, bn, MAX_BODY, &err);
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
    dw_request_free(&whole);
    dw_request_free(&rq);
    for (size_t i = 0; i < nc; i++)
        dw_bodies_unref(cand[i]);
    dw_bodies_free(store);
    free(b);
    return 0;
}
