#include "proxy/client_conn.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "translate/http1_framing.h"

/* A request head is at most this long (h2o answers a longer one 400 itself). */
#define DW_HEAD_MAX (64 * 1024)

/* Input sized ahead of the body's bytes, summed over the connections still waiting for theirs:
 * heads alone, sent without bodies, reserve no more than this (h2o's doubling can round each up to
 * twice its length: in address space, not memory, until the bytes come). */
#define DW_PRESIZE_BUDGET ((size_t)256 << 20)

typedef struct dw_watch {
    uv_tcp_t tcp; /* first: the handle h2o's socket wraps is this struct */
    dw_client_conn_t *cc;
    int fd;            /* -1 until watched */
    h2o_socket_t *sock; /* NULL until h2o accepted it */
    h2o_socket_cb h2o_read; /* h2o's read callback, called by ours */
    size_t inflight;   /* requests handed to the handler and not yet disposed */
    uint64_t idle_since_ms; /* accepted, or its last request disposed */
    int closed, cut;
    int expect_head;   /* the next bytes h2o parses start an HTTP/1 request head */
    int next_bad;      /* the head read last has conflicting lengths */
    size_t presized;   /* bytes of input sized for a request not yet handed to the handler */
    int handshaking;   /* TLS: h2o's handshake reads it, its HTTP layer not yet */
    int pending;       /* in the list on_rewrap looks at */
    struct dw_watch *prev, *next;
    struct dw_watch *pprev, *pnext; /* that list */
} dw_watch_t;

struct dw_client_conn {
    uv_loop_t *loop;
    uint64_t idle_ms;
    uv_timer_t sweep;
    uv_prepare_t rewrap; /* active while `pending` is not empty */
    dw_watch_t *pending; /* connections whose read callback may be h2o's again, or whose TLS handshake may be over */
    dw_watch_t *head;
    dw_watch_t **by_fd; /* the watched connection of each descriptor */
    size_t n_fd;
    size_t max_body;   /* h2o's max_request_entity_size: it answers a longer body 413 */
    size_t presized;   /* the connections' presized, summed */
    uint64_t presized_total; /* inputs sized for their request so far */
    h2o_socket_cb http1_read; /* the read callback of h2o's HTTP/1 layer, once a connection showed it */
    h2o_socket_cb handshake_read; /* h2o's TLS handshake's, once a TLS connection showed it */
};

static void on_read(h2o_socket_t *sock, const char *err);

/* ------------------------------------------------------------------ the idle-read timeout */

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
    dw_client_conn_t *cc = t->data;
    uint64_t now = uv_now(cc->loop);
    for (dw_watch_t *w = cc->head; w; w = w->next) {
        if (w->fd < 0 || w->cut || w->inflight != 0 || now - w->idle_since_ms < cc->idle_ms)
            continue;
        if (ms_since_data(w->fd) >= cc->idle_ms) {
            w->cut = 1;
            shutdown(w->fd, SHUT_RDWR);
        }
    }
}

/* ------------------------------------------------------------------ HTTP/1 framing */

/* Gives the input room for the whole request at once, where h2o would grow it by doubling as the
 * body arrives (a 1 MB body was copied ~1 MB more on its way in; issue 16). Moving the input is
 * safe only while h2o holds no pointer into it: h2o's HTTP/1 layer reads the connection (not
 * HTTP/2's, not a TLS handshake's), no request is in flight, and the read being delivered
 * completed the head (h2o parses a head in the read that completes it, after us; `fresh` is that
 * read's bytes, h2o_socket_t.bytes_read). Within h2o's own limit, and never as far as h2o's
 * file-backed buffers (from mmap_settings' threshold on h2o allocates a file: a head alone must
 * not make it do so). h2o_buffer_reserve doubles the capacity until it holds len, and doubles even
 * a capacity above len when an earlier request consumed from its front takes the room: below half
 * the threshold, both len and the capacity it starts from keep the result below it. */
