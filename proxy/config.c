#include "proxy/config.h"

#include "proxy/log.h"

#include <ctype.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Every flag, once: its name (the environment twin is DELTAWIRE_<NAME>, '-' as '_'), how its value
 * is read, where it lands in dw_config_t, its default (parsed like any value) and its help. */
enum kind { K_LISTEN, K_ADMIN_LISTEN, K_STRING, K_SIZE, K_SIZE0, K_SECONDS, K_ENUM, K_LOG_LEVEL, K_NAME };

typedef struct {
    const char *name;
    enum kind kind;
    size_t offset, size;
    const char *def; /* NULL: empty/zero */
    const char *arg, *help;
    const char *const *values; /* K_ENUM: the accepted words, NULL-ended, in the order of the int's enum */
} flag_t;

#define F(name, kind, field, def, arg, help) {name, kind, offsetof(dw_config_t, field), sizeof(((dw_config_t *)0)->field), def, arg, help, NULL}
#define E(name, values, field, def, arg, help) {name, K_ENUM, offsetof(dw_config_t, field), sizeof(int), def, arg, help, values}

/* The words of each enum flag, indexed by the DW_* values of config.h. */
static const char *const transport_words[] = {"auto", "ws", "http", NULL};
static const char *const deflate_words[] = {"off", "on", "no-context-takeover", NULL};
static const char *const lanes_words[] = {"off", "on", "auto", NULL};
static const char *const chat_reasoning_words[] = {"full", "carry", NULL};

