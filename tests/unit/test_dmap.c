#include <stdint.h>
#include <string.h>
#include <criterion/criterion.h>
#include "state/dmap.h"

/* Keys with chosen hash bits: the first 4 bytes are the hash. */
static dw_digest_t key_with_hash(uint32_t h, uint32_t tag)
{
    dw_digest_t k;
    memset(&k, 0, sizeof k);
    memcpy(k.b, &h, 4);
    memcpy(k.b + 8, &tag, 4);
    return k;
}

static dw_digest_t key_n(uint64_t i)
{
    dw_digest_t k;
    dw_digest_bytes(&k, &i, sizeof i);
    return k;
}

struct evictions {
    uint64_t seen[16];
    size_t n;
};

static void record_eviction(void *ud, const dw_digest_t *key, void *val)
{
    struct evictions *ev = ud;
    (void)key;
    ev->seen[ev->n++] = *(uint64_t *)val;
}

Test(dmap, put_get_del)
{
    dw_dmap_t *m = dw_dmap_new(sizeof(uint64_t), 100, NULL, NULL);
    dw_digest_t a = key_n(1), b = key_n(2);
    cr_assert_null(dw_dmap_get(m, &a));
    uint64_t *v = dw_dmap_put(m, &a);
    cr_assert_eq(*v, 0, "new slots are zeroed");
    *v = 11;
    *(uint64_t *)dw_dmap_put(m, &b) = 22;
    cr_assert_eq(*(uint64_t *)dw_dmap_put(m, &a), 11, "put keeps an existing value");
    cr_assert_eq(*(uint64_t *)dw_dmap_get(m, &b), 22);
    cr_assert_eq(dw_dmap_count(m), 2);
    cr_assert_eq(dw_dmap_del(m, &a), 1);
    cr_assert_eq(dw_dmap_del(m, &a), 0);
    cr_assert_null(dw_dmap_get(m, &a));
    cr_assert_eq(*(uint64_t *)dw_dmap_get(m, &b), 22);
    cr_assert_eq(dw_dmap_count(m), 1);
    dw_dmap_free(m);
    cr_assert_null(dw_dmap_new(8, 0, NULL, NULL));
}

Test(dmap, lru_eviction_order)
{
    struct evictions ev = {0};
    dw_dmap_t *m = dw_dmap_new(sizeof(uint64_t), 3, record_eviction, &ev);
    dw_digest_t k[6];
    for (uint64_t i = 0; i < 6; i++)
        k[i] = key_n(i);
    for (uint64_t i = 0; i < 3; i++)
        *(uint64_t *)dw_dmap_put(m, &k[i]) = i;
    dw_dmap_get(m, &k[0]);          /* order now 1, 2, 0 (oldest first) */
    *(uint64_t *)dw_dmap_put(m, &k[3]) = 3; /* evicts 1 */
    dw_dmap_put(m, &k[2]);          /* touch: order 0, 3, 2 */
    *(uint64_t *)dw_dmap_put(m, &k[4]) = 4; /* evicts 0 */
    *(uint64_t *)dw_dmap_put(m, &k[5]) = 5; /* evicts 3 */
    cr_assert_eq(ev.n, 3);
    cr_assert_eq(ev.seen[0], 1);
    cr_assert_eq(ev.seen[1], 0);
    cr_assert_eq(ev.seen[2], 3);
    cr_assert_eq(dw_dmap_count(m), 3);
    cr_assert_not_null(dw_dmap_get(m, &k[2]));
    cr_assert_not_null(dw_dmap_get(m, &k[4]));
    cr_assert_not_null(dw_dmap_get(m, &k[5]));
    cr_assert_null(dw_dmap_get(m, &k[1]));
    dw_dmap_del(m, &k[2]);
    dw_dmap_del(m, &k[4]);
    dw_dmap_del(m, &k[5]);
    cr_assert_eq(dw_dmap_count(m), 0);
    *(uint64_t *)dw_dmap_put(m, &k[1]) = 1;
    cr_assert_eq(ev.n, 3, "no eviction below the bound");
    dw_dmap_free(m);
}

/* Colliding keys form one probe run; deleting from its middle must keep
 * every other key reachable (backward shift), also across wrap-around. */
Test(dmap, deletion_inside_probe_chains)
{
    dw_dmap_t *m = dw_dmap_new(sizeof(uint32_t), 1000, NULL, NULL);
    dw_digest_t k[12];
    for (uint32_t i = 0; i < 12; i++) {
        k[i] = key_with_hash(i < 6 ? 14 : 15 + (i % 2), i); /* homes 14,15,16 of 16 slots: wraps */
        *(uint32_t *)dw_dmap_put(m, &k[i]) = i;
    }
    for (uint32_t d = 0; d < 12; d += 3) {
        cr_assert_eq(dw_dmap_del(m, &k[d]), 1);
        for (uint32_t i = 0; i < 12; i++) {
            uint32_t *v = dw_dmap_get(m, &k[i]);
            if (i <= d && i % 3 == 0)
                cr_assert_null(v, "deleted key %u found", i);
            else
                cr_assert(v != NULL && *v == i, "key %u lost after deleting %u", i, d);
        }
    }
    dw_dmap_free(m);
}

