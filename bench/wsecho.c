/*
 * wsecho: the smallest upstream that speaks Responses WebSocket mode, so the throughput run can
 * tell the proxy's limit from deltawire-mock's (which builds ~25 events with jansson per turn and
 * tops out at a few thousand requests/s here). Every response.create is answered at once, all
 * frames in one write: response.created, N-3 response.output_text.delta, response.output_item.done
 * (a message with the whole text) and response.completed. The request's metadata picks N
 * ("wsecho_events", default 3: the text is "ok") and the text bytes per delta
 * ("wsecho_delta_bytes", default 8); its stream_id, if any, is echoed in every event, as the
 * service does; nothing else of it is read, and it never fails.
 * A connection that does not ask for a WebSocket gets the same events as plain HTTP/1.1 SSE
 * (keep-alive, chunked), so direct, nginx and deltawire measure against the same upstream.
 * permessage-deflate (RFC 7692) is accepted when offered, as the service does: messages both ways
 * compressed, context kept across messages unless the offer says *_no_context_takeover. The text
 * is bench/words.h's, so it compresses about as English does, not as one repeated phrase would.
 *
 *   wsecho PORT       (127.0.0.1 only; one thread per connection; prints "wsecho: listening")
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include "words.h"

#define MAX_MSG (64u << 20)

static unsigned long next_id;
static pthread_mutex_t id_lock = PTHREAD_MUTEX_INITIALIZER;

static int read_n(int fd, void *p, size_t n)
{
    for (size_t got = 0; got < n;) {
        ssize_t r = read(fd, (char *)p + got, n - got);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

/* ---- growable output ---- */

typedef struct {
    char *p;
    size_t len, cap;
} out_t;

static void out_add(out_t *o, const void *p, size_t n)
{
    if (o->len + n > o->cap) {
        while (o->cap < o->len + n)
            o->cap = o->cap ? o->cap * 2 : 65536;
        if (!(o->p = realloc(o->p, o->cap)))
            abort();
    }
    memcpy(o->p + o->len, p, n);
    o->len += n;
}

/* Appends one unmasked frame (text, pong); rsv1: a compressed message. */
static void frame_bits(out_t *o, int opcode, int rsv1, const char *p, size_t n)
{
    unsigned char h[10];
    size_t hl = 2;
    h[0] = (unsigned char)(0x80 | (rsv1 ? 0x40 : 0) | opcode);
    if (n < 126) {
        h[1] = (unsigned char)n;
    } else if (n < 65536) {
        h[1] = 126;
        h[2] = (unsigned char)(n >> 8);
        h[3] = (unsigned char)n;
        hl = 4;
    } else {
        h[1] = 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
        hl = 10;
    }
    out_add(o, h, hl);
    out_add(o, p, n);
}

static void frame(out_t *o, int opcode, const char *p, size_t n)
{
    frame_bits(o, opcode, 0, p, n);
}

/* permessage-deflate of this thread's connection (NULL: not negotiated), and whether each
 * direction starts every message afresh (the offer's *_no_context_takeover). */
static __thread z_stream *tx_z, *rx_z;
static __thread int tx_fresh, rx_fresh;
static __thread out_t zbuf;

/* Runs z over [p, p + n) to Z_SYNC_FLUSH into zbuf (cleared first). Returns 0 or -1. */
static int zrun(z_stream *z, int deflating, const void *p, size_t n)
{
    zbuf.len = 0;
    z->next_in = (Bytef *)p;
    z->avail_in = (uInt)n;
    do {
        if (zbuf.cap - zbuf.len < 65536) {
            zbuf.cap = zbuf.len + 131072;
            if (!(zbuf.p = realloc(zbuf.p, zbuf.cap)))
                abort();
        }
        z->next_out = (Bytef *)zbuf.p + zbuf.len;
        z->avail_out = (uInt)(zbuf.cap - zbuf.len);
        int r = deflating ? deflate(z, Z_SYNC_FLUSH) : inflate(z, Z_SYNC_FLUSH);
        if (r != Z_OK && r != Z_BUF_ERROR && r != Z_STREAM_END)
            return -1;
        zbuf.len = zbuf.cap - z->avail_out;
    } while (z->avail_out == 0 || z->avail_in > 0);
    return 0;
}

/* One text message, compressed when the connection negotiated it (RFC 7692 7.2.1: the trailing
 * 00 00 ff ff of the sync flush is left off). */
