#include "proxy/pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How often idle and old connections are looked for. */
#define DW_POOL_SWEEP_MS 1000

/* One connection the pool knows: idle, connecting for a lease, or with lanes leased. */
typedef struct dw_slot {
    dw_upconn_t *c;
    dw_pool_t *pool;
    dw_digest_t cred; /* the credentials: per-key limits */
    dw_digest_t key;  /* credentials and connection headers: who may lease it */
    int retire;       /* no more leases: closes once no lane is leased */
    /* connecting for a lease: whom to tell (cb NULL once cancelled) */
    dw_pool_connect_cb cb;
    const dw_lane_cb_t *ucb;
    void *data;
    uint64_t created_ms;
    uint64_t idle_since_ms;
    /* Its free lanes, kept as they change so that a lease costs a look per connection, not per
     * lane (16 connections of 33 lanes under many short conversations): those that cache nothing
     * (bit i: lanes[i]), and those that cache a response, least recently released first. Lanes
     * cache or stop caching only while leased or as their connection closes (record.c). */
    uint64_t empty;
    dw_lane_t *lru, *lru_tail;
    struct dw_slot *next;
} dw_slot_t;

typedef struct dw_waiter {
    void *data;
    const dw_lane_cb_t *ucb;
    dw_pool_connect_cb cb;
    dw_creds_t creds; /* values borrowed from the waiting request, which cancels before it goes */
    uint64_t want_lane;
    uint64_t deadline_ms;
    struct dw_waiter *next;
} dw_waiter_t;

/* The waiters of one pool key (credentials and connection headers), in arrival order. Keys with
 * waiters form a ring served in turn, so that one key's backlog never holds up another's. */
typedef struct dw_keyq {
    dw_digest_t key;
    dw_waiter_t *head, **tail;
    size_t n;
    struct dw_keyq *next;
} dw_keyq_t;

struct dw_pool {
    uv_loop_t *loop;
    const dw_config_t *cfg;
    dw_upstream_t *up;
    dw_slot_t *slots; /* every connection, every credential */
    size_t n_slots;
    dw_keyq_t *queues; /* keys with waiters; the next to serve first */
    size_t n_waiters;
    uv_timer_t sweep;
    dw_pool_closed_cb on_closed;
    void *data;
    uint64_t connects;
    uint64_t handshake_failures[DW_HS_N];
    int reachable;
    int lanes_refused; /* the upstream refused or ignores stream_id: default lanes only */
    int lanes_echoed;  /* the upstream named a lane in its answer: lanes may run concurrently */
};

static const dw_upconn_cb_t idle_cb;
static void serve_waiters(dw_pool_t *p);
static void expire_waiters(dw_pool_t *p, uint64_t now);

static dw_slot_t *slot_of(dw_pool_t *p, const dw_upconn_t *c)
{
    for (dw_slot_t *s = p->slots; s; s = s->next)
        if (s->c == c)
            return s;
    return NULL;
}

static void unlink_slot(dw_pool_t *p, dw_slot_t *s)
{
    for (dw_slot_t **at = &p->slots; *at; at = &(*at)->next) {
        if (*at == s) {
            *at = s->next;
            p->n_slots--;
            return;
        }
    }
}

/* Named lanes in use on a connection: none while lanes are off or refused. */
static int lane_names(const dw_pool_t *p)
{
    return p->cfg->lanes == DW_LANES_OFF || p->lanes_refused ? 0 : DW_LANE_NAMES;
}

/* The free-lane sets of l's slot (dw_slot_t.empty and .lru), as l stops or starts being free. */
_Static_assert(DW_LANE_NAMES < 63, "dw_slot_t.empty has a bit per lane");

static void lru_unlink(dw_slot_t *s, dw_lane_t *l)
{
    if (!l->in_lru)
        return;
    *(l->older ? &l->older->newer : &s->lru) = l->newer;
    *(l->newer ? &l->newer->older : &s->lru_tail) = l->older;
    l->older = l->newer = NULL;
    l->in_lru = 0;
}

