/*
 * wsecho: the smallest upstream that speaks Responses WebSocket mode, so the throughput run can
 * tell the proxy's limit from deltawire-mock's (which builds ~25 events with jansson per turn and
 * tops out at a few thousand requests/s here). Every response.create is answered at once with
 * three frames in one write: response.created, response.output_item.done (a short message) and
 * response.completed. It ignores the request's content and never fails.
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

/* Appends one unmasked text (or pong) frame. */
static size_t frame(unsigned char *out, int opcode, const char *p, size_t n)
{
    size_t h = 2;
    out[0] = (unsigned char)(0x80 | opcode);
    if (n < 126) {
        out[1] = (unsigned char)n;
    } else {
        out[1] = 126;
        out[2] = (unsigned char)(n >> 8);
        out[3] = (unsigned char)n;
        h = 4;
    }
    memcpy(out + h, p, n);
    return h + n;
}

static int handshake(int fd)
{
    char req[8192], key[128], acc_in[200], reply[256];
    unsigned char sha[SHA_DIGEST_LENGTH], acc[64];
    size_t len = 0;
    while (!memmem(req, len, "\r\n\r\n", 4)) {
        ssize_t r = read(fd, req + len, sizeof(req) - 1 - len);
        if (r <= 0)
            return -1;
        len += (size_t)r;
    }
    req[len] = '\0';
    char *k = strcasestr(req, "sec-websocket-key:");
    if (!k || sscanf(k + 18, " %127[^\r\n]", key) != 1)
        return -1;
    snprintf(acc_in, sizeof(acc_in), "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
    SHA1((unsigned char *)acc_in, strlen(acc_in), sha);
    EVP_EncodeBlock(acc, sha, SHA_DIGEST_LENGTH);
    int n = snprintf(reply, sizeof(reply),
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n\r\n",
                     acc);
    return write(fd, reply, (size_t)n) == n ? 0 : -1;
}

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    unsigned char hdr[14], *msg = NULL, out[4096];
    char ev[3][1024];
    if (handshake(fd) != 0)
        goto done;
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
        if (n > MAX_MSG || read_n(fd, hdr + 10, 4) || !(msg = realloc(msg, n + 1)) || read_n(fd, msg, n))
            break;
        if (opcode == 8)
            break;
        if (opcode == 9) {
            for (uint64_t i = 0; i < n; i++)
                msg[i] ^= hdr[10 + i % 4];
            size_t m = frame(out, 10, (char *)msg, n);
            if (write(fd, out, m) != (ssize_t)m)
                break;
            continue;
        }
        if (opcode != 1 || !(hdr[0] & 0x80))
            continue; /* the proxy sends whole text messages; anything else is not a request */
        pthread_mutex_lock(&id_lock);
        unsigned long id = ++next_id;
        pthread_mutex_unlock(&id_lock);
        const char *item = "{\"id\":\"msg_%048lx\",\"type\":\"message\",\"status\":\"completed\",\"role\":"
                           "\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"ok\",\"annotations\":[]}]}";
        char it[400];
        snprintf(it, sizeof(it), item, id);
        snprintf(ev[0], sizeof(ev[0]),
                 "{\"type\":\"response.created\",\"response\":{\"id\":\"resp_%048lx\",\"object\":\"response\","
                 "\"status\":\"in_progress\",\"previous_response_id\":null,\"output\":[]},\"sequence_number\":0}",
                 id);
        snprintf(ev[1], sizeof(ev[1]),
                 "{\"type\":\"response.output_item.done\",\"output_index\":0,\"item\":%s,\"sequence_number\":1}", it);
        snprintf(ev[2], sizeof(ev[2]),
                 "{\"type\":\"response.completed\",\"response\":{\"id\":\"resp_%048lx\",\"object\":\"response\","
                 "\"status\":\"completed\",\"previous_response_id\":null,\"output\":[%s]},\"sequence_number\":2}",
                 id, it);
        size_t m = 0;
        for (int i = 0; i < 3; i++)
            m += frame(out + m, 1, ev[i], strlen(ev[i]));
        if (write(fd, out, m) != (ssize_t)m)
            break;
    }
done:
    free(msg);
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
