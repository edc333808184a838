#include "state/bodies.h"

#include <stdlib.h>
#include <string.h>

#include "state/dmap.h"

/* Budgeted bytes per item: its span and its key. */
#define DW_BODIES_ITEM_BYTES (sizeof(dw_span_t) + sizeof(dw_digest_t))

struct dw_bodies {
    size_t budget, bytes, count;
    uint64_t ttl_ms;
    dw_body_t *head, *tail; /* most recently used first */
    /* credential digest -> (dw_body_t *) its most recently used body: a pick walks that key's bodies
     * only, however many other keys a shared deployment holds. Never full (entries grow on demand;
     * a key's entry goes with its last body). */
    dw_dmap_t *by_cred;
};

static size_t cost(const dw_body_t *e)
{
    return e->n + e->nitems * DW_BODIES_ITEM_BYTES + e->nmembers * sizeof(dw_member_t);
}

dw_bodies_t *dw_bodies_new(size_t budget, uint64_t ttl_ms)
{
    dw_bodies_t *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return NULL;
    b->budget = budget;
    b->ttl_ms = ttl_ms;
    if ((b->by_cred = dw_dmap_new(sizeof(dw_body_t *), (size_t)1 << 31, NULL, NULL)) == NULL) {
        free(b);
        return NULL;
    }
    return b;
}

void dw_bodies_unref(dw_body_t *e)
{
    if (--e->refs > 0)
        return;
    if (!e->lent)
        free(e->p);
    free(e->members);
    free(e->items);
    free(e->keys);
    free(e);
}

static void unlink_body(dw_bodies_t *b, dw_body_t *e)
{
    *(e->prev ? &e->prev->next : &b->head) = e->next;
    *(e->next ? &e->next->prev : &b->tail) = e->prev;
    e->prev = e->next = NULL;
}

static void push_front(dw_bodies_t *b, dw_body_t *e)
{
    e->prev = NULL;
    e->next = b->head;
    *(b->head ? &b->head->prev : &b->tail) = e;
    b->head = e;
}

/* Out of its key's list (the key's entry then points at the next one, or goes). */
static void cred_unlink(dw_bodies_t *b, dw_body_t *e)
{
    if (e->cprev != NULL) {
        e->cprev->cnext = e->cnext;
    } else if (e->cnext != NULL) {
        *(dw_body_t **)dw_dmap_get(b->by_cred, &e->cred) = e->cnext;
    } else {
        dw_dmap_del(b->by_cred, &e->cred);
    }
    if (e->cnext != NULL)
        e->cnext->cprev = e->cprev;
    e->cprev = e->cnext = NULL;
}

/* First in its key's list, whose entry is *first. */
static void cred_push(dw_body_t **first, dw_body_t *e)
{
    e->cprev = NULL;
    e->cnext = *first;
    if (*first != NULL)
        (*first)->cprev = e;
    *first = e;
}

/* Out of the store's lists and budget; the store's reference is the caller's to give back. */
static void delist(dw_bodies_t *b, dw_body_t *e)
{
    unlink_body(b, e);
    cred_unlink(b, e);
    e->listed = 0;
    b->bytes -= cost(e);
    b->count--;
}

/* Out of the store; freed once no picker holds it. */
static void drop(dw_bodies_t *b, dw_body_t *e)
{
    delist(b, e);
    dw_bodies_unref(e);
}

void dw_bodies_free(dw_bodies_t *b)
{
    if (b == NULL)
        return;
    while (b->head != NULL)
        drop(b, b->head);
    dw_dmap_free(b->by_cred);
    free(b);
}

size_t dw_bodies_pick(dw_bodies_t *b, const dw_digest_t *cred, dw_body_t **out, size_t max)
{
    size_t k = 0;
    dw_body_t **first = dw_dmap_get(b->by_cred, cred);
    for (dw_body_t *e = first != NULL ? *first : NULL; e != NULL && k < max; e = e->cnext) {
        e->refs++;
        out[k++] = e;
    }
    return k;
}

/* An entry put did not keep: its own arrays go, p and keys stay the caller's. */
static dw_body_t *discard(dw_body_t *e)
{
    free(e->members);
    free(e->items);
    free(e);
    return NULL;
}

