#include "proxy/offload.h"

#include <stdlib.h>
#include <string.h>

/* On a thread-pool thread: nothing but o's own memory and pure functions. */
static void on_work(uv_work_t *w)
{
    dw_offload_t *o = w->data;
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
    o->body = malloc(n ? n : 1);
    if (o->body == NULL)
        return UV_ENOMEM;
    memcpy(o->body, body, n);
    o->n = n;
    o->max_body = max_body;
    o->max_items = max_items;
    o->done = done;
    o->data = data;
    o->work.data = o;
    int rc = uv_queue_work(loop, &o->work, on_work, on_after_work);
    if (rc != 0) {
        free(o->body);
        o->body = NULL;
    }
    return rc;
}

void dw_offload_free(dw_offload_t *o)
{
    dw_request_free(&o->rq);
    dw_forms_free(&o->forms);
    free(o->body);
    o->body = NULL;
}
