/*
 * Bounded LRU map keyed by digests.
 *
 * Entries live densely in one array (a deleted entry's place is filled by
 * the last one), linked into an LRU list by index. The index is linear
 * probing over 8-byte slots holding the low 32 bits of the hash next to
 * entry index + 1 (0 = empty), so most probes never touch an entry, and
 * deletion shifts later slots back instead of leaving tombstones.
 */
#include <stdlib.h>
#include <string.h>
#include "state/dmap.h"

#define NIL UINT32_MAX

typedef struct {
    dw_digest_t key;
    uint32_t prev, next; /* LRU neighbours; head is the most recent */
} entry_t;               /* the value follows, at an 8-byte boundary */

struct dw_dmap {
    size_t vsize, esize;
    size_t max, count, ecap;
    unsigned char *entries;
    uint64_t *slots;
    size_t mask; /* slot count - 1; a power of two */
    uint32_t head, tail;
    dw_dmap_evict_cb on_evict;
    void *ud;
};

static uint32_t key_hash(const dw_digest_t *key)
{
    uint32_t h;
    memcpy(&h, key->b, sizeof h);
    return h;
}

static entry_t *entry(const dw_dmap_t *m, uint32_t e)
{
    return (entry_t *)(void *)(m->entries + (size_t)e * m->esize);
}

static void *value(const dw_dmap_t *m, uint32_t e)
{
    return (unsigned char *)entry(m, e) + sizeof(entry_t);
}

static uint32_t slot_entry(uint64_t s)
{
    return (uint32_t)s - 1;
}

static size_t slot_home(const dw_dmap_t *m, uint64_t s)
{
    return (size_t)(s >> 32) & m->mask;
}

/* ---- LRU list ----------------------------------------------------------- */

static void lru_unlink(dw_dmap_t *m, uint32_t e)
{
    entry_t *x = entry(m, e);
    if (x->prev != NIL)
        entry(m, x->prev)->next = x->next;
    else
        m->head = x->next;
    if (x->next != NIL)
        entry(m, x->next)->prev = x->prev;
    else
        m->tail = x->prev;
}

static void lru_push_front(dw_dmap_t *m, uint32_t e)
{
    entry_t *x = entry(m, e);
    x->prev = NIL;
    x->next = m->head;
    if (m->head != NIL)
        entry(m, m->head)->prev = e;
    else
        m->tail = e;
    m->head = e;
}

static void lru_touch(dw_dmap_t *m, uint32_t e)
{
    if (m->head != e) {
        lru_unlink(m, e);
        lru_push_front(m, e);
    }
}

/* ---- index -------------------------------------------------------------- */

/* The slot holding key, or SIZE_MAX. */
static size_t find_slot(const dw_dmap_t *m, const dw_digest_t *key)
{
    uint32_t h = key_hash(key);
    for (size_t i = h & m->mask;; i = (i + 1) & m->mask) {
        uint64_t s = m->slots[i];
        if (s == 0)
            return SIZE_MAX;
        if ((uint32_t)(s >> 32) == h && memcmp(entry(m, slot_entry(s))->key.b, key->b, sizeof key->b) == 0)
            return i;
    }
}

static void slot_insert(uint64_t *slots, size_t mask, uint32_t h, uint32_t e)
{
    size_t i = h & mask;
    while (slots[i] != 0)
        i = (i + 1) & mask;
    slots[i] = (uint64_t)h << 32 | (e + 1);
}

/* Empties slot i, shifting back later slots of the run that may move. */
static void slot_remove(dw_dmap_t *m, size_t i)
{
    size_t hole = i;
    for (size_t j = (i + 1) & m->mask; m->slots[j] != 0; j = (j + 1) & m->mask) {
        size_t home = slot_home(m, m->slots[j]);
        if (((j - home) & m->mask) >= ((j - hole) & m->mask)) {
            m->slots[hole] = m->slots[j];
            hole = j;
        }
    }
    m->slots[hole] = 0;
}

static int rehash(dw_dmap_t *m, size_t nslots)
{
    uint64_t *slots = calloc(nslots, sizeof *slots);
    if (slots == NULL)
        return -1;
    for (uint32_t e = 0; e < m->count; e++)
        slot_insert(slots, nslots - 1, key_hash(&entry(m, e)->key), e);
    free(m->slots);
    m->slots = slots;
    m->mask = nslots - 1;
    return 0;
}