dw_body_t *dw_bodies_put(dw_bodies_t *b, const dw_digest_t *cred, char *p, size_t n, const dw_request_t *rq,
                         dw_digest_t *keys, dw_body_t *replaces, uint64_t now_ms)
{
    dw_body_t *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return NULL;
    *e = (dw_body_t){.p = p, .n = n, .nmembers = rq->members.n, .keys = keys, .nitems = rq->items.n,
                     .cred = *cred, .used_ms = now_ms, .refs = 2, .listed = 1};
    if (cost(e) > b->budget)
        return discard(e);
    e->members = malloc(e->nmembers ? e->nmembers * sizeof(*e->members) : 1);
    e->items = malloc(e->nitems ? e->nitems * sizeof(*e->items) : 1);
    if (e->members == NULL || e->items == NULL)
        return discard(e);
    if (e->nmembers > 0)
        memcpy(e->members, rq->members.v, e->nmembers * sizeof(*e->members));
    if (e->nitems > 0)
        memcpy(e->items, rq->items.v, e->nitems * sizeof(*e->items));
    if (replaces != NULL && replaces->listed)
        drop(b, replaces);
    while (b->tail != NULL && b->bytes + cost(e) > b->budget)
        drop(b, b->tail);
    dw_body_t **first = dw_dmap_put(b->by_cred, cred); /* after the drops: they may move entries */
    if (first == NULL)
        return discard(e);
    cred_push(first, e);
    push_front(b, e);
    b->bytes += cost(e);
    b->count++;
    return e;
}

int dw_bodies_takeable(const dw_body_t *e)
{
    return !e->lent && e->refs == (e->listed ? 2u : 1u);
}

char *dw_bodies_take(dw_bodies_t *b, dw_body_t *e, size_t same, size_t n)
{
    if (!dw_bodies_takeable(e) || same > n || same > e->n || e->nitems == 0 ||
        !dw_json_ends_within(e->p, e->items[e->nitems - 1], same))
        return NULL;
    size_t nm = 0; /* members in document order: those whose value starts within the shared bytes */
    while (nm < e->nmembers && (size_t)(e->members[nm].value.p - e->p) < same)
        nm++;
    /* realloc may move the buffer: every span is rebased through its offset, taken before */
    size_t *off = malloc((e->nitems + 2 * nm) * sizeof(*off));
    if (off == NULL)
        return NULL;
    for (size_t i = 0; i < e->nitems; i++)
        off[i] = (size_t)(e->items[i].p - e->p);
    for (size_t i = 0; i < nm; i++) {
        off[e->nitems + 2 * i] = (size_t)(e->members[i].key.p - e->p);
        off[e->nitems + 2 * i + 1] = (size_t)(e->members[i].value.p - e->p);
    }
    char *p = realloc(e->p, n ? n : 1);
    if (p == NULL) {
        free(off);
        return NULL;
    }
    if (e->listed) {
        delist(b, e); /* its cost as it was listed */
        e->refs--;    /* the store's */
    }
    for (size_t i = 0; i < e->nitems; i++)
        e->items[i].p = p + off[i];
    for (size_t i = 0; i < nm; i++) {
        dw_member_t *m = &e->members[i];
        size_t v = off[e->nitems + 2 * i + 1];
        m->key.p = p + off[e->nitems + 2 * i];
        m->value.p = p + v;
        if (m->value.n > same - v)
            m->value.n = same - v;
    }
    free(off);
    e->p = p;
    e->n = same;
    e->nmembers = nm;
    e->lent = 1;
    return p;
}

void dw_bodies_touch(dw_bodies_t *b, dw_body_t *e, uint64_t now_ms)
{
    if (!e->listed)
        return;
    e->used_ms = now_ms;
    unlink_body(b, e);
    push_front(b, e);
    if (e->cprev != NULL) { /* listed: its key's entry exists, and stays while it is unlinked */
        cred_unlink(b, e);
        cred_push(dw_dmap_get(b->by_cred, &e->cred), e);
    }
}

void dw_bodies_sweep(dw_bodies_t *b, uint64_t now_ms)
{
    while (b->tail != NULL && now_ms - b->tail->used_ms > b->ttl_ms)
        drop(b, b->tail);
}

void dw_bodies_counts(const dw_bodies_t *b, size_t *bodies, size_t *bytes)
{
    *bodies = b != NULL ? b->count : 0;
    *bytes = b != NULL ? b->bytes : 0;
}

size_t dw_bodies_index_bytes(const dw_bodies_t *b)
{
    return b != NULL ? dw_dmap_bytes(b->by_cred) : 0;
}

/* memcmp by blocks, then bytes */
size_t dw_bodies_common_prefix(const char *a, const char *b, size_t n)
{
    enum { BLOCK = 4096 };
    size_t i = 0;
    while (i + BLOCK <= n && memcmp(a + i, b + i, BLOCK) == 0)
        i += BLOCK;
    while (i < n && a[i] == b[i])
        i++;
    return i;
}

