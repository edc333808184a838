/* bench/floors: what the work deltawire cannot avoid costs per byte on this machine, measured on
 * the libraries and the kernel alone, outside the proxy (issue 16: "where lws itself is the floor,
 * show it"). Each line is the CPU clock of the measuring thread per byte (median of 7 rounds):
 *
 *   inflate    zlib inflating a response's events as the upstream sends them: bench/wsecho's
 *              83 x 500 B answer (the 40 KB-answer response), each event a message
 *              compressed at zlib's default level with context takeover and a sync flush, as
 *              wsecho and the service do; one inflate call per message, per byte inflated
 *   deflate    zlib compressing a request's new bytes as deltawire does upstream (permessage-deflate
 *              through libwebsockets: level 1, window 2^15, mem_level 4, context takeover, a sync
 *              flush per message): messages of 10 KB of fields seen before plus NEW bytes of new
 *              text, per byte of the message
 *   sha256     OpenSSL SHA256_Init/Update/Final of a 100 KB item (an item's cache key)
 *   memcpy     glibc memcpy of a 4 MB body into a buffer it was copied into before
 *   memcmp     glibc memcmp of two equal 4 MB bodies (a continued body against the kept one)
 *   recv       the kernel: recv of a 4 MB body over loopback TCP, the receiving thread's CPU
 *
 *   floors [NEW_BYTES]     (default 20000: the 1 MB session's new bytes per turn)
 *
 * Figures are of this host at this moment: run it beside the proxy's own figures. */
/* the SHA256_* calls deltawire uses (translate/digest.c: the fastest API here) */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "words.h"

#define ROUNDS 7
#define BODY (4u << 20)

static double thread_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v)
{
    qsort(v, ROUNDS, sizeof(*v), cmp_double);
    return v[ROUNDS / 2];
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (p == NULL) {
        perror("floors");
        exit(1);
    }
    return p;
}

/* A growing list of messages, each its bytes. */
typedef struct {
    unsigned char **p;
    size_t *n, count;
} msgs_t;

static void msgs_add(msgs_t *m, const void *p, size_t n)
{
    m->p = realloc(m->p, (m->count + 1) * sizeof(*m->p));
    m->n = realloc(m->n, (m->count + 1) * sizeof(*m->n));
    if (m->p == NULL || m->n == NULL) {
        perror("floors");
        exit(1);
    }
    m->p[m->count] = xmalloc(n ? n : 1);
    memcpy(m->p[m->count], p, n);
    m->n[m->count++] = n;
}

/* Compresses every message of in with z (a sync flush each, its 00 00 ff ff tail dropped, as RFC
 * 7692 says) into out, if out is not NULL. Returns the input bytes. */
static size_t compress_all(z_stream *z, const msgs_t *in, msgs_t *out)
{
    size_t bytes = 0, cap = 1 << 20;
    unsigned char *buf = xmalloc(cap);
    for (size_t i = 0; i < in->count; i++) {
        z->next_in = in->p[i];
        z->avail_in = (uInt)in->n[i];
        z->next_out = buf;
        z->avail_out = (uInt)cap;
        if (deflate(z, Z_SYNC_FLUSH) != Z_OK || z->avail_in != 0) {
            fprintf(stderr, "floors: deflate failed\n");
            exit(1);
        }
        if (out != NULL)
            msgs_add(out, buf, cap - z->avail_out - 4);
        bytes += in->n[i];
    }
    free(buf);
    return bytes;
}

/* The 83 events of wsecho's 83 x 500 B answer: 80 deltas of 500 B of text, then the item and the
 * completed response carrying the whole text again. */
static void response_events(msgs_t *m, uint32_t *x)
{
    enum { DELTAS = 80, DBYTES = 500 };
    char text[DELTAS * DBYTES], *ev = xmalloc(3 * sizeof(text));
    bench_words(text, sizeof(text), x);
    int n = snprintf(ev, 3 * sizeof(text), "{\"type\":\"response.created\",\"response\":{\"id\":\"resp_1\","
                     "\"status\":\"in_progress\",\"output\":[]},\"sequence_number\":0}");
    msgs_add(m, ev, (size_t)n);
    for (int d = 0; d < DELTAS; d++) {
        n = snprintf(ev, 3 * sizeof(text), "{\"type\":\"response.output_text.delta\",\"item_id\":\"msg_1\","
                     "\"output_index\":0,\"content_index\":0,\"delta\":\"%.*s\",\"logprobs\":[],"
                     "\"sequence_number\":%d}", DBYTES, text + d * DBYTES, d + 1);
        msgs_add(m, ev, (size_t)n);
    }
    for (int k = 0; k < 2; k++) {
        n = snprintf(ev, 3 * sizeof(text), "{\"type\":\"%s\",\"item\":{\"id\":\"msg_1\",\"type\":\"message\","
                     "\"content\":[{\"type\":\"output_text\",\"text\":\"%.*s\"}]},\"sequence_number\":%d}",
                     k ? "response.completed" : "response.output_item.done", (int)sizeof(text), text, 81 + k);
        msgs_add(m, ev, (size_t)n);
    }
    free(ev);
}

