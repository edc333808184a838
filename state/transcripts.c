/*
 * The shadow-transcript index: three bounded LRU tables (see the header)
 * and the delta decision over them.
 */
#include <stdlib.h>
#include <string.h>
#include "state/dmap.h"
#include "state/transcripts.h"
#include "translate/canon.h"

typedef struct {
    dw_digest_t digest;
    uint8_t strip;
} cached_item_t;

struct dw_transcripts {
    dw_dmap_t *items;     /* SHA-256(raw bytes) -> cached_item_t */
    dw_dmap_t *aliases;   /* alias_key() -> identity dw_digest_t */
    dw_dmap_t *responses; /* end link -> dw_response_rec_t */
};

static const char alias_domain[] = "dw-alias-v1"; /* hashed with its NUL */

dw_transcripts_t *dw_transcripts_new(size_t max_responses, size_t max_items_cached, size_t max_aliases)
{
    dw_transcripts_t *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->items = dw_dmap_new(sizeof(cached_item_t), max_items_cached, NULL, NULL);
    t->aliases = dw_dmap_new(sizeof(dw_digest_t), max_aliases, NULL, NULL);
    t->responses = dw_dmap_new(sizeof(dw_response_rec_t), max_responses, NULL, NULL);
    if (t->items == NULL || t->aliases == NULL || t->responses == NULL) {
        dw_transcripts_free(t);
        return NULL;
    }
    return t;
}

void dw_transcripts_free(dw_transcripts_t *t)
{
    if (t == NULL)
        return;
    dw_dmap_free(t->items);
    dw_dmap_free(t->aliases);
    dw_dmap_free(t->responses);
    free(t);
}

int dw_transcripts_item_digest(dw_transcripts_t *t, const char *raw, size_t n, dw_digest_t *out, int *strip)
{
    dw_digest_t key;
    dw_digest_bytes(&key, raw, n);
    cached_item_t *v = dw_dmap_get(t->items, &key);
    if (v == NULL) {
        dw_canon_t c;
        if (dw_canon_item(raw, n, &c) != 0)
            return -1;
        v = dw_dmap_put(t->items, &key);
        if (v == NULL) {
            dw_canon_clear(&c);
            return -1;
        }
        v->digest = c.digest;
        v->strip = c.strip;
        dw_canon_clear(&c);
    }
    *out = v->digest;
    if (strip != NULL)
        *strip = v->strip;
    return 0;
}

static void alias_key(dw_digest_t *key, const dw_digest_t *cred, const dw_digest_t *client_digest)
{
    dw_digest_ctx_t c;
    dw_digest_init(&c);
    dw_digest_update(&c, alias_domain, sizeof alias_domain);
    dw_digest_update(&c, cred->b, sizeof cred->b);
    dw_digest_update(&c, client_digest->b, sizeof client_digest->b);
    dw_digest_final(&c, key);
}

void dw_transcripts_resolve(dw_transcripts_t *t, const dw_digest_t *cred, dw_digest_t *item)
{
    dw_digest_t key;
    alias_key(&key, cred, item);
    const dw_digest_t *identity = dw_dmap_get(t->aliases, &key);
    if (identity != NULL)
        *item = *identity;
}

int dw_transcripts_alias(dw_transcripts_t *t, const dw_digest_t *cred,
                         const dw_digest_t *client_digest, const dw_digest_t *identity)
{
    dw_digest_t key;
    alias_key(&key, cred, client_digest);
    dw_digest_t *v = dw_dmap_put(t->aliases, &key);
    if (v == NULL)
        return -1;
    *v = *identity;
    return 0;
}

int dw_transcripts_match(dw_transcripts_t *t, const dw_digest_t *links, size_t n, dw_match_t *out)
{
    for (size_t k = n; k > 0; k--) {
        const dw_response_rec_t *rec = dw_dmap_get(t->responses, &links[k - 1]);
        if (rec != NULL) {
            out->matched = k;
            out->rec = rec;
            return 1;
        }
    }
    out->matched = 0;
    out->rec = NULL;
    return 0;
}

dw_response_rec_t *dw_transcripts_record(dw_transcripts_t *t, const dw_digest_t *end_link,
                                         const char *resp_id, uint64_t conn_id, int store)
{
    size_t idn = strlen(resp_id);
    if (idn > DW_RESPONSE_ID_MAX)
        return NULL;
    dw_response_rec_t *rec = dw_dmap_put(t->responses, end_link);
    if (rec == NULL)
        return NULL;
    memcpy(rec->id, resp_id, idn + 1);
    rec->conn_id = conn_id;
    rec->store = store != 0;
    return rec;
}

int dw_transcripts_forget(dw_transcripts_t *t, const dw_digest_t *end_link)
{
    return dw_dmap_del(t->responses, end_link);
}

int dw_transcripts_output_item(dw_transcripts_t *t, const dw_digest_t *cred,
                               const char *raw, size_t n, dw_digest_t *identity)
{
    dw_canon_t c;
    if (dw_canon_item(raw, n, &c) != 0)
        return -1;
    int rc = 0;
    if (!dw_digest_eq(&c.proj_digest, &c.digest))
        rc = dw_transcripts_alias(t, cred, &c.proj_digest, &c.digest);
    if (rc == 0 && c.id != NULL) {
        dw_digest_t ref;
        dw_canon_ref_digest(c.id, &ref);
        rc = dw_transcripts_alias(t, cred, &ref, &c.digest);
    }
    *identity = c.digest;
    dw_canon_clear(&c);
    return rc;
}

void dw_transcripts_counts(const dw_transcripts_t *t, dw_transcripts_counts_t *out)
{
    out->responses = dw_dmap_count(t->responses);
    out->items_cached = dw_dmap_count(t->items);
    out->aliases = dw_dmap_count(t->aliases);
}