/* The bytes from items' first item to the end of its last, as a span. */
static dw_span_t run_of(const dw_span_t *v, size_t n)
{
    return (dw_span_t){v[0].p, (size_t)(v[n - 1].p + v[n - 1].n - v[0].p)};
}

/* Candidate c's last item recurs, byte for byte, at its offset in the new run. */
static int continues(const dw_body_t *c, dw_span_t run)
{
    if (c->nitems == 0)
        return 0;
    dw_span_t last = c->items[c->nitems - 1];
    size_t off = (size_t)(last.p - c->items[0].p);
    return off + last.n <= run.n && memcmp(run.p + off, last.p, last.n) == 0;
}

size_t dw_bodies_recurring(dw_body_t *const *cand, size_t nc, size_t from, const char *p, size_t n)
{
    for (size_t j = from; j < nc; j++) {
        const dw_body_t *c = cand[j];
        if (c->nitems == 0)
            continue;
        dw_span_t last = c->items[c->nitems - 1];
        size_t off = (size_t)(last.p - c->p);
        if (off + last.n <= n && memcmp(p + off, last.p, last.n) == 0)
            return j;
    }
    return nc;
}

dw_body_t *dw_bodies_continued(dw_body_t *const *cand, size_t nc, const char *p, size_t n, size_t *same)
{
    dw_body_t *best = NULL;
    *same = 0;
    for (size_t j = dw_bodies_recurring(cand, nc, 0, p, n); j < nc; j = dw_bodies_recurring(cand, nc, j + 1, p, n)) {
        const dw_body_t *c = cand[j];
        dw_span_t last = c->items[c->nitems - 1];
        size_t off = (size_t)(last.p - c->p);
        size_t s = dw_bodies_common_prefix(p, c->p, n < c->n ? n : c->n);
        if (s > *same || best == NULL) {
            best = cand[j];
            *same = s;
        }
        if (s >= off + last.n)
            break; /* every item of it recurs: none continues further */
    }
    return best;
}

int dw_bodies_resume_at(const dw_body_t *c, size_t same, dw_json_resume_t *at)
{
    /* the items lie in order: the last one that ends within the shared bytes */
    size_t lo = 0, hi = c->nitems; /* items [0, lo) qualify, [hi, nitems) do not */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (dw_json_ends_within(c->p, c->items[mid], same))
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return -1;
    dw_members_t members = {c->members, c->nmembers, c->nmembers};
    dw_spans_t items = {c->items, c->nitems, c->nitems};
    return dw_json_resume_at(c->p, &members, &items, "input", lo - 1, at);
}

size_t dw_bodies_reuse(dw_body_t *const *cand, size_t nc, dw_body_t *known, size_t known_same,
                       const dw_spans_t *items, dw_digest_t *keys, uint8_t *have, dw_body_t **chosen,
                       dw_body_t **replaces)
{
    *chosen = *replaces = NULL;
    if ((nc == 0 && known == NULL) || items->n == 0)
        return 0;
    dw_span_t run = run_of(items->v, items->n);
    dw_body_t *c = known != NULL ? known : cand[0];
    for (size_t j = 0; known == NULL && j < nc; j++)
        if (continues(cand[j], run)) {
            c = cand[j];
            break;
        }
    *chosen = c;
    if (c->nitems == 0)
        return 0;
    dw_span_t old = run_of(c->items, c->nitems);
    size_t limit = run.n < old.n ? run.n : old.n, same;
    size_t first = (size_t)(old.p - c->p);
    if (known != NULL && known_same >= first + c->items[0].n) {
        /* the first items lie at one offset in both bodies (the bytes before them and after are
         * the same), so the bytes shared from the start, less that offset, are shared from there */
        same = known_same - first < limit ? known_same - first : limit;
    } else {
        same = dw_bodies_common_prefix(run.p, old.p, limit);
    }
    size_t keyed = 0, n = items->n < c->nitems ? items->n : c->nitems;
    for (size_t i = 0; i < n; i++) {
        size_t off = (size_t)(items->v[i].p - run.p);
        if (off + items->v[i].n > same)
            break; /* every later item starts further on */
        if (off == (size_t)(c->items[i].p - old.p) && items->v[i].n == c->items[i].n) {
            keys[i] = c->keys[i];
            have[i] = 1;
            keyed++;
        }
    }
    if (keyed == c->nitems)
        *replaces = c;
    return keyed;
}
