#include "proxy/pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How often idle and old connections are looked for. */
#define DW_POOL_SWEEP_MS 1000

typedef struct dw_waiter {
    void *user;
    const dw_pool_user_cb_t *ucb;
    dw_digest_t cred;
    const char *vals[DW_CREDS_N]; /* borrowed from the user's request, which outlives the wait */
    size_t lens[DW_CREDS_N];
    struct dw_waiter *next;
} dw_waiter_t;

struct dw_pool {
    uv_loop_t *loop;
    const dw_config_t *cfg;
    dw_upstream_t *up;
    dw_transcripts_t *t;
    dw_metrics_t *m;
    int *reachable;
    dw_pool_conn_t *conns; /* every connection, every credential */
    size_t n_conns;
    dw_waiter_t *waiters, **waiters_tail;
    size_t n_waiters;
    uv_timer_t sweep;
};

static void serve_waiters(dw_pool_t *p);

static void on_open(dw_upconn_t *c)
{
    dw_pool_conn_t *pc = c->owner;
    if (pc == NULL)
        return;
    pc->pool->m->connects++;
    *pc->pool->reachable = 1;
    if (pc->ucb != NULL)
        pc->ucb->on_ready(pc->user, pc);
    else
        serve_waiters(pc->pool);
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
            p->n_conns--;
            return;
        }
    }
}

static void on_closed(dw_upconn_t *c, int status, const char *reason)
{
    dw_pool_conn_t *pc = c->owner;
    if (pc == NULL)
        return; /* the pool is gone (shutdown) */
    dw_pool_t *p = pc->pool;
    unlink_conn(p, pc);
    if (!c->was_open) {
        int why = status == 426   ? DW_HS_REFUSED_426
                  : status == 404 ? DW_HS_REFUSED_404
                  : status == 405 ? DW_HS_REFUSED_405
                  : status != 0   ? DW_HS_REFUSED_OTHER
                                  : DW_HS_NETWORK;
        p->m->handshake_failures[why]++;
        if (why == DW_HS_NETWORK)
            *p->reachable = 0;
    }
    /* the upstream dropped this connection's cache: its store=false record is dead */
    dw_pool_set_last(pc, "", NULL, 0);
    if (pc->ucb != NULL)
        pc->ucb->on_lost(pc->user, pc, c->was_open, status, reason);
    free(pc);
    serve_waiters(p);
}

static const dw_upconn_cb_t conn_cb = {on_open, on_message, on_closed};

static int is_free(const dw_pool_conn_t *pc)
{
    return pc->ucb == NULL && pc->c->open && !pc->c->closing;
}

/* Closes free connections idle too long, and retires old ones once they are free. */
static void on_sweep(uv_timer_t *t)
{
    dw_pool_t *p = t->data;
    uint64_t now = uv_now(p->loop);
    uint64_t idle = (uint64_t)(p->cfg->idle_timeout * 1000);
    uint64_t age = (uint64_t)(p->cfg->max_conn_age * 1000);
    for (dw_pool_conn_t *pc = p->conns; pc; pc = pc->next) {
        if (is_free(pc) && (now - pc->idle_since_ms >= idle || now - pc->created_ms >= age))
            dw_upconn_close(pc->c);
    }
}

dw_pool_t *dw_pool_new(uv_loop_t *loop, const dw_config_t *cfg, dw_upstream_t *up, dw_transcripts_t *t,
                       dw_metrics_t *m, int *reachable)
{
    dw_pool_t *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->loop = loop;
    p->cfg = cfg;
    p->up = up;
    p->t = t;
    p->m = m;
    p->reachable = reachable;
    p->waiters_tail = &p->waiters;
    uv_timer_init(loop, &p->sweep);
    p->sweep.data = p;
    uv_timer_start(&p->sweep, on_sweep, DW_POOL_SWEEP_MS, DW_POOL_SWEEP_MS);
    uv_unref((uv_handle_t *)&p->sweep);
    return p;
}

static void on_sweep_closed(uv_handle_t *h)
{
    free(h->data);
}

