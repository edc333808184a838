/*
 * The shadow-transcript index: three bounded LRU tables (see the header)
 * and the delta decision over them.
 */
#include <stdlib.h>
#include <string.h>
#include "state/chain.h"
#include "state/dmap.h"
#include "state/transcripts.h"
#include "translate/canon.h"

struct dw_transcripts {
    dw_dmap_t *items;     /* SHA-256(raw bytes) -> dw_form_t */
    dw_dmap_t *aliases;   /* alias_key() -> dw_form_t of the recorded server item */
    dw_dmap_t *responses; /* end link -> dw_response_rec_t */
    uint64_t canonicalised; /* client items canonicalised (item cache misses), here or off the loop */
};

static const char alias_domain[] = "dw-alias-v2"; /* hashed with its NUL */

dw_transcripts_t *dw_transcripts_new(size_t max_responses, size_t max_items_cached, size_t max_aliases)
{
    dw_transcripts_t *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->items = dw_dmap_new(sizeof(dw_form_t), max_items_cached, NULL, NULL);
    t->aliases = dw_dmap_new(sizeof(dw_form_t), max_aliases, NULL, NULL);
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

void dw_transcripts_item_key(const char *raw, size_t n, dw_digest_t *key)
{
    dw_digest_bytes(key, raw, n);
}

int dw_transcripts_item_cached(dw_transcripts_t *t, const dw_digest_t *key, dw_form_t *form)
{
    dw_form_t *v = dw_dmap_get(t->items, key);
    if (v == NULL)
        return 0;
    *form = *v;
    return 1;
}

int dw_transcripts_item_remember(dw_transcripts_t *t, const dw_digest_t *key, const dw_form_t *form)
{
    t->canonicalised++;
    dw_form_t *v = dw_dmap_put(t->items, key);
    if (v == NULL)
        return -1;
    *v = *form;
    return 0;
}

int dw_transcripts_item(dw_transcripts_t *t, const char *raw, size_t n, dw_form_t *form)
{
    dw_digest_t key;
    dw_transcripts_item_key(raw, n, &key);
    if (dw_transcripts_item_cached(t, &key, form))
        return 0;
    dw_canon_t c;
    if (dw_canon_item(raw, n, &c) != 0)
        return -1;
    *form = c.form;
    dw_canon_clear(&c);
    return dw_transcripts_item_remember(t, &key, form);
}

int dw_transcripts_item_digest(dw_transcripts_t *t, const char *raw, size_t n, dw_digest_t *out)
{
    dw_form_t f;
    if (dw_transcripts_item(t, raw, n, &f) != 0)
        return -1;
    *out = f.digest;
    return 0;
}

static void alias_key(dw_digest_t *key, const dw_digest_t *link, const dw_digest_t *core)
{
    dw_digest_ctx_t c;
    dw_digest_init(&c);
    dw_digest_update(&c, alias_domain, sizeof alias_domain);
    dw_digest_update(&c, link->b, sizeof link->b);
    dw_digest_update(&c, core->b, sizeof core->b);
    dw_digest_final(&c, key);
}

void dw_transcripts_resolve(dw_transcripts_t *t, const dw_digest_t *link, const dw_form_t *item,
                            dw_digest_t *identity)
{
    dw_digest_t key;
    alias_key(&key, link, &item->core);
    const dw_form_t *server = dw_dmap_get(t->aliases, &key);
    *identity = server != NULL && dw_canon_within(item, server) ? server->digest : item->digest;
}

static int alias(dw_transcripts_t *t, const dw_digest_t *link, const dw_digest_t *core, const dw_form_t *server)
{
    dw_digest_t key;
    alias_key(&key, link, core);
    dw_form_t *v = dw_dmap_put(t->aliases, &key);
    if (v == NULL)
        return -1;
    *v = *server;
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

int dw_transcripts_output_chain(dw_transcripts_t *t, dw_digest_t *link, const dw_span_t *items, size_t n,
                                int stored)
{
    for (size_t i = 0; i < n; i++) {
        dw_canon_t c;
        if (dw_canon_item(items[i].p, items[i].n, &c) != 0)
            return -1;
        int rc = alias(t, link, &c.form.core, &c.form);
        if (rc == 0 && stored && c.id != NULL && !c.form.is_reference) {
            /* a reference names the item and nothing else: no optional fields of its own */
            dw_form_t named = c.form;
            named.n_opt = 0;
            named.opt_overflow = 0;
            dw_canon_ref_core(c.id, &named.core);
            rc = alias(t, link, &named.core, &named);
        }
        dw_chain_next(link, &c.form.digest);
        dw_canon_clear(&c);
        if (rc != 0)
            return -1;
    }
    return 0;
}

void dw_transcripts_counts(const dw_transcripts_t *t, dw_transcripts_counts_t *out)
{
    out->responses = dw_dmap_count(t->responses);
    out->items_cached = dw_dmap_count(t->items);
    out->aliases = dw_dmap_count(t->aliases);
    out->canonicalised = t->canonicalised;
    out->bytes = dw_dmap_bytes(t->responses) + dw_dmap_bytes(t->items) + dw_dmap_bytes(t->aliases);
}
