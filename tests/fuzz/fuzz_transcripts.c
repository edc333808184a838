/*
 * The transcript index (state/transcripts.c, chain.c, dmap.c) driven by an
 * operation tape, with four credentials: record conversations (client
 * items, then server output items), look them up, register aliases,
 * resolve, forget. Small tables so that eviction happens.
 *
 * Invariants (isolation first):
 *  - a match under credential c only ever returns a record made under c
 *    (response ids name the credential that recorded them);
 *  - right after recording, the same items under the same credential match
 *    that record in full (client echo of the output items included);
 *  - resolve under c returns the item itself or an identity that some alias
 *    registered under c (explicitly or by an output item) maps it to;
 *  - the item cache answers what dw_canon_item answers.
 *
 * Input: byte 0 = L, then L bytes of operations, then a pool of items
 * separated by '\n' (invalid JSON is fine: such items cannot be diffed).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "state/chain.h"
#include "state/transcripts.h"
#include "translate/canon.h"

#define NCRED 4
#define MAX_POOL 64
#define MAX_SEQ 16
#define MAX_ALIASES 1024

#define CHECK(cond, ...)                                                                                   \
    do {                                                                                               \
        if (!(cond)) {                                                                                 \
            fprintf(stderr, "fuzz_transcripts: %s: ", #cond);                                        \
            fprintf(stderr, __VA_ARGS__);                                                              \
            fputc('\n', stderr);                                                                       \
            abort();                                                                                   \
        }                                                                                              \
    } while (0)

typedef struct {
    const char *p;
    size_t n;
    int canon_rc; /* what dw_canon_item says of the item, computed once: -2 until then */
    dw_digest_t digest;
    int strip;
} item_t;

typedef struct {
    int cred;
    dw_digest_t from, to;
} alias_t;

typedef struct {
    const uint8_t *ops, *end;
    item_t pool[MAX_POOL];
    size_t npool;
    dw_digest_t creds[NCRED];
    alias_t aliases[MAX_ALIASES]; /* everything ever registered (a superset of what the index holds) */
    size_t naliases;
    unsigned long seq;
} tape_t;

static unsigned next(tape_t *t)
{
    return t->ops < t->end ? *t->ops++ : 0;
}

static void note_alias(tape_t *t, int cred, const dw_digest_t *from, const dw_digest_t *to)
{
    if (t->naliases < MAX_ALIASES)
        t->aliases[t->naliases++] = (alias_t){cred, *from, *to};
}

static int alias_known(const tape_t *t, int cred, const dw_digest_t *from, const dw_digest_t *to)
{
    for (size_t i = 0; i < t->naliases; i++)
        if (t->aliases[i].cred == cred && dw_digest_eq(&t->aliases[i].from, from) && dw_digest_eq(&t->aliases[i].to, to))
            return 1;
    return t->naliases == MAX_ALIASES; /* the shadow is full: cannot tell */
}

/* The item cache must agree with canon, and never return a digest for what canon refuses. */
static int client_digest(dw_transcripts_t *x, item_t *it, dw_digest_t *out)
{
    int strip;
    if (it->canon_rc == -2) {
        dw_canon_t c;
        it->canon_rc = dw_canon_item(it->p, it->n, &c);
        it->digest = c.digest;
        it->strip = c.strip;
        dw_canon_clear(&c);
    }
    int rc = dw_transcripts_item_digest(x, it->p, it->n, out, &strip);
    CHECK(rc == it->canon_rc, "item cache says %d, canon %d", rc, it->canon_rc);
    if (rc == 0)
        CHECK(dw_digest_eq(out, &it->digest) && strip == it->strip, "item cache disagrees with canon");
    return rc;
}

/* Links of a client request under cred: item digests, resolved, chained. Returns the count, or -1. */
static int client_links(tape_t *t, dw_transcripts_t *x, int cred, const size_t *idx, size_t n, dw_digest_t *links)
{
    dw_digest_t link;
    dw_chain_seed(&link, &t->creds[cred]);
    for (size_t i = 0; i < n; i++) {
        dw_digest_t d, r;
        if (client_digest(x, &t->pool[idx[i]], &d) != 0)
            return -1;
        r = d;
        dw_transcripts_resolve(x, &t->creds[cred], &r);
        CHECK(dw_digest_eq(&r, &d) || alias_known(t, cred, &d, &r), "resolved through an alias of another credential");
        dw_chain_next(&link, &r);
        links[i] = link;
    }
    return (int)n;
}

static int cred_of(const char *id)
{
    return id[1] - '0'; /* "r<cred>-<seq>" */
}

static void read_seq(tape_t *t, size_t *idx, size_t *n)
{
    *n = next(t) % MAX_SEQ;
    for (size_t i = 0; i < *n; i++)
        idx[i] = next(t) % t->npool;
}