Test(dmap, million_entries_growth_and_random_deletes, .timeout = 60)
{
    const uint64_t n = 1000000;
    struct evictions ev = {0};
    dw_dmap_t *m = dw_dmap_new(sizeof(uint64_t), n, record_eviction, &ev);
    for (uint64_t i = 0; i < n; i++) {
        dw_digest_t k = key_n(i);
        *(uint64_t *)dw_dmap_put(m, &k) = i;
    }
    cr_assert_eq(dw_dmap_count(m), n);
    cr_assert_eq(ev.n, 0);
    for (uint64_t i = 0; i < n; i += 2) {
        dw_digest_t k = key_n(i);
        cr_assert_eq(dw_dmap_del(m, &k), 1);
    }
    cr_assert_eq(dw_dmap_count(m), n / 2);
    for (uint64_t i = 0; i < n; i++) {
        dw_digest_t k = key_n(i);
        uint64_t *v = dw_dmap_get(m, &k);
        if (i % 2)
            cr_assert(v != NULL && *v == i);
        else
            cr_assert_null(v);
    }
    /* Refill past the bound: the oldest survivors go first, in order. */
    for (uint64_t i = n; i < n + n / 2 + 5; i++) {
        dw_digest_t k = key_n(i);
        *(uint64_t *)dw_dmap_put(m, &k) = i;
    }
    cr_assert_eq(dw_dmap_count(m), n);
    cr_assert_eq(ev.n, 5);
    for (size_t i = 0; i < 5; i++)
        cr_assert_eq(ev.seen[i], 1 + 2 * i);
    dw_dmap_free(m);
}

/* Random operations on few, colliding keys against a plain model that
 * tracks presence, values and recency. */
Test(dmap, random_operations_match_a_model)
{
    enum { KEYS = 40, MAX = 24 };
    struct evictions ev = {0};
    dw_dmap_t *m = dw_dmap_new(sizeof(uint64_t), MAX, record_eviction, &ev);
    dw_digest_t k[KEYS];
    uint64_t val[KEYS], last_use[KEYS], clock = 0;
    int present[KEYS] = {0};
    size_t count = 0;
    for (uint32_t i = 0; i < KEYS; i++)
        k[i] = key_with_hash(i % 5 * 7, i); /* five homes, long runs */
    unsigned seed = 7;
    for (int step = 0; step < 200000; step++) {
        seed = seed * 1103515245u + 12345u;
        uint32_t i = (seed >> 16) % KEYS, op = (seed >> 8) % 3;
        if (op == 0) {
            uint64_t *v = dw_dmap_get(m, &k[i]);
            cr_assert_eq(v != NULL, present[i], "step %d key %u", step, i);
            if (v) {
                cr_assert_eq(*v, val[i]);
                last_use[i] = ++clock;
            }
        } else if (op == 1) {
            ev.n = 0;
            uint64_t *v = dw_dmap_put(m, &k[i]);
            if (!present[i] && count == MAX) {
                uint32_t oldest = KEYS;
                for (uint32_t j = 0; j < KEYS; j++)
                    if (present[j] && (oldest == KEYS || last_use[j] < last_use[oldest]))
                        oldest = j;
                cr_assert_eq(ev.n, 1);
                cr_assert_eq(ev.seen[0], val[oldest], "evicted the wrong entry");
                present[oldest] = 0;
                count--;
            } else {
                cr_assert_eq(ev.n, 0);
            }
            if (!present[i]) {
                cr_assert_eq(*v, 0);
                present[i] = 1;
                count++;
            }
            *v = val[i] = (uint64_t)step << 8 | i;
            last_use[i] = ++clock;
        } else {
            cr_assert_eq(dw_dmap_del(m, &k[i]), present[i]);
            if (present[i])
                count--;
            present[i] = 0;
        }
        cr_assert_eq(dw_dmap_count(m), count);
    }
    dw_dmap_free(m);
}

/* The bytes it reports grow with its entries up to the bound, then stay: what a memory check of a
 * long run may allow for the tables (bench/soak.mjs). */
Test(dmap, bytes_grow_to_the_bound_then_stay)
{
    dw_dmap_t *m = dw_dmap_new(200, 1000, NULL, NULL);
    size_t empty = dw_dmap_bytes(m);
    for (uint64_t i = 0; i < 1000; i++)
        dw_dmap_put(m, &(dw_digest_t){.b = {(uint8_t)i, (uint8_t)(i >> 8), 1}});
    size_t full = dw_dmap_bytes(m);
    cr_assert_gt(full, empty);
    cr_assert_geq(full, 1000 * 200, "the entries are counted (%zu)", full);
    for (uint64_t i = 0; i < 5000; i++)
        dw_dmap_put(m, &(dw_digest_t){.b = {(uint8_t)i, (uint8_t)(i >> 8), 2}});
    cr_assert_eq(dw_dmap_bytes(m), full, "at the bound, evictions reuse entries");
    dw_dmap_free(m);
}
