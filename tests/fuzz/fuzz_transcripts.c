/*
 * The transcript index (state/transcripts.c, chain.c, dmap.c) driven by an
 * operation tape, with four credentials, the way proxy/plan.c and
 * proxy/record.c use it: record turns (client items resolved at their
 * chain positions, then the server's output items chained with their echo
 * aliases, stored or not), match requests, resolve items, forget records.
 * Small tables so that eviction happens.
 *
 * Invariants (isolation first):
 *  - a match under credential c only ever returns a record made under c
 *    (response ids name the credential that recorded them);
 *  - resolve under c at a link returns the item's own identity, or that of
 *    a server item recorded at that very link under c, of which the item
 *    is an echo (same core, optional fields within: dw_canon_within), or
 *    which it names by id when the response was stored;
 *  - right after recording, the client's next request matches that record
 *    in full under c and under no other credential, whether it echoes the
 *    output items as they were, without their optional fields (issue 11:
 *    an echo may omit what the server set), or, when stored, as
 *    item_references;
 *  - the item cache answers what dw_canon_item answers.
 *
 * Input: byte 0 = L, then L bytes of operations, then a pool of items
 * separated by '\n' (invalid JSON is fine: such items cannot be diffed).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "state/chain.h"
#include "state/transcripts.h"
#include "translate/canon.h"

#define NCRED 4
#define MAX_POOL 64
#define MAX_SEQ 16
#define MAX_OUT 4
#define MAX_ALIASES 1024

#define FUZZ_NAME "fuzz_transcripts"
#include "fuzz_check.h"

typedef struct {
    const char *p;
    size_t n;
    int canon_rc; /* what dw_canon_item says of the item, computed once: -2 until then */
    dw_form_t form;
} item_t;

