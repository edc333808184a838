/* A large request body checked and digested on libuv's thread pool (uv_queue_work), so that the
 * event loop keeps serving everyone else while one big body is scanned and hashed (issue 14 item 4).
 *
 * The worker thread runs pure code on the job's own memory only: the top-level check
 * (dw_request_parse) and the items' cache keys (dw_forms_keys); then, once the loop has looked the
 * keys up, the forms of the items the cache did not know, if they are many (dw_offload_fill).
 * Everything that touches shared state (the transcript index, the pool, the plan) stays on the
 * loop thread, in done.
 *
 * The worker never reads the request's own buffer: h2o may free it (an HTTP/2 stream reset frees
 * the body before the request is disposed of), so the loop first copies it, one chunk per loop
 * iteration (a 64 MiB copy in one go stalls the loop for tens of ms). The copy is what is kept for
 * the next turn (state/bodies.h); a body too small to be worth the thread pool but worth keeping
 * goes through the same job at once on the loop (dw_offload_run).
 *
 * The usual next turn repeats the kept body of its conversation from its first byte past its last
 * item, and replaces it: when no one else holds that body, the loop compares the shared bytes
 * instead of copying them (a chunk per iteration as well), takes the kept body's buffer over
 * (dw_bodies_take: grown by realloc, which need not copy it) and copies only
 * the rest of the request's body into it (issue 16). */
#ifndef DW_OFFLOAD_H
#define DW_OFFLOAD_H

#include <uv.h>

#include "proxy/plan.h"
#include "translate/request.h"

/* Bodies above this many bytes are checked off the loop; smaller ones take less time than the
 * hand-over would save. */
#define DW_OFFLOAD_MIN_BYTES (256 * 1024)

/* Bodies from this many bytes up are kept for their next turn (dw_offload_keep), those below
 * DW_OFFLOAD_MIN_BYTES read by dw_offload_run on the loop: below it, hashing each item again costs
 * about what copying and keeping the body does. */
#define DW_KEEP_MIN_BYTES (16 * 1024)

/* Kept bodies of the same credentials offered to a new one (most recently used first): one key
 * may run many conversations at once, and each continues its own last body. */
#define DW_OFFLOAD_CANDIDATES 16

typedef struct dw_offload dw_offload_t;
typedef void (*dw_offload_cb)(dw_offload_t *o);

struct dw_offload {
    uv_idle_t copier;   /* compares, then copies src into body, a chunk per loop iteration */
    uv_work_t work;
    const char *src;    /* the request's body (borrowed while comparing and copying) */
    size_t copied;
    int released;       /* the request is gone: stop comparing and copying */
    char *body;         /* the copy (owned; NULL while comparing with known) */
    /* the kept body this one may take the buffer of (a candidate, compared on the loop), and once
     * body is allocated, the one it took it from (dw_bodies_take: its first `same` bytes are this
     * body's), or NULL */
    dw_body_t *known;
    size_t same;            /* the bytes compared equal with known so far */
    size_t copy_skipped;    /* bytes not copied: known's, once taken */
    size_t n, max_body, max_items;
    /* results, read on the loop in done */
    int rc;                 /* dw_request_parse's, or -1 when the copy was abandoned */
    dw_request_t rq;        /* borrows body: the caller may move it out (zero it here then) */
    dw_request_err_t err;
    int has_forms;          /* keys computed: a candidate for a delta (array input, at most max_items) */
    dw_forms_t forms;
    dw_spans_t rq_items;    /* dw_offload_fill's items (borrowed) */
    dw_bodies_t *bodies;    /* where the body is kept afterwards (borrowed; NULL: nowhere) */
    dw_digest_t cred;
    dw_body_t *cand[DW_OFFLOAD_CANDIDATES]; /* kept bodies compared with this one (references) */
    size_t ncand;
    dw_body_t *chosen;      /* the candidate compared with, or NULL */
    dw_body_t *replaces;    /* the candidate this body makes useless, or NULL */
    dw_body_t *kept;        /* this body, once kept (a reference; it owns the copy then) */
    size_t keyed;           /* items keyed by comparison with a candidate */
    size_t resumed;         /* bytes not scanned again: a candidate's up to where the scan resumed */
    dw_offload_cb done;
    void *data;
};

/* Starts the check of body[0..n) (borrowed until done, or until dw_offload_release): copied on the
 * loop a chunk at a time, then checked on loop's thread pool, its items keyed by comparison with the
 * bodies of cred kept in `bodies` (may be NULL) where they have them. done(o) runs on the loop once
 * it is through, always (also after dw_offload_release: rc -1). Returns the job, or NULL (no memory:
 * done is never called). */
dw_offload_t *dw_offload_start(uv_loop_t *loop, const char *body, size_t n, size_t max_body, size_t max_items,
                               dw_bodies_t *bodies, const dw_digest_t *cred, dw_offload_cb done, void *data);

/* The same work at once, on the calling thread, for a body small enough (the loop's own below
 * DW_OFFLOAD_MIN_BYTES): copied (the copy is what is kept), checked and keyed; what done would see
 * is in o on return, and done is not called (there is none). NULL without memory. */
dw_offload_t *dw_offload_run(uv_loop_t *loop, const char *body, size_t n, size_t max_body, size_t max_items,
                             dw_bodies_t *bodies, const dw_digest_t *cred, void *data);

/* After done: gives the candidates back (the one compared with counts as used), and when every item
 * was keyed (has_forms) keeps the copy in `bodies` for the next turn (rq: the request read from it,
 * spans into the copy, borrowed; now_ms: loop time), dropping the candidate it replaces. The copy
 * stays readable until dw_offload_free. Without memory nothing is kept. */
void dw_offload_keep(dw_offload_t *o, const dw_request_t *rq, uint64_t now_ms);

/* After done: canonicalises the items of `items` (borrowed; spans into o's copy) whose forms
 * o->forms lacks, on the thread pool, then done(o) on the loop. Returns 0, or a libuv error (done
 * is then never called). */
int dw_offload_fill(dw_offload_t *o, uv_loop_t *loop, const dw_spans_t *items, dw_offload_cb done);

/* The body lent to dw_offload_start is about to be freed: nothing reads it any more. */
void dw_offload_release(dw_offload_t *o);

/* Frees o and what it owns (the copy, the forms, rq unless moved out), after done. */
void dw_offload_free(dw_offload_t *o);

#endif
