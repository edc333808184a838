#include "proxy/config.h"

#include "proxy/log.h"

#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: deltawire [options]\n"
    "  Proxies full-history POST /v1/responses calls to the OpenAI Responses API in WebSocket\n"
    "  mode, sending only the new items with previous_response_id.\n\n"
    "  --listen HOST:PORT    address to serve on (default 127.0.0.1:8787)\n"
    "  --upstream URL        upstream HTTP base (default https://api.openai.com/v1); the\n"
    "                        WebSocket URL is derived (https->wss, http->ws, + /responses)\n"
    "  --upstream-ca FILE    an extra CA certificate file to trust upstream\n"
    "  --max-body BYTES      largest accepted request body (default 67108864)\n"
    "  --transport MODE      auto (WebSocket mode, plain HTTP when the upgrade is refused),\n"
    "                        ws (WebSocket mode only) or http (plain HTTP only); default auto\n"
    "  --max-conns-per-key N upstream connections per credential set (default 16)\n"
    "  --max-conns N         upstream connections in all (default 256)\n"
    "  --idle-timeout SECS   close upstream connections idle this long (default 300)\n"
    "  --max-conn-age SECS   retire connections this old once idle (default 3300)\n"
    "  --max-queue N         requests waiting for a connection before 429 (default 256)\n"
    "  --max-conversations N tracked responses, least recently used out (default 65536)\n"
    "  --tls-cert FILE       serve TLS to clients with this certificate chain (PEM), with\n"
    "                        HTTP/2 over ALPN; needs --tls-key\n"
    "  --tls-key FILE        the private key for --tls-cert (PEM)\n"
    "  --log-level LEVEL     error, warn, info (one line per request) or debug (default info)\n"
    "  --drain-timeout SECS  on SIGTERM/SIGINT, how long in-flight responses may finish (default 30)\n"
    "  --help, --version\n"
    "Every flag can also be set as DELTAWIRE_<FLAG>, e.g. DELTAWIRE_LISTEN=0.0.0.0:8787.\n";

enum {
    OPT_LISTEN = 1,
    OPT_UPSTREAM,
    OPT_UPSTREAM_CA,
    OPT_MAX_BODY,
    OPT_TRANSPORT,
    OPT_MAX_CONNS_PER_KEY,
    OPT_MAX_CONNS,
    OPT_IDLE_TIMEOUT,
    OPT_MAX_CONN_AGE,
    OPT_MAX_QUEUE,
    OPT_MAX_CONVERSATIONS,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_LOG_LEVEL,
    OPT_DRAIN_TIMEOUT,
    OPT_HELP,
    OPT_VERSION
};

static const struct option options[] = {
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"upstream", required_argument, NULL, OPT_UPSTREAM},
    {"upstream-ca", required_argument, NULL, OPT_UPSTREAM_CA},
    {"max-body", required_argument, NULL, OPT_MAX_BODY},
    {"transport", required_argument, NULL, OPT_TRANSPORT},
    {"max-conns-per-key", required_argument, NULL, OPT_MAX_CONNS_PER_KEY},
    {"max-conns", required_argument, NULL, OPT_MAX_CONNS},
    {"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
    {"max-conn-age", required_argument, NULL, OPT_MAX_CONN_AGE},
    {"max-queue", required_argument, NULL, OPT_MAX_QUEUE},
    {"max-conversations", required_argument, NULL, OPT_MAX_CONVERSATIONS},
    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"drain-timeout", required_argument, NULL, OPT_DRAIN_TIMEOUT},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static int parse_listen(dw_config_t *cfg, const char *v)
{
    const char *colon = strrchr(v, ':');
    if (colon == NULL || colon == v || (size_t)(colon - v) >= sizeof(cfg->listen_host))
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
    memcpy(cfg->listen_host, h, hl);
    cfg->listen_host[hl] = '\0';
    cfg->listen_port = (int)port;
    return 0;
}