static const flag_t flags[] = {
    F("listen", K_LISTEN, listen_host, "127.0.0.1:8787", "HOST:PORT", "address to serve on"),
    F("admin-listen", K_ADMIN_LISTEN, admin_host, NULL, "HOST:PORT",
      "serve /metrics, /stats and /status on this address only (not on --listen, where /healthz and /readyz "
      "stay)"),
    F("upstream", K_STRING, upstream, "https://api.openai.com/v1", "URL",
      "upstream HTTP base; the WebSocket URL is derived (https->wss, http->ws, + /responses)"),
    F("upstream-ca", K_STRING, upstream_ca, NULL, "FILE", "an extra CA certificate file to trust upstream"),
    F("max-body", K_SIZE, max_body, "67108864", "BYTES", "largest accepted request body"),
    F("max-ws-message", K_SIZE, max_ws_message, "15728640", "BYTES",
      "largest WebSocket message sent upstream (the service closes with 1009 at 16 MiB); a larger request goes over "
      "plain HTTP unchanged"),
    F("max-credential-bytes", K_SIZE, max_credential_bytes, "8192", "BYTES",
      "credential and connection headers (names and values, in all) a request may carry; beyond it 431"),
    E("transport", transport_words, transport, "auto", "MODE",
      "auto (WebSocket mode, plain HTTP when the upgrade is refused), ws (WebSocket mode only) or http (plain HTTP "
      "only)"),
    E("upstream-deflate", deflate_words, upstream_deflate, "on", "MODE",
      "permessage-deflate on upstream WebSockets: on (context kept across messages: repeated fields cost "
      "back-references), no-context-takeover (each message compressed alone; no compressor kept per idle socket) "
      "or off"),
    E("lanes", lanes_words, lanes, "auto", "MODE",
      "stream_id lanes: several conversations on one upstream connection, each with its own cache (at most 16 "
      "responses in flight, 32 lane names per connection): auto (until the upstream refuses stream_id, then one "
      "response per connection), on (a refusal is the request's error) or off"),
    F("max-conns-per-key", K_SIZE, max_conns_per_key, "16", "N", "upstream connections per credential set"),
    F("max-conns", K_SIZE, max_conns, "256", "N", "upstream connections in all"),
    F("idle-timeout", K_SECONDS, idle_timeout, "300", "SECS", "close upstream connections idle this long"),
    F("max-conn-age", K_SECONDS, max_conn_age, "3300", "SECS", "retire connections this old once idle"),
    F("handshake-timeout", K_SECONDS, handshake_timeout, "10", "SECS",
      "an upstream WebSocket connect (TCP, TLS, upgrade) not open by then fails like a network error"),
    F("upstream-ping-interval", K_SECONDS, upstream_ping_interval, "30", "SECS",
      "ping an upstream connection after this long without proof of life (whole seconds, rounded up)"),
    F("upstream-pong-timeout", K_SECONDS, upstream_pong_timeout, "10", "SECS",
      "close it when the pong is this late (a NAT or balancer dropped it without a FIN)"),
    F("first-event-timeout", K_SECONDS, first_event_timeout, "10", "SECS",
      "a request that gets no event this long once written goes again in full on another connection, "
      "while nothing reached the client"),
    F("upstream-idle-timeout", K_SECONDS, upstream_idle_timeout, "300", "SECS",
      "give up a response after this long without an event: closed, retried if nothing reached the client, "
      "else an error"),
    F("sse-keepalive", K_SECONDS, sse_keepalive, "15", "SECS",
      "an SSE comment (': keepalive') to a streaming client after this long without a byte"),
    F("client-buffer", K_SIZE, client_buffer, "1048576", "BYTES",
      "a client's unsent output beyond this pauses reading its upstream connection"),
    F("max-queue", K_SIZE, max_queue, "256", "N",
      "requests of one key (credentials and connection headers) waiting for a connection; beyond it that key gets "
      "429"),
    F("queue-timeout", K_SECONDS, queue_timeout, "30", "SECS",
      "how long a request waits for a connection; then 429 (503 while the upstream is unreachable)"),
    F("max-items", K_SIZE, max_items, "100000", "N",
      "input items a request may have to go as a delta; above it the request goes over plain HTTP unchanged"),
    F("max-conversations", K_SIZE, max_conversations, "65536", "N", "tracked responses, least recently used out"),
    F("body-memory", K_SIZE0, body_memory, "268435456", "BYTES",
      "recent request bodies of 16 KiB and more kept (least recently used out, or unused for --idle-timeout), so "
      "that the next turn's repeated items are known by comparing bytes instead of hashing them again, and its "
      "scan starts at its new items; 0 keeps none"),
    F("tls-cert", K_STRING, tls_cert, NULL, "FILE",
      "serve TLS to clients with this certificate chain (PEM), with HTTP/2 over ALPN; needs --tls-key"),
    F("tls-key", K_STRING, tls_key, NULL, "FILE", "the private key for --tls-cert (PEM)"),
    F("log-level", K_LOG_LEVEL, log_level, "info", "LEVEL", "error, warn, info (one line per request) or debug"),
    F("drain-timeout", K_SECONDS, drain_timeout, "30", "SECS",
      "on SIGTERM/SIGINT, how long in-flight responses may finish"),
    E("chat-reasoning", chat_reasoning_words, chat_reasoning, "full", "MODE",
      "POST /chat/completions, a turn after output the chat client never echoes (reasoning): full (send it in "
      "full, the model sees exactly the client's messages) or carry (chain by previous_response_id: fewer bytes, "
      "and the model also sees its own earlier reasoning, which the client never sent)"),
    F("client-idle-timeout", K_SECONDS, client_idle_timeout, "30", "SECS",
      "cut a client connection that sends nothing this long while a request (headers, body) or the next one "
      "is awaited; a slow upload is fine as long as bytes keep coming"),
    F("instance", K_NAME, instance, NULL, "NAME", "this replica's name in /metrics and /stats (default hostname:port)"),
};

#define N_FLAGS (sizeof(flags) / sizeof(flags[0]))
enum { OPT_HELP = 1000, OPT_VERSION };

