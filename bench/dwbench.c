/*
 * dwbench: the session driver for bench/run.sh.
 *
 * Speaks HTTP/1.1 over one blocking keep-alive socket per target and stamps
 * every request with clock_gettime(CLOCK_MONOTONIC), so what it measures is
 * the server side plus one loopback hop, not a runtime's event loop. Every
 * run alternates the direct target (client -> mock) and the proxy target
 * (client -> deltawire -> mock) request by request, so drift on this noisy
 * machine hits both arms alike.
 *
 *   dwbench session --direct URL --proxy URL --mock URL --proxy-pid PID
 *                   --shape codex|large --turns N [--target-bytes B] --out FILE
 *     One synthetic agent session per arm, in lockstep. Per turn: the direct
 *     body, the floor (what a WebSocket-mode client would send), the bytes the
 *     mock received from deltawire (its /__mock/log), the bytes deltawire put
 *     on the wire for them after permessage-deflate (its /stats, which the
 *     integration tests check against the mock's count), first/last byte
 *     times, and the proxy's CPU time for the turn.
 *
 *   dwbench session ... --api chat
 *     The same session spoken as Chat Completions (issue 18): the prefix as a system message and
 *     chat tools, the whole `messages` array every turn to <base>/chat/completions of both
 *     targets (the mock answers it directly; deltawire translates it and goes over WebSocket).
 *     floor_bytes is 0: no WebSocket-mode client speaks Chat Completions.
 *
 *   dwbench latency --direct URL --proxy URL --mock URL --proxy-pid PID
 *                   --size BYTES --samples N --out FILE
 *     Two-turn conversations whose second turn is about BYTES long; only the
 *     second (steady-state: a delta through the proxy) turn is measured. A
 *     third arm, "delta", sends the mock the same turn directly as HTTP with
 *     store=true and previous_response_id: the mock's own cost for a delta,
 *     so proxy - delta is the proxy's share.
 *
 *   dwbench conversations --proxy URL --mock URL --count N --tag T
 *     N distinct one-turn conversations (1 user item + the mock's 2 output items), one after the
 *     other, for the memory run; prints how many succeeded.
 *
 *   dwbench sockets --proxy URL --mock URL --count N --tag T
 *     N two-turn Codex-like conversations, each under its own credential, so each leaves one idle
 *     upstream socket behind (with its permessage-deflate state when negotiated): the memory per
 *     socket run. Prints how many turns succeeded.
 *
 *   dwbench events --direct URL --nginx URL --proxy URL --proxy-pid PID --nginx-pid PID
 *                  --upstream-pid PID --shapes N:B,... --samples S --size BYTES [--warmup W]
 *                  [--proxy-plain URL --proxy-plain-pid PID] --out FILE
 *     Per-event cost against what users would run instead (issue 16): one-turn requests of about
 *     BYTES (store=false, a new conversation each) to bench/wsecho straight (direct), through nginx
 *     (a plain streaming reverse proxy) and through deltawire (WebSocket upstream), alternating the
 *     arms request by request. Each shape N:B asks wsecho (request metadata) for N events,
 *     N-3 of them text deltas of B bytes. Per request: first/last byte times, response bytes, the
 *     CPU of the arm's middle process (deltawire's or nginx's worker: its CPU clock read at the
 *     start of each of its requests, so the difference is one whole request, tail included) and
 *     the upstream's CPU (read around the request). --proxy-plain adds a fourth arm,
 *     "deltawire-plain": a second deltawire, run by bench/run.sh with --upstream-deflate off, so that
 *     the upstream's compression and zlib are out of the way. W warm-up rounds (default 1) go
 *     first, unmeasured: deltawire opens another upstream connection whenever a new conversation
 *     finds every lane of its connections caching one (33 lanes each, up to --max-conns-per-key,
 *     16), a handshake on that request's path; bench/run.sh warms past those 528 conversations to
 *     measure the steady state.
 *
 * Output: tab-separated rows, one per turn or sample, header first.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define RECV_TIMEOUT_S 60 /* a stuck server fails the run instead of hanging it */

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("dwbench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- growable byte buffer ---- */

typedef struct {
    char *p;
    size_t len, cap;
} buf_t;

static void buf_reserve(buf_t *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra + 1)
        cap *= 2;
    if (!(b->p = realloc(b->p, cap)))
        die("out of memory");
    b->cap = cap;
}

