#include "proxy/offload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bytes compared or copied per loop iteration: about a millisecond's work. */
#define DW_OFFLOAD_CHUNK (1 << 20)

/* On a thread-pool thread: nothing but o's own memory and pure functions. */
static void on_work(uv_work_t *w)
{
    dw_offload_t *o = w->data;
    /* the bytes a kept body of the same conversation has up to a point past some items were
     * scanned when it was: the scan goes on from there. The one whose buffer this body took over
     * was found and compared on the loop already (what dw_bodies_continued finds: on_copy) */
    size_t same = o->same;
    dw_body_t *known = o->known != NULL ? o->known : dw_bodies_continued(o->cand, o->ncand, o->body, o->n, &same);
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

/* The kept body whose buffer this one may take over instead of copying the bytes they share: the
 * first candidate dw_bodies_continued considers, when no one but the store and this job holds it;
 * else NULL. Reads the candidates' last items in the request's body (a chunk at most: past that,
 * no take). */
static dw_body_t *take_candidate(const dw_offload_t *o)
{
    size_t work = 0;
    for (size_t j = 0; j < o->ncand; j++)
        if (o->cand[j]->nitems > 0 && (work += o->cand[j]->items[o->cand[j]->nitems - 1].n) > DW_OFFLOAD_CHUNK)
            return NULL;
    size_t j = dw_bodies_recurring(o->cand, o->ncand, 0, o->src, o->n);
    return j < o->ncand && dw_bodies_takeable(o->cand[j]) ? o->cand[j] : NULL;
}

/* Compares up to len more bytes of the request's body with known's; 1 while more are to come. */
static int compare(dw_offload_t *o, size_t len)
{
    size_t lim = o->n < o->known->n ? o->n : o->known->n;
    size_t k = lim - o->same < len ? lim - o->same : len;
    size_t s = dw_bodies_common_prefix(o->src + o->same, o->known->p + o->same, k);
    o->same += s;
    return s == k && o->same < lim;
}

/* The comparison with known is through: its buffer becomes this body's when every item of it lies
 * within the shared bytes (what dw_bodies_continued would find then: known, and `same`), and only
 * the rest is to be copied; else the whole copy is allocated, and the worker looks for the body
 * continued as without a take. Returns 0, or -1 without memory. */
static int settle(dw_offload_t *o)
{
    /* should this body turn out unkept (invalid, verbatim, too many items), known is lost with it:
     * its conversation's next turn hashes its items again, once */
    if ((o->body = dw_bodies_take(o->bodies, o->known, o->same, o->n)) != NULL) {
        o->copied = o->copy_skipped = o->same;
        return 0;
    }
    o->known = NULL;
    o->same = 0;
    o->body = malloc(o->n ? o->n : 1);
    return o->body != NULL ? 0 : -1;
}

/* The job ends before the check: rc -1, with the status and message the client gets. */
static void stop_early(dw_offload_t *o, int status, const char *message)
{
    uv_idle_stop(&o->copier);
    o->rc = -1;
    o->err = (dw_request_err_t){.status = status};
    snprintf(o->err.message, sizeof(o->err.message), "%s", message);
    o->done(o);
}

/* One chunk of the comparison or of the copy; the last one hands the job to the thread pool. */
static void on_copy(uv_idle_t *h)
{
    dw_offload_t *o = h->data;
    if (o->released) {
        stop_early(o, 499, "the client went away");
        return;
    }
    if (o->body == NULL) {
        if (!compare(o, DW_OFFLOAD_CHUNK) && settle(o) != 0)
            stop_early(o, 500, "out of memory while reading the request body");
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

static void drop_candidates(dw_offload_t *o)
{
    for (size_t i = 0; i < o->ncand; i++)
        dw_bodies_unref(o->cand[i]);
    o->ncand = 0;
    o->chosen = o->replaces = o->known = NULL;
}

/* A job with its copy allocated, or a kept body to compare with first (known), not started. */
static dw_offload_t *job_new(uv_loop_t *loop, const char *body, size_t n, size_t max_body, size_t max_items,
                             dw_bodies_t *bodies, const dw_digest_t *cred, dw_offload_cb done, void *data)
{
    dw_offload_t *o = calloc(1, sizeof(*o));
    if (o == NULL)
        return NULL;
    o->src = body;
    o->n = n;
    o->max_body = max_body;
    o->max_items = max_items;
    o->done = done;
    o->data = data;
    o->bodies = bodies;
    o->cred = *cred;
    if (bodies != NULL && (o->ncand = dw_bodies_pick(bodies, cred, o->cand, DW_OFFLOAD_CANDIDATES)) > 0)
        o->known = take_candidate(o);
    if (o->known == NULL && (o->body = malloc(n ? n : 1)) == NULL) {
        drop_candidates(o);
        free(o);
        return NULL;
    }
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
    if (o == NULL)
        return NULL;
    if (o->known != NULL) {
        /* small enough to compare at once */
        (void)compare(o, n);
        if (settle(o) != 0) {
            dw_offload_free(o);
            return NULL;
        }
    }
    memcpy(o->body + o->copied, body + o->copied, n - o->copied);
    o->src = NULL;
    on_work(&o->work);
    return o;
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