static void print_usage(FILE *f)
{
    fputs("usage: deltawire [options]\n"
          "  Proxies full-history POST /v1/responses calls to the OpenAI Responses API in WebSocket\n"
          "  mode, sending only the new items with previous_response_id.\n\n",
          f);
    for (size_t i = 0; i < N_FLAGS; i++) {
        char head[64];
        snprintf(head, sizeof(head), "--%s %s", flags[i].name, flags[i].arg);
        char text[512];
        if (flags[i].def != NULL)
            snprintf(text, sizeof(text), "%s (default %s)", flags[i].help, flags[i].def);
        else
            snprintf(text, sizeof(text), "%s", flags[i].help);
        /* the help wrapped at word boundaries into a column of 64 */
        fprintf(f, "  %-26s", head);
        const char *w = text;
        while (*w) {
            size_t n = strlen(w);
            if (n > 64) {
                n = 64;
                while (n > 0 && w[n] != ' ')
                    n--;
                if (n == 0)
                    n = 64;
            }
            fprintf(f, " %.*s\n", (int)n, w);
            w += n;
            while (*w == ' ')
                w++;
            if (*w)
                fprintf(f, "  %-26s", "");
        }
    }
    fputs("  --help, --version\n"
          "Every flag can also be set as DELTAWIRE_<FLAG>, e.g. DELTAWIRE_LISTEN=0.0.0.0:8787.\n",
          f);
}

static int parse_listen(char *host, size_t cap, int *port_out, const char *v)
{
    const char *colon = strrchr(v, ':');
    if (colon == NULL || colon == v || (size_t)(colon - v) >= cap)
        return -1;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port < 0 || port > 65535)
        return -1;
    const char *h = v;
    size_t hl = (size_t)(colon - v);
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port_out = (int)port;
    return 0;
}

/* zero: 0 is a value (K_SIZE0), else an error */
static int parse_size(size_t *out, const char *v, int zero)
{
    char *end;
    unsigned long long x = strtoull(v, &end, 10);
    if (v[0] < '0' || v[0] > '9' || *end != '\0' || (x == 0 && !zero))
        return -1;
    *out = (size_t)x;
    return 0;
}

int dw_config_parse_url(const char *url, int *tls, char *host, size_t host_len, int *port, char *path, size_t path_len)
{
    const char *rest;
    if (strncmp(url, "https://", 8) == 0) {
        *tls = 1;
        *port = 443;
        rest = url + 8;
    } else if (strncmp(url, "http://", 7) == 0) {
        *tls = 0;
        *port = 80;
        rest = url + 7;
    } else {
        return -1;
    }
    const char *slash = strchr(rest, '/');
    const char *hend = slash ? slash : rest + strlen(rest);
    const char *colon = memchr(rest, ':', (size_t)(hend - rest));
    const char *name_end = colon ? colon : hend;
    if (name_end == rest || (size_t)(name_end - rest) >= host_len)
        return -1;
    memcpy(host, rest, (size_t)(name_end - rest));
    host[name_end - rest] = '\0';
    if (colon) {
        char *end;
        long p = strtol(colon + 1, &end, 10);
        if (end != hend || p <= 0 || p > 65535)
            return -1;
        *port = (int)p;
    }
    const char *pth = slash ? slash : "";
    size_t pl = strlen(pth);
    while (pl > 0 && pth[pl - 1] == '/')
        pl--;
    if (pl >= path_len)
        return -1;
    memcpy(path, pth, pl);
    path[pl] = '\0';
    return 0;
}

static int copy_path(char *dst, size_t cap, const char *v)
{
    if (strlen(v) >= cap)
        return -1;
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

static int parse_seconds(double *out, const char *v)
{
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end != '\0' || x <= 0 || x > 1e9)
        return -1;
    *out = x;
    return 0;
}

/* The index of v among words (NULL-ended). */
static int parse_enum(int *out, const char *const *words, const char *v)
{
    for (int i = 0; words[i] != NULL; i++) {
        if (strcmp(v, words[i]) == 0) {
            *out = i;
            return 0;
        }
    }
    return -1;
}