static void taken(dw_slot_t *s, dw_lane_t *l)
{
    s->empty &= ~(1ull << l->name);
    lru_unlink(s, l);
}

static void freed(dw_slot_t *s, dw_lane_t *l)
{
    taken(s, l);
    if (l->cached.resp_id[0] == '\0') {
        s->empty |= 1ull << l->name;
        return;
    }
    l->older = s->lru_tail;
    *(s->lru_tail ? &s->lru_tail->newer : &s->lru) = l;
    s->lru_tail = l;
    l->in_lru = 1;
}

static void lease(dw_lane_t *l, const dw_lane_cb_t *ucb, void *data)
{
    taken(l->c->owner, l);
    l->leased = 1;
    l->cb = ucb;
    l->owner = data;
    l->c->inflight++;
}

/* Hands lane l of an open connection to its lease holder. */
static void grant(dw_slot_t *s, dw_lane_t *l, const dw_lane_cb_t *ucb, void *data, dw_pool_connect_cb cb)
{
    s->cb = NULL;
    lease(l, ucb, data);
    cb(data, l, 0, NULL);
}

static void on_open(dw_upconn_t *c)
{
    dw_slot_t *s = c->owner;
    s->pool->connects++;
    s->pool->reachable = 1;
    for (int i = 0; i <= DW_LANE_NAMES; i++)
        freed(s, &c->lanes[i]);
    if (s->cb != NULL)
        grant(s, &c->lanes[0], s->ucb, s->data, s->cb);
    else
        serve_waiters(s->pool); /* its lease was cancelled meanwhile */
}

/* A message no leased lane is waiting for: dropped. */
static void on_idle_message(dw_upconn_t *c, const char *p, size_t n)
{
    (void)c;
    (void)p;
    (void)n;
}

/* A connection closed (its leased lanes' holders heard of it first). */
static void on_idle_closed(dw_upconn_t *c, int status, const char *reason)
{
    dw_slot_t *s = c->owner;
    dw_pool_t *p = s->pool;
    unlink_slot(p, s);
    if (!c->was_open) {
        int why = status == 426   ? DW_HS_REFUSED_426
                  : status == 404 ? DW_HS_REFUSED_404
                  : status == 405 ? DW_HS_REFUSED_405
                  : status != 0   ? DW_HS_REFUSED_OTHER
                                  : DW_HS_NETWORK;
        p->handshake_failures[why]++;
        /* readiness follows the upstream: unreachable, or refusing WebSocket mode; a refusal of
         * this caller's request (401, 403, 429, our 431...) says the upstream is there */
        if (why != DW_HS_REFUSED_OTHER)
            p->reachable = 0;
        else if (status >= 400 && status < 500)
            p->reachable = 1;
    }
    for (int i = 0; i <= DW_LANE_NAMES; i++)
        p->on_closed(p->data, &c->lanes[i]);
    dw_pool_connect_cb cb = s->cb;
    void *data = s->data;
    free(s);
    if (cb != NULL)
        cb(data, NULL, status, reason);
    serve_waiters(p);
}

/* The upstream echoed stream_id (lanes run concurrently from now on), or answered a named lane
 * without it: it ignores the field, so it keeps one cache per connection whatever the lane, and
 * this connection's other lanes' caches are stale. Default lanes only, and this one retires. */
static void on_lanes(dw_upconn_t *c, int echoed)
{
    dw_slot_t *s = c->owner;
    dw_pool_t *p = s->pool;
    if (echoed) {
        if (!p->lanes_echoed) {
            p->lanes_echoed = 1;
            serve_waiters(p);
        }
        return;
    }
    if (!p->lanes_refused)
        fprintf(stderr, "deltawire: the upstream answers without the stream_id it was sent: no more lanes\n");
    p->lanes_refused = 1;
    s->retire = 1;
}