/* ---- map ---------------------------------------------------------------- */

dw_dmap_t *dw_dmap_new(size_t value_size, size_t max_entries, dw_dmap_evict_cb on_evict, void *ud)
{
    if (max_entries == 0 || max_entries > (size_t)1 << 31)
        return NULL;
    dw_dmap_t *m = calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    m->vsize = value_size;
    m->esize = (sizeof(entry_t) + value_size + 7) & ~(size_t)7;
    m->max = max_entries;
    m->head = m->tail = NIL;
    m->on_evict = on_evict;
    m->ud = ud;
    if (rehash(m, 16) != 0) {
        free(m);
        return NULL;
    }
    return m;
}

void dw_dmap_free(dw_dmap_t *m)
{
    if (m == NULL)
        return;
    free(m->entries);
    free(m->slots);
    free(m);
}

void *dw_dmap_get(dw_dmap_t *m, const dw_digest_t *key)
{
    size_t i = find_slot(m, key);
    if (i == SIZE_MAX)
        return NULL;
    uint32_t e = slot_entry(m->slots[i]);
    lru_touch(m, e);
    return value(m, e);
}

/* Removes the entry in slot i; the last entry moves into its place. */
static void remove_at(dw_dmap_t *m, size_t i)
{
    uint32_t e = slot_entry(m->slots[i]);
    uint32_t last = (uint32_t)(m->count - 1);

    lru_unlink(m, e);
    slot_remove(m, i);
    if (e != last) {
        entry_t *x = entry(m, last);
        size_t j = key_hash(&x->key) & m->mask;
        while (slot_entry(m->slots[j]) != last)
            j = (j + 1) & m->mask;
        m->slots[j] = (m->slots[j] & ~(uint64_t)UINT32_MAX) | (e + 1);
        memcpy(entry(m, e), x, m->esize);
        x = entry(m, e);
        if (x->prev != NIL)
            entry(m, x->prev)->next = e;
        else
            m->head = e;
        if (x->next != NIL)
            entry(m, x->next)->prev = e;
        else
            m->tail = e;
    }
    m->count--;
}

static void evict_lru(dw_dmap_t *m)
{
    entry_t *x = entry(m, m->tail);
    if (m->on_evict)
        m->on_evict(m->ud, &x->key, value(m, m->tail));
    remove_at(m, find_slot(m, &x->key));
}

static int reserve_one(dw_dmap_t *m)
{
    if (m->count == m->ecap) {
        size_t ncap = m->ecap ? m->ecap * 2 : 16;
        if (ncap > m->max)
            ncap = m->max;
        unsigned char *ne = realloc(m->entries, ncap * m->esize);
        if (ne == NULL)
            return -1;
        m->entries = ne;
        m->ecap = ncap;
    }
    if ((m->count + 1) * 4 > (m->mask + 1) * 3)
        return rehash(m, (m->mask + 1) * 2);
    return 0;
}

void *dw_dmap_put(dw_dmap_t *m, const dw_digest_t *key)
{
    size_t i = find_slot(m, key);
    if (i != SIZE_MAX) {
        uint32_t e = slot_entry(m->slots[i]);
        lru_touch(m, e);
        return value(m, e);
    }
    if (m->count == m->max)
        evict_lru(m);
    if (reserve_one(m) != 0)
        return NULL;
    uint32_t e = (uint32_t)m->count++;
    entry_t *x = entry(m, e);
    x->key = *key;
    memset(value(m, e), 0, m->vsize);
    slot_insert(m->slots, m->mask, key_hash(key), e);
    lru_push_front(m, e);
    return value(m, e);
}

int dw_dmap_del(dw_dmap_t *m, const dw_digest_t *key)
{
    size_t i = find_slot(m, key);
    if (i == SIZE_MAX)
        return 0;
    remove_at(m, i);
    return 1;
}

size_t dw_dmap_count(const dw_dmap_t *m)
{
    return m->count;
}

size_t dw_dmap_bytes(const dw_dmap_t *m)
{
    return sizeof(*m) + m->ecap * m->esize + (m->mask + 1) * sizeof(*m->slots);
}