void dw_pool_free(dw_pool_t *p)
{
    while (p->conns != NULL) {
        dw_pool_conn_t *pc = p->conns;
        p->conns = pc->next;
        pc->c->owner = NULL;
        dw_upconn_close(pc->c);
        free(pc);
    }
    while (p->waiters != NULL) {
        dw_waiter_t *w = p->waiters;
        p->waiters = w->next;
        free(w);
    }
    uv_close((uv_handle_t *)&p->sweep, on_sweep_closed);
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

/* A free connection of cred: one that caches nothing if there is one, else the least recently
 * used (its cached conversation is the least likely to come back). */
static dw_pool_conn_t *find_free(dw_pool_t *p, const dw_digest_t *cred, int empty_only)
{
    dw_pool_conn_t *lru = NULL;
    for (dw_pool_conn_t *pc = p->conns; pc; pc = pc->next) {
        if (!is_free(pc) || !dw_digest_eq(&pc->cred, cred))
            continue;
        if (pc->last_resp_id[0] == '\0')
            return pc;
        if (lru == NULL || pc->idle_since_ms < lru->idle_since_ms)
            lru = pc;
    }
    return empty_only ? NULL : lru;
}

/* 1 if a new connection for cred fits the limits. When only the global limit is in the way and
 * evict is set, makes room by closing another key's least recently used idle connection (its
 * close serves the queue, so the answer is still 0). */
static int room_for_new(dw_pool_t *p, const dw_digest_t *cred, int evict)
{
    size_t mine = 0;
    dw_pool_conn_t *victim = NULL;
    for (dw_pool_conn_t *pc = p->conns; pc; pc = pc->next) {
        if (dw_digest_eq(&pc->cred, cred))
            mine++;
        else if (is_free(pc) && (victim == NULL || pc->idle_since_ms < victim->idle_since_ms))
            victim = pc;
    }
    if (mine >= p->cfg->max_conns_per_key)
        return 0;
    if (p->n_conns < p->cfg->max_conns)
        return 1;
    if (evict && victim != NULL)
        dw_upconn_close(victim->c);
    return 0;
}

static dw_pool_conn_t *open_conn(dw_pool_t *p, const dw_digest_t *cred, const char *const *vals, const size_t *lens,
                                 const dw_pool_user_cb_t *ucb, void *user)
{
    dw_pool_conn_t *pc = calloc(1, sizeof(*pc));
    if (pc == NULL)
        return NULL;
    pc->pool = p;
    pc->cred = *cred;
    pc->created_ms = pc->idle_since_ms = uv_now(p->loop);
    hold(pc, ucb, user);
    pc->c = dw_upconn_connect(p->up, vals, lens, &conn_cb, pc);
    if (pc->c == NULL) {
        free(pc);
        return NULL;
    }
    pc->next = p->conns;
    p->conns = pc;
    p->n_conns++;
    return pc;
}

int dw_pool_acquire(dw_pool_t *p, const dw_creds_t *cr, dw_pool_conn_t *want, const dw_pool_user_cb_t *ucb,
                    void *user, dw_pool_conn_t **out)
{
    /* affinity: a new conversation takes a connection that caches nothing, or a new one, before it
     * takes one that holds another conversation's last response; queued requests go first */
    dw_pool_conn_t *pc = want != NULL && is_free(want) && dw_digest_eq(&want->cred, &cr->digest)
                             ? want
                             : find_free(p, &cr->digest, 1);
    int room = pc == NULL && p->waiters == NULL && room_for_new(p, &cr->digest, 0);
    if (pc == NULL && !room)
        pc = find_free(p, &cr->digest, 0);
    if (pc != NULL) {
        hold(pc, ucb, user);
        *out = pc;
        return DW_POOL_READY;
    }
    const char *vals[DW_CREDS_N];
    size_t lens[DW_CREDS_N];
    for (size_t i = 0; i < DW_CREDS_N; i++) {
        vals[i] = cr->values[i].len ? cr->values[i].base : NULL;
        lens[i] = cr->values[i].len;
    }
    if (room || (p->waiters == NULL && room_for_new(p, &cr->digest, 1))) {
        *out = open_conn(p, &cr->digest, vals, lens, ucb, user);
        return *out != NULL ? DW_POOL_PENDING : DW_POOL_ERROR;
    }
    if (p->n_waiters >= p->cfg->max_queue)
        return DW_POOL_FULL;
    dw_waiter_t *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return DW_POOL_ERROR;
    w->user = user;
    w->ucb = ucb;
    w->cred = cr->digest;
    memcpy(w->vals, vals, sizeof(vals));
    memcpy(w->lens, lens, sizeof(lens));
    *p->waiters_tail = w;
    p->waiters_tail = &w->next;
    p->n_waiters++;
    *out = NULL;
    return DW_POOL_QUEUED;
}

static void unlink_waiter(dw_pool_t *p, dw_waiter_t **at)
{
    dw_waiter_t *w = *at;
    *at = w->next;
    if (p->waiters_tail == &w->next)
        p->waiters_tail = at;
    p->n_waiters--;
    free(w);
}

void dw_pool_cancel(dw_pool_t *p, void *user)
{
    for (dw_waiter_t **at = &p->waiters; *at; at = &(*at)->next) {
        if ((*at)->user == user) {
            unlink_waiter(p, at);
            return;
        }
    }
}

/* Hands free connections, or room for new ones, to waiting requests in arrival order. */
static void serve_waiters(dw_pool_t *p)
{
    dw_waiter_t **at = &p->waiters;
    while (*at != NULL) {
        dw_waiter_t *w = *at;
        dw_pool_conn_t *pc = find_free(p, &w->cred, 0);
        if (pc != NULL) {
            void *user = w->user;
            const dw_pool_user_cb_t *ucb = w->ucb;
            unlink_waiter(p, at);
            hold(pc, ucb, user);
            ucb->on_ready(user, pc);
            at = &p->waiters; /* the callback may have changed the queue */
            continue;
        }
        if (room_for_new(p, &w->cred, 1)) {
            pc = open_conn(p, &w->cred, w->vals, w->lens, w->ucb, w->user);
            if (pc != NULL) {
                unlink_waiter(p, at);
                continue;
            }
        }
        at = &w->next;
    }
}

void dw_pool_release(dw_pool_conn_t *pc)
{
    pc->ucb = NULL;
    pc->user = NULL;
    pc->idle_since_ms = uv_now(pc->pool->loop);
    if (uv_now(pc->pool->loop) - pc->created_ms >= (uint64_t)(pc->pool->cfg->max_conn_age * 1000))
        dw_upconn_close(pc->c); /* retire before the upstream's own limit */
    else
        serve_waiters(pc->pool);
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

void dw_pool_stats(const dw_pool_t *p, dw_pool_stats_t *st)
{
    memset(st, 0, sizeof(*st));
    for (const dw_pool_conn_t *pc = p->conns; pc; pc = pc->next) {
        st->open += pc->c->open;
        st->busy += pc->ucb != NULL && pc->c->open;
        st->connecting += !pc->c->was_open;
    }
    st->queued = p->n_waiters;
}