static const dw_upconn_cb_t idle_cb = {on_open, on_idle_message, on_idle_closed, on_lanes};

static void on_gone_open(dw_upconn_t *c)
{
    (void)c;
}

static void on_gone_closed(dw_upconn_t *c, int status, const char *reason)
{
    (void)c;
    (void)status;
    (void)reason;
}

/* After dw_pool_free: the connections close unheard. */
static void on_gone_lanes(dw_upconn_t *c, int echoed)
{
    (void)c;
    (void)echoed;
}

static const dw_upconn_cb_t gone_cb = {on_gone_open, on_idle_message, on_gone_closed, on_gone_lanes};

/* Open, not retiring, and no lane leased. */
static int is_free(const dw_slot_t *s)
{
    return s->c->inflight == 0 && s->c->open && !s->c->closing && !s->retire;
}

/* Responses a connection may have in flight: one until the upstream has shown it tells lanes
 * apart (an upstream that ignores stream_id answers every lane unnamed). */
static int inflight_max(const dw_pool_t *p)
{
    return p->lanes_echoed && lane_names(p) > 0 ? DW_LANE_INFLIGHT : 1;
}

/* Open, not retiring, and room for one more response in flight. */
static int has_room(const dw_slot_t *s)
{
    return s->c->inflight < inflight_max(s->pool) && s->c->open && !s->c->closing && !s->retire;
}

/* Closes free connections idle too long, retires old ones once they are free, fails handshakes
 * older than --handshake-timeout (as network failures: their waiters hear of it at once), and
 * answers the requests that waited --queue-timeout; then serves the queues once more. */
static void on_sweep(uv_timer_t *t)
{
    dw_pool_t *p = t->data;
    uint64_t now = uv_now(p->loop);
    uint64_t hs = (uint64_t)(p->cfg->handshake_timeout * 1000);
again:
    for (dw_slot_t *s = p->slots; s; s = s->next) {
        if (!s->c->was_open && now - s->created_ms >= hs) {
            dw_upconn_abort(s->c, "the upstream WebSocket handshake timed out");
            goto again; /* the slot is gone, and the callbacks may have changed the list */
        }
    }
    uint64_t idle = (uint64_t)(p->cfg->idle_timeout * 1000);
    uint64_t age = (uint64_t)(p->cfg->max_conn_age * 1000);
    for (dw_slot_t *s = p->slots; s; s = s->next) {
        if (is_free(s) && (now - s->idle_since_ms >= idle || now - s->created_ms >= age))
            dw_upconn_close(s->c);
    }
    expire_waiters(p, now);
    serve_waiters(p); /* a request waiting for its own lane on a full connection takes another */
}

dw_pool_t *dw_pool_new(uv_loop_t *loop, const dw_config_t *cfg, dw_upstream_t *up, dw_pool_closed_cb on_closed,
                       void *data)
{
    dw_pool_t *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->loop = loop;
    p->cfg = cfg;
    p->up = up;
    p->on_closed = on_closed;
    p->data = data;
    p->reachable = 1;
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
    while (p->slots != NULL) {
        dw_slot_t *s = p->slots;
        p->slots = s->next;
        s->c->owner = NULL;
        s->c->cb = &gone_cb;
        for (int i = 0; i <= DW_LANE_NAMES; i++)
            s->c->lanes[i].leased = 0; /* their holders are gone too: messages are dropped */
        dw_upconn_close(s->c);
        free(s);
    }
    while (p->queues != NULL) {
        dw_keyq_t *q = p->queues;
        p->queues = q->next;
        while (q->head != NULL) {
            dw_waiter_t *w = q->head;
            q->head = w->next;
            free(w);
        }
        free(q);
    }
    uv_close((uv_handle_t *)&p->sweep, on_sweep_closed);
}