static void buf_add(buf_t *b, const void *p, size_t n)
{
    buf_reserve(b, n);
    memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void buf_str(buf_t *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

static void buf_fmt(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Deterministic filler prose (JSON-safe: letters, spaces, periods). */
static void buf_prose(buf_t *b, size_t n, unsigned seed)
{
    static const char *words[] = {"the", "agent", "reads", "file", "output", "shell", "command", "returns",
                                  "patch", "applies", "test", "suite", "passes", "context", "window", "tool",
                                  "call", "result", "repository", "function", "before", "after", "must", "never"};
    size_t end = b->len + n, i = seed;
    while (b->len < end) {
        const char *w = words[(i * 2654435761u >> 7) % (sizeof(words) / sizeof(words[0]))];
        size_t wl = strlen(w);
        if (b->len + wl + 1 > end) {
            while (b->len < end)
                buf_add(b, "x", 1);
            break;
        }
        buf_add(b, w, wl);
        buf_add(b, (++i % 17) ? " " : ".", 1);
    }
}

/* ---- minimal HTTP/1.1 client ---- */

typedef struct {
    char host[64];
    int port;
    char path[256];
    int fd;
} target_t;

static void target_parse(target_t *t, const char *url)
{
    if (sscanf(url, "http://%63[^:]:%d%255s", t->host, &t->port, t->path) < 2)
        die("bad url %s (want http://HOST:PORT/path)", url);
    if (!t->path[0])
        strcpy(t->path, "/");
    t->fd = -1;
}

static void target_connect(target_t *t)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)t->port)};
    struct timeval tv = {.tv_sec = RECV_TIMEOUT_S};
    int one = 1;
    if (inet_pton(AF_INET, t->host, &sa.sin_addr) != 1)
        die("bad host %s", t->host);
    if ((t->fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 || connect(t->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        die("connect %s:%d: %s", t->host, t->port, strerror(errno));
    setsockopt(t->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(t->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(t->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

typedef struct {
    int status;
    buf_t body;        /* de-chunked */
    uint64_t t_first;  /* first body byte, ns since the request started */
    uint64_t t_last;   /* last body byte */
} reply_t;

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            die("send: %s", strerror(errno));
        p += w;
        n -= (size_t)w;
    }
}

/* Parses as much of a chunked body as raw holds; returns 1 once the last chunk is in. */
static int dechunk(const char *raw, size_t len, size_t *pos, buf_t *out)
{
    for (;;) {
        const char *nl = memmem(raw + *pos, len - *pos, "\r\n", 2);
        if (!nl)
            return 0;
        size_t sz = strtoul(raw + *pos, NULL, 16);
        size_t data = (size_t)(nl - raw) + 2;
        if (len < data + sz + 2)
            return 0;
        buf_add(out, raw + data, sz);
        *pos = data + sz + 2;
        if (sz == 0)
            return 1;
    }
}

/* One request/response on the target's keep-alive connection. */
static void http_do(target_t *t, const char *method, const char *path, const char *auth, const char *body,
                    size_t n, reply_t *r)
{
    buf_t req = {0}, raw = {0};
    if (t->fd < 0)
        target_connect(t);
    buf_fmt(&req,
            "%s %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\n"
            "Content-Length: %zu\r\n",
            method, path ? path : t->path, t->host, t->port, n);
    if (auth)
        buf_fmt(&req, "Authorization: Bearer %s\r\n", auth);
    buf_str(&req, "\r\n");

    r->body.len = 0;
    r->t_first = r->t_last = 0;
    uint64_t t0 = now_ns();
    send_all(t->fd, req.p, req.len);
    send_all(t->fd, body, n);

    size_t hdr_end = 0, pos = 0, clen = 0;
    int chunked = 0, done = 0;
    while (!done) {
        buf_reserve(&raw, 65536);
        ssize_t got = recv(t->fd, raw.p + raw.len, raw.cap - raw.len - 1, 0);
        uint64_t at = now_ns() - t0;
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            die("%s:%d closed or timed out mid-response", t->host, t->port);
        raw.len += (size_t)got;
        if (!hdr_end) {
            const char *e = memmem(raw.p, raw.len, "\r\n\r\n", 4);
            if (!e)
                continue;
            hdr_end = (size_t)(e - raw.p) + 4;
            r->status = atoi(raw.p + 9);
            for (const char *h = raw.p; h < e; h = strstr(h, "\r\n") + 2) {
                if (!strncasecmp(h, "transfer-encoding: chunked", 26))
                    chunked = 1;
                else if (!strncasecmp(h, "content-length:", 15))
                    clen = strtoul(h + 15, NULL, 10);
            }
            pos = hdr_end;
        }
        if (raw.len > hdr_end && !r->t_first)
            r->t_first = at;
        done = chunked ? dechunk(raw.p, raw.len, &pos, &r->body) : raw.len - hdr_end >= clen;
        if (done)
            r->t_last = at;
    }
    if (!chunked)
        buf_add(&r->body, raw.p + hdr_end, clen);
    free(req.p);
    free(raw.p);
}

/* ---- the proxy's CPU clock ---- */

static clockid_t proxy_clock, nginx_clock, upstream_clock, plain_clock;

static uint64_t cpu_ns(clockid_t c)
{
    struct timespec ts;
    if (clock_gettime(c, &ts) != 0)
        die("cpu clock: %s", strerror(errno));
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t proxy_cpu_ns(void)
{
    return cpu_ns(proxy_clock);
}

/* ---- the mock's log ---- */

/* Sums `bytes` of this run's log entries sent over WebSocket (the proxy's), then clears the log.
 * A string scan, not a parse: full_input makes the log as big as the history. */
static size_t mock_ws_bytes(target_t *mock, int *entries)
{
    reply_t r = {0};
    size_t total = 0;
    *entries = 0;
    http_do(mock, "GET", "/__mock/log", NULL, "", 0, &r);
    for (const char *p = r.body.p; p && (p = strstr(p, "{\"seq\":")); p++) {
        const char *tr = strstr(p, "\"transport\":\""), *by = strstr(p, "\"bytes\":");
        if (tr && by && !strncmp(tr + 13, "ws\"", 3)) {
            total += strtoul(by + 8, NULL, 10);
            (*entries)++;
        }
    }
    http_do(mock, "POST", "/__mock/reset", NULL, "{}", 2, &r);
    free(r.body.p);
    return total;
}

/* The proxy's running count of upstream bytes on the wire (after permessage-deflate), from /stats. */
static size_t proxy_wire_bytes(target_t *proxy)
{
    reply_t r = {0};
    http_do(proxy, "GET", "/stats", NULL, "", 0, &r);
    const char *w = r.body.p ? strstr(r.body.p, "\"wire_to_upstream\":") : NULL;
    size_t n = w ? strtoul(w + 19, NULL, 10) : 0;
    free(r.body.p);
    return n;
}

/* ---- synthetic conversations ---- */

typedef struct {
    buf_t fixed;   /* non-input top-level fields, no braces */
    buf_t items;   /* the input array's elements, comma-joined */
    buf_t fresh;   /* the items added since the last response */
    char prev[160];
    int store;
    unsigned seed;
} conv_t;

/* A Codex-like prefix (the gpt-5.5 fixture's shape): ~9 KB of tools and a ~21 KB developer message. */
static void conv_codex(conv_t *c, unsigned seed)
{
    static const char *names[] = {"exec_command", "write_stdin",  "request_user_input", "view_image",
                                  "get_goal",     "create_goal",  "update_goal",        "tool_search",
                                  "apply_patch",  "list_files"};
    buf_str(&c->fixed, "\"model\":\"gpt-5.5\",\"tools\":[");
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        buf_fmt(&c->fixed, "%s{\"type\":\"function\",\"name\":\"%s\",\"description\":\"", i ? "," : "", names[i]);
        buf_prose(&c->fixed, 620, (unsigned)i);
        buf_str(&c->fixed, "\",\"strict\":false,\"parameters\":{\"type\":\"object\",\"properties\":{\"cmd\":"
                           "{\"type\":\"string\",\"description\":\"the command\"},\"workdir\":{\"type\":\"string\"},"
                           "\"timeout_ms\":{\"type\":\"number\"}},\"required\":[\"cmd\"],"
                           "\"additionalProperties\":false}}");
    }
    buf_fmt(&c->fixed, "],\"tool_choice\":\"auto\",\"parallel_tool_calls\":true,\"reasoning\":{\"effort\":\"medium\"},"
                       "\"store\":false,\"stream\":true,\"include\":[\"reasoning.encrypted_content\"],"
                       "\"prompt_cache_key\":\"019a8c2e-7f00-7000-8000-%012x\",\"text\":{\"verbosity\":\"low\"}",
            seed);
    buf_str(&c->items, "{\"type\":\"message\",\"id\":\"msg_dev\",\"role\":\"developer\",\"content\":[{\"type\":"
                       "\"input_text\",\"text\":\"");
    buf_prose(&c->items, 21600, 7);
    buf_fmt(&c->items, "\"}]},{\"type\":\"message\",\"role\":\"user\",\"content\":[{\"type\":\"input_text\","
                       "\"text\":\"session %u: run the tests and fix what fails\"}]}",
            seed);
}

/* A small prefix of about `pad` developer-prompt bytes and one tool (latency samples). */
static void conv_small(conv_t *c, unsigned seed, size_t pad, int store)
{
    buf_fmt(&c->fixed,
            "\"model\":\"gpt-5.5\",\"tools\":[{\"type\":\"function\",\"name\":\"exec_command\",\"parameters\":"
            "{\"type\":\"object\",\"properties\":{\"cmd\":{\"type\":\"string\"}}}}],\"store\":%s,\"stream\":true",
            store ? "true" : "false");
    c->store = store;
    if (pad) {
        buf_str(&c->items, "{\"type\":\"message\",\"role\":\"developer\",\"content\":\"");
        buf_prose(&c->items, pad, 3);
        buf_str(&c->items, "\"},");
    }
    buf_fmt(&c->items, "{\"type\":\"message\",\"role\":\"user\",\"content\":\"conversation %u\"}", seed);
}

/* The Codex-like prefix as a Chat Completions client sends it: chat tools, a system message. */
static void conv_chat(conv_t *c, unsigned seed)
{
    buf_str(&c->fixed, "\"model\":\"gpt-5.5\",\"tools\":[");
    for (unsigned i = 0; i < 10; i++) {
        buf_fmt(&c->fixed, "%s{\"type\":\"function\",\"function\":{\"name\":\"tool_%u\",\"description\":\"", i ? "," : "", i);
        buf_prose(&c->fixed, 620, i);
        buf_str(&c->fixed, "\",\"parameters\":{\"type\":\"object\",\"properties\":{\"cmd\":{\"type\":\"string\"},"
                           "\"workdir\":{\"type\":\"string\"}},\"required\":[\"cmd\"]}}}");
    }
    buf_str(&c->fixed, "],\"stream\":true,\"stream_options\":{\"include_usage\":true}");
    buf_str(&c->items, "{\"role\":\"system\",\"content\":\"");
    buf_prose(&c->items, 21600, 7);
    buf_fmt(&c->items, "\"},{\"role\":\"user\",\"content\":\"session %u: run the tests and fix what fails\"}", seed);
}

/* The full chat body: the fixed fields and every message. */
static void body_chat(const conv_t *c, buf_t *b)
{
    b->len = 0;
    buf_str(b, "{");
    buf_add(b, c->fixed.p, c->fixed.len);
    buf_str(b, ",\"messages\":[");
    buf_add(b, c->items.p, c->items.len);
    buf_str(b, "]}");
}

/* Reassembles the streamed assistant message from the chunks, echoes it, and answers every tool
 * call with a tool message of `out_bytes`. */
static void chat_absorb(conv_t *c, const reply_t *r, size_t out_bytes)
{
    if (r->status != 200 || !r->body.p || !strstr(r->body.p, "data: [DONE]"))
        die("chat turn failed: HTTP %d: %.300s", r->status, r->body.p ? r->body.p : "");
    json_t *content = json_string(""), *calls = json_array();
    for (const char *p = r->body.p; (p = strstr(p, "data: {")); p++) {
        json_error_t err;
        json_t *e = json_loads(p + 6, JSON_DISABLE_EOF_CHECK, &err), *d, *tc;
        d = json_object_get(json_array_get(json_object_get(e, "choices"), 0), "delta");
        const char *t = json_string_value(json_object_get(d, "content"));
        if (t) {
            char *j = NULL;
            if (asprintf(&j, "%s%s", json_string_value(content), t) > 0)
                json_string_set(content, j);
            free(j);
        }
        size_t i;
        json_array_foreach(json_object_get(d, "tool_calls"), i, tc) {
            size_t k = (size_t)json_integer_value(json_object_get(tc, "index"));
            json_t *fn = json_object_get(tc, "function"), *have;
            if (k >= json_array_size(calls))
                json_array_append_new(calls, json_pack("{s:O,s:s,s:{s:O,s:s}}", "id", json_object_get(tc, "id"), "type",
                                                       "function", "function", "name", json_object_get(fn, "name"),
                                                       "arguments", ""));
            have = json_object_get(json_object_get(json_array_get(calls, k), "function"), "arguments");
            const char *a = json_string_value(json_object_get(fn, "arguments"));
            if (a && *a) {
                char *j = NULL;
                if (asprintf(&j, "%s%s", json_string_value(have), a) > 0)
                    json_string_set(have, j);
                free(j);
            }
        }
        json_decref(e);
    }
    json_t *msg = json_pack("{s:s,s:O}", "role", "assistant", "content",
                            *json_string_value(content) ? content : json_null());
    if (json_array_size(calls))
        json_object_set(msg, "tool_calls", calls);
    char *s = json_dumps(msg, JSON_COMPACT | JSON_PRESERVE_ORDER);
    buf_str(&c->items, ",");
    buf_str(&c->items, s);
    free(s);
    json_t *tc;
    size_t i;
    json_array_foreach(calls, i, tc) {
        buf_fmt(&c->items, ",{\"role\":\"tool\",\"tool_call_id\":\"%s\",\"content\":\"Exit code: 0\\nOutput:\\n",
                json_string_value(json_object_get(tc, "id")));
        buf_prose(&c->items, out_bytes, c->seed++);
        buf_str(&c->items, "\"}");
    }
    if (!json_array_size(calls))
        buf_str(&c->items, ",{\"role\":\"user\",\"content\":\"continue\"}");
    json_decref(msg);
    json_decref(calls);
    json_decref(content);
}

/* <base>/chat/completions next to the target's <base>/responses. */
static const char *chat_path(const target_t *t, char *out, size_t cap)
{
    size_t n = strlen(t->path);
    if (n >= 9 && !strcmp(t->path + n - 9, "responses"))
        n -= 9;
    snprintf(out, cap, "%.*schat/completions", (int)n, t->path);
    return out;
}

static void conv_free(conv_t *c)
{
    free(c->fixed.p);
    free(c->items.p);
    free(c->fresh.p);
}

/* The full-history body an HTTP client sends. */
static void body_full(const conv_t *c, buf_t *b)
{
    b->len = 0;
    buf_str(b, "{");
    buf_add(b, c->fixed.p, c->fixed.len);
    buf_str(b, ",\"input\":[");
    buf_add(b, c->items.p, c->items.len);
    buf_str(b, "]}");
}

/* What a client speaking WebSocket mode sends: every non-input field, the chain id, the new items.
 * With type=NULL it is the same as an HTTP body (store=true continuation to the mock). */
static void body_delta(const conv_t *c, buf_t *b, const char *type)
{
    b->len = 0;
    buf_str(b, "{");
    if (type)
        buf_fmt(b, "\"type\":\"%s\",", type);
    buf_add(b, c->fixed.p, c->fixed.len);
    if (c->prev[0]) {
        buf_fmt(b, ",\"previous_response_id\":\"%s\",\"input\":[", c->prev);
        buf_add(b, c->fresh.p, c->fresh.len);
    } else {
        buf_str(b, ",\"input\":[");
        buf_add(b, c->items.p, c->items.len);
    }
    buf_str(b, "]}");
}

static void add_item(conv_t *c, const char *item)
{
    if (c->items.len)
        buf_str(&c->items, ",");
    buf_str(&c->items, item);
    if (c->fresh.len)
        buf_str(&c->fresh, ",");
    buf_str(&c->fresh, item);
}

/* Takes the response's output items (echoed as the client would) and answers every tool call
 * with an output of `out_bytes`. Returns the number of output items. */
static int conv_absorb(conv_t *c, const reply_t *r, size_t out_bytes)
{
    const char *ev = NULL;
    for (const char *p = r->body.p; p && (p = strstr(p, "event: response.completed\n")); p++)
        ev = p;
    if (r->status != 200 || !ev)
        die("turn failed: HTTP %d: %.300s", r->status, r->body.p ? r->body.p : "");
    const char *data = strstr(ev, "\ndata: ");
    json_error_t err;
    json_t *e = data ? json_loads(data + 7, JSON_DISABLE_EOF_CHECK, &err) : NULL;
    json_t *resp = json_object_get(e, "response"), *out = json_object_get(resp, "output"), *it;
    size_t i;
    if (!json_is_array(out))
        die("no response.output in response.completed");
    snprintf(c->prev, sizeof(c->prev), "%s", json_string_value(json_object_get(resp, "id")));
    c->fresh.len = 0;
    json_array_foreach(out, i, it) {
        char *s = json_dumps(it, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (c->items.len)
            buf_str(&c->items, ",");
        buf_str(&c->items, s);
        free(s);
    }
    json_array_foreach(out, i, it) {
        const char *type = json_string_value(json_object_get(it, "type"));
        if (type && !strcmp(type, "function_call")) {
            buf_t o = {0};
            buf_fmt(&o, "{\"type\":\"function_call_output\",\"call_id\":\"%s\",\"output\":\"Exit code: 0\\nOutput:\\n",
                    json_string_value(json_object_get(it, "call_id")));
            buf_prose(&o, out_bytes, c->seed++);
            buf_str(&o, "\"}");
            add_item(c, o.p);
            free(o.p);
        }
    }
    if (!c->fresh.len) /* the model answered without a tool call: the user speaks again */
        add_item(c, "{\"type\":\"message\",\"role\":\"user\",\"content\":\"continue\"}");
    json_decref(e);
    return (int)i;
}

/* ---- commands ---- */

typedef struct {
    target_t direct, proxy, mock, nginx, plain;
    int have_pid, have_nginx_pid, have_upstream_pid, have_plain_pid;
    const char *shape, *out, *api, *shapes;
    int turns, samples, warmup;
    size_t target_bytes, size;
} opts_t;

static void parse_opts(opts_t *o, int argc, char **argv)
{
    for (int i = 2; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--direct"))
            target_parse(&o->direct, v);
        else if (!strcmp(k, "--proxy"))
            target_parse(&o->proxy, v);
        else if (!strcmp(k, "--mock"))
            target_parse(&o->mock, v);
        else if (!strcmp(k, "--nginx"))
            target_parse(&o->nginx, v);
        else if (!strcmp(k, "--proxy-plain"))
            target_parse(&o->plain, v);
        else if (!strcmp(k, "--proxy-plain-pid")) {
            if (clock_getcpuclockid((pid_t)atoi(v), &plain_clock) != 0)
                die("no CPU clock for pid %s", v);
            o->have_plain_pid = 1;
        } else if (!strcmp(k, "--nginx-pid")) {
            if (clock_getcpuclockid((pid_t)atoi(v), &nginx_clock) != 0)
                die("no CPU clock for pid %s", v);
            o->have_nginx_pid = 1;
        } else if (!strcmp(k, "--upstream-pid")) {
            if (clock_getcpuclockid((pid_t)atoi(v), &upstream_clock) != 0)
                die("no CPU clock for pid %s", v);
            o->have_upstream_pid = 1;
        } else if (!strcmp(k, "--shapes"))
            o->shapes = v;
        else if (!strcmp(k, "--proxy-pid")) {
            if (clock_getcpuclockid((pid_t)atoi(v), &proxy_clock) != 0)
                die("no CPU clock for pid %s", v);
            o->have_pid = 1;
        } else if (!strcmp(k, "--shape"))
            o->shape = v;
        else if (!strcmp(k, "--turns"))
            o->turns = atoi(v);
        else if (!strcmp(k, "--samples"))
            o->samples = atoi(v);
        else if (!strcmp(k, "--warmup"))
            o->warmup = atoi(v);
        else if (!strcmp(k, "--target-bytes"))
            o->target_bytes = strtoul(v, NULL, 10);
        else if (!strcmp(k, "--size"))
            o->size = strtoul(v, NULL, 10);
        else if (!strcmp(k, "--count"))
            o->samples = atoi(v);
        else if (!strcmp(k, "--tag"))
            o->shape = v;
        else if (!strcmp(k, "--out"))
            o->out = v;
        else if (!strcmp(k, "--api"))
            o->api = v;
        else
            die("unknown option %s", k);
    }
    if (!strcmp(argv[1], "conversations") || !strcmp(argv[1], "sockets"))
        return;
    if (!strcmp(argv[1], "events")) {
        if (!o->direct.port || !o->proxy.port || !o->nginx.port || !o->have_pid || !o->have_nginx_pid ||
            !o->have_upstream_pid || !o->shapes || !o->out || !o->plain.port != !o->have_plain_pid)
            die("events needs --direct, --nginx, --proxy, their pids, --upstream-pid, --shapes and --out "
                "(and --proxy-plain-pid with --proxy-plain)");
        return;
    }
    if (!o->direct.port || !o->proxy.port || !o->mock.port || !o->have_pid || !o->out)
        die("need --direct, --proxy, --mock, --proxy-pid and --out");
}

/* The session as Chat Completions: both arms send the whole messages array every turn. */
static int cmd_chat_session(opts_t *o)
{
    conv_t d = {.seed = 1}, p = {.seed = 1};
    buf_t body = {0};
    reply_t r = {0};
    int entries;
    char dpath[300], ppath[300];
    FILE *f = fopen(o->out, "w");
    if (!f || o->turns < 1 || o->turns > 1000)
        die("bad --out or --turns");
    unsigned sid = (unsigned)now_ns();
    conv_chat(&d, sid);
    conv_chat(&p, sid + 1);
    chat_path(&o->direct, dpath, sizeof(dpath));
    chat_path(&o->proxy, ppath, sizeof(ppath));
    fprintf(f, "turn\tdirect_bytes\tfloor_bytes\tproxy_up_bytes\tproxy_up_msgs\td_ttfb_ns\td_ttlb_ns\tp_ttfb_ns\t"
               "p_ttlb_ns\tproxy_cpu_ns\tproxy_body_bytes\n");
    mock_ws_bytes(&o->mock, &entries);
    for (int t = 1; t <= o->turns; t++) {
        body_chat(&p, &body);
        size_t p_len = body.len;
        uint64_t c0 = proxy_cpu_ns();
        http_do(&o->proxy, "POST", ppath, "sk-bench-chat", body.p, body.len, &r);
        uint64_t p_first = r.t_first, p_last = r.t_last;
        chat_absorb(&p, &r, 150);
        body_chat(&d, &body);
        http_do(&o->direct, "POST", dpath, "sk-bench-chat", body.p, body.len, &r);
        chat_absorb(&d, &r, 150);
        size_t up = mock_ws_bytes(&o->mock, &entries);
        uint64_t c1 = proxy_cpu_ns();
        fprintf(f, "%d\t%zu\t0\t%zu\t%d\t%lu\t%lu\t%lu\t%lu\t%lu\t%zu\n", t, body.len, up, entries,
                (unsigned long)r.t_first, (unsigned long)r.t_last, (unsigned long)p_first, (unsigned long)p_last,
                (unsigned long)(c1 - c0), p_len);
    }
    fclose(f);
    free(body.p);
    conv_free(&d);
    conv_free(&p);
    return 0;
}

static int cmd_session(opts_t *o)
{
    if (o->api && !strcmp(o->api, "chat"))
        return cmd_chat_session(o);
    conv_t d = {.seed = 1}, p = {.seed = 1};
    buf_t body = {0}, floor_b = {0};
    reply_t r = {0};
    int entries;
    FILE *f = fopen(o->out, "w");
    if (!f || o->turns < 1 || o->turns > 1000)
        die("bad --out or --turns");
    unsigned sid = (unsigned)now_ns();
    conv_codex(&d, sid);
    conv_codex(&p, sid + 1);
    /* growth per turn besides the model's own output (~0.5 KB from the mock): the tool output */
    size_t out_bytes = 150;
    if (!strcmp(o->shape, "large")) {
        body_full(&d, &body);
        out_bytes = o->target_bytes > body.len ? (o->target_bytes - body.len) / (size_t)o->turns : 0;
    } else if (strcmp(o->shape, "codex"))
        die("--shape codex|large");
    fprintf(f, "turn\tdirect_bytes\tfloor_bytes\tproxy_up_bytes\tproxy_up_msgs\td_ttfb_ns\td_ttlb_ns\tp_ttfb_ns\t"
               "p_ttlb_ns\tproxy_cpu_ns\tproxy_body_bytes\tproxy_wire_bytes\n");
    mock_ws_bytes(&o->mock, &entries);
    size_t wire0 = proxy_wire_bytes(&o->proxy);
    for (int t = 1; t <= o->turns; t++) {
        /* the proxy arm first; the direct arm and the log read follow while the proxy is idle, so the
         * CPU clock read after them holds this turn's work, including what runs after the last byte */
        body_full(&p, &body);
        size_t p_len = body.len;
        body_delta(&p, &floor_b, "response.create");
        uint64_t c0 = proxy_cpu_ns();
        http_do(&o->proxy, "POST", NULL, "sk-bench-1", body.p, body.len, &r);
        uint64_t p_first = r.t_first, p_last = r.t_last;
        conv_absorb(&p, &r, out_bytes);

        body_full(&d, &body);
        http_do(&o->direct, "POST", NULL, "sk-bench-1", body.p, body.len, &r);
        conv_absorb(&d, &r, out_bytes);
        size_t up = mock_ws_bytes(&o->mock, &entries);
        uint64_t c1 = proxy_cpu_ns();
        size_t wire1 = proxy_wire_bytes(&o->proxy); /* after c1: not this turn's CPU */
        fprintf(f, "%d\t%zu\t%zu\t%zu\t%d\t%lu\t%lu\t%lu\t%lu\t%lu\t%zu\t%zu\n", t, body.len, floor_b.len, up,
                entries, (unsigned long)r.t_first, (unsigned long)r.t_last, (unsigned long)p_first,
                (unsigned long)p_last, (unsigned long)(c1 - c0), p_len, wire1 - wire0);
        wire0 = wire1;
    }
    fclose(f);
    conv_free(&d);
    conv_free(&p);
    return 0;
}

/* One two-turn conversation on `t`; returns the second turn's reply times in *r. */
static void two_turns(target_t *t, conv_t *c, int as_delta, buf_t *body, reply_t *r, size_t *len,
                      uint64_t *cpu)
{
    body_full(c, body);
    http_do(t, "POST", NULL, "sk-bench-1", body->p, body->len, r);
    conv_absorb(c, r, 200);
    if (as_delta)
        body_delta(c, body, NULL);
    else
        body_full(c, body);
    *len = body->len;
    if (cpu) {
        usleep(300); /* lets the proxy finish recording turn 1 after its last byte */
        *cpu = proxy_cpu_ns();
    }
    http_do(t, "POST", NULL, "sk-bench-1", body->p, body->len, r);
    conv_absorb(c, r, 200);
}

static int cmd_latency(opts_t *o)
{
    buf_t body = {0};
    reply_t r = {0};
    int entries;
    FILE *f = fopen(o->out, "w");
    if (!f || o->samples < 1 || o->samples > 100000 || o->size < 1)
        die("bad --out, --samples or --size");
    /* the second turn adds the mock's output and a 200-byte tool output to the first: ~1 KB */
    size_t pad = o->size > 1100 ? o->size - 1100 : 0;
    fprintf(f, "sample\tarm\tbytes\tttfb_ns\tttlb_ns\tproxy_cpu_ns\n");
    unsigned seed = (unsigned)now_ns();
    for (int s = 0; s < o->samples; s++) {
        conv_t cp = {.seed = 1}, cd = {.seed = 1}, cx = {.seed = 1};
        size_t len;
        uint64_t c0, c1;
        conv_small(&cp, seed + 3 * (unsigned)s, pad, 0);
        conv_small(&cd, seed + 3 * (unsigned)s + 1, pad, 0);
        conv_small(&cx, seed + 3 * (unsigned)s + 2, pad, 1);

        two_turns(&o->proxy, &cp, 0, &body, &r, &len, &c0);
        uint64_t pf = r.t_first, pl = r.t_last;
        size_t plen = len;
        /* the proxy is idle from here: the CPU read below closes its share of the measured turn */
        two_turns(&o->direct, &cd, 0, &body, &r, &len, NULL);
        c1 = proxy_cpu_ns();
        fprintf(f, "%d\tproxy\t%zu\t%lu\t%lu\t%lu\n", s, plen, (unsigned long)pf, (unsigned long)pl,
                (unsigned long)(c1 - c0));
        fprintf(f, "%d\tdirect\t%zu\t%lu\t%lu\t0\n", s, len, (unsigned long)r.t_first, (unsigned long)r.t_last);
        two_turns(&o->direct, &cx, 1, &body, &r, &len, NULL);
        fprintf(f, "%d\tdelta\t%zu\t%lu\t%lu\t0\n", s, len, (unsigned long)r.t_first, (unsigned long)r.t_last);
        conv_free(&cp);
        conv_free(&cd);
        conv_free(&cx);
        if (s % 16 == 15)
            mock_ws_bytes(&o->mock, &entries); /* keeps the mock's log (and its store) small */
    }
    mock_ws_bytes(&o->mock, &entries);
    fclose(f);
    free(body.p);
    return 0;
}

static int cmd_conversations(opts_t *o)
{
    buf_t body = {0};
    reply_t r = {0};
    int ok = 0, entries;
    if (!o->proxy.port || !o->mock.port || o->samples < 1 || o->samples > 10000000 || !o->shape)
        die("conversations needs --proxy, --mock, --count and --tag");
    for (int i = 0; i < o->samples; i++) {
        body.len = 0;
        buf_fmt(&body, "{\"model\":\"gpt-5.5\",\"store\":false,\"stream\":true,\"input\":[{\"type\":\"message\","
                       "\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"conversation %s %d\"}]}]}",
                o->shape, i);
        http_do(&o->proxy, "POST", NULL, "sk-bench-1", body.p, body.len, &r);
        ok += r.status == 200;
        if (i % 5000 == 4999)
            mock_ws_bytes(&o->mock, &entries); /* the mock's log grows with every request */
    }
    mock_ws_bytes(&o->mock, &entries);
    printf("%d\n", ok);
    free(body.p);
    return 0;
}

static int cmd_sockets(opts_t *o)
{
    buf_t body = {0};
    reply_t r = {0};
    int ok = 0, entries;
    char key[96];
    if (!o->proxy.port || !o->mock.port || o->samples < 1 || o->samples > 100000 || !o->shape)
        die("sockets needs --proxy, --mock, --count and --tag");
    for (int i = 0; i < o->samples; i++) {
        conv_t c = {.seed = 1};
        conv_codex(&c, (unsigned)i);
        snprintf(key, sizeof(key), "sk-sockets-%s-%d", o->shape, i);
        for (int t = 0; t < 2; t++) {
            body_full(&c, &body);
            http_do(&o->proxy, "POST", NULL, key, body.p, body.len, &r);
            ok += r.status == 200;
            conv_absorb(&c, &r, 150);
        }
        conv_free(&c);
        mock_ws_bytes(&o->mock, &entries);
    }
    printf("%d\n", ok);
    free(body.p);
    free(r.body.p);
    return 0;
}

/* The per-event run (see the top of the file). Arms in a fixed rotation; a new conversation per
 * request, so every proxied request is a full one-turn response.create over the warm socket. */
static int cmd_events(opts_t *o)
{
    enum { MAX_ARMS = 4 };
    static const char *names[MAX_ARMS] = {"direct", "nginx", "deltawire", "deltawire-plain"};
    target_t *t[MAX_ARMS] = {&o->direct, &o->nginx, &o->proxy, &o->plain};
    clockid_t *clk[MAX_ARMS] = {NULL, &nginx_clock, &proxy_clock, &plain_clock};
    const int ARMS = o->plain.port ? 4 : 3;
    buf_t body = {0};
    reply_t r = {0};
    FILE *f = fopen(o->out, "w");
    int warmup = o->warmup ? o->warmup : 1;
    if (!f || o->samples < 1 || o->samples > 1000000 || warmup < 1 || warmup > 1000000)
        die("bad --out, --samples or --warmup");
    size_t size = o->size ? o->size : 1024;
    fprintf(f, "events\tdelta_bytes\tsample\tarm\treq_bytes\tresp_bytes\tttfb_ns\tttlb_ns\tmid_cpu_ns\tupstream_cpu_ns\n");
    unsigned seed = (unsigned)now_ns();
    for (const char *sh = o->shapes; sh && *sh; sh = strchr(sh, ',') ? strchr(sh, ',') + 1 : NULL) {
        unsigned long events = strtoul(sh, NULL, 10), dbytes = 8;
        const char *colon = strchr(sh, ':'), *comma = strchr(sh, ',');
        if (colon && (!comma || colon < comma))
            dbytes = strtoul(colon + 1, NULL, 10);
        uint64_t last_mid[MAX_ARMS] = {0}, pending_up[MAX_ARMS] = {0};
        size_t pending_len[MAX_ARMS] = {0};
        uint64_t pending_f[MAX_ARMS] = {0}, pending_l[MAX_ARMS] = {0};
        int pending[MAX_ARMS] = {0};
        /* warm-up rounds (connections, upstream sockets: all of them before the first shape, one
         * before each later one), then samples + 1 rounds: the last round only closes the previous
         * one's CPU reading */
        int w = sh == o->shapes ? warmup : 1;
        for (int s = -w; s <= o->samples; s++) {
            for (int a = 0; a < ARMS; a++) {
                uint64_t mid = clk[a] ? cpu_ns(*clk[a]) : 0;
                if (pending[a])
                    fprintf(f, "%lu\t%lu\t%d\t%s\t%zu\t%zu\t%lu\t%lu\t%lu\t%lu\n", events, dbytes, s - 1, names[a],
                            body.len, pending_len[a], (unsigned long)pending_f[a], (unsigned long)pending_l[a],
                            (unsigned long)(clk[a] ? mid - last_mid[a] : 0), (unsigned long)pending_up[a]);
                pending[a] = 0;
                if (s == o->samples)
                    continue;
                last_mid[a] = mid;
                body.len = 0;
                buf_fmt(&body, "{\"model\":\"gpt-5.5\",\"store\":false,\"stream\":true,\"metadata\":{"
                               "\"wsecho_events\":\"%lu\",\"wsecho_delta_bytes\":\"%lu\"},\"input\":[{\"type\":"
                               "\"message\",\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"%u %d ",
                        events, dbytes, seed, s * ARMS + a);
                buf_prose(&body, size > body.len + 8 ? size - body.len - 8 : 1, seed + (unsigned)s);
                buf_str(&body, "\"}]}]}");
                uint64_t u0 = cpu_ns(upstream_clock);
                http_do(t[a], "POST", NULL, "sk-bench-1", body.p, body.len, &r);
                uint64_t u1 = cpu_ns(upstream_clock);
                if (r.status != 200)
                    die("%s answered %d", names[a], r.status);
                pending[a] = s >= 0;
                pending_len[a] = r.body.len;
                pending_f[a] = r.t_first;
                pending_l[a] = r.t_last;
                pending_up[a] = u1 - u0;
            }
        }
    }
    fclose(f);
    free(body.p);
    free(r.body.p);
    return 0;
}

int main(int argc, char **argv)
{
    opts_t o = {0};
    if (argc < 2)
        die("usage: dwbench session|latency OPTIONS (see the comment at the top of bench/dwbench.c)");
    parse_opts(&o, argc, argv);
    if (!strcmp(argv[1], "session"))
        return cmd_session(&o);
    if (!strcmp(argv[1], "latency"))
        return cmd_latency(&o);
    if (!strcmp(argv[1], "conversations"))
        return cmd_conversations(&o);
    if (!strcmp(argv[1], "sockets"))
        return cmd_sockets(&o);
    if (!strcmp(argv[1], "events"))
        return cmd_events(&o);
    die("unknown command %s", argv[1]);
    return 1;
}
