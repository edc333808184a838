/*
 * linkemu: a userspace link emulator for the end-to-end run (issue 16; this Debian kernel has no
 * netem). A TCP relay: every connection accepted on 127.0.0.1:PORT is joined to TARGET, and the
 * bytes of each direction cross a "link" with a bandwidth (one serialisation queue per direction,
 * shared by all connections: a chunk leaves when the link has finished the chunks before it) and a
 * one-way delay (half the RTT), then are written on. Reads are at most one MSS (1448 B), so a chunk
 * is about a packet; the queue is unbounded (a deep router buffer), so senders never see backpressure.
 * TCP/IP headers are not modelled: the byte counts are payload.
 *
 *   linkemu PORT HOST:PORT [--up-mbit 20] [--down-mbit 100] [--rtt-ms 40]
 *     up = client -> target. Prints "linkemu: listening on 127.0.0.1:P"; on SIGUSR1 prints
 *     "linkemu: up BYTES down BYTES" (payload bytes so far) to stderr.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 1448

typedef struct {
    pthread_mutex_t m;
    double ns_per_byte;
    uint64_t delay_ns, free_at, bytes;
} link_t;

typedef struct chunk {
    struct chunk *next;
    uint64_t due;
    size_t n; /* 0: the sender closed its side */
    char data[CHUNK];
} chunk_t;

typedef struct conn conn_t;

typedef struct {
    int from, to;
    link_t *link;
    conn_t *conn;
    pthread_mutex_t m;
    pthread_cond_t c;
    chunk_t *head, *tail;
} dir_t;

struct conn {
    dir_t d[2];
    pthread_mutex_t m;
    int live; /* threads still running; the last one closes the sockets */
};

static link_t up_link = {.m = PTHREAD_MUTEX_INITIALIZER}, down_link = {.m = PTHREAD_MUTEX_INITIALIZER};
static struct sockaddr_in target;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void conn_release(conn_t *c)
{
    pthread_mutex_lock(&c->m);
    int last = --c->live == 0;
    pthread_mutex_unlock(&c->m);
    if (last) {
        close(c->d[0].from);
        close(c->d[0].to);
        free(c);
    }
}

/* Reads chunks and stamps each with the time it finishes crossing the link. */
static void *reader(void *arg)
{
    dir_t *d = arg;
    for (;;) {
        chunk_t *ch = malloc(sizeof(*ch));
        if (!ch)
            abort();
        ssize_t r = read(d->from, ch->data, CHUNK);
        ch->n = r > 0 ? (size_t)r : 0;
        ch->next = NULL;
        pthread_mutex_lock(&d->link->m);
        uint64_t t = now_ns(), start = d->link->free_at > t ? d->link->free_at : t;
        d->link->free_at = start + (uint64_t)(ch->n * d->link->ns_per_byte);
        d->link->bytes += ch->n;
        ch->due = d->link->free_at + d->link->delay_ns;
        pthread_mutex_unlock(&d->link->m);
        pthread_mutex_lock(&d->m);
        if (d->tail)
            d->tail->next = ch;
        else
            d->head = ch;
        d->tail = ch;
        pthread_cond_signal(&d->c);
        pthread_mutex_unlock(&d->m);
        if (!ch->n)
            break;
    }
    conn_release(d->conn);
    return NULL;
}

/* Delivers chunks at their due time; passes the close on as a half-close. */
static void *writer(void *arg)
{
    dir_t *d = arg;
    int ok = 1;
    for (;;) {
        pthread_mutex_lock(&d->m);
        while (!d->head)
            pthread_cond_wait(&d->c, &d->m);
        chunk_t *ch = d->head;
        if (!(d->head = ch->next))
            d->tail = NULL;
        pthread_mutex_unlock(&d->m);
        struct timespec due = {.tv_sec = (time_t)(ch->due / 1000000000u), .tv_nsec = (long)(ch->due % 1000000000u)};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL) == EINTR)
            ;
        size_t n = ch->n, off = 0;
        while (ok && off < n) {
            ssize_t w = send(d->to, ch->data + off, n - off, MSG_NOSIGNAL);
            if (w <= 0)
                ok = 0;
            else
                off += (size_t)w;
        }
        free(ch);
        if (!n) {
            shutdown(d->to, SHUT_WR);
            break;
        }
        if (!ok)
            shutdown(d->from, SHUT_RD); /* the peer is gone: stop the reader too */
    }
    conn_release(d->conn);
    return NULL;
}

