/* A large request body checked and digested on libuv's thread pool (uv_queue_work), so that the
 * event loop keeps serving everyone else while one big body is scanned and hashed (issue 14 item 4).
 *
 * The worker thread runs pure translate/ code on the job's own memory only: the top-level check
 * (dw_request_parse) and the items' canonical forms (dw_forms_compute). Everything that touches
 * shared state (the transcript index, the pool, the plan) stays on the loop thread, in done. */
#ifndef DW_OFFLOAD_H
#define DW_OFFLOAD_H

#include <uv.h>

#include "proxy/plan.h"
#include "translate/request.h"

/* Bodies above this many bytes are checked off the loop; smaller ones take less time than the
 * hand-over would save. */
#define DW_OFFLOAD_MIN_BYTES (256 * 1024)

typedef struct dw_offload dw_offload_t;
typedef void (*dw_offload_cb)(dw_offload_t *o);

struct dw_offload {
    uv_work_t work;
    /* the request's body (borrowed), copied by the worker a chunk at a time under lock: the loop
     * may withdraw it (dw_offload_release) when h2o is about to free it, and never waits longer
     * than one chunk */
    uv_mutex_t lock;
    const char *src;
    int src_gone;
    char *body; /* the worker's copy (owned): NULL until the worker made it, or if it could not */
    size_t n, max_body, max_items;
    /* results, read on the loop in done */
    int rc;                 /* dw_request_parse's */
    dw_request_t rq;        /* borrows body: the caller may move it out (zero it here then) */
    dw_request_err_t err;
    int has_forms;          /* forms computed: a candidate for a delta (array input, at most max_items) */
    dw_forms_t forms;
    dw_offload_cb done;
    void *data;
};

/* Queues the check of body[0..n) (borrowed until done, or until dw_offload_release) on loop's
 * thread pool; the worker copies it (64 MiB take tens of ms to copy: not on the loop). done(o)
 * runs on the loop once the worker is through (always, even when the requester went away
 * meanwhile: it keeps o until then). o->rc is -1 with o->err set when the copy could not be made
 * (no memory, or released first). Returns 0, or a negative libuv error and done is never called. */
int dw_offload_start(uv_loop_t *loop, dw_offload_t *o, const char *body, size_t n, size_t max_body,
                     size_t max_items, dw_offload_cb done, void *data);

/* The body lent to dw_offload_start is about to be freed: the worker stops reading it (waits for at
 * most one chunk's copy). */
void dw_offload_release(dw_offload_t *o);

/* Frees what o owns (the body copy, the forms, rq unless moved out); not o itself. */
void dw_offload_free(dw_offload_t *o);

#endif
