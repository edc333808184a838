#include "proxy/offload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bytes copied per hold of the lock: what dw_offload_release may wait for. */
#define DW_OFFLOAD_CHUNK (1 << 20)

/* Copies the lent body into o->body, unless the loop withdraws it first. Returns 0 or -1. */
static int copy_body(dw_offload_t *o)
{
    char *copy = malloc(o->n ? o->n : 1);
    if (copy == NULL)
        return -1;
    for (size_t off = 0; off < o->n; off += DW_OFFLOAD_CHUNK) {
        size_t len = o->n - off < DW_OFFLOAD_CHUNK ? o->n - off : DW_OFFLOAD_CHUNK;
        uv_mutex_lock(&o->lock);
        int gone = o->src_gone;
        if (!gone)
            memcpy(copy + off, o->src + off, len);
        uv_mutex_unlock(&o->lock);
        if (gone) {
            free(copy);
            return -1;
        }
    }
    o->body = copy;
    return 0;
}

/* On a thread-pool thread: nothing but o's own memory, the lent body under o->lock, and pure
 * functions. */
static void on_work(uv_work_t *w)
{
    dw_offload_t *o = w->data;
    if (copy_body(o) != 0) {
        o->rc = -1;
        o->err = (dw_request_err_t){.status = 500, .code = NULL, .param = NULL};
        snprintf(o->err.message, sizeof(o->err.message), "out of memory while reading the request body");
        return;
    }
    o->rc = dw_request_parse(&o->rq, o->body, o->n, o->max_body, &o->err);
    if (o->rc == 0 && !o->rq.verbatim && !o->rq.background && o->rq.items.n <= o->max_items) {
        dw_forms_compute(&o->forms, &o->rq.items);
        o->has_forms = 1;
    }
}

static void on_after_work(uv_work_t *w, int status)
{
    (void)status; /* never cancelled: the job runs to its end */
    dw_offload_t *o = w->data;
    o->done(o);
}

int dw_offload_start(uv_loop_t *loop, dw_offload_t *o, const char *body, size_t n, size_t max_body,
                     size_t max_items, dw_offload_cb done, void *data)
{
    memset(o, 0, sizeof(*o));
    int rc = uv_mutex_init(&o->lock);
    if (rc != 0)
        return rc;
    o->src = body;
    o->n = n;
    o->max_body = max_body;
    o->max_items = max_items;
    o->done = done;
    o->data = data;
    o->work.data = o;
    rc = uv_queue_work(loop, &o->work, on_work, on_after_work);
    if (rc != 0)
        uv_mutex_destroy(&o->lock);
    return rc;
}

void dw_offload_release(dw_offload_t *o)
{
    uv_mutex_lock(&o->lock);
    o->src_gone = 1;
    uv_mutex_unlock(&o->lock);
}

void dw_offload_free(dw_offload_t *o)
{
    dw_request_free(&o->rq);
    dw_forms_free(&o->forms);
    free(o->body);
    o->body = NULL;
    uv_mutex_destroy(&o->lock);
}