static int parse_size(size_t *out, const char *v)
{
    char *end;
    unsigned long long x = strtoull(v, &end, 10);
    if (end == v || *end != '\0' || x == 0)
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

static int parse_transport(int *out, const char *v)
{
    static const char *const names[] = {"auto", "ws", "http"};
    for (int i = 0; i < 3; i++) {
        if (strcmp(v, names[i]) == 0) {
            *out = i;
            return 0;
        }
    }
    return -1;
}

static int apply(dw_config_t *cfg, int opt, const char *v, const char *origin)
{
    int rc = 0;
    switch (opt) {
    case OPT_LISTEN:
        rc = parse_listen(cfg, v);
        break;
    case OPT_UPSTREAM:
        rc = copy_path(cfg->upstream, sizeof(cfg->upstream), v);
        break;
    case OPT_UPSTREAM_CA:
        rc = copy_path(cfg->upstream_ca, sizeof(cfg->upstream_ca), v);
        break;
    case OPT_TLS_CERT:
        rc = copy_path(cfg->tls_cert, sizeof(cfg->tls_cert), v);
        break;
    case OPT_TLS_KEY:
        rc = copy_path(cfg->tls_key, sizeof(cfg->tls_key), v);
        break;
    case OPT_MAX_BODY:
        rc = parse_size(&cfg->max_body, v);
        break;
    case OPT_TRANSPORT:
        rc = parse_transport(&cfg->transport, v);
        break;
    case OPT_MAX_CONNS_PER_KEY:
        rc = parse_size(&cfg->max_conns_per_key, v);
        break;
    case OPT_MAX_CONNS:
        rc = parse_size(&cfg->max_conns, v);
        break;
    case OPT_IDLE_TIMEOUT:
        rc = parse_seconds(&cfg->idle_timeout, v);
        break;
    case OPT_MAX_CONN_AGE:
        rc = parse_seconds(&cfg->max_conn_age, v);
        break;
    case OPT_MAX_QUEUE:
        rc = parse_size(&cfg->max_queue, v);
        break;
    case OPT_MAX_CONVERSATIONS:
        rc = parse_size(&cfg->max_conversations, v);
        break;
    case OPT_LOG_LEVEL:
        cfg->log_level = dw_log_parse_level(v);
        rc = cfg->log_level < 0 ? -1 : 0;
        break;
    case OPT_DRAIN_TIMEOUT:
        rc = parse_seconds(&cfg->drain_timeout, v);
        break;
    }
    if (rc != 0)
        fprintf(stderr, "deltawire: invalid value for %s: '%s'\n", origin, v);
    return rc;
}

static int load_env(dw_config_t *cfg)
{
    for (const struct option *o = options; o->name; o++) {
        if (o->has_arg != required_argument)
            continue;
        char name[64] = "DELTAWIRE_";
        size_t n = strlen(name);
        for (const char *c = o->name; *c && n < sizeof(name) - 1; c++)
            name[n++] = *c == '-' ? '_' : (char)toupper((unsigned char)*c);
        name[n] = '\0';
        const char *v = getenv(name);
        if (v != NULL && *v != '\0' && apply(cfg, o->val, v, name) != 0)
            return -1;
    }
    return 0;
}

int dw_config_load(dw_config_t *cfg, int argc, char **argv)
{
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->listen_host, sizeof(cfg->listen_host), "127.0.0.1");
    cfg->listen_port = 8787;
    snprintf(cfg->upstream, sizeof(cfg->upstream), "https://api.openai.com/v1");
    cfg->max_body = 64u << 20;
    cfg->transport = DW_TRANSPORT_AUTO;
    cfg->max_conns_per_key = 16;
    cfg->max_conns = 256;
    cfg->idle_timeout = 300;
    cfg->max_conn_age = 3300;
    cfg->max_queue = 256;
    cfg->max_conversations = 65536;
    cfg->log_level = DW_LOG_INFO;
    cfg->drain_timeout = 30;

    if (load_env(cfg) != 0)
        return -1;
    int opt, idx = 0;
    char flag[64];
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, &idx)) != -1) {
        if (opt == OPT_HELP) {
            fputs(usage, stdout);
            return 1;
        }
        if (opt == OPT_VERSION) {
            printf("deltawire %s\n", DW_VERSION);
            return 1;
        }
        snprintf(flag, sizeof(flag), "--%s", options[idx].name);
        if (opt == '?' || apply(cfg, opt, optarg, flag) != 0) {
            fputs(usage, stderr);
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
