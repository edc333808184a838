#include "state/bodies.h"

#include <stdlib.h>
#include <string.h>

/* Budgeted bytes per item: its span and its key. */
#define DW_BODIES_ITEM_BYTES (sizeof(dw_span_t) + sizeof(dw_digest_t))

struct dw_bodies {
    size_t budget, bytes, count;
    uint64_t ttl_ms;
    dw_body_t *head, *tail; /* most recently used first */
};

static size_t cost(const dw_body_t *e)
{
    return e->n + e->nitems * DW_BODIES_ITEM_BYTES;
}

dw_bodies_t *dw_bodies_new(size_t budget, uint64_t ttl_ms)
{
    dw_bodies_t *b = calloc(1, sizeof(*b));
    if (b != NULL) {
        b->budget = budget;
        b->ttl_ms = ttl_ms;
    }
    return b;
}

void dw_bodies_unref(dw_body_t *e)
{
    if (--e->refs > 0)
        return;
    free(e->p);
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

/* Out of the store; freed once no picker holds it. */
static void drop(dw_bodies_t *b, dw_body_t *e)
{
    unlink_body(b, e);
    e->listed = 0;
    b->bytes -= cost(e);
    b->count--;
    dw_bodies_unref(e);
}

void dw_bodies_free(dw_bodies_t *b)
{
    if (b == NULL)
        return;
    while (b->head != NULL)
        drop(b, b->head);
    free(b);
}

size_t dw_bodies_pick(dw_bodies_t *b, const dw_digest_t *cred, dw_body_t **out, size_t max)
{
    size_t k = 0;
    for (dw_body_t *e = b->head; e != NULL && k < max; e = e->next)
        if (dw_digest_eq(&e->cred, cred)) {
            e->refs++;
            out[k++] = e;
        }
    return k;
}

dw_body_t *dw_bodies_put(dw_bodies_t *b, const dw_digest_t *cred, char *p, size_t n, dw_span_t *items,
                         dw_digest_t *keys, size_t nitems, dw_body_t *replaces, uint64_t now_ms)
{
    dw_body_t *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return NULL;
    *e = (dw_body_t){.p = p, .n = n, .items = items, .keys = keys, .nitems = nitems, .cred = *cred,
                     .used_ms = now_ms, .refs = 2, .listed = 1};
    if (cost(e) > b->budget) {
        free(e);
        return NULL;
    }
    if (replaces != NULL && replaces->listed)
        drop(b, replaces);
    while (b->tail != NULL && b->bytes + cost(e) > b->budget)
        drop(b, b->tail);
    push_front(b, e);
    b->bytes += cost(e);
    b->count++;
    return e;
}

void dw_bodies_touch(dw_bodies_t *b, dw_body_t *e, uint64_t now_ms)
{
    if (!e->listed)
        return;
    e->used_ms = now_ms;
    unlink_body(b, e);
    push_front(b, e);
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

/* Length of the common prefix of a[0..n) and b[0..n): memcmp by blocks, then bytes. */
static size_t common_prefix(const char *a, const char *b, size_t n)
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

size_t dw_bodies_reuse(dw_body_t *const *cand, size_t nc, const dw_spans_t *items, dw_digest_t *keys,
                       uint8_t *have, dw_body_t **chosen, dw_body_t **replaces)
{
    *chosen = *replaces = NULL;
    if (nc == 0 || items->n == 0)
        return 0;
    dw_span_t run = run_of(items->v, items->n);
    dw_body_t *c = cand[0];
    for (size_t j = 0; j < nc; j++)
        if (continues(cand[j], run)) {
            c = cand[j];
            break;
        }
    *chosen = c;
    if (c->nitems == 0)
        return 0;
    dw_span_t old = run_of(c->items, c->nitems);
    size_t same = common_prefix(run.p, old.p, run.n < old.n ? run.n : old.n);
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