static void text_message(out_t *o, const char *p, size_t n)
{
    if (!tx_z) {
        frame(o, 1, p, n);
        return;
    }
    if (zrun(tx_z, 1, p, n) != 0 || zbuf.len < 4)
        abort();
    frame_bits(o, 1, 1, zbuf.p, zbuf.len - 4);
    if (tx_fresh)
        deflateReset(tx_z);
}

/* Appends one SSE event, as the service's HTTP endpoint spells it. */
static void sse(out_t *o, const char *type, const char *p, size_t n)
{
    char h[128];
    int hl = snprintf(h, sizeof(h), "event: %s\ndata: ", type);
    out_add(o, h, (size_t)hl);
    out_add(o, p, n);
    out_add(o, "\n\n", 2);
}

/* The request's lane (stream_id, "" for the default lane): the service echoes it in every event
 * of a named lane (upstream-protocol.md section 2, "Lanes"). One request at a time per thread. */
static __thread char lane[260];

static void emit_ws(out_t *o, const char *type, const char *p, size_t n)
{
    (void)type;
    if (lane[0] == '\0' || n == 0) {
        text_message(o, p, n);
        return;
    }
    char *e = malloc(n + sizeof(lane) + 16);
    if (!e)
        abort();
    int k = snprintf(e, n + sizeof(lane) + 16, "%.*s,\"stream_id\":\"%s\"}", (int)n - 1, p, lane);
    text_message(o, e, (size_t)k);
    free(e);
}

/* The request's stream_id into `lane` (a string scan, as meta_num; names are [A-Za-z0-9_.-]). */
static void take_lane(const char *body)
{
    const char *k = strstr(body, "\"stream_id\":\"");
    lane[0] = '\0';
    if (k)
        sscanf(k + 13, "%255[A-Za-z0-9_.-]", lane);
}

/* A request's shape from its metadata ("wsecho_events", "wsecho_delta_bytes"), string-valued as
 * the service's metadata is; a string scan, the request is not parsed. */
static size_t meta_num(const char *body, const char *key, size_t dflt)
{
    const char *k = strstr(body, key);
    if (!k)
        return dflt;
    k += strlen(key);
    while (*k == '"' || *k == ':' || *k == ' ')
        k++;
    size_t v = strtoul(k, NULL, 10);
    return v ? v : dflt;
}

typedef void emit_fn(out_t *o, const char *type, const char *p, size_t n);

/* The response: response.created, (events - 3) output_text.delta of delta_bytes each, then
 * output_item.done and response.completed carrying the whole text (the service repeats it there).
 * With 3 events (the default) the text is the short canned answer "ok". */