/* The lane lane_id of key and its slot, or NULL. Lane ids are consecutive per connection. */
static dw_lane_t *lane_of(dw_pool_t *p, const dw_digest_t *key, uint64_t lane_id, dw_slot_t **slot)
{
    for (dw_slot_t *s = p->slots; s && lane_id != 0; s = s->next) {
        uint64_t first = s->c->lanes[0].id;
        if (lane_id < first || lane_id > first + DW_LANE_NAMES)
            continue;
        if (!dw_digest_eq(&s->key, key))
            return NULL;
        *slot = s;
        return &s->c->lanes[lane_id - first];
    }
    return NULL;
}

static const char *view_cached_on(const dw_lanes_view_t *v, uint64_t lane_id)
{
    const dw_pool_view_t *pv = (const dw_pool_view_t *)v;
    dw_slot_t *s;
    dw_lane_t *l = lane_of(pv->pool, pv->key, lane_id, &s);
    return l != NULL && s->c->open ? l->cached.resp_id : NULL;
}

static uint64_t view_caching(const dw_lanes_view_t *v, const char *resp_id)
{
    const dw_pool_view_t *pv = (const dw_pool_view_t *)v;
    for (dw_slot_t *s = pv->pool->slots; s; s = s->next) {
        if (!s->c->open || !dw_digest_eq(&s->key, pv->key))
            continue;
        for (int i = 0; i <= DW_LANE_NAMES; i++)
            if (strcmp(s->c->lanes[i].cached.resp_id, resp_id) == 0)
                return s->c->lanes[i].id;
    }
    return 0;
}

void dw_pool_view(dw_pool_t *p, const dw_digest_t *key, dw_pool_view_t *view)
{
    *view = (dw_pool_view_t){{view_cached_on, view_caching}, p, key};
}

/* A free lane of key on a connection with room that caches nothing (the newest connection first;
 * of its lanes the default first: a lone conversation sends no stream_id), or NULL with *lru the
 * least recently used free lane (its cached conversation is the least likely to come back; NULL
 * when none). One look per connection: see dw_slot_t.empty. */
static dw_lane_t *find_free(dw_pool_t *p, const dw_digest_t *key, dw_lane_t **lru)
{
    *lru = NULL;
    int names = lane_names(p);
    uint64_t usable = (2ull << names) - 1;
    for (dw_slot_t *s = p->slots; s; s = s->next) {
        if (!has_room(s) || !dw_digest_eq(&s->key, key))
            continue;
        if (s->empty & usable)
            return &s->c->lanes[__builtin_ctzll(s->empty & usable)];
        dw_lane_t *l = s->lru;
        while (l != NULL && l->name > names) { /* lanes were refused since it was freed */
            dw_lane_t *newer = l->newer;
            lru_unlink(s, l);
            l = newer;
        }
        if (l != NULL && (*lru == NULL || l->idle_since_ms < (*lru)->idle_since_ms))
            *lru = l;
    }
    return NULL;
}

/* The lane lane_id of key if it is free. *full is set when it is free but its connection has no
 * room now: waiting for it keeps the delta. */
static dw_lane_t *find_wanted(dw_pool_t *p, const dw_digest_t *key, uint64_t lane_id, int *full)
{
    *full = 0;
    dw_slot_t *s;
    dw_lane_t *l = lane_of(p, key, lane_id, &s);
    if (l == NULL || l->leased || l->name > lane_names(p))
        return NULL;
    if (has_room(s))
        return l;
    *full = s->c->open && !s->c->closing && !s->retire;
    return NULL;
}

/* 1 if a new connection for cr fits the limits. When a limit is in the way and evict is set, makes
 * room by closing the least recently used idle connection that cr cannot lease: of its own
 * credentials opened with other connection headers when the per-key limit is in the way, else of
 * another key (its close serves the queue, so the answer is still 0). */