/* A Prometheus label value and a JSON string as it is: letters, digits and ._:- only. */
static int parse_name(char *dst, size_t cap, const char *v)
{
    if (*v == '\0' || strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-") != strlen(v))
        return -1;
    return copy_path(dst, cap, v);
}

void dw_config_default_instance(dw_config_t *cfg, int port)
{
    if (cfg->instance[0] != '\0')
        return;
    char host[200];
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = '\0';
    snprintf(cfg->instance, sizeof(cfg->instance), "%s:%d", host, port);
    for (char *c = cfg->instance; *c; c++)
        if (!isalnum((unsigned char)*c) && strchr("._:-", *c) == NULL)
            *c = '_';
}

/* Reads v into the flag's field. Returns 0, or -1 with a message naming `origin`. */
static int apply(dw_config_t *cfg, const flag_t *f, const char *v, const char *origin)
{
    void *field = (char *)cfg + f->offset;
    int rc = 0;
    switch (f->kind) {
    case K_LISTEN:
        rc = parse_listen(cfg->listen_host, sizeof(cfg->listen_host), &cfg->listen_port, v);
        break;
    case K_ADMIN_LISTEN:
        rc = parse_listen(cfg->admin_host, sizeof(cfg->admin_host), &cfg->admin_port, v);
        break;
    case K_STRING:
        rc = copy_path(field, f->size, v);
        break;
    case K_SIZE:
    case K_SIZE0:
        rc = parse_size(field, v, f->kind == K_SIZE0);
        break;
    case K_SECONDS:
        rc = parse_seconds(field, v);
        break;
    case K_ENUM:
        rc = parse_enum(field, f->values, v);
        break;
    case K_LOG_LEVEL:
        *(int *)field = dw_log_parse_level(v);
        rc = *(int *)field < 0 ? -1 : 0;
        break;
    case K_NAME:
        rc = parse_name(field, f->size, v);
        break;
    }
    if (rc != 0)
        fprintf(stderr, "deltawire: invalid value for %s: '%s'\n", origin, v);
    return rc;
}

static int load_defaults(dw_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < N_FLAGS; i++)
        if (flags[i].def != NULL && apply(cfg, &flags[i], flags[i].def, flags[i].name) != 0)
            return -1;
    return 0;
}

static int load_env(dw_config_t *cfg)
{
    for (size_t i = 0; i < N_FLAGS; i++) {
        char name[64] = "DELTAWIRE_";
        size_t n = strlen(name);
        for (const char *c = flags[i].name; *c && n < sizeof(name) - 1; c++)
            name[n++] = *c == '-' ? '_' : (char)toupper((unsigned char)*c);
        name[n] = '\0';
        const char *v = getenv(name);
        if (v != NULL && *v != '\0' && apply(cfg, &flags[i], v, name) != 0)
            return -1;
    }
    return 0;
}

int dw_config_load(dw_config_t *cfg, int argc, char **argv)
{
    if (load_defaults(cfg) != 0 || load_env(cfg) != 0)
        return -1;
    struct option options[N_FLAGS + 3];
    for (size_t i = 0; i < N_FLAGS; i++)
        options[i] = (struct option){flags[i].name, required_argument, NULL, (int)i};
    options[N_FLAGS] = (struct option){"help", no_argument, NULL, OPT_HELP};
    options[N_FLAGS + 1] = (struct option){"version", no_argument, NULL, OPT_VERSION};
    options[N_FLAGS + 2] = (struct option){NULL, 0, NULL, 0};
    int opt, idx = 0;
    char flag[64];
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, &idx)) != -1) {
        if (opt == OPT_HELP) {
            print_usage(stdout);
            return 1;
        }
        if (opt == OPT_VERSION) {
            printf("deltawire %s\n", DW_VERSION);
            return 1;
        }
        if (opt == '?' || opt < 0 || (size_t)opt >= N_FLAGS) {
            print_usage(stderr);
            return -1;
        }
        snprintf(flag, sizeof(flag), "--%s", flags[opt].name);
        if (apply(cfg, &flags[opt], optarg, flag) != 0) {
            print_usage(stderr);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "deltawire: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if ((cfg->tls_cert[0] == '\0') != (cfg->tls_key[0] == '\0')) {
        fprintf(stderr, "deltawire: --tls-cert and --tls-key go together\n");
        return -1;
    }
    if (dw_config_parse_url(cfg->upstream, &cfg->up_tls, cfg->up_host, sizeof(cfg->up_host), &cfg->up_port,
                            cfg->up_base_path, sizeof(cfg->up_base_path)) != 0) {
        fprintf(stderr, "deltawire: --upstream must be an http:// or https:// URL, got '%s'\n", cfg->upstream);
        return -1;
    }
    return 0;
}