static double floor_inflate(void)
{
    msgs_t plain = {0}, packed = {0};
    uint32_t x = 2463534242u;
    for (int r = 0; r < 8; r++) /* several responses on one socket: the window carries over */
        response_events(&plain, &x);
    z_stream tx = {0};
    if (deflateInit2(&tx, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        exit(1);
    compress_all(&tx, &plain, &packed);
    deflateEnd(&tx);
    static const unsigned char tail[4] = {0, 0, 0xff, 0xff};
    size_t cap = 1 << 20;
    unsigned char *out = xmalloc(cap);
    double v[ROUNDS];
    for (int round = 0; round < ROUNDS; round++) {
        z_stream rx = {0};
        if (inflateInit2(&rx, -15) != Z_OK)
            exit(1);
        size_t bytes = 0;
        double t0 = thread_ns();
        for (size_t i = 0; i < packed.count; i++) {
            for (int part = 0; part < 2; part++) { /* the message, then the tail the sender dropped */
                rx.next_in = part ? (unsigned char *)tail : packed.p[i];
                rx.avail_in = part ? 4 : (uInt)packed.n[i];
                rx.next_out = out;
                rx.avail_out = (uInt)cap;
                int rc = inflate(&rx, Z_SYNC_FLUSH);
                if (rc != Z_OK && rc != Z_BUF_ERROR)
                    exit(1);
                bytes += cap - rx.avail_out;
            }
        }
        v[round] = (thread_ns() - t0) / (double)bytes;
        inflateEnd(&rx);
    }
    free(out);
    return median(v);
}

static double floor_deflate(size_t new_bytes)
{
    msgs_t m = {0};
    uint32_t x = 88675123u;
    char *fields = xmalloc(10000), *msg = xmalloc(10000 + new_bytes);
    bench_words(fields, 10000, &x);
    for (int turn = 0; turn < 30; turn++) {
        memcpy(msg, fields, 10000);
        bench_words(msg + 10000, new_bytes, &x);
        msgs_add(&m, msg, 10000 + new_bytes);
    }
    free(fields);
    free(msg);
    double v[ROUNDS];
    for (int round = 0; round < ROUNDS; round++) {
        z_stream z = {0};
        if (deflateInit2(&z, 1, Z_DEFLATED, -15, 4, Z_DEFAULT_STRATEGY) != Z_OK)
            exit(1);
        double t0 = thread_ns();
        size_t bytes = compress_all(&z, &m, NULL);
        v[round] = (thread_ns() - t0) / (double)bytes;
        deflateEnd(&z);
    }
    return median(v);
}

static double floor_sha256(void)
{
    enum { ITEM = 100000, REPS = 40 };
    char *item = xmalloc(ITEM);
    uint32_t x = 521288629u;
    bench_words(item, ITEM, &x);
    unsigned char md[SHA256_DIGEST_LENGTH];
    double v[ROUNDS];
    for (int round = 0; round < ROUNDS; round++) {
        double t0 = thread_ns();
        for (int r = 0; r < REPS; r++) {
            SHA256_CTX c;
            SHA256_Init(&c);
            SHA256_Update(&c, item, ITEM);
            SHA256_Final(md, &c);
        }
        v[round] = (thread_ns() - t0) / ((double)ITEM * REPS);
    }
    free(item);
    return median(v);
}

/* what: 0 memcpy, 1 memcmp */
static double floor_mem(int what)
{
    char *a = xmalloc(BODY), *b = xmalloc(BODY);
    uint32_t x = 362436069u;
    bench_words(a, BODY, &x);
    memcpy(b, a, BODY);
    double v[ROUNDS];
    volatile int sink = 0;
    for (int round = 0; round < ROUNDS; round++) {
        double t0 = thread_ns();
        if (what == 1)
            sink += memcmp(a, b, BODY);
        else
            memcpy(b, a, BODY);
        sink += b[BODY / 2];
        v[round] = (thread_ns() - t0) / BODY;
    }
    (void)sink;
    free(a);
    free(b);
    return median(v);
}

static void *send_bodies(void *arg)
{
    int fd = *(int *)arg;
    char *body = xmalloc(BODY);
    memset(body, 'x', BODY);
    for (int round = 0; round < ROUNDS; round++)
        for (size_t off = 0; off < BODY;) {
            ssize_t w = send(fd, body + off, BODY - off, 0);
            if (w <= 0)
                exit(1);
            off += (size_t)w;
        }
    free(body);
    return NULL;
}

static double floor_recv(void)
{
    int ls = socket(AF_INET, SOCK_STREAM, 0), cs = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    if (ls < 0 || cs < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(ls, 1) != 0 ||
        getsockname(ls, (struct sockaddr *)&sa, &len) != 0 || connect(cs, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        perror("floors: loopback");
        exit(1);
    }
    int rs = accept(ls, NULL, NULL);
    pthread_t t;
    pthread_create(&t, NULL, send_bodies, &cs);
    char *buf = xmalloc(BODY);
    double v[ROUNDS];
    for (int round = 0; round < ROUNDS; round++) {
        double t0 = thread_ns();
        for (size_t got = 0; got < BODY;) {
            ssize_t r = recv(rs, buf + got, BODY - got, 0);
            if (r <= 0)
                exit(1);
            got += (size_t)r;
        }
        v[round] = (thread_ns() - t0) / BODY;
    }
    pthread_join(t, NULL);
    free(buf);
    close(rs);
    close(cs);
    close(ls);
    return median(v);
}

int main(int argc, char **argv)
{
    size_t new_bytes = argc > 1 ? strtoul(argv[1], NULL, 10) : 20000;
    printf("floor\tns_per_byte\n");
    printf("inflate\t%.2f\n", floor_inflate());
    printf("deflate\t%.2f\n", floor_deflate(new_bytes));
    printf("sha256\t%.2f\n", floor_sha256());
    printf("memcpy\t%.3f\n", floor_mem(0));
    printf("memcmp\t%.3f\n", floor_mem(1));
    printf("recv\t%.3f\n", floor_recv());
    return 0;
}
