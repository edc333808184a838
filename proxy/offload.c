#include "proxy/offload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bytes copied per loop iteration: about a millisecond's work. */
#define DW_OFFLOAD_CHUNK (1 << 20)

/* On a thread-pool thread: nothing but o's own memory and pure functions. */
static void on_work(uv_work_t *w)
{
    dw_offload_t *o = w->data;
    /* the bytes a kept body of the same conversation has up to a point past some items were
     * scanned when it was: the scan goes on from there */
    size_t same = 0;
    dw_body_t *known = dw_bodies_continued(o->cand, o->ncand, o->body, o->n, &same);
    dw_json_resume_t at;
    if (known != NULL && dw_bodies_resume_at(known, same, &at) == 0) {
        o->rc = dw_request_parse_from(&o->rq, o->body, o->n, o->max_body, &at, same, &o->err);
        o->resumed = dw_json_resume_offset(&at);
    } else {
        o->rc = dw_request_parse(&o->rq, o->body, o->n, o->max_body, &o->err);
    }
    if (o->rc == 0 && !o->rq.verbatim && !o->rq.background && o->rq.items.n <= o->max_items) {
        o->keyed = dw_forms_keys(&o->forms, &o->rq.items, o->cand, o->ncand, known, same, &o->chosen,
                                 &o->replaces);
        o->has_forms = 1;
    }
}

static void on_after_work(uv_work_t *w, int status)
{
    (void)status; /* never cancelled: the job runs to its end */
    dw_offload_t *o = w->data;
    o->done(o);
}

/* One chunk of the copy; the last one hands the job to the thread pool. */
static void on_copy(uv_idle_t *h)
{
    dw_offload_t *o = h->data;
    if (o->released) {
        uv_idle_stop(h);
        o->rc = -1;
        o->err = (dw_request_err_t){.status = 499};
        snprintf(o->err.message, sizeof(o->err.message), "the client went away");
        o->done(o);
        return;
    }
    size_t len = o->n - o->copied < DW_OFFLOAD_CHUNK ? o->n - o->copied : DW_OFFLOAD_CHUNK;
    memcpy(o->body + o->copied, o->src + o->copied, len);
    o->copied += len;
    if (o->copied < o->n)
        return;
    uv_idle_stop(h);
    o->src = NULL;
    if (uv_queue_work(h->loop, &o->work, on_work, on_after_work) != 0) {
        on_work(&o->work); /* no thread pool: here, as a small body is */
        o->done(o);
    }
}

static void on_fill(uv_work_t *w)
{
    dw_offload_t *o = w->data;
    dw_forms_fill(&o->forms, &o->rq_items);
}

int dw_offload_fill(dw_offload_t *o, uv_loop_t *loop, const dw_spans_t *items, dw_offload_cb done)
{
    o->rq_items = *items;
    o->done = done;
    return uv_queue_work(loop, &o->work, on_fill, on_after_work);
}

/* A job with its copy allocated, not started. */
static dw_offload_t *job_new(uv_loop_t *loop, const char *body, size_t n, size_t max_body, size_t max_items,
                             dw_bodies_t *bodies, const dw_digest_t *cred, dw_offload_cb done, void *data)
{
    dw_offload_t *o = calloc(1, sizeof(*o));
    if (o == NULL)
        return NULL;
    o->body = malloc(n ? n : 1);
    if (o->body == NULL) {
        free(o);
        return NULL;
    }
    o->src = body;
    o->n = n;
    o->max_body = max_body;
    o->max_items = max_items;
    o->done = done;
    o->data = data;
    o->bodies = bodies;
    o->cred = *cred;
    if (bodies != NULL)
        o->ncand = dw_bodies_pick(bodies, cred, o->cand, DW_OFFLOAD_CANDIDATES);
    o->work.data = o;
    o->copier.data = o;
    uv_idle_init(loop, &o->copier);
    return o;
}

dw_offload_t *dw_offload_start(uv_loop_t *loop, const char *body, size_t n, size_t max_body, size_t max_items,
                               dw_bodies_t *bodies, const dw_digest_t *cred, dw_offload_cb done, void *data)
{
    dw_offload_t *o = job_new(loop, body, n, max_body, max_items, bodies, cred, done, data);
    if (o != NULL)
        uv_idle_start(&o->copier, on_copy);
    return o;
}

dw_offload_t *dw_offload_run(uv_loop_t *loop, const char *body, size_t n, size_t max_body, size_t max_items,
                             dw_bodies_t *bodies, const dw_digest_t *cred, void *data)
{
    dw_offload_t *o = job_new(loop, body, n, max_body, max_items, bodies, cred, NULL, data);
    if (o != NULL) {
        memcpy(o->body, body, n);
        o->src = NULL;
        on_work(&o->work);
    }
    return o;
}

static void drop_candidates(dw_offload_t *o)
{
    for (size_t i = 0; i < o->ncand; i++)
        dw_bodies_unref(o->cand[i]);
    o->ncand = 0;
    o->chosen = o->replaces = NULL;
}

void dw_offload_keep(dw_offload_t *o, const dw_request_t *rq, uint64_t now_ms)
{
    if (o->chosen != NULL && o->chosen != o->replaces && o->bodies != NULL)
        dw_bodies_touch(o->bodies, o->chosen, now_ms); /* before this body: the newest stays first */
    int all_keyed = o->has_forms && o->forms.keys != NULL && o->forms.n == rq->items.n && rq->items.n > 0;
    if (o->bodies != NULL && all_keyed &&
        (o->kept = dw_bodies_put(o->bodies, &o->cred, o->body, o->n, rq, o->forms.keys, o->replaces, now_ms)) != NULL) {
        o->body = NULL;       /* the kept body owns the copy now */
        o->forms.keys = NULL; /* and the keys */
    }
    drop_candidates(o);
}

void dw_offload_release(dw_offload_t *o)
{
    if (o->src != NULL)
        o->released = 1;
}

static void on_copier_closed(uv_handle_t *h)
{
    dw_offload_t *o = h->data;
    free(o->body);
    free(o);
}

void dw_offload_free(dw_offload_t *o)
{
    dw_request_free(&o->rq);
    dw_forms_free(&o->forms);
    drop_candidates(o);
    if (o->kept != NULL)
        dw_bodies_unref(o->kept);
    uv_close((uv_handle_t *)&o->copier, on_copier_closed);
}