/* want_id: the record just made at recorded_link under cred, or NULL. */
static void op_match(tape_t *t, dw_transcripts_t *x, int cred, const size_t *idx, size_t n,
                     const dw_digest_t *recorded_link, const char *want_id)
{
    dw_digest_t links[2 * MAX_SEQ];
    dw_match_t m;
    if (client_links(t, x, cred, idx, n, links) < 0)
        return;
    if (dw_transcripts_match(x, links, n, &m)) {
        CHECK(m.matched >= 1 && m.matched <= n && m.rec != NULL, "match shape");
        CHECK(cred_of(m.rec->id) == cred, "credential %d matched %s, recorded under another credential", cred,
              m.rec->id);
    } else {
        CHECK(m.matched == 0 && m.rec == NULL, "no-match shape");
    }
    /* an alias may map an echoed item elsewhere (as it would in the proxy): then the chains differ */
    if (want_id != NULL && dw_digest_eq(&links[n - 1], recorded_link)) {
        CHECK(m.rec != NULL && m.matched == n && strcmp(m.rec->id, want_id) == 0,
              "a conversation just recorded under credential %d does not match (%s)", cred, want_id);
    }
}

/* A turn: client items in, server output items out, recorded; then the client's next request
 * (the same items plus the outputs echoed) must match it under cred and under no other. */
static void op_record(tape_t *t, dw_transcripts_t *x, int cred)
{
    size_t idx[2 * MAX_SEQ], n, nout;
    dw_digest_t links[2 * MAX_SEQ];
    read_seq(t, idx, &n);
    nout = next(t) % 4;
    for (size_t i = 0; i < nout; i++)
        idx[n + i] = next(t) % t->npool;
    if (client_links(t, x, cred, idx, n, links) < 0)
        return;

    dw_digest_t link;
    dw_chain_seed(&link, &t->creds[cred]);
    if (n > 0)
        link = links[n - 1];
    for (size_t i = n; i < n + nout; i++) {
        const item_t *it = &t->pool[idx[i]];
        dw_digest_t identity;
        dw_canon_t c;
        if (dw_canon_item(it->p, it->n, &c) != 0) {
            CHECK(dw_transcripts_output_item(x, &t->creds[cred], it->p, it->n, &identity) == -1, "output item");
            return;
        }
        if (!dw_digest_eq(&c.proj_digest, &c.digest))
            note_alias(t, cred, &c.proj_digest, &c.digest);
        if (c.id != NULL) {
            dw_digest_t ref;
            dw_canon_ref_digest(c.id, &ref);
            note_alias(t, cred, &ref, &c.digest);
        }
        dw_canon_clear(&c);
        CHECK(dw_transcripts_output_item(x, &t->creds[cred], it->p, it->n, &identity) == 0, "output item");
        dw_chain_next(&link, &identity);
    }
    if (n + nout == 0)
        return;
    char id[32];
    snprintf(id, sizeof id, "r%d-%lu", cred, t->seq++);
    CHECK(dw_transcripts_record(x, &link, id, t->seq, 0) != NULL, "record");
    op_match(t, x, cred, idx, n + nout, &link, id);
    for (int other = 0; other < NCRED; other++)
        if (other != cred)
            op_match(t, x, other, idx, n + nout, NULL, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static tape_t t;
    if (size < 1)
        return 0;
    size_t nops = data[0] < size - 1 ? data[0] : size - 1;
    memset(&t, 0, sizeof t);
    t.ops = data + 1;
    t.end = data + 1 + nops;
    for (int c = 0; c < NCRED; c++) {
        char name[8] = {'c', 'r', 'e', 'd', (char)('0' + c)};
        dw_digest_bytes(&t.creds[c], name, 5);
    }
    const char *p = (const char *)t.end, *end = (const char *)data + size;
    while (p <= end && t.npool < MAX_POOL) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        t.pool[t.npool++] = (item_t){p, (size_t)(stop - p), -2, {{0}}, 0};
        if (nl == NULL)
            break;
        p = nl + 1;
    }

    dw_transcripts_t *x = dw_transcripts_new(8, 16, 16);
    CHECK(x != NULL, "new");
    while (t.ops < t.end) {
        unsigned op = next(&t);
        int cred = (int)(op >> 4) % NCRED;
        size_t idx[MAX_SEQ], n;
        switch (op % 5) {
        case 0:
            op_record(&t, x, cred);
            break;
        case 1:
            read_seq(&t, idx, &n);
            op_match(&t, x, cred, idx, n, NULL, NULL);
            break;
        case 2: { /* an alias as the proxy registers them: client digest -> identity, under cred */
            dw_digest_t a, b;
            item_t *from = &t.pool[next(&t) % t.npool], *to = &t.pool[next(&t) % t.npool];
            if (client_digest(x, from, &a) == 0 && client_digest(x, to, &b) == 0) {
                note_alias(&t, cred, &a, &b);
                CHECK(dw_transcripts_alias(x, &t.creds[cred], &a, &b) == 0, "alias");
            }
            break;
        }
        case 3: /* resolve alone */
            idx[0] = next(&t) % t.npool;
            client_links(&t, x, cred, idx, 1, (dw_digest_t[1]){{{0}}});
            break;
        default: { /* forget the record a sequence ends at */
            dw_digest_t links[MAX_SEQ];
            read_seq(&t, idx, &n);
            if (n > 0 && client_links(&t, x, cred, idx, n, links) > 0)
                dw_transcripts_forget(x, &links[n - 1]);
            break;
        }
        }
    }
    dw_transcripts_counts_t counts;
    dw_transcripts_counts(x, &counts);
    CHECK(counts.responses <= 8 && counts.items_cached <= 16 && counts.aliases <= 16, "bounds exceeded");
    dw_transcripts_free(x);
    return 0;
}