static void respond(out_t *o, emit_fn *emit, const char *body)
{
    size_t events = meta_num(body, "\"wsecho_events\"", 3), dbytes = meta_num(body, "\"wsecho_delta_bytes\"", 8);
    if (events > 1000000 || dbytes > 65536)
        events = 3;
    size_t deltas = events > 3 ? events - 3 : 0, seq = 0, tlen = deltas ? deltas * dbytes : 2;
    pthread_mutex_lock(&id_lock);
    unsigned long id = ++next_id;
    pthread_mutex_unlock(&id_lock);

    size_t cap = tlen * 2 + 4096;
    char *text = malloc(tlen + 1), *ev = malloc(cap), *item = malloc(tlen + 400), item_id[64];
    if (!text || !ev || !item)
        abort();
    uint32_t x = 2463534242u ^ (uint32_t)(id * 2654435761u); /* xorshift32: each response its own text */
    x = x ? x : 1;
    if (deltas)
        bench_words(text, tlen, &x);
    else
        memcpy(text, "ok", 2);
    text[tlen] = '\0';
    snprintf(item_id, sizeof(item_id), "msg_%048lx", id);
    int n = snprintf(ev, cap,
                     "{\"type\":\"response.created\",\"response\":{\"id\":\"resp_%048lx\",\"object\":\"response\","
                     "\"status\":\"in_progress\",\"previous_response_id\":null,\"output\":[]},\"sequence_number\":%zu}",
                     id, seq++);
    emit(o, "response.created", ev, (size_t)n);
    for (size_t d = 0; d < deltas; d++) {
        n = snprintf(ev, cap,
                     "{\"type\":\"response.output_text.delta\",\"item_id\":\"%s\",\"output_index\":0,"
                     "\"content_index\":0,\"delta\":\"%.*s\",\"logprobs\":[],\"sequence_number\":%zu}",
                     item_id, (int)dbytes, text + d * dbytes, seq++);
        emit(o, "response.output_text.delta", ev, (size_t)n);
    }
    snprintf(item, tlen + 400,
             "{\"id\":\"%s\",\"type\":\"message\",\"status\":\"completed\",\"role\":\"assistant\","
             "\"content\":[{\"type\":\"output_text\",\"text\":\"%s\",\"annotations\":[]}]}",
             item_id, text);
    n = snprintf(ev, cap,
                 "{\"type\":\"response.output_item.done\",\"output_index\":0,\"item\":%s,\"sequence_number\":%zu}",
                 item, seq++);
    emit(o, "response.output_item.done", ev, (size_t)n);
    n = snprintf(ev, cap,
                 "{\"type\":\"response.completed\",\"response\":{\"id\":\"resp_%048lx\",\"object\":\"response\","
                 "\"status\":\"completed\",\"previous_response_id\":null,\"output\":[%s]},\"sequence_number\":%zu}",
                 id, item, seq++);
    emit(o, "response.completed", ev, (size_t)n);
    free(item);
    free(text);
    free(ev);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int handshake(int fd, const char *req)
{
    char key[128], acc_in[200], reply[512];
    unsigned char sha[SHA_DIGEST_LENGTH], acc[64];
    const char *k = strcasestr(req, "sec-websocket-key:");
    if (!k || sscanf(k + 18, " %127[^\r\n]", key) != 1)
        return -1;
    snprintf(acc_in, sizeof(acc_in), "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
    SHA1((unsigned char *)acc_in, strlen(acc_in), sha);
    EVP_EncodeBlock(acc, sha, SHA_DIGEST_LENGTH);
    char ext[200] = "";
    const char *x = strcasestr(req, "sec-websocket-extensions:");
    const char *eol = x ? strstr(x, "\r\n") : NULL;
    if (x && eol && memmem(x, (size_t)(eol - x), "permessage-deflate", 18)) {
        tx_fresh = memmem(x, (size_t)(eol - x), "server_no_context_takeover", 26) != NULL;
        rx_fresh = memmem(x, (size_t)(eol - x), "client_no_context_takeover", 26) != NULL;
        snprintf(ext, sizeof(ext), "Sec-WebSocket-Extensions: permessage-deflate%s%s\r\n",
                 tx_fresh ? "; server_no_context_takeover" : "", rx_fresh ? "; client_no_context_takeover" : "");
        tx_z = calloc(1, sizeof(*tx_z));
        rx_z = calloc(1, sizeof(*rx_z));
        if (!tx_z || !rx_z || deflateInit2(tx_z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK ||
            inflateInit2(rx_z, -15) != Z_OK)
            abort();
    }
    int n = snprintf(reply, sizeof(reply),
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n%s\r\n",
                     acc, ext);
    return write_all(fd, reply, (size_t)n);
}

/* Plain HTTP/1.1 keep-alive: every POST is answered as one chunked SSE stream in one write (the
 * direct and nginx arms of the per-event run). `req` holds the `len` bytes read so far. */
static void serve_http(int fd, char *req, size_t len, size_t cap)
{
    out_t o = {0}, ev = {0};
    for (;;) {
        char *e;
        while (!(e = memmem(req, len, "\r\n\r\n", 4))) {
            ssize_t r = len < cap ? read(fd, req + len, cap - len) : -1;
            if (r <= 0)
                goto done;
            len += (size_t)r;
        }
        size_t hl = (size_t)(e - req) + 4, clen = 0;
        for (char *h = req; h && h < e; h = memmem(h, (size_t)(e - h) + 2, "\r\n", 2), h = h ? h + 2 : h)
            if (!strncasecmp(h, "content-length:", 15))
                clen = strtoul(h + 15, NULL, 10);
        char *body = clen <= MAX_MSG ? malloc(clen + 1) : NULL;
        if (!body)
            goto done;
        size_t have = len - hl < clen ? len - hl : clen;
        memcpy(body, req + hl, have);
        if (have < clen && read_n(fd, body + have, clen - have)) {
            free(body);
            goto done;
        }
        body[clen] = '\0';
        memmove(req, req + hl + have, len - hl - have);
        len -= hl + have;
        ev.len = o.len = 0;
        respond(&ev, sse, body);
        free(body);
        char h[160];
        int n = snprintf(h, sizeof(h),
                         "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "%zx\r\n",
                         ev.len);
        out_add(&o, h, (size_t)n);
        out_add(&o, ev.p, ev.len);
        out_add(&o, "\r\n0\r\n\r\n", 7);
        if (write_all(fd, o.p, o.len))
            goto done;
    }
done:
    free(o.p);
    free(ev.p);
}

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    unsigned char hdr[14], *msg = NULL, *fr = NULL;
    size_t mlen = 0;
    char req[16384];
    size_t len = 0;
    out_t out = {0};
    while (!memmem(req, len, "\r\n\r\n", 4)) {
        ssize_t r = len < sizeof(req) - 1 ? read(fd, req + len, sizeof(req) - 1 - len) : -1;
        if (r <= 0)
            goto done;
        len += (size_t)r;
    }
    req[len] = '\0';
    if (!strcasestr(req, "upgrade: websocket")) {
        serve_http(fd, req, len, sizeof(req) - 1);
        goto done;
    }
    if (handshake(fd, req) != 0)
        goto done;
    /* A message may come in several frames (lws sends a compressed one in pieces of its deflate
     * buffer): its first frame's opcode and RSV1, then continuations up to FIN; control frames may
     * come between them. */
    int mop = 0, mrsv1 = 0;
    for (;;) {
        uint64_t n;
        if (read_n(fd, hdr, 2))
            break;
        int opcode = hdr[0] & 0x0f;
        n = hdr[1] & 0x7f;
        if (n == 126 && !read_n(fd, hdr + 2, 2))
            n = (uint64_t)hdr[2] << 8 | hdr[3];
        else if (n == 127 && !read_n(fd, hdr + 2, 8))
            for (int i = 0, v = 0; i < 8; i++, v = 1)
                n = (v ? n << 8 : 0) | hdr[2 + i];
        if (n > MAX_MSG || read_n(fd, hdr + 10, 4) || !(fr = realloc(fr, n + 1)) || read_n(fd, fr, n))
            break;
        if (opcode == 8)
            break;
        for (uint64_t i = 0; i < n; i++)
            fr[i] ^= hdr[10 + i % 4];
        out.len = 0;
        if (opcode == 9) {
            frame(&out, 10, (char *)fr, n);
            if (write_all(fd, out.p, out.len))
                break;
            continue;
        }
        if (opcode >= 8)
            continue;
        if (opcode != 0) {
            mop = opcode;
            mrsv1 = (hdr[0] & 0x40) != 0;
            mlen = 0;
        }
        if (mlen + n > MAX_MSG || !(msg = realloc(msg, mlen + n + 4)))
            break;
        memcpy(msg + mlen, fr, n);
        mlen += n;
        if (!(hdr[0] & 0x80))
            continue;
        if (mrsv1 && rx_z) {
            memcpy(msg + mlen, "\x00\x00\xff\xff", 4);
            if (zrun(rx_z, 0, msg, mlen + 4) != 0 || !(msg = realloc(msg, zbuf.len + 1)))
                break;
            memcpy(msg, zbuf.p, zbuf.len);
            mlen = zbuf.len;
            if (rx_fresh)
                inflateReset(rx_z);
        }
        msg[mlen] = '\0';
        if (mop != 1)
            continue; /* the proxy sends text messages; anything else is not a request */
        take_lane((char *)msg);
        respond(&out, emit_ws, (char *)msg);
        if (write_all(fd, out.p, out.len))
            break;
    }
done:
    if (tx_z)
        deflateEnd(tx_z);
    if (rx_z)
        inflateEnd(rx_z);
    free(tx_z);
    free(rx_z);
    free(zbuf.p);
    free(msg);
    free(fr);
    free(out.p);
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    int one = 1, s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)(argc > 1 ? atoi(argv[1]) : 0))};
    socklen_t sl = sizeof(sa);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) || listen(s, 512) || getsockname(s, (struct sockaddr *)&sa, &sl)) {
        perror("wsecho");
        return 1;
    }
    fprintf(stderr, "wsecho: listening on 127.0.0.1:%d\n", ntohs(sa.sin_port));
    for (;;) {
        int fd = accept(s, NULL, NULL);
        pthread_t t;
        if (fd < 0)
            continue;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (pthread_create(&t, NULL, serve, (void *)(intptr_t)fd) == 0)
            pthread_detach(t);
        else
            close(fd);
    }
}
