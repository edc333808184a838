#include "proxy/http_path.h"

#include <string.h>

#include "translate/errors.h"
#include "translate/headers.h"

void dw_http_path_strip_hop(h2o_req_t *req)
{
    h2o_headers_t *hs = &req->headers;
    ssize_t i = 0;
    while (i < (ssize_t)hs->size) {
        const h2o_iovec_t *name = hs->entries[i].name;
        int hop = h2o_lcstris(name->base, name->len, H2O_STRLIT("proxy-connection"));
        for (size_t j = 0; !hop && j < hs->size; j++) {
            if (hs->entries[j].name == &H2O_TOKEN_CONNECTION->buf)
                hop = dw_headers_connection_lists(hs->entries[j].value.base, hs->entries[j].value.len, name->base,
                                                  name->len);
        }
        if (hop)
            h2o_delete_header(hs, i);
        else
            i++;
    }
}

typedef struct {
    h2o_ostream_t super;
    h2o_iovec_t body;
    int sent;
} json_error_t;

/* h2o's text body goes nowhere; the JSON one goes once, with h2o's final state. */
static void json_error_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t n, h2o_send_state_t state)
{
    (void)bufs;
    (void)n;
    json_error_t *e = (json_error_t *)self;
    int first = !e->sent;
    e->sent = 1;
    h2o_ostream_send_next(&e->super, req, first ? &e->body : NULL, first ? 1 : 0, state);
}

/* The reason h2o's proxy logged for this request, or NULL when the response is not its error. */
static const h2o_iovec_t *proxy_error(h2o_req_t *req)
{
    if (req->res.status < 500 || req->error_logs.size == 0)
        return NULL;
    const h2o_req_error_log_t *log = &req->error_logs.entries[req->error_logs.size - 1];
    return strcmp(log->module, "lib/core/proxy.c") == 0 ? &log->msg : NULL;
}

static void on_setup_ostream(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    const h2o_iovec_t *why = proxy_error(req);
    dw_buf_t b = {0};
    if (why != NULL) {
        int timeout = h2o_strstr(why->base, why->len, H2O_STRLIT("timeout")) != SIZE_MAX ||
                      h2o_strstr(why->base, why->len, H2O_STRLIT("time out")) != SIZE_MAX;
        int status = timeout ? 504 : 502;
        char msg[384];
        snprintf(msg, sizeof(msg), "deltawire could not complete the request to the upstream over HTTP: %.*s",
                 (int)why->len, why->base);
        if (dw_error_body(&b, dw_error_type_for_status(status), "upstream_error", NULL, msg) == 0) {
            json_error_t *e = (json_error_t *)h2o_add_ostream(req, sizeof(*e), slot);
            e->super.do_send = json_error_send;
            e->body = h2o_strdup(&req->pool, b.p, b.len);
            e->sent = 0;
            req->res.status = status;
            req->res.reason = timeout ? "Gateway Timeout" : "Bad Gateway";
            req->res.content_length = b.len;
            ssize_t ct = h2o_find_header(&req->res.headers, H2O_TOKEN_CONTENT_TYPE, -1);
            if (ct != -1)
                h2o_delete_header(&req->res.headers, ct);
            h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
            slot = &e->super.next;
        }
        dw_buf_free(&b);
    }
    (void)self;
    h2o_setup_next_ostream(req, slot);
}

void dw_http_path_json_errors(h2o_pathconf_t *path)
{
    h2o_filter_t *f = h2o_create_filter(path, sizeof(*f));
    f->on_setup_ostream = on_setup_ostream;
}
