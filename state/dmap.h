/*
 * A bounded LRU hash map keyed by 32-byte digests.
 *
 * Values have a fixed size chosen at creation and live inline in the map.
 * When a put would exceed max_entries, the least recently used entry (get
 * and put both count as use) is evicted, after on_evict (if any) has seen
 * it. get, put and del are O(1).
 *
 * Layout: a dense array of entries {key, LRU prev/next, value} and an open
 * addressing index of 8-byte slots kept at most 3/4 full; the first 8 bytes
 * of a key are its hash (digests are uniform). Memory per entry:
 * 40 + value_size rounded up to 8, plus 11-22 bytes of index.
 *
 * Not thread-safe.
 */
#ifndef DW_STATE_DMAP_H
#define DW_STATE_DMAP_H

#include <stddef.h>
#include "translate/digest.h"

typedef struct dw_dmap dw_dmap_t;

/* Called with the evicted key and value just before the entry is reused;
 * must not touch the map. Not called by dw_dmap_del or dw_dmap_free. */
typedef void (*dw_dmap_evict_cb)(void *ud, const dw_digest_t *key, void *val);

/* max_entries: 1 .. 2^31. Returns NULL on bad arguments or no memory. */
dw_dmap_t *dw_dmap_new(size_t value_size, size_t max_entries, dw_dmap_evict_cb on_evict, void *ud);
void dw_dmap_free(dw_dmap_t *m);

/* The value for key, marked most recently used, or NULL. The pointer is
 * valid until the next put or del. */
void *dw_dmap_get(dw_dmap_t *m, const dw_digest_t *key);

/* The value slot for key (zeroed if the key is new), marked most recently
 * used; may evict. NULL only when memory ran out. Valid until the next put
 * or del. */
void *dw_dmap_put(dw_dmap_t *m, const dw_digest_t *key);

/* Returns 1 if key was present and removed, else 0. */
int dw_dmap_del(dw_dmap_t *m, const dw_digest_t *key);

size_t dw_dmap_count(const dw_dmap_t *m);

/* Bytes the map holds allocated (entries grown so far and the index), for observability. */
size_t dw_dmap_bytes(const dw_dmap_t *m);

#endif