static void *stats(void *arg)
{
    sigset_t *set = arg;
    for (;;) {
        int sig;
        if (sigwait(set, &sig) == 0) {
            pthread_mutex_lock(&up_link.m);
            unsigned long long up = up_link.bytes;
            pthread_mutex_unlock(&up_link.m);
            pthread_mutex_lock(&down_link.m);
            unsigned long long down = down_link.bytes;
            pthread_mutex_unlock(&down_link.m);
            fprintf(stderr, "linkemu: up %llu down %llu\n", up, down);
        }
    }
    return NULL;
}

static void serve(int cfd)
{
    int one = 1, tfd = socket(AF_INET, SOCK_STREAM, 0);
    if (tfd < 0 || connect(tfd, (struct sockaddr *)&target, sizeof(target)) != 0) {
        perror("linkemu: connect");
        close(cfd);
        if (tfd >= 0)
            close(tfd);
        return;
    }
    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(tfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    conn_t *c = calloc(1, sizeof(*c));
    if (!c)
        abort();
    pthread_mutex_init(&c->m, NULL);
    c->live = 4;
    c->d[0] = (dir_t){.from = cfd, .to = tfd, .link = &up_link, .conn = c};
    c->d[1] = (dir_t){.from = tfd, .to = cfd, .link = &down_link, .conn = c};
    for (int i = 0; i < 2; i++) {
        pthread_mutex_init(&c->d[i].m, NULL);
        pthread_cond_init(&c->d[i].c, NULL);
    }
    for (int i = 0; i < 4; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, i < 2 ? reader : writer, &c->d[i % 2]) != 0)
            abort();
        pthread_detach(t);
    }
}

int main(int argc, char **argv)
{
    double up = 20, down = 100, rtt = 40;
    char host[64];
    int tport;
    if (argc < 3 || sscanf(argv[2], "%63[^:]:%d", host, &tport) != 2) {
        fprintf(stderr, "usage: linkemu PORT HOST:PORT [--up-mbit M] [--down-mbit M] [--rtt-ms MS]\n");
        return 2;
    }
    for (int i = 3; i + 1 < argc; i += 2) {
        double v = atof(argv[i + 1]);
        if (!strcmp(argv[i], "--up-mbit"))
            up = v;
        else if (!strcmp(argv[i], "--down-mbit"))
            down = v;
        else if (!strcmp(argv[i], "--rtt-ms"))
            rtt = v;
    }
    if (up <= 0 || down <= 0 || rtt < 0)
        return 2;
    up_link.ns_per_byte = 8000.0 / up; /* 1 Mbit/s = 1 bit per µs */
    down_link.ns_per_byte = 8000.0 / down;
    up_link.delay_ns = down_link.delay_ns = (uint64_t)(rtt * 1e6 / 2);
    target = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)tport)};
    if (inet_pton(AF_INET, host, &target.sin_addr) != 1)
        return 2;

    static sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    pthread_t st;
    pthread_create(&st, NULL, stats, &set);

    int one = 1, s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    socklen_t sl = sizeof(sa);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) || listen(s, 512) || getsockname(s, (struct sockaddr *)&sa, &sl)) {
        perror("linkemu");
        return 1;
    }
    fprintf(stderr, "linkemu: listening on 127.0.0.1:%d -> %s:%d (up %.0f Mbit/s, down %.0f Mbit/s, RTT %.0f ms)\n",
            ntohs(sa.sin_port), host, tport, up, down, rtt);
    for (;;) {
        int fd = accept(s, NULL, NULL);
        if (fd >= 0)
            serve(fd);
    }
}
