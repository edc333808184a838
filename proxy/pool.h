/* Upstream connections grouped by credential set.
 *
 * A connection belongs to exactly one credential digest and carries one response at a time; its
 * `last_resp_id` is the response the upstream caches on it (the most recent one), which is what a
 * delta may chain from. Connections are bounded per key and in all; a request that finds none
 * free waits in a bounded FIFO, and beyond that bound it is refused (the caller answers 429).
 * Idle connections close after --idle-timeout; old ones retire once idle after --max-conn-age,
 * before the upstream's own 60-minute limit. */
#ifndef DW_POOL_H
#define DW_POOL_H

#include <stdint.h>

#include "proxy/config.h"
#include "proxy/creds.h"
#include "proxy/metrics.h"
#include "proxy/upstream.h"
#include "state/transcripts.h"

typedef struct dw_pool dw_pool_t;
typedef struct dw_pool_conn dw_pool_conn_t;

/* What the user of a connection (an exchange) hears while it holds or waits for one. */
typedef struct {
    /* pc is open and held by the user: send now */
    void (*on_ready)(void *user, dw_pool_conn_t *pc);
    void (*on_message)(void *user, dw_pool_conn_t *pc, const char *p, size_t n);
    /* the connection failed or closed while held; pc is gone after the call.
     * was_open: 0 when the handshake never completed (http_status: its refusal, or 0) */
    void (*on_lost)(void *user, dw_pool_conn_t *pc, int was_open, int http_status, const char *reason);
} dw_pool_user_cb_t;

struct dw_pool_conn {
    dw_upconn_t *c;
    dw_pool_t *pool;
    dw_digest_t cred;
    const dw_pool_user_cb_t *ucb; /* NULL while free */
    void *user;
    char last_resp_id[DW_RESPONSE_ID_MAX + 1]; /* "" when unknown or evicted */
    dw_digest_t last_key;                      /* transcript record of last_resp_id, if has_last_key */
    int has_last_key;
    int last_store;
    uint64_t created_ms;
    uint64_t idle_since_ms;
    dw_pool_conn_t *next; /* in the pool's list */
};

/* m: connects and handshake failures are counted there; *reachable is set to 0 when a connect fails on
 * the network and back to 1 when one succeeds (readiness). */
dw_pool_t *dw_pool_new(uv_loop_t *loop, const dw_config_t *cfg, dw_upstream_t *up, dw_transcripts_t *t,
                       dw_metrics_t *m, int *reachable);
/* Closes every connection; users are not called any more. Frees the pool. */
void dw_pool_free(dw_pool_t *p);

/* The open connection with this id under cred, or NULL. */
dw_pool_conn_t *dw_pool_find(dw_pool_t *p, const dw_digest_t *cred, uint64_t conn_id);
/* The open connection under cred whose cached response is resp_id, or NULL. */
dw_pool_conn_t *dw_pool_find_by_response(dw_pool_t *p, const dw_digest_t *cred, const char *resp_id);

enum { DW_POOL_READY = 0, DW_POOL_PENDING = 1, DW_POOL_QUEUED = 2, DW_POOL_FULL = -2, DW_POOL_ERROR = -1 };
/* Takes a connection for creds: `want` if given and free, else any free open one, else a new one
 * within the limits, else a place in the wait queue.
 * READY: *out is held and open, send now. PENDING: *out is connecting; on_ready follows.
 * QUEUED: on_ready follows when a connection frees up (cancel with dw_pool_cancel).
 * FULL: the queue is at its bound. ERROR: no connection could be started. */
int dw_pool_acquire(dw_pool_t *p, const dw_creds_t *cr, dw_pool_conn_t *want, const dw_pool_user_cb_t *ucb,
                    void *user, dw_pool_conn_t **out);
/* Forgets a queued user (it went away). */
void dw_pool_cancel(dw_pool_t *p, void *user);
/* The response ended: the connection is free again (and may go to a waiting request). */
void dw_pool_release(dw_pool_conn_t *pc);
/* Marks what the upstream now caches on pc: resp_id ("" for nothing) and its transcript record key
 * (NULL when not recorded). The previous store=false record is forgotten: it cannot be chained from. */
void dw_pool_set_last(dw_pool_conn_t *pc, const char *resp_id, const dw_digest_t *key, int store);

typedef struct {
    size_t open, busy, connecting, queued;
} dw_pool_stats_t;
void dw_pool_stats(const dw_pool_t *p, dw_pool_stats_t *st);

#endif