static void presize(dw_watch_t *w, size_t head_len, size_t body_len, size_t fresh)
{
    h2o_buffer_t *in = w->sock->input;
    dw_client_conn_t *cc = w->cc;
    if (cc->http1_read == NULL || w->h2o_read != cc->http1_read || w->inflight != 0 || head_len <= in->size - fresh || body_len > cc->max_body ||
        body_len > SIZE_MAX - head_len)
        return;
    size_t len = head_len + body_len;
    size_t file_backed = h2o_socket_buffer_mmap_settings.threshold;
    if (len <= in->size || len >= file_backed / 2 || in->capacity >= file_backed / 2 || len > DW_PRESIZE_BUDGET - cc->presized)
        return;
    h2o_buffer_reserve(&w->sock->input, len - in->size);
    cc->presized_total++;
    cc->presized += len;
    w->presized = len;
}

static void presized_done(dw_watch_t *w)
{
    w->cc->presized -= w->presized;
    w->presized = 0;
}

/* Reads the head at offset `from` of the socket's input, once it is whole. From a read (fresh: its
 * bytes, else 0), a head at the start of the input gets room for its body. */
static void scan_head(dw_watch_t *w, size_t from, size_t fresh)
{
    h2o_buffer_t *in = w->sock->input;
    if (!w->expect_head || in->size <= from)
        return;
    size_t head_len, body_len;
    int r = dw_http1_framing(in->bytes + from, in->size - from, &head_len, &body_len);
    if (r == DW_FRAMING_INCOMPLETE && in->size - from < DW_HEAD_MAX)
        return;
    w->expect_head = 0;
    w->next_bad = r == DW_FRAMING_CONFLICT;
    if (r == DW_FRAMING_OK && from == 0 && fresh != 0 && body_len != DW_FRAMING_LENGTH_UNKNOWN)
        presize(w, head_len, body_len, fresh);
}

/* Puts our read callback in front of h2o's, which h2o sets anew each time it starts reading. */
static void wrap(dw_watch_t *w)
{
    if (w->sock != NULL && w->sock->_cb.read != NULL && w->sock->_cb.read != on_read) {
        w->h2o_read = w->sock->_cb.read;
        w->sock->_cb.read = on_read;
    }
}

static dw_watch_t *watch_of(dw_client_conn_t *cc, h2o_socket_t *sock)
{
    int fd = h2o_socket_get_fd(sock);
    return fd >= 0 && (size_t)fd < cc->n_fd ? cc->by_fd[fd] : NULL;
}

static dw_client_conn_t *the_watcher; /* one per process, like the h2o context */

static void on_read(h2o_socket_t *sock, const char *err)
{
    dw_watch_t *w = watch_of(the_watcher, sock);
    if (w == NULL || w->sock != sock)
        return; /* cannot be: the callback is ours only while watched */
    if (err == NULL)
        scan_head(w, 0, sock->bytes_read); /* h2o consumed the requests before: its input starts with the next head */
    w->h2o_read(sock, err);
    wrap(w); /* h2o may have started reading again with another callback */
}

static void on_rewrap(uv_prepare_t *p);

/* On the list on_rewrap looks at before the loop polls again. */
static void pend(dw_watch_t *w)
{
    dw_client_conn_t *cc = w->cc;
    if (w->pending)
        return;
    w->pending = 1;
    w->pprev = NULL;
    w->pnext = cc->pending;
    if (cc->pending)
        cc->pending->pprev = w;
    cc->pending = w;
    uv_prepare_start(&cc->rewrap, on_rewrap);
}

static void unpend(dw_watch_t *w)
{
    if (!w->pending)
        return;
    *(w->pprev ? &w->pprev->pnext : &w->cc->pending) = w->pnext;
    if (w->pnext)
        w->pnext->pprev = w->pprev;
    w->pending = 0;
}

/* h2o reads the connection with its HTTP/1 layer: each layer's accept points sock->data at the
 * connection it makes, and only HTTP/1's logs a request index. ALPN alone cannot tell: an HTTP/1
 * connection that reads the HTTP/2 preface hands its socket to HTTP/2 (h2o's http1.c). */
