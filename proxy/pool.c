#include "proxy/pool.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

struct dw_pool {
    dw_upstream_t *up;
    dw_transcripts_t *t;
    dw_pool_conn_t *conns; /* all connections, every credential */
};

static void on_open(dw_upconn_t *c)
{
    dw_pool_conn_t *pc = c->owner;
    if (pc != NULL && pc->ucb != NULL)
        pc->ucb->on_ready(pc->user, pc);
}

static void on_message(dw_upconn_t *c, const char *p, size_t n)
{
    dw_pool_conn_t *pc = c->owner;
    if (pc != NULL && pc->ucb != NULL)
        pc->ucb->on_message(pc->user, pc, p, n);
}

static void unlink_conn(dw_pool_t *p, dw_pool_conn_t *pc)
{
    for (dw_pool_conn_t **at = &p->conns; *at; at = &(*at)->next) {
        if (*at == pc) {
            *at = pc->next;
            return;
        }
    }
}

static void on_closed(dw_upconn_t *c, int status, const char *reason)
{
    dw_pool_conn_t *pc = c->owner;
    if (pc == NULL)
        return; /* the pool is gone (shutdown) */
    unlink_conn(pc->pool, pc);
    /* the upstream dropped this connection's cache: its store=false record is dead */
    dw_pool_set_last(pc, "", NULL, 0);
    if (pc->ucb != NULL)
        pc->ucb->on_lost(pc->user, pc, status, reason);
    free(pc);
}

static const dw_upconn_cb_t conn_cb = {on_open, on_message, on_closed};

dw_pool_t *dw_pool_new(dw_upstream_t *up, dw_transcripts_t *t)
{
    dw_pool_t *p = calloc(1, sizeof(*p));
    if (p != NULL) {
        p->up = up;
        p->t = t;
    }
    return p;
}

void dw_pool_free(dw_pool_t *p)
{
    while (p->conns != NULL) {
        dw_pool_conn_t *pc = p->conns;
        p->conns = pc->next;
        pc->c->owner = NULL;
        free(pc);
    }
    free(p);
}

dw_pool_conn_t *dw_pool_find(dw_pool_t *p, const dw_digest_t *cred, uint64_t conn_id)
{
    for (dw_pool_conn_t *pc = p->conns; pc; pc = pc->next)
        if (pc->c->id == conn_id && pc->c->open && dw_digest_eq(&pc->cred, cred))
            return pc;
    return NULL;
}

dw_pool_conn_t *dw_pool_find_by_response(dw_pool_t *p, const dw_digest_t *cred, const char *resp_id)
{
    for (dw_pool_conn_t *pc = p->conns; pc; pc = pc->next)
        if (pc->c->open && strcmp(pc->last_resp_id, resp_id) == 0 && dw_digest_eq(&pc->cred, cred))
            return pc;
    return NULL;
}

static void hold(dw_pool_conn_t *pc, const dw_pool_user_cb_t *ucb, void *user)
{
    pc->ucb = ucb;
    pc->user = user;
}

int dw_pool_acquire(dw_pool_t *p, const dw_creds_t *cr, dw_pool_conn_t *want, const dw_pool_user_cb_t *ucb,
                    void *user, dw_pool_conn_t **out)
{
    if (want != NULL && want->ucb == NULL && want->c->open && dw_digest_eq(&want->cred, &cr->digest)) {
        hold(want, ucb, user);
        *out = want;
        return DW_POOL_READY;
    }
    for (dw_pool_conn_t *pc = p->conns; pc; pc = pc->next) {
        if (pc->ucb == NULL && pc->c->open && !pc->c->closing && dw_digest_eq(&pc->cred, &cr->digest)) {
            hold(pc, ucb, user);
            *out = pc;
            return DW_POOL_READY;
        }
    }
    dw_pool_conn_t *pc = calloc(1, sizeof(*pc));
    if (pc == NULL)
        return DW_POOL_ERROR;
    pc->pool = p;
    pc->cred = cr->digest;
    hold(pc, ucb, user);
    const char *vals[DW_CREDS_N];
    size_t lens[DW_CREDS_N];
    for (size_t i = 0; i < DW_CREDS_N; i++) {
        vals[i] = cr->values[i].len ? cr->values[i].base : NULL;
        lens[i] = cr->values[i].len;
    }
    pc->c = dw_upconn_connect(p->up, vals, lens, &conn_cb, pc);
    if (pc->c == NULL) {
        free(pc);
        return DW_POOL_ERROR;
    }
    pc->next = p->conns;
    p->conns = pc;
    *out = pc;
    return DW_POOL_PENDING;
}

void dw_pool_release(dw_pool_conn_t *pc)
{
    pc->ucb = NULL;
    pc->user = NULL;
}

void dw_pool_set_last(dw_pool_conn_t *pc, const char *resp_id, const dw_digest_t *key, int store)
{
    if (pc->has_last_key && !pc->last_store && (key == NULL || !dw_digest_eq(key, &pc->last_key)))
        dw_transcripts_forget(pc->pool->t, &pc->last_key);
    snprintf(pc->last_resp_id, sizeof(pc->last_resp_id), "%s", resp_id);
    pc->has_last_key = key != NULL;
    if (key != NULL)
        pc->last_key = *key;
    pc->last_store = store;
}

size_t dw_pool_open_count(const dw_pool_t *p)
{
    size_t n = 0;
    for (const dw_pool_conn_t *pc = p->conns; pc; pc = pc->next)
        n += pc->c->open;
    return n;
}
