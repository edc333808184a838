/* Command-line flags, each mirrored by a DELTAWIRE_<FLAG> environment variable. Flags win over the
 * environment; both win over the defaults, which suit the sidecar case. */
#ifndef DW_CONFIG_H
#define DW_CONFIG_H

#include <stddef.h>

enum { DW_TRANSPORT_AUTO, DW_TRANSPORT_WS, DW_TRANSPORT_HTTP };
/* full: the next turn goes in full; carry: the chat-visible projection is recorded (proxy/chat.c) */
enum { DW_CHAT_REASONING_FULL, DW_CHAT_REASONING_CARRY };
/* --upstream-deflate: permessage-deflate (RFC 7692) on upstream WebSockets */
enum { DW_DEFLATE_OFF, DW_DEFLATE_ON, DW_DEFLATE_NO_CONTEXT_TAKEOVER };
/* --lanes: stream_id lanes on upstream WebSockets (auto: until the upstream refuses the field) */
enum { DW_LANES_OFF, DW_LANES_ON, DW_LANES_AUTO };

typedef struct {
    char listen_host[256];
    int listen_port;
    char admin_host[256];   /* --admin-listen: the operator's endpoints there only; "" for off */
    int admin_port;
    char upstream[1024];    /* the upstream's HTTP base, e.g. https://api.openai.com/v1 */
    char upstream_ca[1024]; /* an extra CA file, or "" */
    size_t max_body;
    size_t max_ws_message;
    size_t max_credential_bytes; /* credential and connection headers, names and values; beyond: 431 */  /* bytes of one WebSocket frame's payload; larger goes over plain HTTP */
    int transport;          /* DW_TRANSPORT_* */
    int upstream_deflate;   /* DW_DEFLATE_* */
    int lanes;              /* DW_LANES_* */
    size_t max_conns_per_key;
    size_t max_conns;
    double idle_timeout;    /* seconds */
    double max_conn_age;    /* seconds */
    double handshake_timeout; /* seconds: an upstream WebSocket connect not open by then fails */
    double upstream_ping_interval; /* seconds without proof of life before an upstream socket is pinged */
    double upstream_pong_timeout;  /* seconds the pong may take before the socket is closed */
    double first_event_timeout;    /* seconds a request on a reused socket waits for its first event */
    double upstream_idle_timeout;  /* seconds without an event before a response is given up */
    double sse_keepalive;          /* seconds of silence before an SSE comment goes to a streaming client */
    size_t client_buffer;          /* bytes of a client's pending output before its upstream socket is paused */
    size_t max_queue;       /* requests of one pool key waiting for a connection */
    double queue_timeout;   /* seconds a request may wait for a connection */
    size_t max_items;       /* input items a request may have to go as a delta; above it plain HTTP */
    size_t max_conversations;
    size_t body_memory;     /* bytes of recent large bodies kept to key the next turn by comparison */
    char tls_cert[1024];    /* front-end TLS (HTTP/2 over ALPN), both or neither */
    char tls_key[1024];
    int log_level;          /* DW_LOG_* */
    double drain_timeout;   /* seconds */
    int chat_reasoning;     /* DW_CHAT_REASONING_*: what a chat turn whose output the client cannot echo records */
    double client_idle_timeout; /* seconds a client may send nothing while deltawire waits for it */
    char instance[256];     /* this replica's name in /metrics and /stats ([A-Za-z0-9._:-]); "" until the
                             * process fills in hostname:port once it listens */
    /* derived from `upstream` */
    int up_tls;
    char up_host[256];
    int up_port;
    char up_base_path[512]; /* e.g. "/v1" (no trailing slash; "" for the root) */
} dw_config_t;

/* Fills cfg from the defaults, the environment and argv. Returns 0 to run, 1 when --help or
 * --version was answered (print nothing more, exit 0), -1 on a usage error (message printed). */
int dw_config_load(dw_config_t *cfg, int argc, char **argv);

/* Names the replica hostname:PORT when --instance was not given (port: the one bound). */
void dw_config_default_instance(dw_config_t *cfg, int port);

/* Splits an http(s) URL into TLS flag, host, port and path. Returns 0 or -1. */
int dw_config_parse_url(const char *url, int *tls, char *host, size_t host_len, int *port, char *path, size_t path_len);

#endif