static int reads_http1(h2o_socket_t *sock)
{
    const h2o_conn_t *conn = sock->data;
    return conn != NULL && conn->callbacks->log_.http1.request_index != NULL;
}

/* The read callback h2o reads w with (ours stands in front of it once wrapped), NULL while h2o
 * does not read. */
static h2o_socket_cb h2o_reader(const dw_watch_t *w)
{
    return w->sock->_cb.read == on_read ? w->h2o_read : w->sock->_cb.read;
}

/* h2o starts reading with a callback of its own outside ours: after a response, the next request
 * from its write callback; after a TLS handshake, the HTTP layer from the handshake's last write
 * (the handshake is over once h2o reads with another callback than the handshake's, or a request
 * reached the handler). Ours goes back in front before the loop polls again, and the first reader
 * of h2o's HTTP/1 layer shown this way is the callback presize waits for. */
static void on_rewrap(uv_prepare_t *p)
{
    dw_client_conn_t *cc = p->data;
    for (dw_watch_t *w = cc->pending, *next; w; w = next) {
        next = w->pnext;
        h2o_socket_cb r = h2o_reader(w);
        if (w->handshaking && (r == NULL || cc->handshake_read == NULL || r == cc->handshake_read))
            continue; /* looked at again next time */
        w->handshaking = 0;
        if (cc->http1_read == NULL && r != NULL && reads_http1(w->sock))
            cc->http1_read = r;
        wrap(w);
        unpend(w);
    }
    if (cc->pending == NULL)
        uv_prepare_stop(p);
}

/* ------------------------------------------------------------------ connections and requests */

dw_client_conn_t *dw_client_conn_new(uv_loop_t *loop, double idle_secs, size_t max_body)
{
    dw_client_conn_t *cc = calloc(1, sizeof(*cc));
    if (cc == NULL)
        return NULL;
    cc->loop = loop;
    cc->max_body = max_body;
    cc->idle_ms = (uint64_t)(idle_secs * 1000);
    uint64_t every = cc->idle_ms / 4;
    every = every < 100 ? 100 : every > 1000 ? 1000 : every;
    uv_timer_init(loop, &cc->sweep);
    cc->sweep.data = cc;
    uv_timer_start(&cc->sweep, on_sweep, every, every);
    uv_unref((uv_handle_t *)&cc->sweep);
    uv_prepare_init(loop, &cc->rewrap);
    cc->rewrap.data = cc;
    uv_unref((uv_handle_t *)&cc->rewrap);
    the_watcher = cc;
    return cc;
}

uv_tcp_t *dw_client_conn_conn(dw_client_conn_t *cc)
{
    dw_watch_t *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    w->cc = cc;
    w->fd = -1;
    uv_tcp_init(cc->loop, &w->tcp);
    return &w->tcp;
}

void dw_client_conn_watch(uv_tcp_t *conn)
{
    dw_watch_t *w = (dw_watch_t *)conn;
    dw_client_conn_t *cc = w->cc;
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)conn, &fd) != 0 || fd < 0)
        return;
    if ((size_t)fd >= cc->n_fd) {
        size_t n = cc->n_fd ? cc->n_fd : 64;
        while (n <= (size_t)fd)
            n *= 2;
        dw_watch_t **grown = realloc(cc->by_fd, n * sizeof(*grown));
        if (grown == NULL)
            return; /* unwatched: h2o's own far deadline still holds */
        memset(grown + cc->n_fd, 0, (n - cc->n_fd) * sizeof(*grown));
        cc->by_fd = grown;
        cc->n_fd = n;
    }
    w->fd = fd;
    w->idle_since_ms = uv_now(cc->loop);
    w->expect_head = 1;
    cc->by_fd[fd] = w;
    w->next = cc->head;
    if (cc->head)
        cc->head->prev = w;
    cc->head = w;
}