/* A server item recorded at a link under a credential, as the index may hold it. */
typedef struct {
    int cred;
    dw_digest_t link, core; /* the alias key's parts */
    dw_form_t server;
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

static void note_alias(tape_t *t, int cred, const dw_digest_t *link, const dw_digest_t *core, const dw_form_t *server)
{
    if (t->naliases < MAX_ALIASES)
        t->aliases[t->naliases++] = (alias_t){cred, *link, *core, *server};
}

/* 1 if identity is one resolve may give for item at link under cred. */
static int resolution_known(const tape_t *t, int cred, const dw_digest_t *link, const dw_form_t *item,
                            const dw_digest_t *identity)
{
    if (dw_digest_eq(identity, &item->digest))
        return 1;
    for (size_t i = 0; i < t->naliases; i++) {
        const alias_t *a = &t->aliases[i];
        if (a->cred == cred && dw_digest_eq(&a->link, link) && dw_digest_eq(&a->core, &item->core) &&
            dw_digest_eq(&a->server.digest, identity) && dw_canon_within(item, &a->server))
            return 1;
    }
    return t->naliases == MAX_ALIASES; /* the shadow is full: cannot tell */
}

static int same_form(const dw_form_t *a, const dw_form_t *b)
{
    return dw_digest_eq(&a->digest, &b->digest) && dw_digest_eq(&a->core, &b->core) && a->n_opt == b->n_opt &&
           a->opt_overflow == b->opt_overflow && a->strip == b->strip && a->is_reference == b->is_reference &&
           memcmp(a->opt, b->opt, sizeof a->opt) == 0;
}

/* The item cache must agree with canon, and never return a form for what canon refuses. */
static int client_form(dw_transcripts_t *x, const char *p, size_t n, item_t *memo, dw_form_t *out)
{
    item_t local = {p, n, -2, {0}};
    item_t *it = memo != NULL ? memo : &local;
    if (it->canon_rc == -2) {
        dw_canon_t c;
        it->canon_rc = dw_canon_item(it->p, it->n, &c);
        it->form = c.form;
        dw_canon_clear(&c);
    }
    int rc = dw_transcripts_item(x, it->p, it->n, out);
    CHECK(rc == it->canon_rc, "item cache says %d, canon %d", rc, it->canon_rc);
    if (rc == 0) {
        dw_digest_t d;
        CHECK(same_form(out, &it->form), "item cache disagrees with canon");
        CHECK(dw_transcripts_item_digest(x, it->p, it->n, &d) == 0 && dw_digest_eq(&d, &out->digest),
              "item_digest disagrees with item");
    }
    return rc;
}

/* Links of a client request under cred, as proxy/plan.c computes them. Returns the count, or -1. */
static int client_links(tape_t *t, dw_transcripts_t *x, int cred, const dw_span_t *items, item_t *const *memo,
                        size_t n, dw_digest_t *links)
{
    dw_digest_t link;
    dw_chain_seed(&link, &t->creds[cred]);
    for (size_t i = 0; i < n; i++) {
        dw_form_t f;
        dw_digest_t r;
        if (client_form(x, items[i].p, items[i].n, memo ? memo[i] : NULL, &f) != 0)
            return -1;
        dw_transcripts_resolve(x, &link, &f, &r);
        CHECK(resolution_known(t, cred, &link, &f, &r),
              "resolved to an item not recorded at this position under credential %d", cred);
        dw_chain_next(&link, &r);
        links[i] = link;
    }
    return (int)n;
}

static int cred_of(const char *id)
{
    return id[1] - '0'; /* "r<cred>-<seq>" */
}

static size_t read_seq(tape_t *t, dw_span_t *items, item_t **memo, size_t max)
{
    size_t n = next(t) % (max + 1);
    for (size_t i = 0; i < n; i++) {
        item_t *it = &t->pool[next(t) % t->npool];
        items[i] = (dw_span_t){it->p, it->n};
        memo[i] = it;
    }
    return n;
}

/* want_id: the record just made under cred, or NULL: then only isolation is checked. */
static void op_match(tape_t *t, dw_transcripts_t *x, int cred, const dw_span_t *items, item_t *const *memo,
                     size_t n, const char *want_id)
{
    dw_digest_t links[MAX_SEQ + MAX_OUT];
    dw_match_t m;
    if (client_links(t, x, cred, items, memo, n, links) < 0) {
        CHECK(want_id == NULL, "the request of a turn just recorded cannot be diffed");
        return;
    }
    if (dw_transcripts_match(x, links, n, &m)) {
        CHECK(m.matched >= 1 && m.matched <= n && m.rec != NULL, "match shape");
        CHECK(cred_of(m.rec->id) == cred, "credential %d matched %s, recorded under another credential", cred,
              m.rec->id);
    } else {
        CHECK(m.matched == 0 && m.rec == NULL, "no-match shape");
    }
    if (want_id != NULL)
        CHECK(m.rec != NULL && m.matched == n && strcmp(m.rec->id, want_id) == 0,
              "a conversation just recorded under credential %d does not match (%s)", cred, want_id);
}

/* The item without its optional top-level members (those whose removal keeps the core), or NULL. */
static char *without_optional(const char *p, size_t n, const dw_form_t *form)
{
    json_t *j = json_loadb(p, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    const char *key;
    json_t *v;
    void *iter;
    json_object_foreach_safe(j, iter, key, v) {
        (void)v;
        if (strcmp(key, "type") == 0)
            continue; /* rule 3 may turn its absence into the same type */
        json_t *c = json_deep_copy(j);
        json_object_del(c, key);
        char *text = json_dumps(c, JSON_COMPACT | JSON_ENCODE_ANY);
        dw_canon_t f;
        if (text != NULL && dw_canon_item(text, strlen(text), &f) == 0) {
            if (dw_digest_eq(&f.form.core, &form->core))
                json_object_del(j, key);
            dw_canon_clear(&f);
        }
        free(text);
        json_decref(c);
    }
    char *out = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(j);
    return out;
}

/* A turn: client items in, server output items out, recorded; then the client's next request
 * (the same items plus the outputs echoed in one of three ways) must match it under cred only. */
static void op_record(tape_t *t, dw_transcripts_t *x, int cred, unsigned op)
{
    dw_span_t items[MAX_SEQ + MAX_OUT];
    item_t *memo[MAX_SEQ + MAX_OUT];
    dw_digest_t links[MAX_SEQ + MAX_OUT];
    size_t n = read_seq(t, items, memo, MAX_SEQ - 1);
    size_t nout = next(t) % MAX_OUT;
    int stored = (op >> 2) & 1, echo = (op >> 6) % 3; /* op bits 0-1: the operation, 4-5: cred */
    for (size_t i = 0; i < nout; i++) {
        item_t *it = &t->pool[next(t) % t->npool];
        items[n + i] = (dw_span_t){it->p, it->n};
        memo[n + i] = it;
    }
    if (client_links(t, x, cred, items, memo, n, links) < 0)
        return;

    dw_digest_t link, shadow;
    dw_chain_seed(&link, &t->creds[cred]);
    if (n > 0)
        link = links[n - 1];
    shadow = link;
    int outputs_ok = 1;
    for (size_t i = n; i < n + nout && outputs_ok; i++) {
        dw_canon_t c;
        if (dw_canon_item(items[i].p, items[i].n, &c) != 0) {
            outputs_ok = 0;
            break;
        }
        note_alias(t, cred, &shadow, &c.form.core, &c.form);
        if (stored && c.id != NULL && !c.form.is_reference) {
            dw_form_t named = c.form;
            named.n_opt = 0;
            named.opt_overflow = 0;
            dw_canon_ref_core(c.id, &named.core);
            note_alias(t, cred, &shadow, &named.core, &named);
        }
        dw_chain_next(&shadow, &c.form.digest);
        dw_canon_clear(&c);
    }
    int rc = dw_transcripts_output_chain(x, &link, items + n, nout, stored);
    CHECK(rc == (outputs_ok ? 0 : -1), "output_chain says %d", rc);
    if (rc != 0 || n + nout == 0)
        return;
    CHECK(dw_digest_eq(&link, &shadow), "output_chain's link differs from the chain of the output identities");
    char id[32];
    snprintf(id, sizeof id, "r%d-%lu", cred, t->seq++);
    CHECK(dw_transcripts_record(x, &link, id, t->seq, stored) != NULL, "record");

    /* the echoes of the output items, as the client sends them back */
    char *texts[MAX_OUT] = {0};
    item_t *echo_memo[MAX_SEQ + MAX_OUT];
    memcpy(echo_memo, memo, n * sizeof *memo);
    for (size_t i = n; i < n + nout; i++) {
        dw_canon_t c;
        CHECK(dw_canon_item(items[i].p, items[i].n, &c) == 0, "canon");
        char *text = NULL;
        if (echo == 1 && !c.form.opt_overflow) {
            text = without_optional(items[i].p, items[i].n, &c.form);
        } else if (echo == 2 && stored && c.id != NULL && !c.form.is_reference) {
            json_t *ref = json_pack("{s:s, s:s}", "type", "item_reference", "id", c.id);
            text = json_dumps(ref, JSON_COMPACT);
            json_decref(ref);
        }
        dw_canon_clear(&c);
        if (text != NULL) {
            texts[i - n] = text;
            items[i] = (dw_span_t){text, strlen(text)};
        }
        echo_memo[i] = texts[i - n] ? NULL : memo[i];
    }
    op_match(t, x, cred, items, echo_memo, n + nout, id);
    for (int other = 0; other < NCRED; other++)
        if (other != cred)
            op_match(t, x, other, items, echo_memo, n + nout, NULL);
    for (size_t i = 0; i < MAX_OUT; i++)
        free(texts[i]);
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
        t.pool[t.npool++] = (item_t){p, (size_t)(stop - p), -2, {0}};
        if (nl == NULL)
            break;
        p = nl + 1;
    }

    /* aliases: up to two per output item, so a turn's (at most 2 * (MAX_OUT - 1)) all fit */
    dw_transcripts_t *x = dw_transcripts_new(8, 16, 16);
    CHECK(x != NULL, "new");
    while (t.ops < t.end) {
        unsigned op = next(&t);
        int cred = (int)(op >> 4) % NCRED;
        dw_span_t items[MAX_SEQ];
        item_t *memo[MAX_SEQ];
        size_t n;
        switch (op % 4) {
        case 0:
            op_record(&t, x, cred, op);
            break;
        case 1:
            n = read_seq(&t, items, memo, MAX_SEQ - 1);
            op_match(&t, x, cred, items, memo, n, NULL);
            break;
        case 2: /* resolve a lone item at the start of a conversation */
            n = read_seq(&t, items, memo, 1);
            client_links(&t, x, cred, items, memo, n, (dw_digest_t[1]){{{0}}});
            break;
        default: { /* forget the record a sequence ends at */
            dw_digest_t links[MAX_SEQ];
            n = read_seq(&t, items, memo, MAX_SEQ - 1);
            if (n > 0 && client_links(&t, x, cred, items, memo, n, links) > 0)
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
