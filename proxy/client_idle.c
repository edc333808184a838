#include "proxy/client_idle.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

typedef struct dw_watch {
    uv_tcp_t tcp; /* first: the handle h2o's socket wraps is this struct */
    dw_client_idle_t *ci;
    int fd;            /* -1 until watched */
    size_t inflight;   /* requests handed to the handler and not yet disposed */
    uint64_t idle_since_ms; /* accepted, or its last request disposed */
    int closed, cut;
    struct dw_watch *prev, *next;
} dw_watch_t;

struct dw_client_idle {
    uv_loop_t *loop;
    uint64_t idle_ms;
    uv_timer_t sweep;
    dw_watch_t *head;
    dw_watch_t **by_fd; /* the watched connection of each descriptor */
    size_t n_fd;
};

/* Milliseconds since the kernel last received data on fd, or 0 when it cannot say. */
static uint64_t ms_since_data(int fd)
{
    struct tcp_info ti;
    socklen_t len = sizeof(ti);
    memset(&ti, 0, sizeof(ti));
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
        return 0;
    return ti.tcpi_last_data_recv;
}

/* Cuts the connections that waited for their client too long: shutdown() makes h2o read an end of
 * stream and close the connection its own way. */
static void on_sweep(uv_timer_t *t)
{
    dw_client_idle_t *ci = t->data;
    uint64_t now = uv_now(ci->loop);
    for (dw_watch_t *w = ci->head; w; w = w->next) {
        if (w->fd < 0 || w->cut || w->inflight != 0 || now - w->idle_since_ms < ci->idle_ms)
            continue;
        if (ms_since_data(w->fd) >= ci->idle_ms) {
            w->cut = 1;
            shutdown(w->fd, SHUT_RDWR);
        }
    }
}

dw_client_idle_t *dw_client_idle_new(uv_loop_t *loop, double idle_secs)
{
    dw_client_idle_t *ci = calloc(1, sizeof(*ci));
    if (ci == NULL)
        return NULL;
    ci->loop = loop;
    ci->idle_ms = (uint64_t)(idle_secs * 1000);
    uint64_t every = ci->idle_ms / 4;
    every = every < 100 ? 100 : every > 1000 ? 1000 : every;
    uv_timer_init(loop, &ci->sweep);
    ci->sweep.data = ci;
    uv_timer_start(&ci->sweep, on_sweep, every, every);
    uv_unref((uv_handle_t *)&ci->sweep);
    return ci;
}

uv_tcp_t *dw_client_idle_conn(dw_client_idle_t *ci)
{
    dw_watch_t *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    w->ci = ci;
    w->fd = -1;
    uv_tcp_init(ci->loop, &w->tcp);
    return &w->tcp;
}

void dw_client_idle_watch(uv_tcp_t *conn)
{
    dw_watch_t *w = (dw_watch_t *)conn;
    dw_client_idle_t *ci = w->ci;
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)conn, &fd) != 0 || fd < 0)
        return;
    if ((size_t)fd >= ci->n_fd) {
        size_t n = ci->n_fd ? ci->n_fd : 64;
        while (n <= (size_t)fd)
            n *= 2;
        dw_watch_t **grown = realloc(ci->by_fd, n * sizeof(*grown));
        if (grown == NULL)
            return; /* unwatched: h2o's own far deadline still holds */
        memset(grown + ci->n_fd, 0, (n - ci->n_fd) * sizeof(*grown));
        ci->by_fd = grown;
        ci->n_fd = n;
    }
    w->fd = fd;
    w->idle_since_ms = uv_now(ci->loop);
    ci->by_fd[fd] = w;
    w->next = ci->head;
    if (ci->head)
        ci->head->prev = w;
    ci->head = w;
}

static void release(dw_watch_t *w)
{
    if (w->closed && w->inflight == 0)
        free(w);
}

void dw_client_idle_on_close(uv_handle_t *h)
{
    dw_watch_t *w = (dw_watch_t *)h;
    dw_client_idle_t *ci = w->ci;
    if (w->fd >= 0) {
        if (ci->by_fd[w->fd] == w)
            ci->by_fd[w->fd] = NULL;
        if (w->prev)
            w->prev->next = w->next;
        else
            ci->head = w->next;
        if (w->next)
            w->next->prev = w->prev;
        w->fd = -1;
    }
    w->closed = 1;
    release(w);
}

static void on_request_disposed(void *p)
{
    dw_watch_t *w = *(dw_watch_t **)p;
    w->inflight--;
    w->idle_since_ms = uv_now(w->ci->loop);
    release(w);
}

void dw_client_idle_request(dw_client_idle_t *ci, h2o_req_t *req)
{
    h2o_socket_t *sock = req->conn->callbacks->get_socket ? req->conn->callbacks->get_socket(req->conn) : NULL;
    int fd = sock ? h2o_socket_get_fd(sock) : -1;
    if (fd < 0 || (size_t)fd >= ci->n_fd || ci->by_fd[fd] == NULL)
        return;
    dw_watch_t **ref = h2o_mem_alloc_shared(&req->pool, sizeof(*ref), on_request_disposed);
    *ref = ci->by_fd[fd];
    (*ref)->inflight++;
}