void dw_client_conn_accepted(uv_tcp_t *conn, h2o_socket_t *sock)
{
    dw_watch_t *w = (dw_watch_t *)conn;
    if (w->fd < 0)
        return;
    w->sock = sock;
    /* h2o_accept hands a plain connection to its HTTP/1 layer, which starts reading at once. A TLS
     * connection reads with the handshake's callback first (on_rewrap waits for its end). */
    if (sock->ssl == NULL) {
        if (w->cc->http1_read == NULL)
            w->cc->http1_read = sock->_cb.read;
    } else {
        if (w->cc->handshake_read == NULL)
            w->cc->handshake_read = sock->_cb.read;
        w->handshaking = 1;
        pend(w);
    }
    wrap(w);
}

static void release(dw_watch_t *w)
{
    if (w->closed && w->inflight == 0)
        free(w);
}

void dw_client_conn_on_close(uv_handle_t *h)
{
    dw_watch_t *w = (dw_watch_t *)h;
    dw_client_conn_t *cc = w->cc;
    if (w->fd >= 0) {
        if (cc->by_fd[w->fd] == w)
            cc->by_fd[w->fd] = NULL;
        if (w->prev)
            w->prev->next = w->next;
        else
            cc->head = w->next;
        if (w->next)
            w->next->prev = w->prev;
        w->fd = -1;
    }
    w->sock = NULL;
    w->closed = 1;
    unpend(w);
    presized_done(w);
    release(w);
}

static void on_request_disposed(void *p)
{
    dw_watch_t *w = *(dw_watch_t **)p;
    w->inflight--;
    w->idle_since_ms = uv_now(w->cc->loop);
    if (w->sock != NULL && w->expect_head)
        pend(w);
    release(w);
}

int dw_client_conn_request(dw_client_conn_t *cc, h2o_req_t *req)
{
    h2o_socket_t *sock = req->conn->callbacks->get_socket ? req->conn->callbacks->get_socket(req->conn) : NULL;
    dw_watch_t *w = sock ? watch_of(cc, sock) : NULL;
    if (w == NULL)
        return 0;
    dw_watch_t **ref = h2o_mem_alloc_shared(&req->pool, sizeof(*ref), on_request_disposed);
    *ref = w;
    w->inflight++;
    presized_done(w); /* the body is in: the input is in use, not reserved */
    if (w->handshaking) {
        /* its first request came with the client's Finished: h2o may not read again before it is
         * answered, and the disposal puts the connection back on the list */
        w->handshaking = 0;
        unpend(w);
    }
    if (req->version >= 0x200) {
        w->expect_head = 0; /* HTTP/2 frames its own messages */
        return 0;
    }
    h2o_buffer_t *in = sock->input;
    size_t rest = 0, head_len, body_len;
    int bad = w->next_bad;
    /* a head no read of ours showed: over TLS, h2o's HTTP/1 layer starts when the handshake's last
     * write completes and parses what came with the client's Finished at once, or reads before our
     * callback is back in front. It is read here, where it still starts the input (h2o consumes a
     * request once answered). */
    if (w->expect_head)
        bad = dw_http1_framing(in->bytes, in->size, &head_len, &body_len) == DW_FRAMING_CONFLICT;
    /* while h2o answers, its input still holds this request (head, then the body h2o points
     * req->entity at); what follows is the next one, pipelined */
    w->next_bad = 0;
    w->expect_head = 1;
    if (req->entity.base != NULL && req->entity.base >= in->bytes && req->entity.base <= in->bytes + in->size)
        rest = (size_t)(req->entity.base - in->bytes) + req->entity.len;
    else if (dw_http1_framing(in->bytes, in->size, &head_len, &body_len) != DW_FRAMING_INCOMPLETE)
        rest = head_len;
    if (rest <= in->size)
        scan_head(w, rest, 0);
    return bad;
}

uint64_t dw_client_conn_presized_total(void)
{
    return the_watcher != NULL ? the_watcher->presized_total : 0;
}