static int room_for_new(dw_pool_t *p, const dw_creds_t *cr, int evict)
{
    size_t mine = 0, closing = 0;
    dw_slot_t *victim = NULL, *sibling = NULL;
    for (dw_slot_t *s = p->slots; s; s = s->next) {
        closing += s->c->closing;
        int same = dw_digest_eq(&s->cred, &cr->digest);
        mine += same;
        if (!is_free(s) || dw_digest_eq(&s->key, &cr->key))
            continue;
        if (same && (sibling == NULL || s->idle_since_ms < sibling->idle_since_ms))
            sibling = s;
        else if (!same && (victim == NULL || s->idle_since_ms < victim->idle_since_ms))
            victim = s;
    }
    if (closing > 0)
        evict = 0; /* one at a time: a close already under way makes room */
    if (mine >= p->cfg->max_conns_per_key) {
        if (evict && sibling != NULL)
            dw_upconn_close(sibling->c);
        return 0;
    }
    if (p->n_slots < p->cfg->max_conns)
        return 1;
    if (evict && (victim != NULL || sibling != NULL))
        dw_upconn_close(victim != NULL ? victim->c : sibling->c);
    return 0;
}

/* Starts a connection whose lease goes to data once it is open. Returns 0, or -1 with err set. */
static int open_for(dw_pool_t *p, const dw_creds_t *cr, const dw_lane_cb_t *ucb, void *data,
                    dw_pool_connect_cb cb, char *err, size_t errlen)
{
    dw_slot_t *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        snprintf(err, errlen, "out of memory for an upstream connection");
        return -1;
    }
    s->pool = p;
    s->cred = cr->digest;
    s->key = cr->key;
    s->created_ms = s->idle_since_ms = uv_now(p->loop);
    s->cb = cb;
    s->ucb = ucb;
    s->data = data;
    s->c = dw_upconn_connect(p->up, cr->hdrs, cr->n, &idle_cb, s, err, errlen);
    if (s->c == NULL) {
        free(s);
        return -1;
    }
    s->next = p->slots;
    p->slots = s;
    p->n_slots++;
    return 0;
}

static dw_keyq_t *queue_of(dw_pool_t *p, const dw_digest_t *key)
{
    for (dw_keyq_t *q = p->queues; q; q = q->next)
        if (dw_digest_eq(&q->key, key))
            return q;
    return NULL;
}

/* Takes w out of q (at points to it); q leaves the ring once empty. Frees w. */
static void unlink_waiter(dw_pool_t *p, dw_keyq_t *q, dw_waiter_t **at)
{
    dw_waiter_t *w = *at;
    *at = w->next;
    if (q->tail == &w->next)
        q->tail = at;
    q->n--;
    p->n_waiters--;
    free(w);
    if (q->n == 0) {
        for (dw_keyq_t **qa = &p->queues; *qa; qa = &(*qa)->next) {
            if (*qa == q) {
                *qa = q->next;
                break;
            }
        }
        free(q);
    }
}

/* Moves q to the end of the ring: the other keys with waiters go before its next one. */
static void rotate(dw_pool_t *p, dw_keyq_t *q)
{
    dw_keyq_t **at = &p->queues;
    while (*at != q)
        at = &(*at)->next;
    *at = q->next;
    q->next = NULL;
    while (*at != NULL)
        at = &(*at)->next;
    *at = q;
}

/* 1 if connections of key still opening will have a lane for one more request than those waiting
 * now: it waits for one of them rather than open another (a burst opens one connection per
 * DW_LANE_INFLIGHT requests, not one each). Only with named lanes. */
static int lanes_coming(dw_pool_t *p, const dw_digest_t *key)
{
    if (inflight_max(p) == 1)
        return 0;
    size_t coming = 0;
    for (dw_slot_t *s = p->slots; s; s = s->next)
        if (!s->c->was_open && dw_digest_eq(&s->key, key))
            coming += DW_LANE_INFLIGHT - 1; /* the first lane is its opener's */
    dw_keyq_t *q = queue_of(p, key);
    return (q != NULL ? q->n : 1) <= coming;
}

/* A free lane for a request of cr that wants lane want (0: none), in the order that keeps
 * conversations' caches: its own (or wait while its connection is full), one that caches nothing,
 * a new connection while under the limits (then NULL with *opened set, after open_for), the least
 * recently used lane. NULL and *opened 0: wait. */
static dw_lane_t *pick(dw_pool_t *p, const dw_creds_t *cr, uint64_t want, const dw_lane_cb_t *ucb, void *data,
                       dw_pool_connect_cb cb, int *opened, int *failed, char *err, size_t errlen)
{
    *opened = *failed = 0;
    int full;
    dw_lane_t *s = find_wanted(p, &cr->key, want, &full), *lru = NULL;
    if (s == NULL && full)
        return NULL;
    if (s == NULL)
        s = find_free(p, &cr->key, &lru);
    if (s != NULL)
        return s;
    if (lanes_coming(p, &cr->key))
        return NULL;
    if (room_for_new(p, cr, 0)) {
        if (open_for(p, cr, ucb, data, cb, err, errlen) == 0)
            *opened = 1;
        else
            *failed = 1;
        return NULL;
    }
    if (lru == NULL)
        room_for_new(p, cr, 1); /* an idle connection we cannot lease closes; its close serves us */
    return lru;
}

int dw_pool_connect(dw_pool_t *p, const dw_creds_t *cr, uint64_t want_lane, const dw_lane_cb_t *ucb, void *data,
                    dw_pool_connect_cb cb, dw_lane_t **out, char *err, size_t errlen)
{
    *out = NULL;
    dw_keyq_t *q = queue_of(p, &cr->key);
    if (q == NULL) {
        /* nobody of this key waits, so nothing free of it is promised to anyone: lease now if we can */
        int opened, failed;
        dw_lane_t *l = pick(p, cr, want_lane, ucb, data, cb, &opened, &failed, err, errlen);
        if (l != NULL) {
            lease(l, ucb, data);
            *out = l;
            return DW_POOL_READY;
        }
        if (opened)
            return DW_POOL_PENDING;
        if (failed)
            return DW_POOL_ECONNECT;
    } else if (q->n >= p->cfg->max_queue) {
        return DW_POOL_EFULL; /* this key's backlog, never another's */
    }
    dw_waiter_t *w = calloc(1, sizeof(*w));
    if (q == NULL && w != NULL && (q = calloc(1, sizeof(*q))) != NULL) {
        q->key = cr->key;
        q->tail = &q->head;
        dw_keyq_t **at = &p->queues;
        while (*at != NULL)
            at = &(*at)->next;
        *at = q;
    }
    if (w == NULL || q == NULL) {
        free(w);
        snprintf(err, errlen, "out of memory for the wait queue");
        return DW_POOL_ECONNECT;
    }
    *w = (dw_waiter_t){.data = data, .ucb = ucb, .cb = cb, .creds = *cr, .want_lane = want_lane,
                       .deadline_ms = uv_now(p->loop) + (uint64_t)(p->cfg->queue_timeout * 1000)};
    *q->tail = w;
    q->tail = &w->next;
    q->n++;
    p->n_waiters++;
    return DW_POOL_QUEUED;
}

void dw_pool_cancel(dw_pool_t *p, void *data)
{
    for (dw_keyq_t *q = p->queues; q; q = q->next) {
        for (dw_waiter_t **at = &q->head; *at; at = &(*at)->next) {
            if ((*at)->data == data) {
                unlink_waiter(p, q, at);
                return;
            }
        }
    }
    for (dw_slot_t *s = p->slots; s; s = s->next)
        if (s->cb != NULL && s->data == data)
            s->cb = NULL; /* still connecting: it will be free once open */
}

/* Serves one waiter of q: one whose own connection is free first, else the oldest as pick()
 * orders. Returns 1 if a waiter left the queue (callbacks ran: the ring may have changed). */
static int serve_one(dw_pool_t *p, dw_keyq_t *q)
{
    dw_waiter_t **at;
    dw_lane_t *s = NULL;
    int full;
    for (at = &q->head; *at != NULL; at = &(*at)->next)
        if ((s = find_wanted(p, &q->key, (*at)->want_lane, &full)) != NULL)
            break;
    if (s == NULL) {
        at = &q->head;
        int opened, failed;
        char err[160];
        dw_waiter_t *w = *at;
        s = pick(p, &w->creds, 0, w->ucb, w->data, w->cb, &opened, &failed, err, sizeof(err));
        if (opened) {
            rotate(p, q);
            unlink_waiter(p, q, at); /* the slot's cb holds its lease now */
            return 1;
        }
        if (s == NULL)
            return 0;
    }
    dw_waiter_t got = **at;
    rotate(p, q);
    unlink_waiter(p, q, at);
    grant(slot_of(p, s->c), s, got.ucb, got.data, got.cb);
    return 1;
}

/* Hands free connections, or room for new ones, to waiting requests: the keys in turn, each key's
 * requests in arrival order (a request's own connection goes to it first). */
static void serve_waiters(dw_pool_t *p)
{
    int progress = 1;
    while (progress) {
        progress = 0;
        for (dw_keyq_t *q = p->queues; q != NULL; q = q->next) {
            if (serve_one(p, q)) {
                progress = 1; /* q may be freed, the ring changed: start over */
                break;
            }
        }
    }
}

/* Waiters past their deadline leave with DW_POOL_ETIMEDOUT (their cb runs). */
static void expire_waiters(dw_pool_t *p, uint64_t now)
{
    int again = 1;
    while (again) {
        again = 0;
        for (dw_keyq_t *q = p->queues; q != NULL; q = q->next) {
            if (q->head->deadline_ms > now)
                continue; /* the oldest of its key: the others are younger */
            dw_waiter_t got = *q->head;
            unlink_waiter(p, q, &q->head);
            got.cb(got.data, NULL, DW_POOL_ETIMEDOUT, "no upstream connection came free within --queue-timeout");
            again = 1; /* q may be freed and the callback may have changed the ring: start over */
            break;
        }
    }
}

/* Lane l is no longer leased. */
static void release(dw_lane_t *l, uint64_t now)
{
    l->leased = 0;
    l->awaiting = 0;
    l->cb = NULL;
    l->owner = NULL;
    l->idle_since_ms = now;
    l->c->inflight--;
    freed(l->c->owner, l);
}

void dw_pool_return(dw_pool_t *p, dw_lane_t *l, int retire)
{
    dw_upconn_t *c = l->c;
    dw_slot_t *s = slot_of(p, c);
    uint64_t now = uv_now(p->loop);
    release(l, now);
    s->retire |= retire;
    if (c->inflight == 0)
        s->idle_since_ms = now;
    if (c->inflight == 0 && (s->retire || now - s->created_ms >= (uint64_t)(p->cfg->max_conn_age * 1000)))
        dw_upconn_close(c); /* retire before the upstream's own limit */
    else
        serve_waiters(p);
}

void dw_pool_detach(dw_pool_t *p, dw_lane_t *l)
{
    release(l, uv_now(p->loop)); /* the connection's own close follows: the pool forgets it then */
}

void dw_pool_lanes_refused(dw_pool_t *p)
{
    p->lanes_refused = 1;
}

void dw_pool_stats(const dw_pool_t *p, dw_pool_stats_t *st)
{
    memset(st, 0, sizeof(*st));
    for (const dw_slot_t *s = p->slots; s; s = s->next) {
        st->open += s->c->open;
        st->busy += s->c->inflight > 0 && s->c->open;
        st->lanes_busy += s->c->open ? (size_t)s->c->inflight : 0;
        st->connecting += !s->c->was_open;
    }
    st->queued = p->n_waiters;
    st->connects = p->connects;
    memcpy(st->handshake_failures, p->handshake_failures, sizeof(st->handshake_failures));
    st->reachable = p->reachable;
}
